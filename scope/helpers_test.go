package scope_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

// harness is a Binder with a private bus and observer, observed through a
// span recorder and an in-memory sink, so tests can run in parallel.
type harness struct {
	binder *scope.Binder
	bus    *auditlog.Bus
	obs    *otelobs.Observer
	tp     *sdktrace.TracerProvider
	sr     *tracetest.SpanRecorder
	sink   *auditlog.MemorySink
}

// newHarness builds a harness with observability on or off and with or
// without a registered sink.
func newHarness(t testing.TB, observe, audit bool) *harness {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := &harness{
		bus:  auditlog.NewBus(auditlog.WithErrorHandler(func(err error) { t.Errorf("unexpected sink failure: %v", err) })),
		obs:  otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(observe)),
		tp:   tp,
		sr:   sr,
		sink: auditlog.NewMemorySink(),
	}
	if audit {
		h.bus.Register(h.sink)
	}
	h.binder = scope.NewBinder(scope.WithAuditBus(h.bus), scope.WithObserver(h.obs))
	return h
}

// server starts a span standing for the application's HTTP server span.
func (h *harness) server(ctx context.Context) (context.Context, trace.Span) {
	return h.tp.Tracer("test/server").Start(ctx, "GET /orders", trace.WithSpanKind(trace.SpanKindServer))
}

func (h *harness) auditTypes() []auditlog.Type {
	evs := h.sink.Events()
	out := make([]auditlog.Type, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// checkAllEnded fails if a started span was not ended.
func (h *harness) checkAllEnded(t testing.TB) {
	t.Helper()
	if s, e := len(h.sr.Started()), len(h.sr.Ended()); s != e {
		t.Fatalf("%d spans started, %d ended: a span was left unended", s, e)
	}
}

func spanEventNames(s sdktrace.ReadOnlySpan) []string {
	out := make([]string, 0, len(s.Events()))
	for _, e := range s.Events() {
		out = append(out, e.Name)
	}
	return out
}

func attrs(kvs []attribute.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

func spanEvent(t testing.TB, s sdktrace.ReadOnlySpan, name string) sdktrace.Event {
	t.Helper()
	for _, e := range s.Events() {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("span %q has no event %q (events: %v)", s.Name(), name, spanEventNames(s))
	return sdktrace.Event{}
}

func eventAttr(e auditlog.Event, key string) string {
	v, _ := e.Attr(attribute.Key(key))
	return v.String()
}

var (
	acme   = scope.MustParse("acme")
	globex = scope.MustParse("globex")
)
