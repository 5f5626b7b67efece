package auditlog_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

func TestFailingSinkIsReportedToTheOthers(t *testing.T) {
	t.Parallel()
	var h handlerLog
	bus := auditlog.NewBus(auditlog.WithErrorHandler(h.handle))
	a, b, c := auditlog.NewMemorySink(), newFailingSink(errDiskFull), auditlog.NewMemorySink()
	bus.Register(a)
	bus.Register(b)
	bus.Register(c)

	bus.Emit(context.Background(), violation())

	want := []auditlog.Type{auditlog.EnforcementViolation, auditlog.SinkFailure}
	for name, s := range map[string]*auditlog.MemorySink{"A": a, "C": c} {
		evs := s.Events()
		if !slices.Equal(types(evs), want) {
			t.Fatalf("sink %s got %v, want %v", name, types(evs), want)
		}
		orig, sf := evs[0], evs[1]
		if got := attr(t, sf, "audit.sink.type"); got != "*auditlog_test.failingSink" {
			t.Errorf("sink %s: audit.sink.type = %q", name, got)
		}
		if got := attr(t, sf, "audit.original_event.type"); got != string(auditlog.EnforcementViolation) {
			t.Errorf("sink %s: audit.original_event.type = %q", name, got)
		}
		if got := attr(t, sf, "audit.original_event.id"); got != orig.ID {
			t.Errorf("sink %s: audit.original_event.id = %q, want %q", name, got, orig.ID)
		}
		if got := attr(t, sf, "error.type"); got != "*errors.errorString" {
			t.Errorf("sink %s: error.type = %q", name, got)
		}
		if !strings.Contains(sf.Reason, "disk full") || !strings.Contains(sf.Reason, "failingSink") {
			t.Errorf("sink %s: SINK_FAILURE reason %q lacks the error text or the sink", name, sf.Reason)
		}
		if sf.Outcome != auditlog.OutcomeFailure || sf.Tenant != "acme" || sf.Table != "orders" {
			t.Errorf("sink %s: SINK_FAILURE = %+v", name, sf)
		}
		if sf.ID == "" || sf.ID == orig.ID || sf.Seq <= orig.Seq {
			t.Errorf("sink %s: SINK_FAILURE not stamped as its own event: %q/%d after %q/%d", name, sf.ID, sf.Seq, orig.ID, orig.Seq)
		}
	}
	if got := b.types(); !slices.Equal(got, []auditlog.Type{auditlog.EnforcementViolation}) {
		t.Fatalf("the failing sink got %v, want only the original event", got)
	}
	if n := bus.Failures(); n != 1 {
		t.Fatalf("Failures = %d, want 1", n)
	}
	errs := h.all()
	if len(errs) != 1 {
		t.Fatalf("error handler called %d times, want 1", len(errs))
	}
	var se *auditlog.SinkError
	if !errors.As(errs[0], &se) || !errors.Is(errs[0], auditlog.ErrSinkFailed) || !errors.Is(errs[0], errDiskFull) {
		t.Fatalf("handler got %v (%T), want a *SinkError matching ErrSinkFailed and the sink's error", errs[0], errs[0])
	}
	if se.Sink != "*auditlog_test.failingSink" || se.EventType != auditlog.EnforcementViolation || se.Panicked {
		t.Fatalf("SinkError = %+v", se)
	}
	for _, s := range []string{"failingSink", "ENFORCEMENT_VIOLATION", se.EventID, "disk full", "unregister"} {
		if !strings.Contains(se.Error(), s) {
			t.Errorf("SinkError message %q lacks %q", se.Error(), s)
		}
	}
}

func TestTwoFailingSinksTerminate(t *testing.T) {
	t.Parallel()
	var h handlerLog
	bus := auditlog.NewBus(auditlog.WithErrorHandler(h.handle))
	f1, f2, m := newFailingSink(errDiskFull), newFailingSink(errors.New("network down")), auditlog.NewMemorySink()
	bus.Register(f1)
	bus.Register(f2)
	bus.Register(m)

	bus.Emit(context.Background(), violation())

	// Each failing sink gets the event and the other's SINK_FAILURE, whose
	// own failure is counted but never re-delivered.
	wantF := []auditlog.Type{auditlog.EnforcementViolation, auditlog.SinkFailure}
	if got := f1.types(); !slices.Equal(got, wantF) {
		t.Errorf("f1 got %v, want %v", got, wantF)
	}
	if got := f2.types(); !slices.Equal(got, wantF) {
		t.Errorf("f2 got %v, want %v", got, wantF)
	}
	wantM := []auditlog.Type{auditlog.EnforcementViolation, auditlog.SinkFailure, auditlog.SinkFailure}
	if got := types(m.Events()); !slices.Equal(got, wantM) {
		t.Errorf("memory sink got %v, want %v", got, wantM)
	}
	if n := bus.Failures(); n != 4 {
		t.Errorf("Failures = %d, want 4 (2 originals + 2 SINK_FAILURE deliveries)", n)
	}
	if n := len(h.all()); n != 4 {
		t.Errorf("error handler called %d times, want 4", n)
	}
	for _, err := range h.all() {
		if !errors.Is(err, auditlog.ErrSinkFailed) {
			t.Errorf("handler got %v", err)
		}
	}
}

func TestOnlyFailingSinksTerminate(t *testing.T) {
	t.Parallel()
	var h handlerLog
	bus := auditlog.NewBus(auditlog.WithErrorHandler(h.handle))
	f1, f2 := newFailingSink(errDiskFull), newFailingSink(errDiskFull)
	bus.Register(f1)
	bus.Register(f2)
	for i := 0; i < 3; i++ {
		bus.Emit(context.Background(), violation())
	}
	if n1, n2 := len(f1.types()), len(f2.types()); n1 != 6 || n2 != 6 {
		t.Fatalf("deliveries f1=%d f2=%d, want 6 each (3 events + 3 SINK_FAILURE)", n1, n2)
	}
	if n := bus.Failures(); n != 12 {
		t.Fatalf("Failures = %d, want 12", n)
	}
}

func TestSingleFailingSinkCallsErrorHandler(t *testing.T) {
	t.Parallel()
	var h handlerLog
	bus := auditlog.NewBus(auditlog.WithErrorHandler(h.handle), auditlog.WithErrorHandler(nil)) // nil ignored
	f := newFailingSink(errDiskFull)
	bus.Register(f)
	bus.Emit(context.Background(), violation())
	bus.Emit(context.Background(), violation())
	if n := bus.Failures(); n != 2 {
		t.Fatalf("Failures = %d, want 2", n)
	}
	errs := h.all()
	if len(errs) != 2 || !errors.Is(errs[0], errDiskFull) {
		t.Fatalf("error handler got %v", errs)
	}
	if n := len(f.types()); n != 2 {
		t.Fatalf("the failing sink got %d events, want 2 (no SINK_FAILURE to itself)", n)
	}
}

type customSinkErr struct{ code int }

func (e *customSinkErr) Error() string { return fmt.Sprintf("status %d", e.code) }

func TestSinkFailureErrorTypeIsTheSinkErrorsType(t *testing.T) {
	t.Parallel()
	bus := auditlog.NewBus(auditlog.WithErrorHandler(func(error) {}))
	m := auditlog.NewMemorySink()
	bus.Register(newFailingSink(fmt.Errorf("write: %w", &customSinkErr{503})))
	bus.Register(m)
	bus.Emit(context.Background(), violation())
	sf := m.Events(auditlog.SinkFailure)
	if len(sf) != 1 {
		t.Fatalf("%d SINK_FAILURE", len(sf))
	}
	if got := attr(t, sf[0], "error.type"); got != "*fmt.wrapError" {
		t.Fatalf("error.type = %q", got)
	}
}

func TestPanickingSinkIsIsolated(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	for _, value := range []any{"kaboom", errBoom, 42} {
		var h handlerLog
		bus := auditlog.NewBus(auditlog.WithErrorHandler(h.handle))
		a, p, c := auditlog.NewMemorySink(), &panickingSink{value: value}, auditlog.NewMemorySink()
		bus.Register(a)
		bus.Register(p)
		bus.Register(c)

		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("a sink's panic (%v) reached the caller", r)
				}
			}()
			bus.Emit(context.Background(), violation())
		}()

		for name, s := range map[string]*auditlog.MemorySink{"A": a, "C": c} {
			evs := s.Events()
			if !slices.Equal(types(evs), []auditlog.Type{auditlog.EnforcementViolation, auditlog.SinkFailure}) {
				t.Fatalf("panic %v: sink %s got %v", value, name, types(evs))
			}
			if got := attr(t, evs[1], "error.type"); got != "panic" {
				t.Errorf("panic %v: error.type = %q, want panic", value, got)
			}
			if !strings.Contains(evs[1].Reason, "panicked") || !strings.Contains(evs[1].Reason, fmt.Sprint(value)) {
				t.Errorf("panic %v: reason %q", value, evs[1].Reason)
			}
		}
		if p.calls.Load() != 1 {
			t.Errorf("panicking sink called %d times, want 1", p.calls.Load())
		}
		errs := h.all()
		var se *auditlog.SinkError
		if len(errs) != 1 || !errors.As(errs[0], &se) || !se.Panicked {
			t.Fatalf("panic %v: handler got %v", value, errs)
		}
		if verr, ok := value.(error); ok && errors.Is(verr, errBoom) && !errors.Is(se, errBoom) {
			t.Errorf("a panic with an error value must unwrap to it")
		}
	}
}

// TestDefaultErrorHandlerIsOtelHandle installs a global OTel error handler:
// not parallel, and the previous one is restored.
func TestDefaultErrorHandlerIsOtelHandle(t *testing.T) {
	var h handlerLog
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(h.handle))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })

	bus := auditlog.NewBus()
	bus.Register(newFailingSink(errDiskFull))
	bus.Emit(context.Background(), violation())

	errs := h.all()
	if len(errs) != 1 || !errors.Is(errs[0], auditlog.ErrSinkFailed) || !errors.Is(errs[0], errDiskFull) {
		t.Fatalf("otel error handler got %v, want the sink failure", errs)
	}
}

func TestRegisterIsIdempotent(t *testing.T) {
	t.Parallel()
	bus := auditlog.NewBus()
	m := auditlog.NewMemorySink()
	if bus.Enabled() {
		t.Fatal("a new bus is enabled")
	}
	bus.Register(m)
	bus.Register(m)
	if n := len(bus.Sinks()); n != 1 {
		t.Fatalf("%d sinks after registering the same sink twice", n)
	}
	if !bus.Enabled() {
		t.Fatal("a bus with a sink is disabled")
	}
	bus.Emit(context.Background(), violation())
	if n := m.Len(); n != 1 {
		t.Fatalf("a sink registered twice got %d events", n)
	}
}

func TestRegistrationOrderAndSinksCopy(t *testing.T) {
	t.Parallel()
	bus := auditlog.NewBus()
	a, b, c := auditlog.NewMemorySink(), auditlog.NewMemorySink(), auditlog.NewMemorySink()
	bus.Register(a)
	bus.Register(b)
	bus.Register(c)
	got := bus.Sinks()
	if !slices.Equal(got, []auditlog.Sink{a, b, c}) {
		t.Fatal("Sinks is not in registration order")
	}
	got[0] = nil
	if bus.Sinks()[0] != a {
		t.Fatal("Sinks returned the bus's own slice")
	}
	bus.Unregister(b)
	if !slices.Equal(bus.Sinks(), []auditlog.Sink{a, c}) {
		t.Fatal("Unregister broke the order")
	}
}

type valueSink struct{ name string }

func (valueSink) Emit(context.Context, auditlog.Event) error { return nil }

type sliceSink []auditlog.Event

func (sliceSink) Emit(context.Context, auditlog.Event) error { return nil }

type funcSink func(auditlog.Event)

// ifaceSink is a struct type whose comparability depends on the dynamic
// value of its interface field.
type ifaceSink struct{ held any }

func (ifaceSink) Emit(context.Context, auditlog.Event) error { return nil }

func (funcSink) Emit(context.Context, auditlog.Event) error { return nil }

func TestUnregister(t *testing.T) {
	t.Parallel()
	bus := auditlog.NewBus()
	m := auditlog.NewMemorySink()
	bus.Register(m)
	bus.Unregister(auditlog.NewMemorySink()) // unknown: no-op
	bus.Unregister(nil)                      // no-op
	bus.Unregister(sliceSink(nil))           // non-comparable: no-op, no panic
	if n := len(bus.Sinks()); n != 1 {
		t.Fatalf("%d sinks", n)
	}
	bus.Unregister(m)
	bus.Unregister(m) // again: no-op
	if bus.Enabled() || len(bus.Sinks()) != 0 {
		t.Fatal("bus still enabled after unregistering its only sink")
	}
	bus.Emit(context.Background(), violation())
	if m.Len() != 0 {
		t.Fatal("an unregistered sink received an event")
	}
	// A comparable value type is registered by value.
	bus.Register(valueSink{"x"})
	bus.Unregister(valueSink{"x"})
	if bus.Enabled() {
		t.Fatal("comparable value sink not unregistered by equality")
	}
}

func TestRegisterPanicsOnProgrammingErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sink auditlog.Sink
		want []string
	}{
		{"nil", nil, []string{"auditlog: Register", "nil Sink"}},
		{"slice", sliceSink(nil), []string{"comparable", "auditlog_test.sliceSink", "pointer"}},
		{"func", funcSink(func(auditlog.Event) {}), []string{"comparable", "auditlog_test.funcSink"}},
		{"struct holding a slice", ifaceSink{held: []int{1}}, []string{"comparable", "auditlog_test.ifaceSink"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg, ok := r.(string)
				if !ok {
					t.Fatalf("Register(%s) panicked with %v (%T), want a message", tc.name, r, r)
				}
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("panic message %q lacks %q", msg, w)
					}
				}
			}()
			auditlog.NewBus().Register(tc.sink)
		})
	}
}

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestEventsAreStamped(t *testing.T) {
	t.Parallel()
	bus := auditlog.NewBus()
	m := auditlog.NewMemorySink()
	bus.Register(m)

	before := time.Now()
	const n = 50
	for i := 0; i < n; i++ {
		bus.Emit(context.Background(), violation())
	}
	after := time.Now()

	evs := m.Events()
	if len(evs) != n {
		t.Fatalf("%d events", len(evs))
	}
	seen := map[string]bool{}
	for i, e := range evs {
		if !uuidV7.MatchString(e.ID) {
			t.Fatalf("event id %q is not a UUIDv7", e.ID)
		}
		if seen[e.ID] {
			t.Fatalf("duplicate event id %q", e.ID)
		}
		seen[e.ID] = true
		// The first 48 bits are the Unix milliseconds of the event time.
		if ms := fmt.Sprintf("%012x", e.Time.UnixMilli()); strings.ReplaceAll(e.ID, "-", "")[:12] != ms {
			t.Fatalf("id %q does not start with the event time in ms (%s)", e.ID, ms)
		}
		if i > 0 && e.Seq <= evs[i-1].Seq {
			t.Fatalf("Seq not increasing: %d after %d", e.Seq, evs[i-1].Seq)
		}
		if i > 0 && e.ID < evs[i-1].ID && e.Time.UnixMilli() > evs[i-1].Time.UnixMilli() {
			t.Fatalf("ids do not sort by time: %q after %q", e.ID, evs[i-1].ID)
		}
		if e.Time.Location() != time.UTC {
			t.Fatalf("time %v is not UTC", e.Time)
		}
		if e.Time.Before(before.Add(-time.Millisecond)) || e.Time.After(after.Add(time.Millisecond)) {
			t.Fatalf("time %v outside [%v, %v]", e.Time, before, after)
		}
		if e.TraceID != "" || e.SpanID != "" {
			t.Fatalf("trace correlation %q/%q without an active span", e.TraceID, e.SpanID)
		}
	}
	if evs[0].Seq != 1 {
		t.Fatalf("first Seq = %d, want 1", evs[0].Seq)
	}
}

func TestEmitKeepsGivenTimeInUTC(t *testing.T) {
	t.Parallel()
	bus := auditlog.NewBus()
	m := auditlog.NewMemorySink()
	bus.Register(m)
	paris := time.FixedZone("CET", 3600)
	at := time.Date(2025, 3, 1, 12, 0, 0, 123, paris)
	e := violation()
	e.Time = at
	bus.Emit(context.Background(), e)
	got := m.Events()[0].Time
	if !got.Equal(at) || got.Location() != time.UTC {
		t.Fatalf("time = %v, want %v in UTC", got, at)
	}
}

func TestEventsCarryTheActiveSpan(t *testing.T) {
	t.Parallel()
	tp, _ := newTracer(t)
	bus := auditlog.NewBus(auditlog.WithErrorHandler(func(error) {}))
	m := auditlog.NewMemorySink()
	bus.Register(newFailingSink(errDiskFull))
	bus.Register(m)

	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	bus.Emit(ctx, violation())

	sc := span.SpanContext()
	evs := m.Events()
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	for _, e := range evs { // the SINK_FAILURE too
		if e.TraceID != sc.TraceID().String() || e.SpanID != sc.SpanID().String() {
			t.Fatalf("%s: trace %q span %q, want %s %s", e.Type, e.TraceID, e.SpanID, sc.TraceID(), sc.SpanID())
		}
	}

	// Correlation given by the emitter is kept.
	m.Reset()
	e := violation()
	e.TraceID, e.SpanID = "0102030405060708090a0b0c0d0e0f10", "0102030405060708"
	bus.Emit(ctx, e)
	if got := m.Events(auditlog.EnforcementViolation)[0]; got.TraceID != e.TraceID || got.SpanID != e.SpanID {
		t.Fatalf("emitter's correlation replaced: %q %q", got.TraceID, got.SpanID)
	}
}

func TestNilBus(t *testing.T) {
	t.Parallel()
	var bus *auditlog.Bus
	if bus.Enabled() {
		t.Fatal("nil bus enabled")
	}
	bus.Emit(context.Background(), violation()) // no panic
}

type namedSink struct{ failingSink }

func (*namedSink) SinkName() string { return "siem-forwarder" }

func TestSinkNamer(t *testing.T) {
	t.Parallel()
	bus := auditlog.NewBus(auditlog.WithErrorHandler(func(error) {}))
	m := auditlog.NewMemorySink()
	bus.Register(&namedSink{failingSink{err: errDiskFull}})
	bus.Register(m)
	bus.Emit(context.Background(), violation())
	sf := m.Events(auditlog.SinkFailure)
	if len(sf) != 1 || attr(t, sf[0], "audit.sink.type") != "siem-forwarder" {
		t.Fatalf("SINK_FAILURE = %+v", sf)
	}
}

// TestConcurrentEmitAndRegistration: 10 goroutines × 100 events into 5 sinks
// while other sinks come and go. Run it with -race.
func TestConcurrentEmitAndRegistration(t *testing.T) {
	t.Parallel()
	bus := auditlog.NewBus()
	sinks := make([]*auditlog.MemorySink, 5)
	for i := range sinks {
		sinks[i] = auditlog.NewMemorySink()
		bus.Register(sinks[i])
	}
	bus.SetCheckpoints(0, 0) // counts the emitted events only (checkpoints: chain_test.go)
	const goroutines, perG = 10, 100

	stop := make(chan struct{})
	var churn sync.WaitGroup
	for g := 0; g < 2; g++ {
		churn.Add(1)
		go func() {
			defer churn.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				extra := auditlog.NewMemorySink()
				bus.Register(extra)
				_ = bus.Sinks()
				bus.Unregister(extra)
			}
		}()
	}

	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				e := violation()
				e.Reason = fmt.Sprintf("g%d-i%d", g, i)
				bus.Emit(context.Background(), e)
			}
		}()
	}
	wg.Wait()
	close(stop)
	churn.Wait()

	for i, s := range sinks {
		evs := s.Events()
		if len(evs) != goroutines*perG {
			t.Fatalf("sink %d got %d events, want %d", i, len(evs), goroutines*perG)
		}
		seqs := map[uint64]bool{}
		reasons := map[string]bool{}
		for _, e := range evs {
			seqs[e.Seq] = true
			reasons[e.Reason] = true
		}
		if len(seqs) != goroutines*perG || len(reasons) != goroutines*perG {
			t.Fatalf("sink %d: %d distinct seqs, %d distinct events", i, len(seqs), len(reasons))
		}
	}
	if n := len(bus.Sinks()); n != 5 {
		t.Fatalf("%d sinks left, want 5", n)
	}
}

// TestPackageLevelFunctions uses the process-wide bus: not parallel, and
// the sink is unregistered at the end.
func TestPackageLevelFunctions(t *testing.T) {
	if first, second := auditlog.Default(), auditlog.Default(); first != second || first == nil {
		t.Fatal("Default is not a stable bus")
	}
	if auditlog.Enabled() {
		t.Fatal("the default bus has a sink before any Register")
	}
	m := auditlog.NewMemorySink()
	auditlog.Register(m)
	t.Cleanup(func() { auditlog.Unregister(m) })
	if !auditlog.Enabled() {
		t.Fatal("Register did not enable the default bus")
	}
	auditlog.Emit(context.Background(), violation())
	if m.Len() != 1 {
		t.Fatalf("%d events", m.Len())
	}
	auditlog.Unregister(m)
	if auditlog.Enabled() {
		t.Fatal("Unregister did not disable the default bus")
	}
}

func TestEmitWithoutSinksAllocatesNothing(t *testing.T) {
	bus := auditlog.NewBus()
	e := violation()
	ctx := context.Background()
	if n := testing.AllocsPerRun(200, func() { bus.Emit(ctx, e) }); n != 0 {
		t.Fatalf("Emit with no sink: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(200, func() { _ = bus.Enabled() }); n != 0 {
		t.Fatalf("Enabled: %v allocs, want 0", n)
	}
}

func TestUnheardCountsAlertsWithoutSink(t *testing.T) {
	var handled int
	b := auditlog.NewBus(auditlog.WithErrorHandler(func(error) { handled++ }))
	ctx := context.Background()
	b.Emit(ctx, auditlog.Event{Type: auditlog.ContextBound})
	for _, typ := range []auditlog.Type{auditlog.EnforcementViolation, auditlog.EnforcementBypass, auditlog.PolicyDeny, auditlog.SinkFailure} {
		b.Emit(ctx, auditlog.Event{Type: typ})
	}
	if got := b.Unheard(); got != 4 {
		t.Fatalf("Unheard = %d, want 4 (the alerts, not CONTEXT_BOUND)", got)
	}
	if handled != 0 || b.Failures() != 0 {
		t.Fatalf("an unheard alert reached the error handler (%d) or counted as a failure (%d): the path must stay silent", handled, b.Failures())
	}
	m := auditlog.NewMemorySink()
	b.Register(m)
	b.Emit(ctx, violation())
	if b.Unheard() != 4 || len(m.Events()) != 1 {
		t.Fatalf("with a sink: Unheard = %d, events = %d", b.Unheard(), len(m.Events()))
	}
}

// skippingSink fails every event and keeps what Skipped tells it.
type skippingSink struct {
	failingSink
	skipped []auditlog.Event
}

func (s *skippingSink) Skipped(e auditlog.Event) { s.skipped = append(s.skipped, e) }

// TestSkipperLearnsTheSinkFailuresSequence: the SINK_FAILURE about a sink's
// own failure is not delivered to it, but a Skipper is told its stamped
// sequence number, so that its account of what it did not record is
// complete (the other sink has every number).
func TestSkipperLearnsTheSinkFailuresSequence(t *testing.T) {
	bus := auditlog.NewBus(auditlog.WithErrorHandler(func(error) {}))
	s := &skippingSink{failingSink: failingSink{err: errDiskFull}}
	mem := auditlog.NewMemorySink()
	bus.Register(s)
	bus.Register(mem)
	bus.Emit(context.Background(), auditlog.Event{Type: auditlog.EnforcementViolation, Tenant: "acme"})
	got := mem.Events()
	if len(got) != 2 || got[1].Type != auditlog.SinkFailure {
		t.Fatalf("the memory sink got %v", got)
	}
	if len(s.skipped) != 1 || s.skipped[0].Seq != got[1].Seq || s.skipped[0].Stream != got[1].Stream || s.skipped[0].Seq == 0 {
		t.Fatalf("Skipped got %+v, want the SINK_FAILURE seq %d", s.skipped, got[1].Seq)
	}
	if n := len(s.types()); n != 1 {
		t.Fatalf("the failing sink was offered %d events, want 1 (no SINK_FAILURE about itself)", n)
	}
}
