package bunhook_test

import (
	"errors"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/scope"
)

func TestPolicyInsideEnforcement(t *testing.T) {
	policy := scope.Chain(
		scope.ReadOnlyTenants("R"),
		scope.TenantTables(map[string][]string{"A": {"invoices", "items"}, "R": {"*"}, "B": {"*"}}),
	)
	for _, kind := range dbKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			td := openTestDB(t, kind, bunhook.WithPolicy(policy))
			td.seed(t)
			td.obs.SetEnabled(true)
			a, r := tenantCtx(t, "A"), tenantCtx(t, "R")
			before := len(td.tenantsOf(t, "invoices"))

			// Allowed: no POLICY_ALLOW records unless asked for.
			if n, err := td.db.NewSelect().Model((*Invoice)(nil)).Count(a); err != nil || n != 3 {
				t.Fatalf("A counts invoices: %d %v", n, err)
			}
			if got := td.events(auditlog.PolicyAllow); len(got) != 0 {
				t.Fatalf("allow records without opting in: %+v", got)
			}
			// A table outside A's allow-list.
			_, err := td.db.NewSelect().Model((*Customer)(nil)).Count(a)
			var perr *scope.PolicyError
			if !errors.Is(err, scope.ErrPolicyDenied) || !errors.As(err, &perr) || perr.Op.Table != "customers" {
				t.Fatalf("A reads customers: %v", err)
			}
			// A read-only tenant reads but cannot write, through bun or the raw pool.
			if _, err := td.db.NewSelect().Model((*Invoice)(nil)).Count(r); err != nil {
				t.Fatalf("R reads: %v", err)
			}
			if _, err := td.db.NewInsert().Model(&Invoice{Number: "R-1"}).Exec(r); !errors.Is(err, scope.ErrPolicyDenied) {
				t.Fatalf("R inserts: %v", err)
			}
			if _, err := td.db.DB.ExecContext(r, "DELETE FROM invoices WHERE tenant_id = 'R'"); !errors.Is(err, scope.ErrPolicyDenied) {
				t.Fatalf("R deletes through *sql.DB: %v", err)
			}
			if got := len(td.tenantsOf(t, "invoices")); got != before {
				t.Fatalf("denied writes changed the table: %d rows, want %d", got, before)
			}
			denies := td.events(auditlog.PolicyDeny)
			if len(denies) != 3 {
				t.Fatalf("want 3 POLICY_DENY, got %+v", denies)
			}
			if d := denies[1]; d.Tenant != "R" || d.Table != "invoices" || d.Operation != "INSERT" || d.Outcome != auditlog.OutcomeDenied || d.Reason == "" {
				t.Fatalf("POLICY_DENY record: %+v", d)
			}
			if n := len(td.events(auditlog.EnforcementViolation)); n != 0 {
				t.Fatalf("policy denials are not enforcement violations: %d", n)
			}
			var traced int
			for _, s := range td.sr.Ended() {
				for _, ev := range s.Events() {
					if ev.Name == "tenant.write.blocked" || ev.Name == "tenant.read.blocked" {
						for _, kv := range ev.Attributes {
							if kv.Key == "error.type" && kv.Value.AsString() == "tenant.policy_denied" {
								traced++
							}
						}
					}
				}
			}
			if traced != 3 {
				t.Fatalf("policy denials on the trace: %d, want 3", traced)
			}
			// An explicit bypass is not subject to the policy (it is audited as a bypass).
			if _, err := td.db.NewSelect().Model((*Customer)(nil)).Count(bypassCtx(t)); err != nil {
				t.Fatalf("bypass: %v", err)
			}
		})
	}
}

func TestPolicyAllowRecordsAndReportMode(t *testing.T) {
	t.Parallel()
	td := openTestDB(t, "sqlite", bunhook.WithPolicy(scope.ReadOnlyTenants("A")), bunhook.WithPolicyAllowRecords(),
		bunhook.WithMode(bunhook.ModeReport))
	td.seed(t)
	ctx := tenantCtx(t, "A")
	var invs []Invoice
	if err := td.db.NewSelect().Model(&invs).Relation("Customer").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	allows := td.events(auditlog.PolicyAllow)
	if len(allows) != 2 || allows[0].Table != "invoices" || allows[1].Table != "customers" {
		t.Fatalf("POLICY_ALLOW per table: %+v", allows)
	}
	// Report-only: the denied write runs and is reported.
	if _, err := td.db.NewInsert().Model(&Invoice{Number: "A-9"}).Exec(ctx); err != nil {
		t.Fatalf("report mode insert: %v", err)
	}
	denies := td.events(auditlog.PolicyDeny)
	if len(denies) != 1 || denies[0].Outcome != auditlog.OutcomeReported {
		t.Fatalf("reported deny: %+v", denies)
	}
}
