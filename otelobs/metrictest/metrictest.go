// Package metrictest reads back what TenantShield's instruments recorded,
// for tests: a real SDK MeterProvider over a ManualReader, and lookups of a
// counter's value or a histogram's count by instrument name and attributes.
//
//	mp, rd := metrictest.New(t)
//	m := otelobs.NewMetrics(otelobs.WithMeterProvider(mp), otelobs.WithMetricsEnabled(true))
//	... // exercise the code
//	got := rd.Collect().Sum(otelobs.MetricDecisions, otelobs.AttrDecision.String("blocked"))
package metrictest

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Reader collects the metrics of the MeterProvider [New] returned.
type Reader struct {
	t  testing.TB
	mr *sdkmetric.ManualReader
}

// New returns an SDK MeterProvider whose metrics the returned Reader
// collects on demand. The provider is shut down when the test ends.
func New(t testing.TB, opts ...sdkmetric.Option) (*sdkmetric.MeterProvider, *Reader) {
	t.Helper()
	mr := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(append([]sdkmetric.Option{sdkmetric.WithReader(mr)}, opts...)...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp, &Reader{t: t, mr: mr}
}

// Collect returns what the instruments hold now (cumulative).
func (r *Reader) Collect() Snapshot {
	r.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.mr.Collect(context.Background(), &rm); err != nil {
		r.t.Fatalf("metrictest: collect: %v", err)
	}
	return Snapshot{rm: rm}
}

// Snapshot is one collection.
type Snapshot struct {
	rm metricdata.ResourceMetrics
}

// ResourceMetrics returns the collected data.
func (s Snapshot) ResourceMetrics() metricdata.ResourceMetrics { return s.rm }

// Find returns the instrument named name, and whether it was collected.
func (s Snapshot) Find(name string) (metricdata.Metrics, bool) {
	for _, sm := range s.rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// Scope returns the instrumentation scope of the instrument named name
// ("" when it was not collected).
func (s Snapshot) Scope(name string) (scopeName, version string) {
	for _, sm := range s.rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return sm.Scope.Name, sm.Scope.Version
			}
		}
	}
	return "", ""
}

// Names returns the names of the instruments collected, in order.
func (s Snapshot) Names() []string {
	var out []string
	for _, sm := range s.rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out = append(out, m.Name)
		}
	}
	return out
}

// matches reports whether set holds every attribute of want.
func matches(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// Sum returns the total of the int64 sum (counter or up-down counter) named
// name over the data points that carry every attribute of attrs (all of
// them when attrs is empty); 0 when it was not collected.
func (s Snapshot) Sum(name string, attrs ...attribute.KeyValue) int64 {
	m, ok := s.Find(name)
	if !ok {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		return 0
	}
	var total int64
	for _, dp := range sum.DataPoints {
		if matches(dp.Attributes, attrs) {
			total += dp.Value
		}
	}
	return total
}

// Points returns the attribute sets of the int64 sum named name, one per
// data point.
func (s Snapshot) Points(name string) []attribute.Set {
	m, ok := s.Find(name)
	if !ok {
		return nil
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		return nil
	}
	out := make([]attribute.Set, 0, len(sum.DataPoints))
	for _, dp := range sum.DataPoints {
		out = append(out, dp.Attributes)
	}
	return out
}

// HistogramCount returns the number of measurements of the float64
// histogram named name over the data points that carry every attribute of
// attrs, and the bucket boundaries of the first such point.
func (s Snapshot) HistogramCount(name string, attrs ...attribute.KeyValue) (count uint64, bounds []float64) {
	m, ok := s.Find(name)
	if !ok {
		return 0, nil
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		return 0, nil
	}
	for _, dp := range h.DataPoints {
		if matches(dp.Attributes, attrs) {
			count += dp.Count
			if bounds == nil {
				bounds = dp.Bounds
			}
		}
	}
	return count, bounds
}
