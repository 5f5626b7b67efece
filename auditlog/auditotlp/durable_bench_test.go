package auditotlp

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/auditlog/auditspool"
)

// BenchmarkEmit is the cost of one audit record on the audited operation's
// path, per delivery mode: batch (the SDK batch processor), durable (fsynced
// in the spool, group commit), durable with the spool's fsync deferred by
// up to 100 ms (auditspool.WithSyncInterval: safe from a process crash, not
// from a machine crash), serial and from 16 goroutines. The exporter
// keeps records in memory, so shipping costs no network time; with -benchmem.
func BenchmarkEmit(b *testing.B) {
	e := auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme", Operation: "bind", Outcome: auditlog.OutcomeSuccess}
	modes := []struct {
		name string
		sink func(b *testing.B) (auditlog.Sink, func())
	}{
		{"batch", func(b *testing.B) (auditlog.Sink, func()) {
			lp, err := NewLoggerProvider(context.Background(), WithExporter(&memExporter{}), WithResource(resource.Empty()),
				WithErrorHandler(func(error) {})) // a full queue is reported per drop run: not the cost measured here
			if err != nil {
				b.Fatal(err)
			}
			s, _ := auditlog.NewOTelSink(lp)
			return s, func() { _ = lp.Shutdown(context.Background()) }
		}},
		{"durable", func(b *testing.B) (auditlog.Sink, func()) {
			d, err := NewDurableSink(context.Background(), filepath.Join(b.TempDir(), "spool"), WithExporter(&memExporter{}),
				WithResource(resource.Empty()))
			if err != nil {
				b.Fatal(err)
			}
			return d, func() { _ = d.Shutdown(context.Background()) }
		}},
		{"durable-syncinterval", func(b *testing.B) (auditlog.Sink, func()) {
			d, err := NewDurableSink(context.Background(), filepath.Join(b.TempDir(), "spool"), WithExporter(&memExporter{}),
				WithResource(resource.Empty()), WithSpoolOptions(auditspool.WithSyncInterval(100*time.Millisecond)))
			if err != nil {
				b.Fatal(err)
			}
			return d, func() { _ = d.Shutdown(context.Background()) }
		}},
	}
	for _, m := range modes {
		for _, parallel := range []bool{false, true} {
			name := m.name + "/serial"
			if parallel {
				name = m.name + "/parallel16"
			}
			b.Run(name, func(b *testing.B) {
				sink, done := m.sink(b)
				defer done()
				bus := auditlog.NewBus()
				bus.Register(sink)
				b.ReportAllocs()
				b.ResetTimer()
				if !parallel {
					for b.Loop() {
						bus.Emit(context.Background(), e)
					}
					return
				}
				b.SetParallelism(8) // 16 goroutines on 2 CPUs
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						bus.Emit(context.Background(), e)
					}
				})
			})
		}
	}
}
