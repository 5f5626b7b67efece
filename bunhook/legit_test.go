package bunhook_test

// Legitimate tenant-scoped query shapes pass unblocked, on every database:
// the closed world, the allow-lists and the collation rule must not push
// correct programs to a bypass. Each read returns only the bound tenant's
// rows (as many as the raw handle counts for it); each write changes only
// the bound tenant's rows; none is audited as a violation.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook"
)

type legitShape struct {
	name string
	// only restricts the shape to these kinds (bun renders it only there).
	only []string
	// read runs the shape and returns the tenants of the rows it saw (one
	// entry per row); write runs a write.
	read  func(ctx context.Context, td *testDB) ([]string, error)
	write func(ctx context.Context, td *testDB) error
	// rows is the number of rows read wants (-1: any, as long as > 0).
	rows int
}

func legitShapes(ids map[string][]int64) []legitShape {
	invoiceTenants := func(inv []Invoice) []string {
		var out []string
		for _, i := range inv {
			out = append(out, i.TenantID)
			if i.Customer != nil {
				out = append(out, i.Customer.TenantID)
			}
			for _, it := range i.Items {
				out = append(out, it.TenantID)
			}
		}
		return out
	}
	rawTenants := func(ctx context.Context, td *testDB, q string, args ...any) ([]string, error) {
		var out []string
		err := td.db.NewRaw(q, args...).Scan(ctx, &out)
		return out, err
	}
	return []legitShape{
		{name: "model select", rows: 3, read: func(ctx context.Context, td *testDB) ([]string, error) {
			var inv []Invoice
			err := td.db.NewSelect().Model(&inv).Order("id").Scan(ctx)
			return invoiceTenants(inv), err
		}},
		{name: "belongs-to relation (join)", rows: 6, read: func(ctx context.Context, td *testDB) ([]string, error) {
			var inv []Invoice
			err := td.db.NewSelect().Model(&inv).Relation("Customer").Scan(ctx)
			return invoiceTenants(inv), err
		}},
		{name: "has-many relation (second query)", rows: -1, read: func(ctx context.Context, td *testDB) ([]string, error) {
			var inv []Invoice
			err := td.db.NewSelect().Model(&inv).Relation("Items").Scan(ctx)
			return invoiceTenants(inv), err
		}},
		{name: "Count", rows: 3, read: func(ctx context.Context, td *testDB) ([]string, error) {
			n, err := td.db.NewSelect().Model((*Invoice)(nil)).Count(ctx)
			return repeat("A", int(n)), err
		}},
		{name: "ScanAndCount with a page", rows: 2, read: func(ctx context.Context, td *testDB) ([]string, error) {
			var inv []Invoice
			n, err := td.db.NewSelect().Model(&inv).Order("id").Limit(2).ScanAndCount(ctx)
			if n != 3 {
				return nil, fmt.Errorf("total %d, want 3", n)
			}
			return invoiceTenants(inv), err
		}},
		{name: "Exists", rows: 1, read: func(ctx context.Context, td *testDB) ([]string, error) {
			ok, err := td.db.NewSelect().Model((*Invoice)(nil)).Where("number = ?", "A-1").Exists(ctx)
			if !ok {
				return nil, err
			}
			return []string{"A"}, err
		}},
		{name: "IN subquery through Scope", rows: -1, read: func(ctx context.Context, td *testDB) ([]string, error) {
			var inv []Invoice
			sub := bunhook.Scope(ctx, td.db.NewSelect().Model((*Item)(nil)).Column("invoice_id"))
			err := td.db.NewSelect().Model(&inv).Where("id IN (?)", sub).Scan(ctx)
			return invoiceTenants(inv), err
		}},
		{name: "scalar subquery compared with = in a model Where", rows: 3, read: func(ctx context.Context, td *testDB) ([]string, error) {
			var inv []Invoice
			sub := bunhook.Scope(ctx, td.db.NewSelect().Model((*Customer)(nil)).Column("id").Where("name = ?", "cust-A-1").Limit(1))
			err := td.db.NewSelect().Model(&inv).Where("customer_id = (?)", sub).Scan(ctx)
			return invoiceTenants(inv), err
		}},
		{name: "raw scalar subquery in the select list", rows: 3, read: func(ctx context.Context, td *testDB) ([]string, error) {
			return rawTenants(ctx, td, `SELECT i.tenant_id FROM invoices i WHERE i.tenant_id = 'A'
				AND (SELECT count(*) FROM items t WHERE t.tenant_id = 'A' AND t.invoice_id = i.id) >= 0`)
		}},
		{name: "raw join restricted through the tenant columns' equality", rows: -1, read: func(ctx context.Context, td *testDB) ([]string, error) {
			return rawTenants(ctx, td, `SELECT t.tenant_id FROM invoices i JOIN items t ON t.invoice_id = i.id AND t.tenant_id = i.tenant_id WHERE i.tenant_id = ?`, "A")
		}},
		{name: "raw transitive join over three tables", rows: -1, read: func(ctx context.Context, td *testDB) ([]string, error) {
			return rawTenants(ctx, td, `SELECT t.tenant_id FROM customers c JOIN invoices i ON i.customer_id = c.id AND i.tenant_id = c.tenant_id
				JOIN items t ON t.invoice_id = i.id AND t.tenant_id = i.tenant_id WHERE c.tenant_id = 'A'`)
		}},
		{name: "raw CTE", rows: 3, read: func(ctx context.Context, td *testDB) ([]string, error) {
			return rawTenants(ctx, td, `WITH mine AS (SELECT id, tenant_id FROM invoices WHERE tenant_id = 'A') SELECT tenant_id FROM mine ORDER BY id`)
		}},
		{name: "raw aggregate, GROUP BY, HAVING and built-in functions", rows: 1, read: func(ctx context.Context, td *testDB) ([]string, error) {
			return rawTenants(ctx, td, `SELECT max(tenant_id) FROM invoices WHERE tenant_id = 'A' GROUP BY customer_id
				HAVING count(*) > 0 AND max(coalesce(lower(number), '')) <> ''`)
		}},
		{name: "raw window function", rows: 3, read: func(ctx context.Context, td *testDB) ([]string, error) {
			var rows []struct {
				TenantID string
				N        int
			}
			err := td.db.NewRaw(`SELECT tenant_id, row_number() OVER (ORDER BY id) AS n FROM invoices WHERE tenant_id = 'A'`).Scan(ctx, &rows)
			var out []string
			for _, r := range rows {
				out = append(out, r.TenantID)
			}
			return out, err
		}},
		{name: "raw UNION of two scoped reads", rows: 5, read: func(ctx context.Context, td *testDB) ([]string, error) {
			return rawTenants(ctx, td, `SELECT tenant_id FROM invoices WHERE tenant_id = 'A' UNION ALL SELECT tenant_id FROM customers WHERE tenant_id = 'A'`)
		}},
		{name: "a tenant table joined to a shared table", rows: 3, read: func(ctx context.Context, td *testDB) ([]string, error) {
			return rawTenants(ctx, td, `SELECT i.tenant_id FROM invoices i LEFT JOIN currencies c ON c.code = i.number WHERE i.tenant_id = 'A'`)
		}},
		{name: "transaction: insert then read", rows: 4, read: func(ctx context.Context, td *testDB) ([]string, error) {
			var inv []Invoice
			err := td.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				if _, err := tx.NewInsert().Model(&Invoice{Number: "tx-A", CustomerID: 1}).Exec(ctx); err != nil {
					return err
				}
				return tx.NewSelect().Model(&inv).Scan(ctx)
			})
			return invoiceTenants(inv), err
		}},
		{name: "model insert of one row", write: func(ctx context.Context, td *testDB) error {
			_, err := td.db.NewInsert().Model(&Customer{Name: "new"}).Exec(ctx)
			return err
		}},
		{name: "model bulk insert", write: func(ctx context.Context, td *testDB) error {
			_, err := td.db.NewInsert().Model(&[]Item{{InvoiceID: ids["A"][0], Name: "x"}, {InvoiceID: ids["A"][1], Name: "y"}}).Exec(ctx)
			return err
		}},
		{name: "model update with Set", write: func(ctx context.Context, td *testDB) error {
			_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("number = number").Where("id IN (?)", bun.List(ids["A"])).Exec(ctx)
			return err
		}},
		{name: "model Bulk() update", only: []string{"sqlite", "pg", "pgx"}, write: func(ctx context.Context, td *testDB) error {
			rows := []Invoice{{ID: ids["A"][0], Number: "bulk-1", CustomerID: 1}, {ID: ids["A"][1], Number: "bulk-2", CustomerID: 1}}
			_, err := td.db.NewUpdate().Model(&rows).Column("number").Bulk().Exec(ctx)
			return err
		}},
		{name: "model delete (soft delete of items)", write: func(ctx context.Context, td *testDB) error {
			_, err := td.db.NewDelete().Model((*Item)(nil)).Where("invoice_id = ?", ids["A"][2]).Exec(ctx)
			return err
		}},
		{name: "model upsert (ON CONFLICT DO UPDATE)", only: []string{"sqlite", "pg", "pgx"}, write: func(ctx context.Context, td *testDB) error {
			_, err := td.db.NewInsert().Model(&Invoice{ID: ids["A"][0], Number: "upserted", CustomerID: 1}).
				On("CONFLICT (id) DO UPDATE").Set("number = EXCLUDED.number").Exec(ctx)
			return err
		}},
		{name: "raw UPDATE with its predicate and a function", write: func(ctx context.Context, td *testDB) error {
			_, err := td.db.NewRaw(`UPDATE invoices SET number = upper(number) WHERE tenant_id = 'A'`).Exec(ctx)
			return err
		}},
		{name: "writes to a shared table", write: func(ctx context.Context, td *testDB) error {
			_, err := td.db.NewInsert().Model(&Currency{Code: "XTS", Name: "Test currency"}).Exec(ctx)
			return err
		}},
	}
}

func TestLegitimateShapes(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		ids := td.seed(t)
		a := tenantCtx(t, "A")
		n := 0
		for _, s := range legitShapes(ids) {
			if len(s.only) > 0 && !slices.Contains(s.only, td.kind) {
				continue
			}
			n++
			td.sink.Reset()
			before := td.snapshot(t, snapTables)
			if s.read != nil {
				seen, err := s.read(a, td)
				if err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				for _, tenant := range seen {
					if tenant != "A" {
						t.Fatalf("%s: saw a row of tenant %q", s.name, tenant)
					}
				}
				if (s.rows < 0 && len(seen) == 0) || (s.rows >= 0 && len(seen) != s.rows) {
					t.Fatalf("%s: %d rows, want %d", s.name, len(seen), s.rows)
				}
			} else if err := s.write(a, td); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			for _, c := range diff(before, td.snapshot(t, snapTables)) {
				if c.touches("B") || !c.touches("A") {
					t.Fatalf("%s: changed a row that is not A's: %v", s.name, c)
				}
			}
			if v := td.events(auditlog.EnforcementViolation, auditlog.EnforcementBypass); len(v) != 0 {
				t.Fatalf("%s: audited %+v", s.name, v)
			}
		}
		if n < 20 {
			t.Fatalf("only %d legitimate shapes ran on %s", n, td.kind)
		}
	})
}

func repeat(s string, n int) []string { return strings.Split(strings.Repeat(s+",", n), ",")[:n] }

// TestBulkOnMariaDB: bun's Bulk() cannot run on MariaDB (no WITH ...
// VALUES); bunhook says so with errors.ErrUnsupported, scoped or bypassed,
// instead of letting the server answer with a syntax error.
func TestBulkOnMariaDB(t *testing.T) {
	t.Parallel()
	td := openTestDB(t, "mysql")
	ids := td.seed(t)
	for name, ctx := range map[string]context.Context{"scoped": tenantCtx(t, "A"), "bypassed": bypassCtx(t)} {
		rows := []Invoice{{ID: ids["A"][0], TenantID: "A", Number: "bulk"}}
		_, err := td.db.NewUpdate().Model(&rows).Column("number").Bulk().Exec(ctx)
		if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "one by one") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := td.rawString(t, "SELECT number FROM invoices WHERE id = ?", ids["A"][0]); got == "bulk" {
		t.Error("the row changed")
	}
}
