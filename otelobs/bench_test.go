package otelobs_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tenantshield/tenantshield-go/otelobs"
)

// BenchmarkGateOff is the cost TenantShield adds to every operation when
// observability is off (the library default).
func BenchmarkGateOff(b *testing.B) {
	tp, _ := newRecorder(b)
	obs := otelobs.New(otelobs.WithTracerProvider(tp))
	ctx, server := serverSpan(context.Background(), tp)
	defer server.End()
	d := otelobs.Decision{Tenant: "acme", Table: "orders", Operation: "SELECT"}

	b.Run("AddEvent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			obs.AddEvent(ctx, otelobs.EventReadFiltered, d)
		}
	})
	b.Run("EnterScope+Exit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, lc := obs.EnterScope(ctx, "acme")
			lc.Exit(nil)
		}
	})
}

// BenchmarkGateOn measures the recording paths, for comparison.
func BenchmarkGateOn(b *testing.B) {
	tp, _ := newRecorder(b)
	obs := otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(true))
	d := otelobs.Decision{Tenant: "acme", Table: "orders", Operation: "SELECT"}
	errBoom := errors.New("boom")

	b.Run("AddEvent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			// A fresh span per iteration: span events accumulate otherwise.
			ctx, span := serverSpan(context.Background(), tp)
			obs.AddEvent(ctx, otelobs.EventReadFiltered, d)
			span.End()
		}
	})
	b.Run("EnterScope+Exit/own-span", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, lc := obs.EnterScope(context.Background(), "acme")
			lc.Exit(errBoom)
		}
	})
}
