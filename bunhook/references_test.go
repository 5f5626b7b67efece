package bunhook_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
)

// TestCrossTenantReferences: a row inserted through a model may refer (by
// a foreign key that a bun relation maps) only to rows of the bound tenant.
// Customers 1, 2 and invoices ids["A"] are A's; customers 3, 4 and
// invoices ids["B"] are B's.
func TestCrossTenantReferences(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		ids := td.seed(t)
		a := tenantCtx(t, "A")
		blocked := []struct {
			name string
			run  func() error
		}{
			{"belongs-to: an invoice naming B's customer", func() error {
				_, err := td.db.NewInsert().Model(&Invoice{Number: "x", CustomerID: 3}).Exec(a)
				return err
			}},
			{"has-many, seen from the child: an item of B's invoice", func() error {
				_, err := td.db.NewInsert().Model(&Item{Name: "x", InvoiceID: ids["B"][0]}).Exec(a)
				return err
			}},
			{"a slice with one row naming B's customer", func() error {
				_, err := td.db.NewInsert().Model(&[]Invoice{{Number: "x1", CustomerID: 1}, {Number: "x2", CustomerID: 4}}).Exec(a)
				return err
			}},
			{"a customer that does not exist", func() error {
				_, err := td.db.NewInsert().Model(&Invoice{Number: "x", CustomerID: 999}).Exec(a)
				return err
			}},
			{"a Value override naming B's customer", func() error {
				_, err := td.db.NewInsert().Model(&Invoice{Number: "x", CustomerID: 1}).Value("customer_id", "?", 3).Exec(a)
				return err
			}},
			{"an upsert whose Set names B's customer", func() error {
				_, err := td.db.NewInsert().Model(&Invoice{ID: ids["A"][0], Number: "A-1", CustomerID: 1}).
					On("CONFLICT (id) DO UPDATE").Set("customer_id = ?", 3).Exec(a)
				return err
			}},
		}
		for _, c := range blocked {
			t.Run(c.name, func(t *testing.T) {
				err := td.blockedOnce(t, scope.ErrCrossTenant, "INSERT", c.run)
				if verr := (*scope.ViolationError)(nil); !errors.As(err, &verr) || verr.Fix == "" {
					t.Fatalf("want a violation naming a fix, got %v", err)
				}
			})
		}

		// Own references, and no reference at all, are fine; so is a parent
		// inserted earlier in the same transaction.
		if _, err := td.db.NewInsert().Model(&[]Invoice{{Number: "own1", CustomerID: 2}, {Number: "own2"}}).Exec(a); err != nil {
			t.Fatalf("own references: %v", err)
		}
		err := td.db.RunInTx(a, nil, func(ctx context.Context, tx bun.Tx) error {
			c := &Customer{Name: "new"}
			if _, err := tx.NewInsert().Model(c).Exec(ctx); err != nil {
				return err
			}
			_, err := tx.NewInsert().Model(&Invoice{Number: "in-tx", CustomerID: c.ID}).Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatalf("a reference to a customer inserted in the same transaction: %v", err)
		}
		// Under a bypass the check does not run (migrations, imports).
		if _, err := td.db.NewInsert().Model(&Invoice{TenantID: "A", Number: "import", CustomerID: 3}).Exec(bypassCtx(t)); err != nil {
			t.Fatalf("under a bypass: %v", err)
		}
	})
}

// TestCrossTenantReferencesOnUpdate: an UPDATE through a model may set a
// foreign key (from the struct's fields, or with Set) only to a row of the
// bound tenant; a key it does not write is not checked.
func TestCrossTenantReferencesOnUpdate(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		ids := td.seed(t)
		a := tenantCtx(t, "A")
		inv := ids["A"][0]
		blocked := []struct {
			name string
			only []string
			run  func() error
		}{
			{"a struct naming B's customer, every column", nil, func() error {
				_, err := td.db.NewUpdate().Model(&Invoice{ID: inv, Number: "x", CustomerID: 3}).WherePK().Exec(a)
				return err
			}},
			{"a struct naming B's customer, customer_id listed", nil, func() error {
				_, err := td.db.NewUpdate().Model(&Invoice{ID: inv, Number: "x", CustomerID: 4}).Column("number", "customer_id").WherePK().Exec(a)
				return err
			}},
			{"Set to B's customer", nil, func() error {
				_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("customer_id = ?", 3).Where("id = ?", inv).Exec(a)
				return err
			}},
			{"Set to a customer that does not exist", nil, func() error {
				_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("customer_id = ?", 999).Where("id = ?", inv).Exec(a)
				return err
			}},
			{"Set to a subquery (cannot be checked)", nil, func() error {
				_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("customer_id = (SELECT max(id) FROM customers WHERE tenant_id = 'A')").
					Where("id = ?", inv).Exec(a)
				return err
			}},
			{"a Set whose comment holds a quote", nil, func() error {
				_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("number = 'x' /* it's */, customer_id = ?", 3).Where("id = ?", inv).Exec(a)
				return err
			}},
			{"a Set with a dollar-quoted string", []string{"pg", "pgx"}, func() error {
				_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("number = $$it's$$, customer_id = ?", 3).Where("id = ?", inv).Exec(a)
				return err
			}},
			{"a Bulk-shaped Set over a _data CTE of other rows", []string{"sqlite", "pg", "pgx"}, func() error {
				other := []Invoice{{ID: inv, CustomerID: 3}}
				rows := []Invoice{{ID: inv, CustomerID: 1}}
				_, err := td.db.NewUpdate().With("_data", td.db.NewValues(&other)).Model(&rows).TableExpr("_data").
					Set("customer_id = _data.customer_id").Where("invoice.id = _data.id").Exec(a)
				return err
			}},
			{"several assignments in one Set", nil, func() error {
				_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("number = 'm', customer_id = ?", 3).Where("id = ?", inv).Exec(a)
				return err
			}},
			{"an expression Set on a struct model", nil, func() error {
				_, err := td.db.NewUpdate().Model(&Invoice{ID: inv, CustomerID: 1}).Set("customer_id = ? + 0", 3).WherePK().Exec(a)
				return err
			}},
			{"a Value override naming B's customer", nil, func() error {
				_, err := td.db.NewUpdate().Model(&Invoice{ID: inv, Number: "v", CustomerID: 1}).Value("customer_id", "?", 4).WherePK().Exec(a)
				return err
			}},
			{"an item moved to B's invoice", nil, func() error {
				_, err := td.db.NewUpdate().Model((*Item)(nil)).Set("invoice_id = ?", ids["B"][0]).Where("invoice_id = ?", inv).Exec(a)
				return err
			}},
			{"Bulk() with one row naming B's customer", []string{"sqlite", "pg", "pgx"}, func() error {
				rows := []Invoice{{ID: ids["A"][0], CustomerID: 1}, {ID: ids["A"][1], CustomerID: 3}}
				_, err := td.db.NewUpdate().Model(&rows).Column("customer_id").Bulk().Exec(a)
				return err
			}},
		}
		for _, c := range blocked {
			if c.only != nil && !slices.Contains(c.only, td.kind) {
				continue
			}
			t.Run(c.name, func(t *testing.T) {
				err := td.blockedOnce(t, scope.ErrCrossTenant, "UPDATE", c.run)
				if verr := (*scope.ViolationError)(nil); !errors.As(err, &verr) || verr.Fix == "" {
					t.Fatalf("want a violation naming a fix, got %v", err)
				}
			})
		}
		// Allowed: own rows, NULL, and a key the update does not write.
		td.sink.Reset()
		for _, c := range []struct {
			name string
			run  func() error
		}{
			{"a struct naming A's other customer", func() error {
				_, err := td.db.NewUpdate().Model(&Invoice{ID: inv, Number: "y", CustomerID: 2}).WherePK().Exec(a)
				return err
			}},
			{"Set to A's customer", func() error {
				_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("customer_id = ?", 1).Where("id = ?", inv).Exec(a)
				return err
			}},
			{"Set to NULL", func() error {
				_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("customer_id = NULL").Where("id = ?", ids["A"][2]).Exec(a)
				return err
			}},
			{"Bulk() naming A's customers", func() error {
				if td.kind == "mysql" {
					return nil // no Bulk() on MariaDB
				}
				rows := []Invoice{{ID: ids["A"][1], CustomerID: 2}, {ID: ids["A"][2], CustomerID: 1}}
				_, err := td.db.NewUpdate().Model(&rows).Column("customer_id").Bulk().Exec(a)
				return err
			}},
			{"a struct naming B's customer, customer_id not written", func() error {
				_, err := td.db.NewUpdate().Model(&Invoice{ID: inv, Number: "z", CustomerID: 3}).Column("number").WherePK().Exec(a)
				return err
			}},
		} {
			if err := c.run(); err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		}
		if got := td.rawString(t, "SELECT customer_id FROM invoices WHERE id = ?", inv); got != "1" {
			t.Errorf("customer_id = %s, want 1", got)
		}
		if v := td.events(auditlog.EnforcementViolation); len(v) != 0 {
			t.Errorf("allowed updates audited as violations: %+v", v)
		}
	})
}
