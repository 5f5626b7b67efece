package scope_test

import (
	"context"
	"testing"

	"github.com/tenantshield/tenantshield-go/scope"
)

func TestBuiltinPolicies(t *testing.T) {
	t.Parallel()
	a, b, c := scope.MustParse("a"), scope.MustParse("b"), scope.MustParse("c")
	tenantTables := scope.TenantTables(map[string][]string{"a": {"Invoices"}, "b": {"*"}})
	readOnly := scope.ReadOnlyTenants("b")
	roles := scope.RoleTables(map[string][]string{"billing": {"invoices"}, "auditor:read": {"*"}})
	billing := scope.WithRoles(context.Background(), "billing")
	auditor := scope.WithRoles(context.Background(), "auditor")
	bg := context.Background()
	op := func(t scope.Tenant, table string, act scope.Action) scope.Operation {
		return scope.Operation{Tenant: t, Table: table, Action: act}
	}
	cases := []struct {
		name  string
		p     scope.Policy
		ctx   context.Context
		op    scope.Operation
		allow bool
	}{
		{"tenant table listed (case-insensitive)", tenantTables, bg, op(a, "invoices", scope.ActionRead), true},
		{"tenant table not listed", tenantTables, bg, op(a, "payments", scope.ActionRead), false},
		{"tenant wildcard", tenantTables, bg, op(b, "payments", scope.ActionDelete), true},
		{"tenant without list", tenantTables, bg, op(c, "invoices", scope.ActionRead), false},
		{"no tenant", tenantTables, bg, op(scope.Tenant{}, "invoices", scope.ActionRead), false},
		{"read-only tenant reads", readOnly, bg, op(b, "invoices", scope.ActionRead), true},
		{"read-only tenant writes", readOnly, bg, op(b, "invoices", scope.ActionWrite), false},
		{"read-only tenant deletes", readOnly, bg, op(b, "invoices", scope.ActionDelete), false},
		{"other tenant writes", readOnly, bg, op(a, "invoices", scope.ActionWrite), true},
		{"role lists table", roles, billing, op(a, "invoices", scope.ActionWrite), true},
		{"role lacks table", roles, billing, op(a, "payments", scope.ActionRead), false},
		{"read role reads anything", roles, auditor, op(a, "payments", scope.ActionRead), true},
		{"read role cannot write", roles, auditor, op(a, "payments", scope.ActionWrite), false},
		{"no roles", roles, bg, op(a, "invoices", scope.ActionRead), false},
	}
	for _, tc := range cases {
		d := tc.p.Evaluate(tc.ctx, tc.op)
		if d.Allowed != tc.allow {
			t.Errorf("%s: allowed=%v (%q), want %v", tc.name, d.Allowed, d.Reason, tc.allow)
		}
		if !d.Allowed && d.Reason == "" {
			t.Errorf("%s: a deny without a reason", tc.name)
		}
	}
	if got := scope.RolesFromContext(billing); len(got) != 1 || got[0] != "billing" {
		t.Errorf("roles = %v", got)
	}
}
