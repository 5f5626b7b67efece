package bunhook_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/posture"
	"github.com/tenantshield/tenantshield-go/scope"
)

// refCheckCounter counts bunhook's reference checks (count(DISTINCT p.key)
// of the parent table).
type refCheckCounter struct{ n atomic.Int32 }

func (h *refCheckCounter) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	if strings.Contains(e.Query, "count(DISTINCT p.") {
		h.n.Add(1)
	}
	return ctx
}

func (*refCheckCounter) AfterQuery(context.Context, *bun.QueryEvent) {}

// TestTrustForeignKeys: with PostureCheck.TrustForeignKeys, a reference that
// the database enforces with a foreign key pairing the tenant columns costs
// no check query, and a write naming another tenant's row still fails (with
// the database's foreign-key error, as for a row that does not exist) and
// changes nothing; a reference without such a key is still checked by
// bunhook. On SQLite, which enforces foreign keys only when a connection
// asks, nothing is trusted.
func TestTrustForeignKeys(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		ids := td.seed(t)
		switch td.kind {
		case "pg", "pgx", "mysql":
			td.rawExec(t, "ALTER TABLE invoices ADD CONSTRAINT invoices_tenant_key UNIQUE (tenant_id, id)",
				"ALTER TABLE items ADD CONSTRAINT items_invoice_fk FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)")
		}
		db, err := openKind(t, td, bunhook.WithAuditBus(td.bus), bunhook.WithPostureCheck(bunhook.PostureCheck{
			FailAt: posture.Critical + 1, Warn: func(*posture.Report) {}, TrustForeignKeys: true}))
		if err != nil {
			t.Fatal(err)
		}
		checks := &refCheckCounter{}
		db = db.WithQueryHook(checks)
		a := tenantCtx(t, "A")
		trusted := td.kind != "sqlite"

		if _, err := db.NewInsert().Model(&Item{Name: "own", InvoiceID: ids["A"][0]}).Exec(a); err != nil {
			t.Fatal(err)
		}
		if got, want := checks.n.Load(), map[bool]int32{true: 0, false: 1}[trusted]; got != want {
			t.Fatalf("an item of A's invoice ran %d reference checks, want %d", got, want)
		}

		before := len(td.tenantsOf(t, "items"))
		td.sink.Reset()
		_, err = db.NewInsert().Model(&Item{Name: "x", InvoiceID: ids["B"][0]}).Exec(a)
		if err == nil {
			t.Fatal("an item of A referring to B's invoice was inserted")
		}
		if after := len(td.tenantsOf(t, "items")); after != before {
			t.Fatalf("items went from %d to %d rows", before, after)
		}
		if trusted == errors.Is(err, scope.ErrCrossTenant) {
			t.Fatalf("trusted %v: got %v (ErrCrossTenant is bunhook's check, a foreign-key error the database's)", trusted, err)
		}

		checks.n.Store(0)
		if _, err := db.NewInsert().Model(&Invoice{Number: "x", CustomerID: 3}).Exec(a); !errors.Is(err, scope.ErrCrossTenant) {
			t.Fatalf("invoices -> customers has no composite key: want bunhook's ErrCrossTenant, got %v", err)
		}
		if checks.n.Load() != 1 {
			t.Fatalf("the untrusted reference ran %d checks, want 1", checks.n.Load())
		}
	})
}
