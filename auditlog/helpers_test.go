package auditlog_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

var errDiskFull = errors.New("disk full")

// failingSink records every event it is given and fails each time.
type failingSink struct {
	err   error
	mu    sync.Mutex
	calls []auditlog.Event
}

func newFailingSink(err error) *failingSink { return &failingSink{err: err} }

func (f *failingSink) Emit(_ context.Context, e auditlog.Event) error {
	f.mu.Lock()
	f.calls = append(f.calls, e)
	f.mu.Unlock()
	return f.err
}

func (f *failingSink) types() []auditlog.Type {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]auditlog.Type, len(f.calls))
	for i, e := range f.calls {
		out[i] = e.Type
	}
	return out
}

// panickingSink panics with value on every event.
type panickingSink struct {
	value any
	calls atomic.Int64
}

func (p *panickingSink) Emit(context.Context, auditlog.Event) error {
	p.calls.Add(1)
	panic(p.value)
}

// handlerLog collects what a bus's error handler receives.
type handlerLog struct {
	mu   sync.Mutex
	errs []error
}

func (h *handlerLog) handle(err error) {
	h.mu.Lock()
	h.errs = append(h.errs, err)
	h.mu.Unlock()
}

func (h *handlerLog) all() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.errs...)
}

func types(evs []auditlog.Event) []auditlog.Type {
	out := make([]auditlog.Type, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func attr(t *testing.T, e auditlog.Event, key string) string {
	t.Helper()
	for _, kv := range e.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	t.Fatalf("%s event has no attribute %q (attributes: %v)", e.Type, key, e.Attributes)
	return ""
}

func newTracer(t testing.TB) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, sr
}

// violation is a representative alert event.
func violation() auditlog.Event {
	return auditlog.Event{
		Type: auditlog.EnforcementViolation, Tenant: "acme", AttemptedTenant: "globex",
		Table: "orders", Model: "*app.Order", Operation: "UPDATE",
		Reason: "UPDATE would change another tenant's rows", Outcome: auditlog.OutcomeBlocked,
	}
}
