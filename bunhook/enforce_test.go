package bunhook_test

import (
	"context"
	"errors"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/scope"
)

func numbers(invs []Invoice) []string {
	out := make([]string, len(invs))
	for i, in := range invs {
		out[i] = in.Number
	}
	return out
}

func onlyTenant(t *testing.T, invs []Invoice, tenant string) {
	t.Helper()
	for _, in := range invs {
		if in.TenantID != tenant {
			t.Fatalf("read a row of tenant %q under tenant %q: %+v", in.TenantID, tenant, in)
		}
	}
}

func TestReadPathsAreScoped(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		td.seed(t)
		ctx := tenantCtx(t, "A")
		db := td.db

		var invs []Invoice
		if err := db.NewSelect().Model(&invs).Order("invoice.id").Scan(ctx); err != nil {
			t.Fatal(err)
		}
		if len(invs) != 3 {
			t.Fatalf("Scan: got %v, want A's 3 invoices", numbers(invs))
		}
		onlyTenant(t, invs, "A")

		n, err := db.NewSelect().Model((*Invoice)(nil)).Count(ctx)
		if err != nil || n != 3 {
			t.Fatalf("Count = %d, %v; want 3", n, err)
		}
		ok, err := db.NewSelect().Model((*Invoice)(nil)).Where("number = ?", "B-1").Exists(ctx)
		if err != nil || ok {
			t.Fatalf("Exists(B-1) under A = %v, %v; want false", ok, err)
		}
		var page []Invoice
		total, err := db.NewSelect().Model(&page).Order("invoice.id").Limit(2).ScanAndCount(ctx)
		if err != nil || total != 3 || len(page) != 2 {
			t.Fatalf("ScanAndCount with limit = %d rows, total %d, %v; want 2 rows, total 3", len(page), total, err)
		}
		onlyTenant(t, page, "A")

		rows, err := db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").Rows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		count := 0
		for rows.Next() {
			var id int64
			var tenant string
			if err := rows.Scan(&id, &tenant); err != nil {
				t.Fatal(err)
			}
			if tenant != "A" {
				t.Fatalf("Rows returned tenant %q", tenant)
			}
			count++
		}
		_ = rows.Close()
		if count != 3 {
			t.Fatalf("Rows: %d rows, want 3", count)
		}

		var dest []Invoice
		if _, err := db.NewSelect().Model(&dest).Exec(ctx, &dest); err != nil {
			t.Fatal(err)
		}
		onlyTenant(t, dest, "A")
		if len(dest) != 3 {
			t.Fatalf("Exec(dest): %d rows", len(dest))
		}

		// belongs-to join: invoice 1 (A) references customer 1 (A).
		var withCust []Invoice
		if err := db.NewSelect().Model(&withCust).Relation("Customer").Relation("Items").Order("invoice.id").Scan(ctx); err != nil {
			t.Fatal(err)
		}
		for _, in := range withCust {
			if in.Customer == nil || in.Customer.TenantID != "A" {
				t.Fatalf("joined customer: %+v", in.Customer)
			}
			for _, it := range in.Items {
				if it.TenantID != "A" {
					t.Fatalf("has-many item of tenant %q", it.TenantID)
				}
			}
		}
		if len(td.events(auditlog.EnforcementViolation)) != 0 {
			t.Fatalf("scoped reads produced violations: %+v", td.events())
		}
	})
}

func TestNoTenantFailsClosed(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		td.seed(t)
		ctx := context.Background()
		var invs []Invoice
		err := td.db.NewSelect().Model(&invs).Scan(ctx)
		if !errors.Is(err, scope.ErrNoTenant) {
			t.Fatalf("Scan without tenant: %v", err)
		}
		_, err = td.db.NewSelect().Model((*Invoice)(nil)).Count(ctx)
		if !errors.Is(err, scope.ErrNoTenant) {
			t.Fatalf("Count without tenant: %v", err)
		}
		_, err = td.db.NewInsert().Model(&Invoice{Number: "X"}).Exec(ctx)
		if !errors.Is(err, scope.ErrNoTenant) {
			t.Fatalf("Insert without tenant: %v", err)
		}
		_, err = td.db.ExecContext(ctx, "DELETE FROM invoices")
		if !errors.Is(err, scope.ErrNoTenant) {
			t.Fatalf("raw delete without tenant: %v", err)
		}
		if got := len(td.tenantsOf(t, "invoices")); got != 6 {
			t.Fatalf("invoices after blocked delete: %d", got)
		}
		if v := td.events(auditlog.EnforcementViolation); len(v) != 4 {
			t.Fatalf("want 4 violations audited, got %d: %+v", len(v), v)
		}
	})
}

func TestWritesAreScoped(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		ids := td.seed(t)
		ctx := tenantCtx(t, "A")
		db := td.db

		in := &Invoice{Number: "A-new"}
		if _, err := db.NewInsert().Model(in).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if in.TenantID != "A" {
			t.Fatalf("tenant not filled: %q", in.TenantID)
		}
		_, err := db.NewInsert().Model(&Invoice{Number: "evil", TenantID: "B"}).Exec(ctx)
		var verr *scope.ViolationError
		if !errors.Is(err, scope.ErrCrossTenant) || !errors.As(err, &verr) || verr.Attempted != "B" {
			t.Fatalf("foreign insert: %v", err)
		}

		// Update B's invoice by primary key under A: no row changes.
		res, err := db.NewUpdate().Model(&Invoice{ID: ids["B"][0], Number: "hijacked"}).Column("number").WherePK().Exec(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 0 {
			t.Fatalf("cross-tenant update affected %d rows", n)
		}
		if got := td.rawString(t, "SELECT number FROM invoices WHERE id = ?", ids["B"][0]); got != "B-1" {
			t.Fatalf("B's invoice changed to %q", got)
		}
		// Move A's invoice to B with Set: blocked.
		_, err = db.NewUpdate().Model((*Invoice)(nil)).Set("tenant_id = ?", "B").Where("id = ?", ids["A"][0]).Exec(ctx)
		if !errors.Is(err, scope.ErrCrossTenant) {
			t.Fatalf("Set tenant_id: %v", err)
		}
		// Delete everything under A: only A's rows go.
		if _, err := db.NewDelete().Model((*Item)(nil)).Where("1 = 1").ForceDelete().Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for id, tenant := range td.tenantsOf(t, "items") {
			if tenant == "A" {
				t.Fatalf("A's item %d survived", id)
			}
		}
		if got := len(td.tenantsOf(t, "items")); got != 3 {
			t.Fatalf("B's items: %d left, want 3", got)
		}
		// WhereOr escape is refused.
		_, err = db.NewUpdate().Model((*Invoice)(nil)).Set("number = 'x'").Where("number = 'B-1'").WhereOr("id = -1").Exec(ctx)
		if !errors.Is(err, scope.ErrUnscopedQuery) {
			t.Fatalf("WhereOr update: %v", err)
		}
		if got := td.rawString(t, "SELECT number FROM invoices WHERE id = ?", ids["B"][0]); got != "B-1" {
			t.Fatalf("B's invoice changed to %q", got)
		}
	})
}

func TestBypassIsAudited(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		td.seed(t)
		ctx, err := scope.WithBypass(context.Background(), "nightly report")
		if err != nil {
			t.Fatal(err)
		}
		n, err := td.db.NewSelect().Model((*Invoice)(nil)).Count(ctx)
		if err != nil || n != 6 {
			t.Fatalf("bypassed Count = %d, %v", n, err)
		}
		evs := td.events(auditlog.EnforcementBypass)
		if len(evs) != 1 || evs[0].Reason != "nightly report" || evs[0].Table != "invoices" || evs[0].Caller.Line == 0 {
			t.Fatalf("bypass audit: %+v", evs)
		}
	})
}

func TestRawSQLVerifiedOrBlocked(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		td.seed(t)
		ctx := tenantCtx(t, "A")
		var n int
		if err := td.db.QueryRowContext(ctx, "SELECT count(*) FROM invoices WHERE tenant_id = ?", "A").Scan(&n); err != nil || n != 3 {
			t.Fatalf("verified raw count = %d, %v", n, err)
		}
		err := td.db.QueryRowContext(ctx, "SELECT count(*) FROM invoices").Scan(&n)
		if !errors.Is(err, scope.ErrUnscopedQuery) {
			t.Fatalf("unscoped raw count: %v", err)
		}
		var invs []Invoice
		err = td.db.NewRaw("SELECT * FROM invoices WHERE tenant_id = ? OR 1 = 1", "A").Scan(ctx, &invs)
		if !errors.Is(err, scope.ErrUnscopedQuery) || len(invs) != 0 {
			t.Fatalf("raw OR escape: %v, %d rows", err, len(invs))
		}
		// Non-tenant tables are untouched.
		var cur []Currency
		if err := td.db.NewSelect().Model(&cur).Scan(context.Background()); err != nil || len(cur) != 1 {
			t.Fatalf("currencies: %v %v", cur, err)
		}
	})
}

func TestNotInstalled(t *testing.T) {
	td := openTestDB(t, "sqlite")
	plain := bun.NewDB(td.raw.DB, td.raw.Dialect())
	var invs []Invoice
	err := plain.NewSelect().Model(&invs).Scan(tenantCtx(t, "A"))
	if !errors.Is(err, bunhook.ErrNotInstalled) {
		t.Fatalf("model query on a DB without bunhook: %v", err)
	}
}

// TestAlertsWithoutSinkAreCounted: a violation on a DB whose audit bus has
// no sink is still blocked, and the bus counts it as unheard.
func TestAlertsWithoutSinkAreCounted(t *testing.T) {
	td := openTestDB(t, "sqlite")
	td.seed(t)
	td.bus.Unregister(td.sink)
	before := td.bus.Unheard()
	var n int
	err := td.db.QueryRowContext(tenantCtx(t, "A"), "SELECT count(*) FROM invoices").Scan(&n)
	if !errors.Is(err, scope.ErrUnscopedQuery) {
		t.Fatalf("unscoped count with no sink: %v", err)
	}
	if got := td.bus.Unheard() - before; got != 1 {
		t.Fatalf("unheard alerts = %d, want 1", got)
	}
}
