package auditlog_test

import (
	"context"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// BenchmarkEmitNoSink is the cost of Emit with audit off (no sink).
func BenchmarkEmitNoSink(b *testing.B) {
	bus := auditlog.NewBus()
	e := violation()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		bus.Emit(ctx, e)
	}
}

// BenchmarkEmit3MemorySinks is the synchronous cost of one event delivered to
// three in-memory sinks (stamping included).
func BenchmarkEmit3MemorySinks(b *testing.B) {
	bus := auditlog.NewBus()
	sinks := []*auditlog.MemorySink{auditlog.NewMemorySink(), auditlog.NewMemorySink(), auditlog.NewMemorySink()}
	for _, s := range sinks {
		bus.Register(s)
	}
	e := violation()
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		bus.Emit(ctx, e)
		if i++; i%4096 == 0 { // bound memory; the amortised regrowth stays in the figure
			for _, s := range sinks {
				s.Reset()
			}
		}
	}
}
