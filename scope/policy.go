package scope

import (
	"context"
	"strings"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
)

// Action is the kind of an operation a policy decides on.
type Action string

// Actions.
const (
	ActionRead   Action = "read"
	ActionWrite  Action = "write"
	ActionDelete Action = "delete"
)

// Operation is what a policy decides on.
type Operation struct {
	Tenant Tenant // zero when no tenant is bound
	Table  string // the table (or resource) concerned
	Model  string // the Go model, when known
	Action Action
}

// Decision is a policy's answer. The zero Decision denies with no reason; use
// [Allow] and [Deny].
type Decision struct {
	Allowed bool
	Reason  string
}

// Allow returns an allowing Decision.
func Allow() Decision { return Decision{Allowed: true} }

// Deny returns a denying Decision with a reason.
func Deny(reason string) Decision { return Decision{Reason: reason} }

// Policy decides whether an operation may proceed. Evaluate must be safe for
// concurrent use, must not block on I/O and must not emit audit events itself
// ([Binder.Evaluate] records the decision).
type Policy interface {
	Evaluate(ctx context.Context, op Operation) Decision
}

// PolicyFunc adapts a function to [Policy].
type PolicyFunc func(ctx context.Context, op Operation) Decision

// Evaluate calls f.
func (f PolicyFunc) Evaluate(ctx context.Context, op Operation) Decision { return f(ctx, op) }

// DenyByDefault denies every operation that has no tenant and allows the rest.
func DenyByDefault() Policy {
	return PolicyFunc(func(_ context.Context, op Operation) Decision {
		if op.Tenant.IsZero() {
			return Deny("no tenant bound for " + string(op.Action) + " on " + op.Table)
		}
		return Allow()
	})
}

// AllowTables allows operations only on the listed tables (case-insensitive).
// It does not look at the tenant: chain it after [DenyByDefault].
func AllowTables(tables ...string) Policy {
	set := make(map[string]struct{}, len(tables))
	for _, t := range tables {
		set[strings.ToLower(t)] = struct{}{}
	}
	return PolicyFunc(func(_ context.Context, op Operation) Decision {
		if _, ok := set[strings.ToLower(op.Table)]; ok {
			return Allow()
		}
		return Deny("table " + op.Table + " is not in the allow-list")
	})
}

// Chain evaluates policies in order; the first deny wins. An empty chain
// allows.
func Chain(policies ...Policy) Policy {
	ps := append([]Policy(nil), policies...)
	return PolicyFunc(func(ctx context.Context, op Operation) Decision {
		for _, p := range ps {
			if d := p.Evaluate(ctx, op); !d.Allowed {
				return d
			}
		}
		return Allow()
	})
}

// Evaluate evaluates p with the default binder. See [Binder.Evaluate].
func Evaluate(ctx context.Context, p Policy, op Operation) error {
	return defaultBinder.Evaluate(ctx, p, op)
}

// Evaluate evaluates p for op and records the decision: POLICY_ALLOW or
// POLICY_DENY on the audit bus (when a sink is registered) and, for a deny, a
// span event when tracing is on. It returns nil when allowed and a
// [*PolicyError] (matching [ErrPolicyDenied]) when denied.
func (b *Binder) Evaluate(ctx context.Context, p Policy, op Operation) error {
	d := p.Evaluate(ctx, op)
	if !d.Allowed || b.bus.Enabled() { // a deny is an alert: emitted even without a sink, which the bus counts
		ev := auditlog.Event{
			Tenant: op.Tenant.id, Table: op.Table, Model: op.Model, Operation: string(op.Action), Reason: d.Reason,
		}
		if d.Allowed {
			ev.Type, ev.Outcome = auditlog.PolicyAllow, auditlog.OutcomeAllowed
		} else {
			ev.Type, ev.Outcome = auditlog.PolicyDeny, auditlog.OutcomeDenied
		}
		b.bus.Emit(ctx, ev)
	}
	if d.Allowed {
		return nil
	}
	err := &PolicyError{Op: op, Reason: d.Reason}
	if b.obs.Enabled() {
		name := otelobs.EventReadBlocked
		if op.Action != ActionRead {
			name = otelobs.EventWriteBlocked
		}
		b.obs.AddEvent(ctx, name, otelobs.Decision{
			Tenant: op.Tenant.id, Decision: "denied", Reason: d.Reason, Table: op.Table,
			Operation: string(op.Action), ErrorType: err.ErrorType(),
		})
	}
	return err
}

// wildcard in an allow-list matches every table.
const wildcard = "*"

func tableSet(tables []string) map[string]struct{} {
	set := make(map[string]struct{}, len(tables))
	for _, t := range tables {
		set[strings.ToLower(t)] = struct{}{}
	}
	return set
}

func allowsTable(set map[string]struct{}, table string) bool {
	if _, ok := set[wildcard]; ok {
		return true
	}
	_, ok := set[strings.ToLower(table)]
	return ok
}

// TenantTables allows each tenant only the tables listed for it ("*" allows
// every table). Tenants that are not in the map, and operations with no
// tenant, are denied.
func TenantTables(allowed map[string][]string) Policy {
	sets := make(map[string]map[string]struct{}, len(allowed))
	for tenant, tables := range allowed {
		sets[tenant] = tableSet(tables)
	}
	return PolicyFunc(func(_ context.Context, op Operation) Decision {
		set, ok := sets[op.Tenant.id]
		switch {
		case op.Tenant.IsZero():
			return Deny("no tenant bound for " + string(op.Action) + " on " + op.Table)
		case !ok:
			return Deny("tenant " + op.Tenant.id + " has no table allow-list")
		case !allowsTable(set, op.Table):
			return Deny("table " + op.Table + " is not allowed for tenant " + op.Tenant.id)
		}
		return Allow()
	})
}

// ReadOnlyTenants denies writes and deletes by the listed tenants.
func ReadOnlyTenants(tenants ...string) Policy {
	set := make(map[string]struct{}, len(tenants))
	for _, t := range tenants {
		set[t] = struct{}{}
	}
	return PolicyFunc(func(_ context.Context, op Operation) Decision {
		if _, ro := set[op.Tenant.id]; ro && op.Action != ActionRead {
			return Deny("tenant " + op.Tenant.id + " is read-only")
		}
		return Allow()
	})
}

type rolesKey struct{}

// WithRoles returns a copy of ctx carrying the caller's roles (for example
// from a verified token), for role-based policies such as [RoleTables].
func WithRoles(ctx context.Context, roles ...string) context.Context {
	return context.WithValue(ctx, rolesKey{}, append([]string(nil), roles...))
}

// RolesFromContext returns the roles carried by ctx.
func RolesFromContext(ctx context.Context) []string {
	r, _ := ctx.Value(rolesKey{}).([]string)
	return r
}

// RoleTables allows an operation when one of the roles in the context (see
// [WithRoles]) lists the table ("*" allows every table); a role name suffixed
// with ":read" grants reads only. A context without roles is denied.
//
//	scope.RoleTables(map[string][]string{
//		"billing":        {"invoices", "payments"},
//		"auditor:read":   {"*"},
//	})
func RoleTables(allowed map[string][]string) Policy {
	type grant struct {
		tables   map[string]struct{}
		readOnly bool
	}
	grants := make(map[string][]grant, len(allowed))
	for role, tables := range allowed {
		name, readOnly := strings.CutSuffix(role, ":read")
		grants[name] = append(grants[name], grant{tables: tableSet(tables), readOnly: readOnly})
	}
	return PolicyFunc(func(ctx context.Context, op Operation) Decision {
		roles := RolesFromContext(ctx)
		if len(roles) == 0 {
			return Deny("no role in the context for " + string(op.Action) + " on " + op.Table)
		}
		for _, r := range roles {
			for _, g := range grants[r] {
				if allowsTable(g.tables, op.Table) && (!g.readOnly || op.Action == ActionRead) {
					return Allow()
				}
			}
		}
		return Deny("no role of " + strings.Join(roles, ",") + " may " + string(op.Action) + " " + op.Table)
	})
}
