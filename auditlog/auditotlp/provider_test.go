package auditotlp

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// withGetenv replaces the environment lookup, so tests need no os.Setenv.
func withGetenv(env map[string]string) Option {
	return optionFunc(func(c *config) { c.getenv = func(k string) string { return env[k] } })
}

type memExporter struct {
	mu       sync.Mutex
	records  []sdklog.Record
	shutdown bool
}

func (e *memExporter) Export(_ context.Context, rs []sdklog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range rs {
		e.records = append(e.records, r.Clone())
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

func (e *memExporter) snapshot() ([]sdklog.Record, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]sdklog.Record(nil), e.records...), e.shutdown
}

type countingProcessor struct{ n atomic.Int64 }

func (p *countingProcessor) OnEmit(context.Context, *sdklog.Record) error { p.n.Add(1); return nil }
func (p *countingProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool {
	return true
}
func (p *countingProcessor) Shutdown(context.Context) error   { return nil }
func (p *countingProcessor) ForceFlush(context.Context) error { return nil }

func emitAudit(t *testing.T, lp *sdklog.LoggerProvider, n int) {
	t.Helper()
	sink, err := auditlog.NewOTelSink(lp)
	if err != nil {
		t.Fatal(err)
	}
	bus := auditlog.NewBus()
	bus.Register(sink)
	for i := 0; i < n; i++ {
		bus.Emit(context.Background(), auditlog.Event{Type: auditlog.EnforcementViolation, Tenant: "acme", Outcome: auditlog.OutcomeBlocked})
	}
}

func TestBatchedExportIsFlushedOnShutdown(t *testing.T) {
	t.Parallel()
	exp := &memExporter{}
	counter := &countingProcessor{}
	res := resource.NewSchemaless(attribute.String("service.name", "audit-test"))
	lp, err := NewLoggerProvider(context.Background(), WithExporter(exp), WithProcessor(counter), WithResource(res),
		WithResource(nil), // ignored
		WithBatchOptions(sdklog.WithExportInterval(time.Hour), sdklog.WithExportMaxBatchSize(1000)))
	if err != nil {
		t.Fatal(err)
	}
	emitAudit(t, lp, 5)
	if recs, _ := exp.snapshot(); len(recs) != 0 {
		t.Fatalf("%d records exported before the batch was due", len(recs))
	}
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs, shut := exp.snapshot()
	if len(recs) != 5 || !shut {
		t.Fatalf("after Shutdown: %d records exported (want 5), exporter shut down: %v", len(recs), shut)
	}
	if recs[0].EventName() != "ENFORCEMENT_VIOLATION" || recs[0].InstrumentationScope().Name != auditlog.ScopeName {
		t.Fatalf("record = %q from %q", recs[0].EventName(), recs[0].InstrumentationScope().Name)
	}
	if v, ok := recs[0].Resource().Set().Value("service.name"); !ok || v.AsString() != "audit-test" {
		t.Fatalf("resource = %v", recs[0].Resource())
	}
	if counter.n.Load() != 5 {
		t.Fatalf("the extra processor saw %d records, want 5", counter.n.Load())
	}
}

func TestSynchronousExport(t *testing.T) {
	t.Parallel()
	exp := &memExporter{}
	lp, err := NewLoggerProvider(context.Background(), WithExporter(exp), WithSynchronousExport())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lp.Shutdown(context.Background()) }()
	emitAudit(t, lp, 3)
	if recs, _ := exp.snapshot(); len(recs) != 3 {
		t.Fatalf("%d records exported synchronously, want 3", len(recs))
	}
}

func TestDefaultResource(t *testing.T) {
	t.Parallel()
	exp := &memExporter{}
	lp, err := NewLoggerProvider(context.Background(), WithExporter(exp), WithSynchronousExport())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lp.Shutdown(context.Background()) }()
	emitAudit(t, lp, 1)
	recs, _ := exp.snapshot()
	set := recs[0].Resource().Set()
	if v, ok := set.Value("telemetry.sdk.language"); !ok || v.AsString() != "go" {
		t.Fatalf("default resource lacks the SDK attributes: %v", recs[0].Resource())
	}
	if v, ok := set.Value("service.instance.id"); !ok || v.AsString() != auditlog.Default().Stream() {
		t.Fatalf("service.instance.id %q, want the default bus's stream %q", v.AsString(), auditlog.Default().Stream())
	}
	if v, ok := set.Value("host.name"); !ok || v.AsString() == "" {
		t.Fatal("the resource has no host.name")
	}
}

func TestProtocolResolution(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		env      map[string]string
		override string
		want     string
	}{
		{"default", nil, "", ProtocolHTTP},
		{"generic", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "", ProtocolGRPC},
		{"logs only", map[string]string{"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "grpc"}, "", ProtocolGRPC},
		{"logs beats generic", map[string]string{
			"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "", ProtocolHTTP},
		{"option beats env", map[string]string{"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "grpc"}, ProtocolHTTP, ProtocolHTTP},
	} {
		c := config{protocol: tc.override, getenv: func(k string) string { return tc.env[k] }}
		if got := c.resolveProtocol(); got != tc.want {
			t.Errorf("%s: protocol %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestUnknownProtocolIsAnError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		opts []Option
		bad  string
	}{
		{env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"}, bad: "carrier-pigeon"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, bad: "http/json"},
		{opts: []Option{WithProtocol("thrift")}, bad: "thrift"},
	} {
		lp, err := NewLoggerProvider(context.Background(), append([]Option{withGetenv(tc.env)}, tc.opts...)...)
		if err == nil {
			_ = lp.Shutdown(context.Background())
			t.Fatalf("protocol %q accepted", tc.bad)
		}
		if lp != nil {
			t.Errorf("protocol %q: a provider was returned with the error", tc.bad)
		}
		for _, s := range []string{tc.bad, `"http/protobuf"`, `"grpc"`} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not name %s", err, s)
			}
		}
		// A caller that ignores the error and builds the sink anyway is told.
		if _, serr := auditlog.NewOTelSink(lp); !errors.Is(serr, auditlog.ErrNoLoggerProvider) {
			t.Errorf("NewOTelSink on the failed provider = %v", serr)
		}
	}
}

func TestProtocolAliases(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"http/protobuf", "HTTP/PROTOBUF", " http ", "grpc", "GRPC"} {
		lp, err := NewLoggerProvider(context.Background(), WithProtocol(p), withGetenv(nil))
		if err != nil {
			t.Errorf("protocol %q: %v", p, err)
			continue
		}
		if err := lp.Shutdown(context.Background()); err != nil {
			t.Errorf("protocol %q: Shutdown: %v", p, err)
		}
	}
}

// TestUnreachableCollector uses t.Setenv (the OTLP exporters read the
// environment themselves): not parallel.
func TestUnreachableCollector(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "")
	for _, proto := range []string{ProtocolHTTP, ProtocolGRPC} {
		t.Run(proto, func(t *testing.T) {
			lp, err := NewLoggerProvider(context.Background(), WithProtocol(proto))
			if err != nil {
				t.Fatalf("construction failed for an unreachable Collector: %v", err)
			}
			emitAudit(t, lp, 3)

			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- lp.Shutdown(ctx) }()
			select {
			case err := <-done: // an error (deadline, connection refused) is expected and fine
				t.Logf("Shutdown with the Collector unreachable: %v", err)
			case <-time.After(5 * time.Second):
				t.Fatal("Shutdown hung on an unreachable Collector")
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("Shutdown took %v", d)
			}
		})
	}
}
