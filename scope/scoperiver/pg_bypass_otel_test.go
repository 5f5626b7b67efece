package scoperiver_test

import (
	"context"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scoperiver"
)

// TestPGMaintenanceJobUnderBypass: a maintenance job is enqueued with no
// tenant, runs under a bypass with its constant reason, reads across tenants
// through bunhook, and is audited as ENFORCEMENT_BYPASS with the reason.
func TestPGMaintenanceJobUnderBypass(t *testing.T) {
	h := newPG(t)
	ctx := context.Background()
	for _, tn := range []scope.Tenant{acme, globex} {
		err := h.binder.Run(ctx, tn, func(ctx context.Context) error {
			_, err := h.db.NewInsert().Model(&Note{Seq: 1, Observed: tn.String()}).Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	h.sink.Reset()

	counted := make(chan int, 1)
	w := river.NewWorkers()
	river.AddWorker(w, river.WorkFunc(func(ctx context.Context, _ *river.Job[sweepArgs]) error {
		if _, ok := scope.FromContext(ctx); ok {
			t.Error("a maintenance job ran with a tenant bound")
		}
		n, err := h.db.NewSelect().Model((*Note)(nil)).Count(ctx)
		counted <- int(n)
		return err
	}))
	c := h.client(t, w, 2)
	if _, err := c.Insert(ctx, sweepArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	h.start(t, c)
	if states := h.waitStates(t, 1); states["completed"] != 1 {
		t.Fatalf("job states %v", states)
	}
	if n := <-counted; n != 2 {
		t.Fatalf("the sweep counted %d notes across tenants, want 2", n)
	}
	reason := sweepArgs{}.MaintenanceReason()
	var fromJob, fromQuery int
	for _, e := range h.sink.Events(auditlog.EnforcementBypass) {
		if e.Reason != reason {
			t.Errorf("ENFORCEMENT_BYPASS with reason %q, want %q", e.Reason, reason)
		}
		if e.Operation == scoperiver.OperationWork {
			fromJob++
		} else {
			fromQuery++
		}
	}
	if fromJob != 1 || fromQuery != 1 {
		t.Fatalf("ENFORCEMENT_BYPASS: %d for the job, %d for its query; want 1 each", fromJob, fromQuery)
	}
}

// TestPGWithOtelRiver runs otelriver beside the middleware: the insert span
// is a child of the request's span, the work span links to it (River's
// propagation), the job's CONTEXT_BOUND carries the work span, and every
// span is ended.
func TestPGWithOtelRiver(t *testing.T) {
	h := newPG(t)
	ctx := context.Background()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	mws := []rivertype.Middleware{
		otelriver.NewMiddleware(&otelriver.MiddlewareConfig{TracerProvider: tp, EnableTracePropagation: true}),
		h.mw,
	}
	c := h.client(t, h.noteWorker(), 2, mws...)

	reqCtx, req := tp.Tracer("test").Start(ctx, "POST /invoices", trace.WithSpanKind(trace.SpanKindServer))
	err := scope.NewBinder(scope.WithAuditBus(auditlog.NewBus())).Run(reqCtx, acme, func(ctx context.Context) error {
		_, err := c.Insert(ctx, noteArgs{Seq: 1, Expect: "acme"}, nil)
		return err
	})
	req.End()
	if err != nil {
		t.Fatal(err)
	}
	h.start(t, c)
	if states := h.waitStates(t, 1); states["completed"] != 1 {
		t.Fatalf("job states %v", states)
	}
	if err := c.Stop(ctx); err != nil { // ends the work span before the spans are read
		t.Fatal(err)
	}

	var insert, work sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		switch s.Name() {
		case "river.insert_many":
			insert = s
		case "river.work":
			work = s
		}
	}
	if insert == nil || work == nil {
		t.Fatalf("ended spans lack river.insert_many or river.work: %d ended", len(sr.Ended()))
	}
	if insert.Parent().SpanID() != req.SpanContext().SpanID() || insert.SpanContext().TraceID() != req.SpanContext().TraceID() {
		t.Fatal("the insert span is not a child of the request span")
	}
	linked := false
	for _, l := range work.Links() {
		linked = linked || l.SpanContext.SpanID() == insert.SpanContext().SpanID() && l.SpanContext.TraceID() == req.SpanContext().TraceID()
	}
	if !linked {
		t.Fatalf("the work span does not link to the insert span: %+v", work.Links())
	}
	bound := h.sink.Events(auditlog.ContextBound)
	if len(bound) != 1 || bound[0].TraceID != work.SpanContext().TraceID().String() || bound[0].SpanID != work.SpanContext().SpanID().String() {
		t.Fatalf("CONTEXT_BOUND %+v does not carry the work span %s", bound, work.SpanContext().SpanID())
	}
	if s, e := len(sr.Started()), len(sr.Ended()); s != e {
		t.Fatalf("%d spans started, %d ended", s, e)
	}
}
