package scopehttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

// discardSink accepts events and keeps nothing, so a long benchmark does not
// grow memory.
type discardSink struct{}

func (*discardSink) Emit(context.Context, auditlog.Event) error { return nil }

// BenchmarkMiddleware measures the middleware's overhead per request with the
// header strategy and a trivial handler: baseline (no middleware), off (audit
// and tracing off) and on (a sink registered and tracing on, recording to an
// SDK TracerProvider without exporter; the middleware starts its own
// tenant.scope span since there is no server span).
func BenchmarkMiddleware(b *testing.B) {
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	header, err := scopehttp.NewHeaderStrategy(scopehttp.HeaderConfig{})
	if err != nil {
		b.Fatal(err)
	}
	off := scope.NewBinder(scope.WithAuditBus(auditlog.NewBus()), scope.WithObserver(otelobs.New(otelobs.WithEnabled(false))))
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	bus := auditlog.NewBus()
	bus.Register(&discardSink{})
	on := scope.NewBinder(scope.WithAuditBus(bus), scope.WithObserver(otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(true))))

	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"baseline", app},
		{"off", scopehttp.New(header, scopehttp.WithBinder(off)).Wrap(app)},
		{"on", scopehttp.New(header, scopehttp.WithBinder(on)).Wrap(app)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/orders", nil)
			req.Header.Set("X-Tenant-Id", "acme")
			rec := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(rec, req)
			}
			if rec.Code != http.StatusNoContent {
				b.Fatalf("status %d", rec.Code)
			}
		})
	}
}
