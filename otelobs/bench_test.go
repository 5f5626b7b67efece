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

// BenchmarkMetrics is the cost of recording one guard decision (the
// decision counter and the guard-duration histogram, sampled by default)
// on a real SDK MeterProvider, gate off and on.
func BenchmarkMetrics(b *testing.B) {
	ctx := context.Background()
	a := otelobs.DecisionAttributes{Outcome: otelobs.OutcomeScoped, System: "sqlite", Operation: "SELECT", Table: "invoices",
		Tenant: "acme"}
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[on], func(b *testing.B) {
			m, _ := newMetrics(b, otelobs.WithMetricsEnabled(on))
			b.ReportAllocs()
			for b.Loop() {
				g := m.StartGuard()
				m.RecordDecision(ctx, a)
				g.Stop(ctx, "sqlite", "SELECT")
			}
		})
	}
	b.Run("on, every decision timed", func(b *testing.B) {
		m, _ := newMetrics(b, otelobs.WithMetricsEnabled(true), otelobs.WithGuardDurationSampling(1))
		b.ReportAllocs()
		for b.Loop() {
			g := m.StartGuard()
			m.RecordDecision(ctx, a)
			g.Stop(ctx, "sqlite", "SELECT")
		}
	})
	b.Run("on+tenant", func(b *testing.B) {
		m, _ := newMetrics(b, otelobs.WithMetricsEnabled(true), otelobs.WithTenantAttribute(100))
		b.ReportAllocs()
		for b.Loop() {
			g := m.StartGuard()
			m.RecordDecision(ctx, a)
			g.Stop(ctx, "sqlite", "SELECT")
		}
	})
}
