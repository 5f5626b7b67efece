package bunhook_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/scope"
)

// TestScopeRefusalFoundAgain: a sub-query Scope refused carries its error
// into every outer statement that embeds it, recorded once (by Scope), and
// SQL text that imitates the error marker cannot pass for a refusal.
func TestScopeRefusalFoundAgain(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		td.seed(t)
		a := tenantCtx(t, "A")

		// Scope with no tenant: one violation, however often the refused
		// sub-query is used.
		sub := bunhook.Scope(t.Context(), td.db.NewSelect().Model((*Customer)(nil)).Column("id"))
		td.sink.Reset()
		for i := range 3 {
			var invs []Invoice
			err := td.db.NewSelect().Model(&invs).Where("invoice.customer_id IN (?)", sub).Scan(a)
			if !errors.Is(err, scope.ErrNoTenant) || len(invs) != 0 {
				t.Fatalf("use %d of a refused sub-query: %v, %d rows", i, err, len(invs))
			}
			if strings.Contains(err.Error(), "bunhook ref") {
				t.Errorf("the outer statement's error carries the internal reference: %v", err)
			}
		}
		if n := len(td.events(auditlog.EnforcementViolation)); n != 0 {
			t.Fatalf("re-using a refused sub-query recorded %d more violations, want 0", n)
		}

		// Raw SQL that spells bun's marker and a made-up reference is a
		// violation of its own, recorded.
		td.sink.Reset()
		var n int
		err := td.db.QueryRowContext(a, "SELECT count(*) FROM invoices WHERE tenant_id = 'A' AND '?!(x [bunhook ref 0011223344556677-1])' <> ''").Scan(&n)
		if !errors.Is(err, scope.ErrUnscopedQuery) {
			t.Fatalf("forged marker: %v", err)
		}
		if got := td.events(auditlog.EnforcementViolation); len(got) != 1 || got[0].Table != "invoices" {
			t.Fatalf("forged marker: want one violation on invoices, got %+v", got)
		}
	})
}

// TestScopeRefusalStaysWithItsTenant: the reference of a refusal made
// under tenant A, even when leaked through A's error, cannot make a
// statement of tenant B fail with A's error or escape B's own audit record.
func TestScopeRefusalStaysWithItsTenant(t *testing.T) {
	td := openTestDB(t, "sqlite")
	td.seed(t)
	a, b := tenantCtx(t, "A"), tenantCtx(t, "B")

	// A's refused arm (a top-level WhereOr), returned by bun through Union.
	arm := bunhook.Scope(a, td.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").
		Where("number = ?", "A-1").WhereOr("number = ?", "A-2"))
	var dest []idTenant
	errA := td.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").Union(arm).Scan(a, &dest)
	var verr *scope.ViolationError
	if !errors.As(errA, &verr) || !errors.Is(errA, scope.ErrUnscopedQuery) || !strings.Contains(errA.Error(), "[bunhook ref ") {
		t.Fatalf("A's refused union arm: %v", errA)
	}
	leaked := "?!(" + errA.Error() + ")"

	// B writes the leaked text as data: B's own statement is recorded, as
	// the violation of tenant B, and does not carry A's error.
	td.sink.Reset()
	err := td.db.NewInsert().Model(&Invoice{Number: leaked}).Scan(b)
	var verrB *scope.ViolationError
	if !errors.As(err, &verrB) || verrB == verr || verrB.Bound != "B" {
		t.Fatalf("B's statement carrying A's reference: %v", err)
	}
	got := td.events(auditlog.EnforcementViolation)
	if len(got) != 1 || got[0].Tenant != "B" {
		t.Fatalf("want one violation recorded for B, got %+v", got)
	}

	// A query with no table model refused by Scope: the outer statement
	// fails with that error (ErrModel), and nothing is audited for it.
	td.sink.Reset()
	sub := bunhook.Scope(a, td.db.NewSelect().Table("customers").Column("id"))
	var invs []Invoice
	err = td.db.NewSelect().Model(&invs).Where("invoice.customer_id IN (?)", sub).Scan(a)
	if !errors.Is(err, bunhook.ErrModel) {
		t.Fatalf("Scope of a query without a model, used as an argument: %v", err)
	}
	if n := len(td.events(auditlog.EnforcementViolation)); n != 0 {
		t.Fatalf("a configuration error was audited as %d violations", n)
	}
}
