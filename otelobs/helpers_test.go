package otelobs_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// newRecorder returns a real SDK TracerProvider whose spans land in the
// returned recorder. The provider is shut down when the test ends.
func newRecorder(t testing.TB, opts ...sdktrace.TracerProviderOption) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(sr)}, opts...)...)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, sr
}

// serverSpan starts a span standing for an HTTP server span that the
// application (not otelobs) owns.
func serverSpan(ctx context.Context, tp trace.TracerProvider) (context.Context, trace.Span) {
	return tp.Tracer("test/server").Start(ctx, "GET /orders", trace.WithSpanKind(trace.SpanKindServer))
}

func eventNames(evs []sdktrace.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Name
	}
	return out
}

func attrMap(kvs []attribute.KeyValue) map[attribute.Key]string {
	m := make(map[attribute.Key]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value.String()
	}
	return m
}

func findEvent(t *testing.T, evs []sdktrace.Event, name string) sdktrace.Event {
	t.Helper()
	for _, e := range evs {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no span event %q among %v", name, eventNames(evs))
	return sdktrace.Event{}
}
