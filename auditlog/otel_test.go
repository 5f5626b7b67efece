package auditlog_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// memExporter is an in-memory sdklog.Exporter.
type memExporter struct {
	mu       sync.Mutex
	records  []sdklog.Record
	shutdown bool
}

func (e *memExporter) Export(_ context.Context, rs []sdklog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range rs {
		e.records = append(e.records, r.Clone()) // the SDK reuses rs
	}
	return nil
}

func (e *memExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	e.shutdown = true
	e.mu.Unlock()
	return nil
}

func (e *memExporter) ForceFlush(context.Context) error { return nil }

func (e *memExporter) all() []sdklog.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]sdklog.Record(nil), e.records...)
}

func newLoggerProvider(t *testing.T) (*sdklog.LoggerProvider, *memExporter) {
	t.Helper()
	exp := &memExporter{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	return lp, exp
}

func recAttrs(r sdklog.Record) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		out[kv.Key] = kv.Value
		return true
	})
	return out
}

func TestNewOTelSinkNeedsAProvider(t *testing.T) {
	t.Parallel()
	s, err := auditlog.NewOTelSink(nil)
	if !errors.Is(err, auditlog.ErrNoLoggerProvider) || s != nil {
		t.Fatalf("NewOTelSink(nil) = %v, %v; want nil, ErrNoLoggerProvider", s, err)
	}
	if !strings.Contains(err.Error(), "auditotlp.NewLoggerProvider") {
		t.Errorf("the error does not say what to do: %v", err)
	}
	// The nil *LoggerProvider a failed constructor returns with its error.
	var lp *sdklog.LoggerProvider
	if _, err := auditlog.NewOTelSink(lp); !errors.Is(err, auditlog.ErrNoLoggerProvider) {
		t.Fatalf("NewOTelSink(nil pointer) = %v, want ErrNoLoggerProvider", err)
	}
	// A sink not built by NewOTelSink fails rather than dropping records.
	var zero auditlog.OTelSink
	if err := zero.Emit(context.Background(), violation()); !errors.Is(err, auditlog.ErrNoLoggerProvider) {
		t.Fatalf("zero OTelSink Emit = %v", err)
	}
	var nilSink *auditlog.OTelSink
	if err := nilSink.Emit(context.Background(), violation()); !errors.Is(err, auditlog.ErrNoLoggerProvider) {
		t.Fatalf("nil OTelSink Emit = %v", err)
	}
}

func TestOTelSinkThroughTheSDK(t *testing.T) {
	t.Parallel()
	lp, exp := newLoggerProvider(t)
	sink, err := auditlog.NewOTelSink(lp)
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := newTracer(t)
	bus := auditlog.NewBus()
	bus.Register(sink)

	ctx, span := tp.Tracer("test").Start(context.Background(), "PATCH /orders/7")
	sc := span.SpanContext()
	bus.Emit(ctx, violation())
	bypass := auditlog.Event{
		Type: auditlog.EnforcementBypass, Tenant: "", Table: "orders", Operation: "SELECT",
		Reason: "nightly billing", Outcome: auditlog.OutcomeBypassed,
		Caller:     auditlog.Caller{File: "/src/billing/run.go", Line: 17, Function: "billing.Run"},
		Attributes: []attribute.KeyValue{attribute.String("db.system.name", "postgresql")},
	}
	bus.Emit(ctx, bypass)
	span.End()
	bus.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme", Operation: "bind", Outcome: auditlog.OutcomeSuccess})

	recs := exp.all()
	if len(recs) != 3 {
		t.Fatalf("%d records exported, want 3", len(recs))
	}

	v := recs[0]
	if v.EventName() != "ENFORCEMENT_VIOLATION" || v.Severity() != log.SeverityWarn || v.SeverityText() != "WARN" {
		t.Fatalf("violation record: name %q severity %v %q", v.EventName(), v.Severity(), v.SeverityText())
	}
	a := recAttrs(v)
	for k, want := range map[attribute.Key]string{
		"tenant.id": "acme", "tenant.attempted_id": "globex", "db.collection.name": "orders",
		"db.operation.name": "UPDATE", "audit.outcome": "blocked", "audit.reason": violation().Reason,
		"audit.model": "*app.Order",
	} {
		if got := a[k].AsString(); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !uuidV7.MatchString(a["audit.event.id"].AsString()) || a["audit.sequence"].AsInt64() != 1 {
		t.Errorf("audit.event.id %q audit.sequence %v", a["audit.event.id"].AsString(), a["audit.sequence"].AsInt64())
	}
	if _, ok := a["code.file.path"]; ok {
		t.Error("a violation without caller has code.file.path")
	}
	if v.TraceID() != sc.TraceID() || v.SpanID() != sc.SpanID() {
		t.Errorf("record trace %s/%s, want %s/%s", v.TraceID(), v.SpanID(), sc.TraceID(), sc.SpanID())
	}
	if body := v.Body().AsString(); !strings.Contains(body, "ENFORCEMENT_VIOLATION") || !strings.Contains(body, "acme") {
		t.Errorf("body = %q", body)
	}
	if v.Timestamp().IsZero() || v.ObservedTimestamp().IsZero() {
		t.Error("timestamps not set")
	}
	if is := v.InstrumentationScope(); is.Name != auditlog.ScopeName || is.Version != auditlog.Version() {
		t.Errorf("scope = %q %q, want %q %q", is.Name, is.Version, auditlog.ScopeName, auditlog.Version())
	}

	b := recs[1]
	ba := recAttrs(b)
	if b.EventName() != "ENFORCEMENT_BYPASS" || b.Severity() != log.SeverityWarn {
		t.Errorf("bypass record: %q %v", b.EventName(), b.Severity())
	}
	if ba["code.file.path"].AsString() != "/src/billing/run.go" || ba["code.line.number"].AsInt64() != 17 ||
		ba["code.function.name"].AsString() != "billing.Run" {
		t.Errorf("bypass caller attributes = %v", ba)
	}
	if ba["db.system.name"].AsString() != "postgresql" {
		t.Error("free attributes not exported")
	}
	if _, ok := ba["tenant.id"]; ok {
		t.Error("empty tenant exported")
	}

	c := recs[2]
	if c.EventName() != "CONTEXT_BOUND" || c.Severity() != log.SeverityInfo || c.SeverityText() != "INFO" {
		t.Errorf("bound record: %q %v %q", c.EventName(), c.Severity(), c.SeverityText())
	}
	if c.TraceID().IsValid() || c.SpanID().IsValid() {
		t.Error("a record emitted without an active span has trace correlation")
	}
}

func TestSeverity(t *testing.T) {
	t.Parallel()
	for _, ty := range auditlog.Types() {
		want := log.SeverityInfo
		if ty.Alert() {
			want = log.SeverityWarn
		}
		if got := auditlog.Severity(ty); got != want {
			t.Errorf("Severity(%s) = %v, want %v", ty, got, want)
		}
	}
}

// TestOTelSinkAfterProviderShutdown: records emitted after the provider is
// shut down are dropped by the SDK, without an error or a panic.
func TestOTelSinkAfterProviderShutdown(t *testing.T) {
	t.Parallel()
	exp := &memExporter{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	sink, err := auditlog.NewOTelSink(lp)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := sink.Emit(trace.ContextWithSpanContext(context.Background(), trace.SpanContext{}), violation()); err != nil {
		t.Fatalf("Emit after shutdown = %v", err)
	}
	if n := len(exp.all()); n != 0 {
		t.Fatalf("%d records exported after shutdown", n)
	}
}
