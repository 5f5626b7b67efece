package otelobs_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tenantshield/tenantshield-go/otelobs"
)

// Metrics are off until their gate is turned on; then each decision is
// counted by outcome (tenant.decision), database system, operation and
// table.
func ExampleNewMetrics() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	ctx := context.Background()
	defer func() { _ = mp.Shutdown(ctx) }()

	m := otelobs.NewMetrics(otelobs.WithMeterProvider(mp)) // the global MeterProvider without it
	a := otelobs.DecisionAttributes{Outcome: otelobs.OutcomeBlocked, System: "sqlite", Operation: "SELECT", Table: "invoices"}
	m.RecordDecision(ctx, a) // gate off: not recorded
	m.SetEnabled(true)
	m.RecordDecision(ctx, a)
	m.RecordDecision(ctx, a)

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(ctx, &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			for _, dp := range md.Data.(metricdata.Sum[int64]).DataPoints {
				d, _ := dp.Attributes.Value(otelobs.AttrDecision)
				table, _ := dp.Attributes.Value(otelobs.AttrDBCollection)
				fmt.Println(md.Name, d.AsString(), table.AsString(), dp.Value)
			}
		}
	}
	// Output:
	// tenantshield.decisions blocked invoices 2
}
