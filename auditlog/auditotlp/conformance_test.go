package auditotlp_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/auditlog/auditlogtest"
	"github.com/tenantshield/tenantshield-go/auditlog/auditotlp"
)

// recording keeps what it is given to export.
type recording struct {
	mu sync.Mutex
	rs []sdklog.Record
}

func (m *recording) Export(_ context.Context, rs []sdklog.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range rs {
		m.rs = append(m.rs, r.Clone())
	}
	return nil
}
func (m *recording) Shutdown(context.Context) error   { return nil }
func (m *recording) ForceFlush(context.Context) error { return nil }

func (m *recording) events() []auditlog.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]auditlog.Event, 0, len(m.rs))
	for _, r := range m.rs {
		out = append(out, auditlogtest.FromRecord(r))
	}
	return out
}

// TestDurableSinkConformance: the durable delivery mode delivers what the
// audit sink contract asks, through its spool, to an exporter.
func TestDurableSinkConformance(t *testing.T) {
	auditlogtest.Run(t, func(t *testing.T) auditlogtest.Target {
		exp := &recording{}
		d, err := auditotlp.NewDurableSink(context.Background(), filepath.Join(t.TempDir(), "spool"),
			auditotlp.WithExporter(exp), auditotlp.WithResource(resource.Empty()))
		if err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		shutdown := func() { once.Do(func() { _ = d.Shutdown(context.Background()) }) }
		t.Cleanup(shutdown)
		return auditlogtest.Target{Sink: d, Read: func() ([]auditlog.Event, error) {
			shutdown()
			return exp.events(), nil
		}}
	})
}

// TestProviderConformance: OTelSink on the LoggerProvider that
// auditotlp.NewLoggerProvider builds (synchronous export).
func TestProviderConformance(t *testing.T) {
	auditlogtest.Run(t, func(t *testing.T) auditlogtest.Target {
		exp := &recording{}
		lp, err := auditotlp.NewLoggerProvider(context.Background(), auditotlp.WithExporter(exp),
			auditotlp.WithResource(resource.Empty()), auditotlp.WithSynchronousExport())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
		sink, err := auditlog.NewOTelSink(lp)
		if err != nil {
			t.Fatal(err)
		}
		return auditlogtest.Target{Sink: sink, Read: func() ([]auditlog.Event, error) { return exp.events(), nil }}
	})
}
