package scope_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

func TestDenyByDefault(t *testing.T) {
	t.Parallel()
	p := scope.DenyByDefault()
	ctx := context.Background()
	d := p.Evaluate(ctx, scope.Operation{Table: "orders", Action: scope.ActionRead})
	if d.Allowed || !strings.Contains(d.Reason, "no tenant") || !strings.Contains(d.Reason, "orders") || !strings.Contains(d.Reason, "read") {
		t.Fatalf("no tenant: %+v", d)
	}
	if d := p.Evaluate(ctx, scope.Operation{Tenant: acme, Table: "orders", Action: scope.ActionWrite}); !d.Allowed {
		t.Fatalf("with a tenant: %+v", d)
	}
}

func TestAllowTables(t *testing.T) {
	t.Parallel()
	p := scope.AllowTables("Orders", "invoices")
	ctx := context.Background()
	for table, allowed := range map[string]bool{"orders": true, "ORDERS": true, "invoices": true, "users": false, "": false} {
		d := p.Evaluate(ctx, scope.Operation{Tenant: acme, Table: table, Action: scope.ActionRead})
		if d.Allowed != allowed {
			t.Errorf("table %q: %+v", table, d)
		}
		if !allowed && !strings.Contains(d.Reason, "allow-list") {
			t.Errorf("table %q: reason %q", table, d.Reason)
		}
	}
	if scope.AllowTables().Evaluate(ctx, scope.Operation{Table: "orders"}).Allowed {
		t.Error("an empty allow-list allowed a table")
	}
}

func TestDecisionZeroValueDenies(t *testing.T) {
	t.Parallel()
	var d scope.Decision
	if d.Allowed {
		t.Fatal("the zero Decision allows")
	}
	if !scope.Allow().Allowed || scope.Deny("x").Allowed || scope.Deny("x").Reason != "x" {
		t.Fatal("Allow/Deny")
	}
}

type countingPolicy struct {
	d     scope.Decision
	calls atomic.Int64
}

func (c *countingPolicy) Evaluate(context.Context, scope.Operation) scope.Decision {
	c.calls.Add(1)
	return c.d
}

func TestChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	op := scope.Operation{Tenant: acme, Table: "orders", Action: scope.ActionRead}
	if !scope.Chain().Evaluate(ctx, op).Allowed {
		t.Fatal("an empty chain must allow")
	}
	allow, denyA, denyB := &countingPolicy{d: scope.Allow()}, &countingPolicy{d: scope.Deny("A")}, &countingPolicy{d: scope.Deny("B")}
	d := scope.Chain(allow, denyA, denyB).Evaluate(ctx, op)
	if d.Allowed || d.Reason != "A" {
		t.Fatalf("first deny must win: %+v", d)
	}
	if allow.calls.Load() != 1 || denyA.calls.Load() != 1 || denyB.calls.Load() != 0 {
		t.Fatalf("calls: allow %d, A %d, B %d; the chain must stop at the first deny",
			allow.calls.Load(), denyA.calls.Load(), denyB.calls.Load())
	}
	// The chain keeps its own copy of the list.
	ps := []scope.Policy{scope.PolicyFunc(func(context.Context, scope.Operation) scope.Decision { return scope.Allow() })}
	c := scope.Chain(ps...)
	ps[0] = scope.PolicyFunc(func(context.Context, scope.Operation) scope.Decision { return scope.Deny("mutated") })
	if !c.Evaluate(ctx, op).Allowed {
		t.Fatal("Chain is affected by later changes to the caller's slice")
	}
	// Composition: no tenant and a table outside the allow-list.
	p := scope.Chain(scope.DenyByDefault(), scope.AllowTables("orders"))
	if d := p.Evaluate(ctx, scope.Operation{Table: "orders"}); d.Allowed || !strings.Contains(d.Reason, "no tenant") {
		t.Fatalf("no tenant: %+v", d)
	}
	if d := p.Evaluate(ctx, scope.Operation{Tenant: acme, Table: "users"}); d.Allowed || !strings.Contains(d.Reason, "allow-list") {
		t.Fatalf("users: %+v", d)
	}
	if d := p.Evaluate(ctx, op); !d.Allowed {
		t.Fatalf("orders: %+v", d)
	}
}

// TestChainProperty: over every sequence of up to 4 allow/deny policies, the
// chain allows exactly when no policy denies, and then reports the first deny.
func TestChainProperty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	op := scope.Operation{Tenant: acme, Table: "orders", Action: scope.ActionWrite}
	for n := 1; n <= 4; n++ {
		for mask := 0; mask < 1<<n; mask++ { // bit i set: policy i denies
			ps := make([]scope.Policy, n)
			firstDeny := ""
			for i := range ps {
				if mask&(1<<i) != 0 {
					reason := fmt.Sprintf("deny-%d", i)
					if firstDeny == "" {
						firstDeny = reason
					}
					ps[i] = scope.PolicyFunc(func(context.Context, scope.Operation) scope.Decision { return scope.Deny(reason) })
				} else {
					ps[i] = scope.PolicyFunc(func(context.Context, scope.Operation) scope.Decision { return scope.Allow() })
				}
			}
			d := scope.Chain(ps...).Evaluate(ctx, op)
			if wantAllowed := mask == 0; d.Allowed != wantAllowed || d.Reason != firstDeny {
				t.Errorf("n=%d mask=%0*b: %+v, want allowed=%v reason=%q", n, n, mask, d, wantAllowed, firstDeny)
			}
		}
	}
}

func TestBinderEvaluate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	ctx, server := h.server(context.Background())
	sc := server.SpanContext()
	p := scope.Chain(scope.DenyByDefault(), scope.AllowTables("orders"))

	if err := h.binder.Evaluate(ctx, p, scope.Operation{Tenant: acme, Table: "orders", Model: "*app.Order", Action: scope.ActionRead}); err != nil {
		t.Fatalf("allowed operation: %v", err)
	}
	readErr := h.binder.Evaluate(ctx, p, scope.Operation{Tenant: acme, Table: "users", Action: scope.ActionRead})
	writeErr := h.binder.Evaluate(ctx, p, scope.Operation{Table: "orders", Action: scope.ActionDelete})
	server.End()

	var pe *scope.PolicyError
	if !errors.As(readErr, &pe) || !errors.Is(readErr, scope.ErrPolicyDenied) {
		t.Fatalf("deny returned %v (%T), want a *PolicyError", readErr, readErr)
	}
	for _, s := range []string{"read", "users", `"acme"`, "allow-list"} {
		if !strings.Contains(readErr.Error(), s) {
			t.Errorf("PolicyError message %q lacks %q", readErr, s)
		}
	}
	if pe.ErrorType() != "tenant.policy_denied" || otelobs.ErrorType(fmt.Errorf("wrapped: %w", readErr)) != "tenant.policy_denied" {
		t.Errorf("error.type of a policy denial")
	}
	if !errors.Is(writeErr, scope.ErrPolicyDenied) {
		t.Fatalf("write deny = %v", writeErr)
	}

	evs := h.sink.Events()
	if got := h.auditTypes(); !slices.Equal(got, []auditlog.Type{auditlog.PolicyAllow, auditlog.PolicyDeny, auditlog.PolicyDeny}) {
		t.Fatalf("audit = %v", got)
	}
	allow, deny, denyNoTenant := evs[0], evs[1], evs[2]
	if allow.Operation != "read" || allow.Table != "orders" || allow.Tenant != "acme" || allow.Model != "*app.Order" ||
		allow.Outcome != auditlog.OutcomeAllowed || allow.Reason != "" {
		t.Errorf("POLICY_ALLOW = %+v", allow)
	}
	if deny.Operation != "read" || deny.Table != "users" || deny.Tenant != "acme" || deny.Outcome != auditlog.OutcomeDenied ||
		!strings.Contains(deny.Reason, "allow-list") {
		t.Errorf("POLICY_DENY = %+v", deny)
	}
	if denyNoTenant.Tenant != "" || denyNoTenant.Operation != "delete" || !strings.Contains(denyNoTenant.Reason, "no tenant") {
		t.Errorf("POLICY_DENY without tenant = %+v", denyNoTenant)
	}
	for _, e := range evs {
		if e.TraceID != sc.TraceID().String() || e.SpanID != sc.SpanID().String() {
			t.Errorf("%s not correlated with the active span", e.Type)
		}
	}

	// Trace: a blocked event per deny (read vs write family), nothing for the allow.
	s := h.sr.Ended()[0]
	if got := spanEventNames(s); !slices.Equal(got, []string{otelobs.EventReadBlocked, otelobs.EventWriteBlocked}) {
		t.Fatalf("span events = %v", got)
	}
	a := attrs(s.Events()[0].Attributes)
	if a["tenant.id"] != "acme" || a["db.collection.name"] != "users" || a["db.operation.name"] != "read" ||
		a["tenant.decision"] != "denied" || a["error.type"] != "tenant.policy_denied" || !strings.Contains(a["tenant.reason"], "allow-list") {
		t.Fatalf("read.blocked attributes = %v", a)
	}
}

func TestPackageLevelEvaluate(t *testing.T) {
	t.Parallel()
	// The default binder reports to the default bus and observer, both off
	// unless a test turns them on (none runs in parallel with this one).
	if err := scope.Evaluate(context.Background(), scope.DenyByDefault(), scope.Operation{Table: "orders"}); !errors.Is(err, scope.ErrPolicyDenied) {
		t.Fatalf("Evaluate = %v", err)
	}
}
