package bunhook_test

// Collation-safe tenants (leak family 4). MariaDB's default collation,
// utf8mb4_general_ci, compares 'acme' = 'ACME' and 'beta' = 'bëta', while
// scope accepts both spellings as distinct tenants. bunhook's default on
// MySQL/MariaDB (CollationFolding) accepts only canonical tenant ids on
// tenant tables; these tests prove by data, on a database with the server's
// default collation, that a non-canonical id reaches nothing and that the
// canonical ids the rule admits are never folded together.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/scope"
)

func TestCollationFolding(t *testing.T) {
	t.Parallel()
	td := openDefaultCollationDB(t)
	ctx := context.Background()
	if c := td.rawString(t, "SELECT collation_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'invoices' AND column_name = 'tenant_id'"); !strings.HasSuffix(c, "_ci") {
		t.Fatalf("the test needs a case-insensitive default collation, the tenant column has %q", c)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := td.raw.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	canon := []string{"acme", "beta", "a-b", "a_b", "a.b", "a:b", "ab", "a-b-", "a1", "a01"}
	for i, tenant := range canon {
		exec("INSERT INTO customers (id, tenant_id, name) VALUES (?, ?, ?)", i+1, tenant, "c-"+tenant)
		for n := 1; n <= 2; n++ {
			exec("INSERT INTO invoices (id, tenant_id, number, customer_id) VALUES (?, ?, ?, ?)", 10*(i+1)+n, tenant, fmt.Sprintf("%s#%d", tenant, n), i+1)
		}
	}
	// The database folds: without the guard, ACME would read acme's rows.
	if n := td.rawString(t, "SELECT count(*) FROM invoices WHERE tenant_id = 'ACME'"); n != "2" {
		t.Fatalf("raw count for 'ACME' = %s: the collation does not fold, the test proves nothing", n)
	}

	// Every canonical id reads exactly its own rows.
	for _, tenant := range canon {
		var got []Invoice
		if err := td.db.NewSelect().Model(&got).Order("number").Scan(tenantCtx(t, tenant)); err != nil {
			t.Fatalf("%s: %v", tenant, err)
		}
		if len(got) != 2 || got[0].Number != tenant+"#1" || got[1].Number != tenant+"#2" {
			t.Fatalf("tenant %q read %+v", tenant, got)
		}
	}

	// Ids that fold to a canonical one reach nothing, on any path.
	accents := &scope.Validator{Pattern: regexp.MustCompile(`^[\p{L}0-9]+$`)}
	bEta, err := accents.Parse("bëta")
	if err != nil {
		t.Fatal(err)
	}
	folded := map[string]context.Context{
		"ACME": tenantCtx(t, "ACME"),
		"Acme": tenantCtx(t, "Acme"),
		"bëta": scope.NewContext(ctx, bEta),
	}
	ops := []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"model select", func(ctx context.Context) error {
			var got []Invoice
			err := td.db.NewSelect().Model(&got).Scan(ctx)
			if len(got) != 0 {
				t.Errorf("%d rows returned", len(got))
			}
			return err
		}},
		{"count", func(ctx context.Context) error {
			n, err := td.db.NewSelect().Model((*Invoice)(nil)).Count(ctx)
			if n != 0 {
				t.Errorf("count %d", n)
			}
			return err
		}},
		{"update", func(ctx context.Context) error {
			_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("number = ?", "pwned").Where("id > 0").Exec(ctx)
			return err
		}},
		{"delete", func(ctx context.Context) error {
			_, err := td.db.NewDelete().Model((*Invoice)(nil)).Where("id > 0").Exec(ctx)
			return err
		}},
		{"insert", func(ctx context.Context) error {
			_, err := td.db.NewInsert().Model(&Invoice{ID: 999, Number: "planted"}).Exec(ctx)
			return err
		}},
		{"raw select with the predicate", func(ctx context.Context) error {
			var n []string
			bound, _ := scope.FromContext(ctx)
			err := td.db.NewRaw("SELECT number FROM invoices WHERE tenant_id = ?", bound.String()).Scan(ctx, &n)
			if len(n) != 0 {
				t.Errorf("%d rows returned", len(n))
			}
			return err
		}},
	}
	before := td.snapshot(t, snapTables)
	for id, fctx := range folded {
		for _, op := range ops {
			td.sink.Reset()
			err := op.run(fctx)
			if !errors.Is(err, bunhook.ErrFoldedTenant) {
				t.Fatalf("%s under %q: %v; want ErrFoldedTenant", op.name, id, err)
			}
			if !strings.Contains(err.Error(), "CollationExact") || !strings.Contains(err.Error(), "lower-case") {
				t.Errorf("the error does not name the fixes: %v", err)
			}
			if v := td.events(auditlog.EnforcementViolation); len(v) != 1 || v[0].Tenant != id {
				t.Fatalf("%s under %q: want one ENFORCEMENT_VIOLATION, got %+v", op.name, id, v)
			}
		}
	}
	if changes := diff(before, td.snapshot(t, snapTables)); len(changes) != 0 {
		t.Fatalf("tenant tables changed: %v", changes)
	}

	// Made exact and declared so, the column tells ACME from acme: ACME is
	// accepted and reads nothing of acme's.
	exec("ALTER TABLE invoices MODIFY tenant_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL")
	exact := reopen(t, td, bunhook.WithTenantCollation(bunhook.CollationExact))
	var got []Invoice
	if err := exact.NewSelect().Model(&got).Scan(folded["ACME"]); err != nil || len(got) != 0 {
		t.Fatalf("ACME on an exact column: %d rows, %v", len(got), err)
	}
	if err := exact.NewSelect().Model(&got).Scan(tenantCtx(t, "acme")); err != nil || len(got) != 2 {
		t.Fatalf("acme on an exact column: %d rows, %v", len(got), err)
	}
}

// TestCollationDeclared: the rule follows the declaration, on every dialect.
func TestCollationDeclared(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind      string
		collation bunhook.Collation
		upperOK   bool
	}{
		{"sqlite", bunhook.CollationDefault, true},
		{"sqlite", bunhook.CollationFolding, false},
		{"pg", bunhook.CollationDefault, true},
		{"pg", bunhook.CollationFolding, false},
		{"mysql", bunhook.CollationExact, true},
	} {
		td := openTestDB(t, tc.kind, bunhook.WithTenantCollation(tc.collation))
		_, err := td.db.NewSelect().Model((*Invoice)(nil)).Count(tenantCtx(t, "ACME"))
		if (err == nil) != tc.upperOK || (err != nil && !errors.Is(err, bunhook.ErrFoldedTenant)) {
			t.Errorf("%s collation %d: %v", tc.kind, tc.collation, err)
		}
		// A statement on shared tables only is not concerned.
		if _, err := td.db.NewSelect().Model((*Currency)(nil)).Count(tenantCtx(t, "ACME")); err != nil {
			t.Errorf("%s: shared table under ACME: %v", tc.kind, err)
		}
	}
	for _, id := range []string{"acme", "a.b-c_d:e", "x1"} {
		td := openTestDB(t, "sqlite", bunhook.WithTenantCollation(bunhook.CollationFolding))
		if _, err := td.db.NewSelect().Model((*Invoice)(nil)).Count(tenantCtx(t, id)); err != nil {
			t.Errorf("canonical %q refused: %v", id, err)
		}
	}
}

// TestCollationFoldingPostgres: a PostgreSQL tenant column with a
// nondeterministic (case-insensitive ICU) collation folds like MariaDB's
// default; declared as CollationFolding, bunhook refuses the ids it folds.
func TestCollationFoldingPostgres(t *testing.T) {
	t.Parallel()
	td := openTestDB(t, "pg", bunhook.WithTenantCollation(bunhook.CollationFolding))
	td.rawExec(t,
		`CREATE COLLATION ts_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`,
		`ALTER TABLE invoices ALTER COLUMN tenant_id TYPE varchar COLLATE ts_ci`,
		`INSERT INTO invoices (id, tenant_id, number) VALUES (1, 'acme', 'acme#1'), (2, 'acme', 'acme#2')`)
	if n := td.rawString(t, "SELECT count(*) FROM invoices WHERE tenant_id = 'ACME'"); n != "2" {
		t.Fatalf("raw count for 'ACME' = %s: the collation does not fold, the test proves nothing", n)
	}
	var got []Invoice
	err := td.db.NewSelect().Model(&got).Scan(tenantCtx(t, "ACME"))
	if !errors.Is(err, bunhook.ErrFoldedTenant) || len(got) != 0 {
		t.Fatalf("ACME: %d rows, %v", len(got), err)
	}
	if v := td.events(auditlog.EnforcementViolation); len(v) != 1 {
		t.Fatalf("want one ENFORCEMENT_VIOLATION, got %+v", v)
	}
	if err := td.db.NewSelect().Model(&got).Scan(tenantCtx(t, "acme")); err != nil || len(got) != 2 {
		t.Fatalf("acme: %d rows, %v", len(got), err)
	}
}
