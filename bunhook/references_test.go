package bunhook_test

import (
	"context"
	"errors"
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
		}
		for _, c := range blocked {
			t.Run(c.name, func(t *testing.T) {
				before := td.snapshot(t, snapTables)
				td.sink.Reset()
				err := c.run()
				var verr *scope.ViolationError
				if !errors.Is(err, scope.ErrCrossTenant) || !errors.As(err, &verr) || verr.Fix == "" {
					t.Fatalf("want ErrCrossTenant naming a fix, got %v", err)
				}
				if changes := diff(before, td.snapshot(t, snapTables)); len(changes) != 0 {
					t.Fatalf("the database changed: %v", changes)
				}
				v := td.events(auditlog.EnforcementViolation)
				if len(v) != 1 || v[0].Tenant != "A" || v[0].Operation != "INSERT" {
					t.Fatalf("want one ENFORCEMENT_VIOLATION for the INSERT of A, got %+v", v)
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
