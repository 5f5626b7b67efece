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
