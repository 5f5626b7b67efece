package bunhook_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/sqlitedb"
	"github.com/tenantshield/tenantshield-go/scope"
)

type NoColumn struct {
	bun.BaseModel `bun:"table:no_column"`
	bunhook.TenantOwned
	ID int64 `bun:",pk"`
}

type PointerEmbed struct {
	bun.BaseModel `bun:"table:pointer_embed"`
	*bunhook.TenantOwned
	ID       int64  `bun:",pk"`
	TenantID string `bun:",notnull"`
}

type IntTenant struct {
	bun.BaseModel `bun:"table:int_tenant"`
	bunhook.TenantOwned
	ID       int64 `bun:",pk"`
	TenantID int64 `bun:",notnull"`
}

// Order names its tenant column org_id through the tag.
type Order struct {
	bun.BaseModel       `bun:"table:orders,alias:o"`
	bunhook.TenantOwned `tenant:"org_id"`
	ID                  int64  `bun:",pk,autoincrement"`
	OrgID               string `bun:"org_id,notnull"`
	Total               int64
}

func TestRegistrationErrors(t *testing.T) {
	cases := []struct {
		model any
		want  string
	}{
		{(*NoColumn)(nil), `has no column "tenant_id": add a field`},
		{(*PointerEmbed)(nil), "embed bunhook.TenantOwned by value"},
		{(*IntTenant)(nil), "must be a string"},
		{(*Currency)(nil), "does not embed bunhook.TenantOwned"},
	}
	for _, c := range cases {
		_, err := sqlitedb.Open("file::memory:", bunhook.WithModels(c.model))
		if !errors.Is(err, bunhook.ErrModel) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%T: %v; want ErrModel mentioning %q", c.model, err, c.want)
		}
	}
}

// OrderByOwner maps the table of Order with another tenant column.
type OrderByOwner struct {
	bun.BaseModel       `bun:"table:orders,alias:o"`
	bunhook.TenantOwned `tenant:"owner_id"`
	ID                  int64  `bun:",pk,autoincrement"`
	OwnerID             string `bun:"owner_id,notnull"`
}

// OrderView is Order's table under another model type, with the same column.
type OrderView struct {
	bun.BaseModel       `bun:"table:orders,alias:ov"`
	bunhook.TenantOwned `tenant:"org_id"`
	ID                  int64  `bun:",pk,autoincrement"`
	OrgID               string `bun:"org_id,notnull"`
}

// TestConflictingRegistrations: a table declared with two tenant columns is
// refused at Open, naming both declarations; a model that conflicts later
// fails closed on every query; two models that agree are fine.
func TestConflictingRegistrations(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []bunhook.Option
		want []string
	}{
		{"two models", []bunhook.Option{bunhook.WithModels((*Order)(nil), (*OrderByOwner)(nil))},
			[]string{`"orders"`, "bunhook_test.Order", `"org_id"`, "bunhook_test.OrderByOwner", `"owner_id"`}},
		{"a model and WithTenantTable", []bunhook.Option{bunhook.WithTenantTable("orders", "tenant_id"), bunhook.WithModels((*Order)(nil))},
			[]string{`"orders"`, "bunhook.WithTenantTable", `"tenant_id"`, "bunhook_test.Order", `"org_id"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := sqlitedb.Open("file::memory:", c.opts...)
			if !errors.Is(err, bunhook.ErrModel) {
				t.Fatalf("Open: %v; want ErrModel", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}

	db, err := sqlitedb.Open("file::memory:", bunhook.WithModels((*Order)(nil), (*OrderView)(nil)))
	if err != nil {
		t.Fatalf("two models that agree: %v", err)
	}
	defer db.Close()
	var rows []OrderByOwner
	err = db.NewSelect().Model(&rows).Scan(tenantCtx(t, "A"))
	if !errors.Is(err, bunhook.ErrModel) || !strings.Contains(err.Error(), "owner_id") {
		t.Fatalf("query on a model registered late with a conflicting column: %v", err)
	}
	if got := bunhook.RegisterModels(db, (*OrderByOwner)(nil)); !errors.Is(got, bunhook.ErrModel) {
		t.Fatalf("RegisterModels of the conflicting model: %v", got)
	}
	if e, _ := bunhook.EnforcerOf(db); e.Tables()["orders"] != "org_id" {
		t.Fatalf("the first declaration was replaced: %v", e.Tables())
	}
}

func TestCustomTenantColumn(t *testing.T) {
	db, err := sqlitedb.Open("file:"+t.TempDir()+"/o.db", bunhook.WithModels((*Order)(nil)), bunhook.WithAuditBus(auditlog.NewBus()))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.NewCreateTable().Model((*Order)(nil)).Exec(bypassCtx(t)); err != nil {
		t.Fatal(err)
	}
	for _, org := range []string{"A", "B"} {
		if _, err := db.NewInsert().Model(&Order{Total: 1}).Exec(tenantCtx(t, org)); err != nil {
			t.Fatal(err)
		}
	}
	var orders []Order
	if err := db.NewSelect().Model(&orders).Scan(tenantCtx(t, "A")); err != nil {
		t.Fatal(err)
	}
	if len(orders) != 1 || orders[0].OrgID != "A" {
		t.Fatalf("orders under A: %+v", orders)
	}
	var n int
	err = db.QueryRowContext(tenantCtx(t, "A"), "SELECT count(*) FROM orders WHERE tenant_id = 'A'").Scan(&n)
	if err == nil {
		t.Fatal("a predicate on the wrong column was accepted")
	}
	if err := db.QueryRowContext(tenantCtx(t, "A"), "SELECT count(*) FROM orders WHERE org_id = 'A'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("raw count on org_id: %d %v", n, err)
	}
}

func TestReportOnlyMode(t *testing.T) {
	td := openTestDB(t, "sqlite", bunhook.WithMode(bunhook.ModeReport))
	td.seed(t)
	ctx := tenantCtx(t, "A")
	// Would-be blocks run, and are reported with outcome "reported".
	var n int
	if err := td.db.QueryRowContext(ctx, "SELECT count(*) FROM invoices").Scan(&n); err != nil || n != 6 {
		t.Fatalf("report mode raw count: %d %v", n, err)
	}
	if _, err := td.db.NewSelect().Model((*Invoice)(nil)).Count(context.Background()); err != nil {
		t.Fatalf("report mode count without tenant: %v", err)
	}
	evs := td.events(auditlog.EnforcementViolation)
	if len(evs) != 2 {
		t.Fatalf("want 2 reported violations, got %+v", evs)
	}
	for _, e := range evs {
		if e.Outcome != auditlog.OutcomeReported {
			t.Errorf("outcome %q, want reported", e.Outcome)
		}
	}
	// Correct code is unaffected: scoped reads stay scoped.
	var invs []Invoice
	if err := td.db.NewSelect().Model(&invs).Scan(ctx); err != nil || len(invs) != 3 {
		t.Fatalf("scoped read in report mode: %d %v", len(invs), err)
	}
	// Switching to enforce at run time blocks again.
	e, _ := bunhook.EnforcerOf(td.db)
	e.SetMode(bunhook.ModeEnforce)
	if err := td.db.QueryRowContext(ctx, "SELECT count(*) FROM invoices").Scan(&n); !errors.Is(err, scope.ErrUnscopedQuery) {
		t.Fatalf("enforce after report: %v", err)
	}
}
