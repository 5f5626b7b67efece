package scope_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

func TestNestingTheSameTenant(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	ctx, outer, err := h.binder.Bind(context.Background(), acme)
	if err != nil {
		t.Fatal(err)
	}
	inCtx, inner, err := h.binder.Bind(ctx, acme)
	if err != nil {
		t.Fatalf("nesting the same tenant: %v", err)
	}
	if got, _ := scope.Require(inCtx); got != acme || inner.Tenant() != acme {
		t.Fatalf("nested tenant %q", got)
	}
	inner.End(nil)
	outer.End(nil)

	want := []auditlog.Type{auditlog.ContextBound, auditlog.ContextBound, auditlog.ContextReleased, auditlog.ContextReleased}
	if got := h.auditTypes(); !slices.Equal(got, want) {
		t.Fatalf("audit = %v, want %v", got, want)
	}
	// One tenant.scope span: the inner binding decorates the outer one's span.
	h.checkAllEnded(t)
	spans := h.sr.Ended()
	if len(spans) != 1 || spans[0].Name() != otelobs.SpanScope {
		t.Fatalf("%d spans", len(spans))
	}
	wantEv := []string{otelobs.EventScopeEntered, otelobs.EventScopeEntered, otelobs.EventScopeExited, otelobs.EventScopeExited}
	if got := spanEventNames(spans[0]); !slices.Equal(got, wantEv) {
		t.Fatalf("span events = %v", got)
	}
}

func TestBindingADifferentTenantIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	ctx, outer, err := h.binder.Bind(context.Background(), acme)
	if err != nil {
		t.Fatal(err)
	}
	got, b, err := h.binder.Bind(ctx, globex)
	var ce *scope.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, scope.ErrTenantConflict) {
		t.Fatalf("Bind over another tenant = %v, want a *ConflictError", err)
	}
	if ce.Bound != "acme" || ce.Requested != "globex" {
		t.Fatalf("ConflictError = %+v", ce)
	}
	if got != ctx {
		t.Fatal("a refused Bind must return the context unchanged")
	}
	if tn, _ := scope.Require(got); tn != acme {
		t.Fatalf("tenant after a refused Bind = %q", tn)
	}
	b.End(nil) // the zero Binding: a no-op
	outer.End(nil)

	want := []auditlog.Type{auditlog.ContextBound, auditlog.EnforcementViolation, auditlog.ContextReleased}
	if got := h.auditTypes(); !slices.Equal(got, want) {
		t.Fatalf("audit = %v, want %v", got, want)
	}
	v := h.sink.Events(auditlog.EnforcementViolation)[0]
	if v.Tenant != "acme" || v.AttemptedTenant != "globex" || v.Operation != "bind" || v.Outcome != auditlog.OutcomeBlocked || v.Reason == "" {
		t.Fatalf("violation = %+v", v)
	}
	span := h.sr.Ended()[0]
	if v.TraceID != span.SpanContext().TraceID().String() {
		t.Fatal("the violation is not correlated with the scope span")
	}
	ex := attrs(spanEvent(t, span, otelobs.EventScopeException).Attributes)
	if ex["tenant.id"] != "acme" || ex["tenant.attempted_id"] != "globex" || ex["error.type"] != "tenant.conflict" || ex["tenant.decision"] != "blocked" {
		t.Fatalf("exception event = %v", ex)
	}
}

func TestBindOverAPoisonedContextIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, true)
	poisoned := scope.NewContext(scope.NewContext(context.Background(), acme), globex)
	for _, tn := range []scope.Tenant{acme, globex} {
		_, _, err := h.binder.Bind(poisoned, tn)
		var ce *scope.ConflictError
		if !errors.As(err, &ce) || ce.Bound != "acme" || ce.Requested != tn.String() {
			t.Fatalf("Bind(%s) on a poisoned context = %v", tn, err)
		}
	}
	if n := len(h.sink.Events(auditlog.EnforcementViolation)); n != 2 {
		t.Fatalf("%d violations, want 2", n)
	}
}

func TestBindZeroTenant(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	ctx := context.Background()
	for name, call := range map[string]func() (context.Context, scope.Binding, error){
		"Bind":   func() (context.Context, scope.Binding, error) { return h.binder.Bind(ctx, scope.Tenant{}) },
		"Switch": func() (context.Context, scope.Binding, error) { return h.binder.Switch(ctx, scope.Tenant{}, "why") },
	} {
		got, b, err := call()
		if !errors.Is(err, scope.ErrInvalidTenant) || got != ctx {
			t.Fatalf("%s with a zero tenant = %v", name, err)
		}
		b.End(nil)
	}
	if h.sink.Len() != 0 || len(h.sr.Started()) != 0 {
		t.Fatal("a refused zero tenant was reported as a binding")
	}
}

func TestSwitch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	ctx, outer, _ := h.binder.Bind(context.Background(), acme)
	sctx, sw, err := h.binder.Switch(ctx, globex, "support ticket 4711")
	if err != nil {
		t.Fatal(err)
	}
	if tn, _ := scope.Require(sctx); tn != globex || sw.Tenant() != globex {
		t.Fatalf("tenant after Switch = %q", tn)
	}
	if tn, _ := scope.Require(ctx); tn != acme {
		t.Fatal("Switch changed the parent context")
	}
	sw.End(nil)
	outer.End(nil)

	bound := h.sink.Events(auditlog.ContextBound)
	if len(bound) != 2 {
		t.Fatalf("%d CONTEXT_BOUND", len(bound))
	}
	s := bound[1]
	if s.Tenant != "globex" || s.Operation != "switch" || s.Reason != "support ticket 4711" || eventAttr(s, "tenant.previous_id") != "acme" ||
		eventAttr(s, "tenant.switched") != "true" || s.Outcome != auditlog.OutcomeSuccess {
		t.Fatalf("switch audit = %+v", s)
	}
	ev := attrs(spanEvent(t, h.sr.Ended()[0], otelobs.EventScopeSwitched).Attributes)
	if ev["tenant.id"] != "globex" || ev["tenant.previous_id"] != "acme" || ev["tenant.reason"] != "support ticket 4711" {
		t.Fatalf("switched span event = %v", ev)
	}
	if _, ok := ev["tenant.attempted_id"]; ok {
		t.Fatal("a switch is not an attempted cross-tenant access")
	}
	h.checkAllEnded(t)
}

// TestSwitchWithoutActiveSpan: the switched span event lands on the
// tenant.scope span Switch starts.
func TestSwitchWithoutActiveSpan(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, false)
	poisoned := scope.NewContext(scope.NewContext(context.Background(), acme), globex)
	ctx, b, err := h.binder.Switch(poisoned, globex, "repair a conflicting binding")
	if err != nil {
		t.Fatal(err)
	}
	if tn, err := scope.Require(ctx); err != nil || tn != globex {
		t.Fatalf("Switch over a poisoned context: %q, %v", tn, err)
	}
	b.End(nil)
	spans := h.sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	want := []string{otelobs.EventScopeEntered, otelobs.EventScopeSwitched, otelobs.EventScopeExited}
	if got := spanEventNames(spans[0]); !slices.Equal(got, want) {
		t.Fatalf("span events = %v, want %v", got, want)
	}
	if attrs(spans[0].Events()[1].Attributes)["tenant.previous_id"] != "acme" {
		t.Fatal("previous tenant of a poisoned context")
	}
}

func TestSwitchRequiresAReason(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	ctx := scope.NewContext(context.Background(), acme)
	for _, reason := range []string{"", "   "} {
		got, b, err := h.binder.Switch(ctx, globex, reason)
		if !errors.Is(err, scope.ErrInvalidBypass) || got != ctx {
			t.Fatalf("Switch(%q) = %v", reason, err)
		}
		if !strings.Contains(err.Error(), "globex") {
			t.Errorf("message %q does not name the tenant", err)
		}
		b.End(nil)
	}
	if h.sink.Len() != 0 || len(h.sr.Started()) != 0 {
		t.Fatal("a refused Switch emitted something")
	}
}

type quotaErr struct{}

func (quotaErr) Error() string     { return "quota exceeded" }
func (quotaErr) ErrorType() string { return "app.quota" }

func TestEndWithError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err      error
		wantType string
	}{
		{fmt.Errorf("handler: %w", quotaErr{}), "app.quota"},
		{errors.New("plain"), "*errors.errorString"},
	} {
		h := newHarness(t, true, true)
		_, b, _ := h.binder.Bind(context.Background(), acme)
		b.End(tc.err)

		rel := h.sink.Events(auditlog.ContextReleased)
		if len(rel) != 1 {
			t.Fatalf("%d CONTEXT_RELEASED", len(rel))
		}
		r := rel[0]
		if r.Outcome != auditlog.OutcomeFailure || r.Reason != tc.err.Error() || eventAttr(r, "error.type") != tc.wantType ||
			r.Tenant != "acme" || r.Operation != "release" {
			t.Fatalf("CONTEXT_RELEASED = %+v", r)
		}
		s := h.sr.Ended()[0]
		ex := attrs(spanEvent(t, s, otelobs.EventScopeException).Attributes)
		if ex["error.type"] != tc.wantType || ex["tenant.id"] != "acme" {
			t.Fatalf("exception event = %v", ex)
		}
		if s.Status().Code != codes.Error {
			t.Fatalf("status = %v", s.Status())
		}
		if r.TraceID != s.SpanContext().TraceID().String() || r.SpanID != s.SpanContext().SpanID().String() {
			t.Fatal("CONTEXT_RELEASED not correlated with the scope span")
		}
	}
	h := newHarness(t, false, true)
	_, b, _ := h.binder.Bind(context.Background(), acme)
	b.End(nil)
	if r := h.sink.Events(auditlog.ContextReleased)[0]; r.Outcome != auditlog.OutcomeSuccess || r.Reason != "" || len(r.Attributes) != 0 {
		t.Fatalf("successful release = %+v", r)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	errWork := errors.New("work failed")
	called := false
	err := h.binder.Run(context.Background(), acme, func(ctx context.Context) error {
		called = true
		if tn, err := scope.Require(ctx); err != nil || tn != acme {
			t.Errorf("inside Run: %q, %v", tn, err)
		}
		if !trace.SpanFromContext(ctx).IsRecording() {
			t.Error("inside Run the scope span is not active")
		}
		return errWork
	})
	if !called || !errors.Is(err, errWork) {
		t.Fatalf("Run = %v (called %v)", err, called)
	}
	if r := h.sink.Events(auditlog.ContextReleased)[0]; r.Outcome != auditlog.OutcomeFailure {
		t.Fatalf("release = %+v", r)
	}

	// A refused binding never calls fn.
	ctx := scope.NewContext(context.Background(), acme)
	err = h.binder.Run(ctx, globex, func(context.Context) error {
		t.Error("fn called for a refused binding")
		return nil
	})
	if !errors.Is(err, scope.ErrTenantConflict) {
		t.Fatalf("Run over another tenant = %v", err)
	}
	h.checkAllEnded(t)
}

func TestRunWithPanickingFn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		_ = h.binder.Run(context.Background(), acme, func(context.Context) error { panic("boom") })
	}()
	if recovered != "boom" {
		t.Fatalf("the panic did not propagate unchanged: %v", recovered)
	}
	want := []auditlog.Type{auditlog.ContextBound, auditlog.ContextReleased}
	if got := h.auditTypes(); !slices.Equal(got, want) {
		t.Fatalf("audit = %v, want %v", got, want)
	}
	r := h.sink.Events(auditlog.ContextReleased)[0]
	if r.Outcome != auditlog.OutcomeFailure || eventAttr(r, "error.type") != "panic" || !strings.Contains(r.Reason, "boom") {
		t.Fatalf("CONTEXT_RELEASED after a panic = %+v", r)
	}
	h.checkAllEnded(t)
	ex := attrs(spanEvent(t, h.sr.Ended()[0], otelobs.EventScopeException).Attributes)
	if ex["error.type"] != "panic" {
		t.Fatalf("exception event = %v", ex)
	}
	pe := &scope.PanicError{Value: 42}
	if pe.Error() != "panic: 42" || pe.ErrorType() != "panic" {
		t.Fatalf("PanicError %q %q", pe.Error(), pe.ErrorType())
	}
}

func TestScopeSpanWhenNoSpanIsActive(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, false)
	ctx, b, _ := h.binder.Bind(context.Background(), acme)
	if len(h.sr.Started()) != 1 || len(h.sr.Ended()) != 0 {
		t.Fatal("Bind did not start a tenant.scope span")
	}
	if !trace.SpanFromContext(ctx).IsRecording() {
		t.Fatal("the bound context does not carry the scope span")
	}
	b.End(nil)
	spans := h.sr.Ended()
	if len(spans) != 1 || spans[0].Name() != "tenant.scope" {
		t.Fatalf("ended = %d", len(spans))
	}
	if attrs(spans[0].Attributes())["tenant.id"] != "acme" {
		t.Fatal("scope span lacks tenant.id")
	}
	is := spans[0].InstrumentationScope()
	if is.Name != otelobs.ScopeName || is.Version != otelobs.Version() {
		t.Fatalf("scope %q %q", is.Name, is.Version)
	}
}

func TestScopeEventsLandOnTheServerSpan(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, false)
	ctx, server := h.server(context.Background())
	bctx, b, _ := h.binder.Bind(ctx, acme)
	if trace.SpanFromContext(bctx) != server {
		t.Fatal("Bind replaced the active span")
	}
	b.End(errors.New("boom"))
	if len(h.sr.Ended()) != 0 {
		t.Fatal("End ended the server span")
	}
	server.End()
	if n := len(h.sr.Started()); n != 1 {
		t.Fatalf("%d spans started, want only the server span", n)
	}
	s := h.sr.Ended()[0]
	want := []string{otelobs.EventScopeEntered, otelobs.EventScopeException}
	if got := spanEventNames(s); !slices.Equal(got, want) {
		t.Fatalf("server span events = %v", got)
	}
	if s.Status().Code == codes.Error {
		t.Fatal("End set the status of the application's span")
	}
}

func TestGateOffBetweenBindAndEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, false)
	_, b, _ := h.binder.Bind(context.Background(), acme)
	h.obs.SetEnabled(false)
	b.End(nil)
	h.checkAllEnded(t)
	if len(h.sr.Ended()) != 1 {
		t.Fatal("the scope span was not ended")
	}
}

func TestBinderDefaultsAndAccessors(t *testing.T) {
	t.Parallel()
	d := scope.DefaultBinder()
	if d.Bus() != auditlog.Default() || d.Observer() != otelobs.Default() {
		t.Fatal("the default binder does not use the default bus and observer")
	}
	b := scope.NewBinder(scope.WithAuditBus(nil), scope.WithObserver(nil))
	if b.Bus() != auditlog.Default() || b.Observer() != otelobs.Default() {
		t.Fatal("nil options must be ignored")
	}
	bus, obs := auditlog.NewBus(), otelobs.New()
	b = scope.NewBinder(scope.WithAuditBus(bus), scope.WithObserver(obs))
	if b.Bus() != bus || b.Observer() != obs {
		t.Fatal("options ignored")
	}
	var zero scope.Binding
	zero.End(errors.New("x")) // no-op
	if !zero.Tenant().IsZero() {
		t.Fatal("zero Binding has a tenant")
	}
}

func TestViolationError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err      *scope.ViolationError
		sentinel error
		typ      string
		msg      []string
	}{
		{&scope.ViolationError{Op: "SELECT", Table: "orders", Reason: "no tenant bound", Fix: "bind one", Err: scope.ErrNoTenant},
			scope.ErrNoTenant, "tenant.missing", []string{"SELECT on orders blocked: no tenant bound; bind one"}},
		{&scope.ViolationError{Op: "UPDATE", Table: "orders", Bound: "acme", Attempted: "globex", Err: scope.ErrCrossTenant},
			scope.ErrCrossTenant, "tenant.cross_tenant", []string{`(bound tenant "acme", attempted "globex")`}},
		{&scope.ViolationError{Op: "DELETE", Bound: "acme", Err: scope.ErrUnscopedQuery},
			scope.ErrUnscopedQuery, "tenant.unscoped_query", []string{`DELETE blocked (bound tenant "acme")`}},
		{&scope.ViolationError{Op: "read", Err: scope.ErrPolicyDenied}, scope.ErrPolicyDenied, "tenant.policy_denied", nil},
		{&scope.ViolationError{Op: "bind", Err: scope.ErrTenantConflict}, scope.ErrTenantConflict, "tenant.conflict", nil},
		{&scope.ViolationError{Op: "x", Err: errors.New("other")}, nil, "tenant.violation", nil},
	} {
		wrapped := fmt.Errorf("bun: %w", tc.err)
		if tc.sentinel != nil && !errors.Is(wrapped, tc.sentinel) {
			t.Errorf("%v does not match %v", tc.err, tc.sentinel)
		}
		if got := otelobs.ErrorType(wrapped); got != tc.typ {
			t.Errorf("error.type = %q, want %q", got, tc.typ)
		}
		for _, m := range tc.msg {
			if !strings.Contains(tc.err.Error(), m) {
				t.Errorf("message %q lacks %q", tc.err.Error(), m)
			}
		}
	}
}

// TestRunWithGoexit: a unit of work that never returns (runtime.Goexit, as
// t.FailNow does) is released as a failure, not as a success.
func TestRunWithGoexit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.binder.Run(context.Background(), acme, func(context.Context) error {
			runtime.Goexit()
			return nil
		})
	}()
	<-done
	rel := h.sink.Events(auditlog.ContextReleased)
	if len(rel) != 1 || rel[0].Outcome != auditlog.OutcomeFailure || rel[0].Reason != scope.ErrAborted.Error() {
		t.Fatalf("released = %+v", rel)
	}
	h.checkAllEnded(t)
}
