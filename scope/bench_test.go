package scope_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

// discardSink accepts every event: it measures what TenantShield spends on
// audit, not what a sink spends on storage.
type discardSink struct{}

func (*discardSink) Emit(context.Context, auditlog.Event) error { return nil }

// benchBinder returns a binder with tracing and audit each on or off. Tracing
// uses a real SDK provider that records spans and exports nowhere.
func benchBinder(b *testing.B, observe, audit bool) *scope.Binder {
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	bus := auditlog.NewBus()
	if audit {
		bus.Register(&discardSink{})
	}
	obs := otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(observe))
	return scope.NewBinder(scope.WithAuditBus(bus), scope.WithObserver(obs))
}

// BenchmarkBindRelease is the cost of one unit of work's Bind and End.
func BenchmarkBindRelease(b *testing.B) {
	for _, c := range []struct {
		name           string
		observe, audit bool
	}{{"off", false, false}, {"audit", false, true}, {"trace", true, false}, {"both", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			binder := benchBinder(b, c.observe, c.audit)
			ctx := context.Background()
			t := scope.MustParse("acme")
			b.ReportAllocs()
			for b.Loop() {
				_, bd, err := binder.Bind(ctx, t)
				if err != nil {
					b.Fatal(err)
				}
				bd.End(nil)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, c := range []struct{ name, id string }{
		{"slug", "acme-corp"},
		{"uuid", "0190a5d2-8c1e-7b3a-9f2e-4c5d6e7f8a9b"},
		{"invalid", "acme\u202e"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = scope.Parse(c.id)
			}
		})
	}
}

func BenchmarkRequire(b *testing.B) {
	ctx := scope.NewContext(context.Background(), scope.MustParse("acme"))
	ctx, cancel := context.WithCancel(ctx) // a typical request context has a few layers
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = scope.Require(ctx)
	}
}

// TestBindReleaseOffAllocations keeps the off path within its budget: one
// context that carries the binding inline.
func TestBindReleaseOffAllocations(t *testing.T) {
	bus := auditlog.NewBus()
	binder := scope.NewBinder(scope.WithAuditBus(bus), scope.WithObserver(otelobs.New()))
	ctx := context.Background()
	n := testing.AllocsPerRun(200, func() {
		_, bd, _ := binder.Bind(ctx, acme)
		bd.End(nil)
	})
	if n > 1 {
		t.Fatalf("Bind+End with both paths off: %v allocs, want ≤ 1", n)
	}
}
