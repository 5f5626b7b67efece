package otelobs_test

import (
	"context"
	"errors"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tenantshield/tenantshield-go/otelobs"
)

// An Observer records a tenant scope as a tenant.scope span when no span is
// active, with the scope's span events on it.
func Example() {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	obs := otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(true))
	ctx, lc := obs.EnterScope(context.Background(), "acme")
	obs.AddEvent(ctx, otelobs.EventReadFiltered, otelobs.Decision{Tenant: "acme", Table: "orders", Operation: "SELECT"})
	lc.Exit(errors.New("query failed"))

	for _, s := range sr.Ended() {
		fmt.Println("span:", s.Name())
		for _, e := range s.Events() {
			fmt.Println("  event:", e.Name)
		}
	}
	// Output:
	// span: tenant.scope
	//   event: tenant.scope.entered
	//   event: tenant.read.filtered
	//   event: tenant.scope.exception
}

// With the gate off nothing is recorded, not even on a span that is active.
func ExampleObserver_SetEnabled() {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	obs := otelobs.New(otelobs.WithTracerProvider(tp)) // off by default
	ctx, span := tp.Tracer("app").Start(context.Background(), "GET /orders")
	obs.AddEvent(ctx, otelobs.EventReadFiltered, otelobs.Decision{Tenant: "acme"})
	obs.SetEnabled(true)
	obs.AddEvent(ctx, otelobs.EventReadBlocked, otelobs.Decision{Tenant: "acme"})
	span.End()

	for _, e := range sr.Ended()[0].Events() {
		fmt.Println(e.Name)
	}
	// Output:
	// tenant.read.blocked
}

func ExampleErrorType() {
	fmt.Println(otelobs.ErrorType(errors.New("plain")))
	fmt.Println(otelobs.ErrorType(nil))
	// Output:
	// *errors.errorString
	// _OTHER
}
