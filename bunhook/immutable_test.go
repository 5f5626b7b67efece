package bunhook_test

import (
	"context"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/scope"
)

// TestTenantColumnImmutable: a Set or SetColumn of the tenant column is a
// violation whatever its value, the bound tenant's included; a model UPDATE
// that writes the row back with its own tenant is not.
func TestTenantColumnImmutable(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		ids := td.seed(t)
		a := tenantCtx(t, "A")
		refused := []struct {
			name string
			run  func(ctx context.Context) error
		}{
			{"Set to the bound tenant", func(ctx context.Context) error {
				_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("tenant_id = ?", "A").Where("id = ?", ids["A"][0]).Exec(ctx)
				return err
			}},
			{"Set to another tenant", func(ctx context.Context) error {
				_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("tenant_id = ?", "B").Where("id = ?", ids["A"][0]).Exec(ctx)
				return err
			}},
			{"SetColumn", func(ctx context.Context) error {
				_, err := td.db.NewUpdate().Model((*Invoice)(nil)).SetColumn("tenant_id", "?", "A").Where("id = ?", ids["A"][0]).Exec(ctx)
				return err
			}},
			{"Set of two columns in one expression", func(ctx context.Context) error {
				_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("number = 'q', tenant_id = 'A'").Where("id = ?", ids["A"][0]).Exec(ctx)
				return err
			}},
			{"Value of the tenant column", func(ctx context.Context) error {
				_, err := td.db.NewUpdate().Model(&Invoice{ID: ids["A"][0], Number: "v"}).Value("tenant_id", "'A'").WherePK().Exec(ctx)
				return err
			}},
			{"Set with a quoted, upper-case column and another one", func(ctx context.Context) error {
				_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("number = ?", "n").Set("? = ?", bun.Ident("TENANT_ID"), "A").
					Where("id = ?", ids["A"][0]).Exec(ctx)
				return err
			}},
		}
		for _, r := range refused {
			t.Run(r.name, func(t *testing.T) {
				err := td.blockedOnce(t, scope.ErrCrossTenant, "UPDATE", func() error { return r.run(a) })
				if !strings.Contains(err.Error(), "immutable") {
					t.Fatalf("the error does not name the immutable column: %v", err)
				}
			})
		}

		// What a correct program sends still runs.
		if _, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("number = ?", "renamed").Where("id = ?", ids["A"][0]).Exec(a); err != nil {
			t.Fatalf("Set of another column: %v", err)
		}
		inv := &Invoice{ID: ids["A"][1]}
		if err := td.db.NewSelect().Model(inv).WherePK().Scan(a); err != nil {
			t.Fatal(err)
		}
		inv.Number = "whole-row"
		if _, err := td.db.NewUpdate().Model(inv).WherePK().Exec(a); err != nil {
			t.Fatalf("model UPDATE of the whole row: %v", err)
		}
		if got := td.rawString(t, "SELECT number FROM invoices WHERE id = ?", ids["A"][1]); got != "whole-row" {
			t.Fatalf("number = %q", got)
		}
	})
}
