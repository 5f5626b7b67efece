// Package models declares the models the other testdata packages use, so
// that their tenant tables reach them as facts.
package models

import (
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/uptrace/bun"
)

type Invoice struct { // want Invoice:"tenant table invoices\\(tenant_id\\)"
	bun.BaseModel `bun:"table:invoices,alias:inv"`
	bunhook.TenantOwned
	ID       int64
	TenantID string
}

type Order struct { // want Order:"tenant table orders\\(org_id\\)"
	bun.BaseModel       `bun:"table:orders"`
	bunhook.TenantOwned `tenant:"org_id"`
	ID                  int64
	OrgID               string
}

// CustomerNote has no table tag: bun names it customer_notes.
type CustomerNote struct { // want CustomerNote:"tenant table customer_notes\\(tenant_id\\)"
	bunhook.TenantOwned
	ID int64
}

// Person: bun's pluralization gives people.
type Person struct { // want Person:"tenant table people\\(tenant_id\\)"
	bun.BaseModel `bun:"alias:p"`
	bunhook.TenantOwned
}

// LineItem: the tag's bare name is the table, schema-qualified.
type LineItem struct { // want LineItem:"tenant table billing.line_items\\(tenant_id\\)"
	bun.BaseModel `bun:"billing.line_items,alias:li"`
	bunhook.TenantOwned
}

// Currency is shared: no TenantOwned.
type Currency struct {
	bun.BaseModel `bun:"table:currencies"`
	Code          string
}

// ByPointer embeds *TenantOwned, which bunhook does not honour: not
// tenant-owned.
type ByPointer struct {
	bun.BaseModel `bun:"table:by_pointer"`
	*bunhook.TenantOwned
}

// Named TenantOwned of another package is not bunhook's.
type TenantOwned struct{}

type Lookalike struct {
	bun.BaseModel `bun:"table:lookalikes"`
	TenantOwned
}

// A field (not embedded) of type TenantOwned does not count.
type Field struct {
	bun.BaseModel `bun:"table:fields"`
	Owned         bunhook.TenantOwned
}

// Alias of a tenant-owned type: the fact is on Invoice.
type InvoiceAlias = Invoice
