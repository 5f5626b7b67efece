package scope_test

// The adopter matrix: observability (tracing) on/off × an audit sink
// registered or not. The two paths must be independent: each cell produces
// exactly its own output, and flipping one gate never changes the other path's
// output.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

// workload exercises every lifecycle path once, on a background context:
// bind, nest, evaluate policies, a refused conflicting bind (a violation), a
// switch, a failed unit of work, and a panicking one.
func workload(t *testing.T, h *harness) {
	t.Helper()
	bg := context.Background()
	ctx, outer, err := h.binder.Bind(bg, acme)
	if err != nil {
		t.Fatal(err)
	}
	nctx, inner, err := h.binder.Bind(ctx, acme)
	if err != nil {
		t.Fatal(err)
	}
	policy := scope.Chain(scope.DenyByDefault(), scope.AllowTables("orders"))
	if err := h.binder.Evaluate(nctx, policy, scope.Operation{Tenant: acme, Table: "orders", Action: scope.ActionRead}); err != nil {
		t.Fatal(err)
	}
	if err := h.binder.Evaluate(nctx, policy, scope.Operation{Tenant: acme, Table: "users", Action: scope.ActionWrite}); !errors.Is(err, scope.ErrPolicyDenied) {
		t.Fatal(err)
	}
	if _, _, err := h.binder.Bind(nctx, globex); !errors.Is(err, scope.ErrTenantConflict) {
		t.Fatalf("conflicting Bind = %v", err)
	}
	inner.End(nil)
	sctx, sw, err := h.binder.Switch(ctx, globex, "support ticket 4711")
	if err != nil {
		t.Fatal(err)
	}
	_ = sctx
	sw.End(errors.New("ticket closed"))
	outer.End(nil)

	func() {
		defer func() { _ = recover() }()
		_ = h.binder.Run(bg, acme, func(context.Context) error { panic("boom") })
	}()
}

var workloadAudit = []auditlog.Type{
	auditlog.ContextBound, auditlog.ContextBound, // outer, nested
	auditlog.PolicyAllow, auditlog.PolicyDeny,
	auditlog.EnforcementViolation,                   // the refused Bind
	auditlog.ContextReleased,                        // nested
	auditlog.ContextBound,                           // switch
	auditlog.ContextReleased,                        // switch, failed
	auditlog.ContextReleased,                        // outer
	auditlog.ContextBound, auditlog.ContextReleased, // Run with panic
}

// workloadSpans lists the tenant.scope spans, in the order they end, with
// their events.
var workloadSpans = [][]string{
	{ // the outer binding's span; the nested binding and the switch decorate it
		otelobs.EventScopeEntered, otelobs.EventScopeEntered, // outer, nested
		otelobs.EventWriteBlocked,                                                          // the policy deny (a write)
		otelobs.EventScopeException,                                                        // the refused Bind
		otelobs.EventScopeExited,                                                           // nested
		otelobs.EventScopeEntered, otelobs.EventScopeSwitched, otelobs.EventScopeException, // switch, failed
		otelobs.EventScopeExited, // outer
	},
	{otelobs.EventScopeEntered, otelobs.EventScopeException}, // Run with panic
}

func checkNoSpans(t *testing.T, h *harness) {
	t.Helper()
	if n := len(h.sr.Started()); n != 0 {
		t.Fatalf("observability off: %d spans started", n)
	}
}

func checkNoAudit(t *testing.T, h *harness) {
	t.Helper()
	if h.bus.Enabled() || h.sink.Len() != 0 || h.bus.Failures() != 0 {
		t.Fatalf("no sink: %d events reached the sink", h.sink.Len())
	}
}

func checkSpans(t *testing.T, h *harness) {
	t.Helper()
	h.checkAllEnded(t)
	spans := h.sr.Ended()
	if len(spans) != len(workloadSpans) {
		t.Fatalf("%d spans, want %d", len(spans), len(workloadSpans))
	}
	for i, s := range spans {
		if s.Name() != otelobs.SpanScope || !slices.Equal(spanEventNames(s), workloadSpans[i]) {
			t.Errorf("span %d %q: events %v, want %v", i, s.Name(), spanEventNames(s), workloadSpans[i])
		}
	}
}

func checkAudit(t *testing.T, h *harness, correlated bool) {
	t.Helper()
	if got := h.auditTypes(); !slices.Equal(got, workloadAudit) {
		t.Fatalf("audit = %v\nwant    %v", got, workloadAudit)
	}
	v := h.sink.Events(auditlog.EnforcementViolation)[0]
	if v.Tenant != "acme" || v.AttemptedTenant != "globex" || v.Outcome != auditlog.OutcomeBlocked {
		t.Fatalf("violation = %+v", v)
	}
	for _, e := range h.sink.Events() {
		if has := e.TraceID != ""; has != correlated {
			t.Fatalf("%s: trace_id %q, want correlated=%v", e.Type, e.TraceID, correlated)
		}
	}
}

func TestMatrixOffNoSink(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, false)
	workload(t, h)
	checkNoSpans(t, h)
	checkNoAudit(t, h)

	// Nothing either on a span the application has active.
	ctx, server := h.server(context.Background())
	_, b, _ := h.binder.Bind(ctx, acme)
	_, _, _ = h.binder.Bind(scope.NewContext(ctx, globex), acme)
	b.End(errors.New("x"))
	server.End()
	if n := len(h.sr.Ended()); n != 1 || len(h.sr.Ended()[0].Events()) != 0 {
		t.Fatalf("the application's span got TenantShield events: %v", spanEventNames(h.sr.Ended()[0]))
	}
	checkNoAudit(t, h)
}

func TestMatrixOnNoSink(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, false)
	workload(t, h)
	checkSpans(t, h)
	checkNoAudit(t, h)
}

func TestMatrixOffWithSink(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, true)
	workload(t, h)
	checkNoSpans(t, h)
	checkAudit(t, h, false)
}

func TestMatrixOnWithSink(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	workload(t, h)
	checkSpans(t, h)
	checkAudit(t, h, true)
}

// normalAudit renders audit events without their ids, times and trace
// correlation.
func normalAudit(evs []auditlog.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		// What the bus stamps (and the hash chain over it) differs run to run.
		e.ID, e.Seq, e.TraceID, e.SpanID, e.Time = "", 0, "", "", time.Time{}
		e.Stream, e.PrevHash, e.Hash = "", "", ""
		out[i] = fmt.Sprintf("%+v", e)
	}
	return out
}

// normalSpans renders spans without ids and times: name, kind, parent's name,
// attributes, status and events with their attributes.
func normalSpans(spans []sdktrace.ReadOnlySpan) []string {
	names := map[string]string{}
	for _, s := range spans {
		names[s.SpanContext().SpanID().String()] = s.Name()
	}
	out := make([]string, len(spans))
	for i, s := range spans {
		var b strings.Builder
		fmt.Fprintf(&b, "%s kind=%v parent=%q attrs=%v status=%v/%q", s.Name(), s.SpanKind(),
			names[s.Parent().SpanID().String()], sortedAttrs(attrs(s.Attributes())), s.Status().Code, s.Status().Description)
		for _, e := range s.Events() {
			fmt.Fprintf(&b, " [%s %v]", e.Name, sortedAttrs(attrs(e.Attributes)))
		}
		out[i] = b.String()
	}
	return out
}

func sortedAttrs(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func TestFlippingTracingDoesNotChangeAudit(t *testing.T) {
	t.Parallel()
	off, on := newHarness(t, false, true), newHarness(t, true, true)
	workload(t, off)
	workload(t, on)
	a, b := normalAudit(off.sink.Events()), normalAudit(on.sink.Events())
	if !slices.Equal(a, b) {
		t.Fatalf("audit output changed with tracing:\noff: %v\non:  %v", a, b)
	}
}

func TestFlippingAuditDoesNotChangeTraces(t *testing.T) {
	t.Parallel()
	without, with := newHarness(t, true, false), newHarness(t, true, true)
	workload(t, without)
	workload(t, with)
	a, b := normalSpans(without.sr.Ended()), normalSpans(with.sr.Ended())
	if len(a) == 0 || !slices.Equal(a, b) {
		t.Fatalf("trace output changed with audit:\nwithout: %v\nwith:    %v", a, b)
	}
}

// TestMatrixThroughPackageDefaults uses scope.Bind & co with
// auditlog.Register and otelobs.Configure. It changes process-wide state: not
// parallel, and everything is restored. The default observer decorates the
// span active in the context, so no global TracerProvider is needed.
func TestMatrixThroughPackageDefaults(t *testing.T) {
	wasOn := otelobs.Default().Enabled()
	t.Cleanup(func() { otelobs.Configure(wasOn) })
	h := newHarness(t, false, false) // for its TracerProvider and recorder

	run := func() {
		ctx, server := h.server(context.Background())
		bctx, b, err := scope.Bind(ctx, acme)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := scope.Bind(bctx, globex); !errors.Is(err, scope.ErrTenantConflict) {
			t.Fatalf("conflicting Bind = %v", err)
		}
		_, sw, err := scope.Switch(bctx, globex, "support")
		if err != nil {
			t.Fatal(err)
		}
		sw.End(nil)
		if err := scope.Run(bctx, acme, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
		b.End(nil)
		server.End()
	}
	serverEvents := func() []string {
		spans := h.sr.Ended()
		return spanEventNames(spans[len(spans)-1])
	}

	// Off + no sink.
	otelobs.Configure(false)
	run()
	if ev := serverEvents(); len(ev) != 0 {
		t.Fatalf("defaults off: span events %v", ev)
	}

	// On + sink.
	mem := auditlog.NewMemorySink()
	auditlog.Register(mem)
	t.Cleanup(func() { auditlog.Unregister(mem) })
	otelobs.Configure(true)
	run()
	wantAudit := []auditlog.Type{auditlog.ContextBound, auditlog.EnforcementViolation, auditlog.ContextBound,
		auditlog.ContextReleased, auditlog.ContextBound, auditlog.ContextReleased, auditlog.ContextReleased}
	evs := mem.Events()
	got := make([]auditlog.Type, len(evs))
	for i, e := range evs {
		got[i] = e.Type
	}
	if !slices.Equal(got, wantAudit) {
		t.Fatalf("audit through the defaults = %v, want %v", got, wantAudit)
	}
	wantSpan := []string{otelobs.EventScopeEntered, otelobs.EventScopeException, otelobs.EventScopeEntered,
		otelobs.EventScopeSwitched, otelobs.EventScopeExited, otelobs.EventScopeEntered, otelobs.EventScopeExited,
		otelobs.EventScopeExited}
	if ev := serverEvents(); !slices.Equal(ev, wantSpan) {
		t.Fatalf("span events through the defaults = %v, want %v", ev, wantSpan)
	}

	// Restored.
	auditlog.Unregister(mem)
	otelobs.Configure(wasOn)
	if auditlog.Enabled() || otelobs.Default().Enabled() {
		t.Fatal("globals not restored")
	}
}
