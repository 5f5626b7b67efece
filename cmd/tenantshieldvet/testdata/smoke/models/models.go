// Package models holds the tenant-owned models of the smoke test; app sees
// them through facts.
package models

import (
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/uptrace/bun"
)

// Invoice is tenant-owned (tenant_id).
type Invoice struct {
	bun.BaseModel `bun:"table:invoices,alias:invoice"`
	bunhook.TenantOwned
	ID       int64 `bun:",pk,autoincrement"`
	TenantID string
}

// Order is tenant-owned on org_id.
type Order struct {
	bun.BaseModel       `bun:"table:orders"`
	bunhook.TenantOwned `tenant:"org_id"`
	ID                  int64 `bun:",pk,autoincrement"`
	OrgID               string
}

// Currency is shared.
type Currency struct {
	bun.BaseModel `bun:"table:currencies"`
	Code          string `bun:",pk"`
}
