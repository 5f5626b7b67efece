package otelobs_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/otelobs"
)

func TestGateDefaultOff(t *testing.T) {
	t.Parallel()
	tp, sr := newRecorder(t)
	obs := otelobs.New(otelobs.WithTracerProvider(tp))
	if obs.Enabled() {
		t.Fatal("a new Observer is on; the gate must default to off")
	}
	ctx, lc := obs.EnterScope(context.Background(), "acme")
	obs.AddEvent(ctx, otelobs.EventReadFiltered, otelobs.Decision{Tenant: "acme"})
	_, span := obs.Start(ctx, "x")
	span.End()
	lc.Exit(errors.New("boom"))
	if n := len(sr.Started()); n != 0 {
		t.Fatalf("gate off: %d spans started, want 0", n)
	}
}

func TestNilObserverIsOff(t *testing.T) {
	t.Parallel()
	var obs *otelobs.Observer
	if obs.Enabled() {
		t.Fatal("nil Observer is on")
	}
	ctx := context.Background()
	ctx2, lc := obs.EnterScope(ctx, "acme")
	if ctx2 != ctx || lc.Span() != nil {
		t.Fatal("nil Observer: EnterScope must be a no-op")
	}
	lc.Exit(nil)
	obs.AddEvent(ctx, otelobs.EventReadBlocked, otelobs.Decision{})
	obs.Annotate(trace.SpanFromContext(ctx), otelobs.Decision{Tenant: "acme"})
	if _, span := obs.Start(ctx, "x"); span.IsRecording() {
		t.Fatal("nil Observer started a recording span")
	}
}

// TestDefaultAndConfigure touches the process-wide observer: not parallel.
func TestDefaultAndConfigure(t *testing.T) {
	d := otelobs.Default()
	if d == nil || d != otelobs.Default() {
		t.Fatal("Default must return the same non-nil Observer")
	}
	if d.Enabled() {
		t.Fatal("the default Observer must be off until Configure(true)")
	}
	t.Cleanup(func() { otelobs.Configure(false) })
	otelobs.Configure(true)
	if !d.Enabled() {
		t.Fatal("Configure(true) did not turn the default Observer on")
	}
	otelobs.Configure(false)
	if d.Enabled() {
		t.Fatal("Configure(false) did not turn the default Observer off")
	}
}

func TestSetEnabledAtRuntime(t *testing.T) {
	t.Parallel()
	tp, sr := newRecorder(t)
	obs := otelobs.New(otelobs.WithTracerProvider(tp))
	ctx, server := serverSpan(context.Background(), tp)

	obs.AddEvent(ctx, "tenant.one", otelobs.Decision{})
	obs.SetEnabled(true)
	if !obs.Enabled() {
		t.Fatal("SetEnabled(true) did not take effect")
	}
	obs.AddEvent(ctx, "tenant.two", otelobs.Decision{})
	obs.SetEnabled(false)
	obs.AddEvent(ctx, "tenant.three", otelobs.Decision{})
	server.End()

	ended := sr.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans ended, want only the server span", len(ended))
	}
	if got := eventNames(ended[0].Events()); !slices.Equal(got, []string{"tenant.two"}) {
		t.Fatalf("events = %v, want only the one added while the gate was on", got)
	}
}

func TestWithEnabled(t *testing.T) {
	t.Parallel()
	if !otelobs.New(otelobs.WithEnabled(true)).Enabled() {
		t.Fatal("WithEnabled(true) ignored")
	}
	if otelobs.New(otelobs.WithEnabled(false)).Enabled() {
		t.Fatal("WithEnabled(false) ignored")
	}
}

// TestWithTracerProviderNilUsesGlobal installs a global TracerProvider: not
// parallel, and the previous global is restored.
func TestWithTracerProviderNilUsesGlobal(t *testing.T) {
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	tp, sr := newRecorder(t)
	otel.SetTracerProvider(tp)

	for _, obs := range []*otelobs.Observer{
		otelobs.New(otelobs.WithTracerProvider(nil), otelobs.WithEnabled(true)),
		otelobs.New(otelobs.WithEnabled(true)),
	} {
		sr.Reset()
		_, lc := obs.EnterScope(context.Background(), "acme")
		lc.Exit(nil)
		if n := len(sr.Ended()); n != 1 {
			t.Fatalf("the global TracerProvider recorded %d spans, want 1", n)
		}
	}
}

func TestTracerInstrumentationScope(t *testing.T) {
	t.Parallel()
	tp, sr := newRecorder(t)
	obs := otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(true))
	_, lc := obs.EnterScope(context.Background(), "acme")
	lc.Exit(nil)
	_, span := obs.Start(context.Background(), "tenant.custom")
	span.End()

	ended := sr.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans, want 2", len(ended))
	}
	for _, s := range ended {
		sc := s.InstrumentationScope()
		if sc.Name != otelobs.ScopeName || sc.Version != otelobs.Version() {
			t.Errorf("span %q: scope %q %q, want %q %q", s.Name(), sc.Name, sc.Version, otelobs.ScopeName, otelobs.Version())
		}
	}
	if otelobs.Version() == "" {
		t.Error("Version is empty")
	}
	if obs.Tracer() == nil {
		t.Error("Tracer is nil")
	}
}

func TestAddEventOnlyWhenRecording(t *testing.T) {
	t.Parallel()
	tp, sr := newRecorder(t)
	obs := otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(true))

	// No span in the context: AddEvent starts none.
	obs.AddEvent(context.Background(), otelobs.EventReadFiltered, otelobs.Decision{Tenant: "acme"})
	if n := len(sr.Started()); n != 0 {
		t.Fatalf("AddEvent without an active span started %d spans", n)
	}

	// A non-recording (sampled-out) span: nothing recorded, no panic.
	neverTP, neverSR := newRecorder(t, sdktrace.WithSampler(sdktrace.NeverSample()))
	nctx, nspan := serverSpan(context.Background(), neverTP)
	if nspan.IsRecording() {
		t.Fatal("NeverSample span is recording")
	}
	obs.AddEvent(nctx, otelobs.EventReadFiltered, otelobs.Decision{Tenant: "acme"})
	nspan.End()
	if n := len(neverSR.Ended()); n != 0 {
		t.Fatalf("sampled-out spans reached the processor: %d", n)
	}

	// A recording span gets the event with the non-empty fields as attributes.
	ctx, span := serverSpan(context.Background(), tp)
	obs.AddEvent(ctx, otelobs.EventWriteBlocked, otelobs.Decision{
		Tenant: "acme", Attempted: "globex", Decision: "blocked", Table: "orders", Operation: "UPDATE",
		System: "postgresql", Reason: "cross-tenant", ErrorType: "tenant.cross_tenant",
	})
	span.End()
	ev := findEvent(t, sr.Ended()[0].Events(), otelobs.EventWriteBlocked)
	want := map[attribute.Key]string{
		otelobs.AttrTenantID: "acme", otelobs.AttrAttemptedTenant: "globex", otelobs.AttrDecision: "blocked",
		otelobs.AttrDBCollection: "orders", otelobs.AttrDBOperation: "UPDATE", otelobs.AttrDBSystem: "postgresql",
		otelobs.AttrReason: "cross-tenant", otelobs.AttrErrorType: "tenant.cross_tenant",
	}
	if got := attrMap(ev.Attributes); !mapsEqual(got, want) {
		t.Fatalf("event attributes = %v, want %v", got, want)
	}
}

func mapsEqual(a, b map[attribute.Key]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestDecisionAttributesOmitEmpty(t *testing.T) {
	t.Parallel()
	d := otelobs.Decision{Tenant: "acme", Table: "orders"}
	got := d.Attributes(nil)
	want := []attribute.KeyValue{otelobs.AttrTenantID.String("acme"), otelobs.AttrDBCollection.String("orders")}
	if !slices.Equal(got, want) {
		t.Fatalf("Attributes = %v, want %v", got, want)
	}
	if n := len((&otelobs.Decision{}).Attributes(nil)); n != 0 {
		t.Fatalf("empty Decision gave %d attributes", n)
	}
}

func TestEnterScopeStartsSpanWhenNoneActive(t *testing.T) {
	t.Parallel()
	tp, sr := newRecorder(t)
	obs := otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(true))

	ctx, lc := obs.EnterScope(context.Background(), "acme")
	if lc.Span() == nil || trace.SpanFromContext(ctx) != lc.Span() {
		t.Fatal("EnterScope must return a context carrying the span it started")
	}
	if len(sr.Started()) != 1 || len(sr.Ended()) != 0 {
		t.Fatalf("started %d ended %d, want 1 and 0 before Exit", len(sr.Started()), len(sr.Ended()))
	}
	lc.Exit(nil)

	ended := sr.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans ended, want 1", len(ended))
	}
	s := ended[0]
	if s.Name() != otelobs.SpanScope {
		t.Fatalf("span name %q, want %q", s.Name(), otelobs.SpanScope)
	}
	if got := attrMap(s.Attributes())[otelobs.AttrTenantID]; got != "acme" {
		t.Fatalf("span tenant.id = %q", got)
	}
	if got := eventNames(s.Events()); !slices.Equal(got, []string{otelobs.EventScopeEntered, otelobs.EventScopeExited}) {
		t.Fatalf("events = %v", got)
	}
	for _, e := range s.Events() {
		if attrMap(e.Attributes)[otelobs.AttrTenantID] != "acme" {
			t.Errorf("event %s lacks tenant.id", e.Name)
		}
	}
	if s.Status().Code == codes.Error {
		t.Fatal("a successful scope has an error status")
	}
}

func TestEnterScopeDecoratesActiveSpan(t *testing.T) {
	t.Parallel()
	tp, sr := newRecorder(t)
	obs := otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(true))
	ctx, server := serverSpan(context.Background(), tp)

	ctx2, lc := obs.EnterScope(ctx, "acme")
	if trace.SpanFromContext(ctx2) != server || lc.Span() != server {
		t.Fatal("with an active span, EnterScope must decorate it, not start another")
	}
	lc.Exit(errors.New("boom"))
	if n := len(sr.Ended()); n != 0 {
		t.Fatal("Exit ended a span it does not own")
	}
	server.End()

	if n := len(sr.Started()); n != 1 {
		t.Fatalf("%d spans started, want only the server span", n)
	}
	s := sr.Ended()[0]
	if got := eventNames(s.Events()); !slices.Equal(got, []string{otelobs.EventScopeEntered, otelobs.EventScopeException}) {
		t.Fatalf("events = %v", got)
	}
	if s.Status().Code == codes.Error {
		t.Fatal("Exit set the status of a span it does not own")
	}
}

type typedErr struct{}

func (typedErr) Error() string     { return "typed" }
func (typedErr) ErrorType() string { return "tenant.typed" }

func TestExitWithError(t *testing.T) {
	t.Parallel()
	tp, sr := newRecorder(t)
	obs := otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(true))
	_, lc := obs.EnterScope(context.Background(), "acme")
	err := fmt.Errorf("handler: %w", typedErr{})
	lc.Exit(err)

	s := sr.Ended()[0]
	ev := findEvent(t, s.Events(), otelobs.EventScopeException)
	a := attrMap(ev.Attributes)
	if a[otelobs.AttrErrorType] != "tenant.typed" || a["exception.message"] != err.Error() || a[otelobs.AttrTenantID] != "acme" {
		t.Fatalf("exception event attributes = %v", a)
	}
	if s.Status().Code != codes.Error || s.Status().Description != err.Error() {
		t.Fatalf("owned span status = %+v, want Error with the message", s.Status())
	}
	if attrMap(s.Attributes())[otelobs.AttrErrorType] != "tenant.typed" {
		t.Fatal("owned span lacks error.type")
	}
	if slices.Contains(eventNames(s.Events()), otelobs.EventScopeExited) {
		t.Fatal("a failed scope also recorded exited")
	}
}

func TestGateOffBetweenEnterAndExitEndsSpan(t *testing.T) {
	t.Parallel()
	tp, sr := newRecorder(t)
	obs := otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(true))
	_, lc := obs.EnterScope(context.Background(), "acme")
	obs.SetEnabled(false)
	lc.Exit(nil)
	if s, e := len(sr.Started()), len(sr.Ended()); s != 1 || e != 1 {
		t.Fatalf("started %d, ended %d: a span was left unended", s, e)
	}
}

func TestGateOnBetweenEnterAndExit(t *testing.T) {
	t.Parallel()
	tp, sr := newRecorder(t)
	obs := otelobs.New(otelobs.WithTracerProvider(tp))
	_, lc := obs.EnterScope(context.Background(), "acme")
	obs.SetEnabled(true)
	lc.Exit(nil) // zero Lifecycle: nothing to end, nothing recorded
	if n := len(sr.Started()); n != 0 {
		t.Fatalf("%d spans", n)
	}
}

func TestEnterScopeSampledOut(t *testing.T) {
	t.Parallel()
	tp, sr := newRecorder(t, sdktrace.WithSampler(sdktrace.NeverSample()))
	obs := otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(true))
	_, lc := obs.EnterScope(context.Background(), "acme")
	if lc.Span() != nil {
		t.Fatal("a sampled-out scope kept a span")
	}
	lc.Exit(nil)
	if n := len(sr.Started()); n != 0 {
		t.Fatalf("%d spans", n)
	}
}

func TestStartAndAnnotate(t *testing.T) {
	t.Parallel()
	tp, sr := newRecorder(t)
	obs := otelobs.New(otelobs.WithTracerProvider(tp))

	ctx := context.Background()
	ctx2, span := obs.Start(ctx, "tenant.off")
	if ctx2 != ctx || span.IsRecording() {
		t.Fatal("Start with the gate off must return ctx and a non-recording span")
	}
	obs.Annotate(span, otelobs.Decision{Tenant: "acme"})
	span.End()

	obs.SetEnabled(true)
	_, span = obs.Start(ctx, "tenant.on", trace.WithSpanKind(trace.SpanKindInternal))
	obs.Annotate(span, otelobs.Decision{Tenant: "acme", Decision: "scoped"})
	obs.Annotate(nil, otelobs.Decision{Tenant: "acme"}) // no panic
	obs.SetEnabled(false)
	obs.Annotate(span, otelobs.Decision{Reason: "not recorded: gate off"})
	span.End()

	ended := sr.Ended()
	if len(ended) != 1 || ended[0].Name() != "tenant.on" {
		t.Fatalf("ended = %d spans", len(ended))
	}
	want := map[attribute.Key]string{otelobs.AttrTenantID: "acme", otelobs.AttrDecision: "scoped"}
	if got := attrMap(ended[0].Attributes()); !mapsEqual(got, want) {
		t.Fatalf("attributes = %v, want %v", got, want)
	}
}

type valueTyped struct{ code string }

func (v valueTyped) Error() string     { return v.code }
func (v valueTyped) ErrorType() string { return "tenant." + v.code }

type ptrTyped struct{}

func (*ptrTyped) Error() string     { return "ptr" }
func (*ptrTyped) ErrorType() string { return "tenant.ptr" }

type plainErr struct{}

func (*plainErr) Error() string { return "plain" }

func TestErrorType(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, "_OTHER"},
		{"errors.New", errors.New("x"), "*errors.errorString"},
		{"custom type", &plainErr{}, "*otelobs_test.plainErr"},
		{"wrapped custom type", fmt.Errorf("ctx: %w", &plainErr{}), "*fmt.wrapError"},
		{"stdlib type", &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}, "*fs.PathError"},
		{"ErrorTyper value", valueTyped{"a"}, "tenant.a"},
		{"ErrorTyper pointer", &ptrTyped{}, "tenant.ptr"},
		{"wrapped ErrorTyper", fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", &ptrTyped{})), "tenant.ptr"},
		{"joined ErrorTyper", errors.Join(errors.New("a"), valueTyped{"b"}), "tenant.b"},
	} {
		if got := otelobs.ErrorType(tc.err); got != tc.want {
			t.Errorf("%s: ErrorType = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestConcurrentGateFlips(t *testing.T) {
	t.Parallel()
	tp, sr := newRecorder(t)
	obs := otelobs.New(otelobs.WithTracerProvider(tp))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for on := true; ; on = !on {
			select {
			case <-stop:
				return
			default:
				obs.SetEnabled(on)
			}
		}
	}()
	var workers sync.WaitGroup
	for g := 0; g < 8; g++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := 0; i < 200; i++ {
				ctx, lc := obs.EnterScope(context.Background(), "acme")
				obs.AddEvent(ctx, otelobs.EventReadFiltered, otelobs.Decision{Tenant: "acme"})
				lc.Exit(nil)
			}
		}()
	}
	workers.Wait()
	close(stop)
	wg.Wait()
	if s, e := len(sr.Started()), len(sr.Ended()); s != e {
		t.Fatalf("started %d, ended %d: spans left unended under concurrent gate flips", s, e)
	}
}

func TestGateOffAllocatesNothing(t *testing.T) {
	tp, _ := newRecorder(t)
	obs := otelobs.New(otelobs.WithTracerProvider(tp))
	ctx, server := serverSpan(context.Background(), tp)
	defer server.End()
	d := otelobs.Decision{Tenant: "acme", Table: "orders", Operation: "SELECT"}
	for name, fn := range map[string]func(){
		"AddEvent": func() { obs.AddEvent(ctx, otelobs.EventReadFiltered, d) },
		"EnterScope+Exit": func() {
			_, lc := obs.EnterScope(ctx, "acme")
			lc.Exit(nil)
		},
		"Start+End": func() {
			_, s := obs.Start(ctx, "x")
			s.End()
		},
		"Annotate": func() { obs.Annotate(server, d) },
	} {
		if n := testing.AllocsPerRun(200, fn); n != 0 {
			t.Errorf("%s with the gate off: %v allocs per run, want 0", name, n)
		}
	}
}
