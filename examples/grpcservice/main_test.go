package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
)

// TestSmoke runs the program's demo as `go run` does: a real gRPC server on
// 127.0.0.1 with otelgrpc and the tenant interceptors, queries through
// bunhook on in-memory SQLite. Each tenant sees only its invoices, unary and
// streaming calls run under the tenant of their metadata, every span ends
// and each demo call is one trace across client and server, the audit trail
// has the bindings and the refusals, and no goroutine is left behind.
func TestSmoke(t *testing.T) {
	defer goleak.VerifyNone(t)
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	otelobs.Configure(true)
	sink := auditlog.NewMemorySink()
	auditlog.Register(sink)
	defer func() {
		auditlog.Unregister(sink)
		otelobs.Configure(false)
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
		_ = tp.Shutdown(context.Background())
	}()

	var out bytes.Buffer
	if err := run(context.Background(), "127.0.0.1:0", false, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := `  acme: invoice 1 of acme, amount 100
  acme: invoice 2 of acme, amount 250
acme sees 2 invoices
  globex: invoice 3 of globex, amount 999
globex sees 1 invoices
invalid tenant: InvalidArgument
no tenant: InvalidArgument
`
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}

	// Spans: all ended; each demo root has its client and server spans (3
	// calls each for acme: 2 Create and a List; 2 for globex) in its trace.
	ended := map[trace.SpanID]bool{}
	for _, s := range sr.Ended() {
		ended[s.SpanContext().SpanID()] = true
	}
	for _, s := range sr.Started() {
		if !ended[s.SpanContext().SpanID()] {
			t.Errorf("span %q was not ended", s.Name())
		}
	}
	for tenant, calls := range map[string]int{"acme": 3, "globex": 2} {
		var root sdktrace.ReadOnlySpan
		for _, s := range sr.Ended() {
			if s.Name() == "demo "+tenant {
				root = s
			}
		}
		if root == nil {
			t.Fatalf("no demo span for %s", tenant)
		}
		var servers, clients, bound int
		for _, s := range sr.Ended() {
			if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
				continue
			}
			switch s.SpanKind() {
			case trace.SpanKindServer:
				servers++
				for _, e := range s.Events() {
					if e.Name == otelobs.EventScopeEntered {
						bound++
					}
				}
			case trace.SpanKindClient:
				clients++
			}
		}
		if servers != calls || clients != calls || bound != calls {
			t.Errorf("%s's trace: %d server, %d client spans, %d bindings; want %d each", tenant, servers, clients, bound, calls)
		}
	}

	// Audit: 5 bindings, each released, under the right tenant, routes are
	// the methods; the two refusals are POLICY_DENY.
	var bound []string
	denies := 0
	for _, e := range sink.Events() {
		switch e.Type {
		case auditlog.ContextBound:
			bound = append(bound, e.Tenant)
			var route string
			for _, kv := range e.Attributes {
				if kv.Key == auditlog.AttrHTTPRoute {
					route = kv.Value.AsString()
				}
			}
			if route != methodCreate && route != methodList {
				t.Errorf("CONTEXT_BOUND route %q", route)
			}
		case auditlog.PolicyDeny:
			denies++
			if !strings.HasPrefix(e.Table, "grpc:/"+serviceName+"/") {
				t.Errorf("POLICY_DENY table %q", e.Table)
			}
		}
	}
	slices.Sort(bound)
	if !slices.Equal(bound, []string{"acme", "acme", "acme", "globex", "globex"}) || denies != 2 {
		t.Fatalf("audit: bound %v, %d POLICY_DENY; want 3 acme, 2 globex, 2 denies", bound, denies)
	}
}
