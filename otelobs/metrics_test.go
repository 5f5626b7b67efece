package otelobs_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/otelobs/metrictest"
)

func newMetrics(t testing.TB, opts ...otelobs.MetricsOption) (*otelobs.Metrics, *metrictest.Reader) {
	t.Helper()
	mp, rd := metrictest.New(t)
	return otelobs.NewMetrics(append([]otelobs.MetricsOption{otelobs.WithMeterProvider(mp)}, opts...)...), rd
}

func TestMetricsOffByDefault(t *testing.T) {
	m, rd := newMetrics(t)
	if m.Enabled() {
		t.Fatal("a new Metrics is enabled")
	}
	ctx := context.Background()
	m.RecordDecision(ctx, otelobs.DecisionAttributes{Outcome: otelobs.OutcomeBlocked, System: "sqlite", Operation: "SELECT"})
	m.RecordGuardDuration(ctx, time.Microsecond, "sqlite", "SELECT")
	m.RecordRejection(ctx, otelobs.RejectionMissingTenant, 400)
	if names := rd.Collect().Names(); len(names) != 0 {
		t.Errorf("gate off: collected %v, want nothing", names)
	}
	var nilM *otelobs.Metrics // valid and off
	nilM.RecordDecision(ctx, otelobs.DecisionAttributes{Outcome: otelobs.OutcomeScoped})
	nilM.RecordRejection(ctx, otelobs.RejectionMissingTenant, 400)
	nilM.RecordGuardDuration(ctx, time.Microsecond, "", "")
	if nilM.Enabled() {
		t.Error("a nil Metrics is enabled")
	}

	// Switched at run time.
	m.SetEnabled(true)
	m.RecordRejection(ctx, otelobs.RejectionMissingTenant, 400)
	m.SetEnabled(false)
	m.RecordRejection(ctx, otelobs.RejectionMissingTenant, 400)
	if got := rd.Collect().Sum(otelobs.MetricRejections); got != 1 {
		t.Errorf("rejections = %d, want 1 (recorded only while on)", got)
	}
}

func TestMetricsDecisions(t *testing.T) {
	m, rd := newMetrics(t, otelobs.WithMetricsEnabled(true))
	ctx := context.Background()
	tests := []struct {
		outcome otelobs.Outcome
		want    string
		n       int
	}{
		{otelobs.OutcomeScoped, "scoped", 3},
		{otelobs.OutcomeBlocked, "blocked", 2},
		{otelobs.OutcomeReported, "reported", 1},
		{otelobs.OutcomeBypassed, "bypassed", 4},
		{otelobs.OutcomeDenied, "denied", 5},
	}
	for _, tc := range tests {
		for range tc.n {
			m.RecordDecision(ctx, otelobs.DecisionAttributes{Outcome: tc.outcome, System: "sqlite", Operation: "SELECT",
				Table: "invoices", Tenant: "acme"})
		}
	}
	snap := rd.Collect()
	for _, tc := range tests {
		if got := tc.outcome.String(); got != tc.want {
			t.Errorf("Outcome(%d).String() = %q, want %q", tc.outcome, got, tc.want)
		}
		got := snap.Sum(otelobs.MetricDecisions, otelobs.AttrDecision.String(tc.want), otelobs.AttrDBSystem.String("sqlite"),
			otelobs.AttrDBOperation.String("SELECT"), otelobs.AttrDBCollection.String("invoices"))
		if got != int64(tc.n) {
			t.Errorf("%s: %d, want %d", tc.want, got, tc.n)
		}
	}
	for _, set := range snap.Points(otelobs.MetricDecisions) {
		if _, ok := set.Value(otelobs.AttrTenantID); ok {
			t.Errorf("tenant.id recorded without WithTenantAttribute: %v", set.ToSlice())
		}
	}
	md, _ := snap.Find(otelobs.MetricDecisions)
	sum, ok := md.Data.(metricdata.Sum[int64])
	if md.Unit != "{decision}" || !ok || !sum.IsMonotonic {
		t.Errorf("%s: unit %q, data %T (monotonic %v), want a monotonic {decision} counter", md.Name, md.Unit, md.Data, sum.IsMonotonic)
	}
	if name, version := snap.Scope(otelobs.MetricDecisions); name != otelobs.ScopeName || version != otelobs.Version() {
		t.Errorf("scope %s %s, want %s %s", name, version, otelobs.ScopeName, otelobs.Version())
	}

	// Empty attributes are left out (a statement on several tables).
	m.RecordDecision(ctx, otelobs.DecisionAttributes{Outcome: otelobs.OutcomeScoped, System: "sqlite", Operation: "SELECT"})
	var found bool
	for _, set := range rd.Collect().Points(otelobs.MetricDecisions) {
		if _, ok := set.Value(otelobs.AttrDBCollection); !ok {
			found = true
			if set.Len() != 3 {
				t.Errorf("attributes %v, want tenant.decision, db.system.name, db.operation.name", set.ToSlice())
			}
		}
	}
	if !found {
		t.Error("no data point without db.collection.name")
	}
}

func TestMetricsTenantAttribute(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			m, rd := newMetrics(t, otelobs.WithMetricsEnabled(true), otelobs.WithTenantAttribute(n))
			tenants := []string{"t1", "t2", "t3", "t4", "t1", "t5", "t2"}
			for _, tn := range tenants {
				m.RecordDecision(ctx, otelobs.DecisionAttributes{Outcome: otelobs.OutcomeScoped, System: "sqlite",
					Operation: "SELECT", Table: "invoices", Tenant: tn})
			}
			snap := rd.Collect()
			seen := map[string]int64{}
			for _, set := range snap.Points(otelobs.MetricDecisions) {
				v, ok := set.Value(otelobs.AttrTenantID)
				if !ok {
					t.Fatalf("a data point without tenant.id: %v", set.ToSlice())
				}
				seen[v.AsString()] = snap.Sum(otelobs.MetricDecisions, otelobs.AttrTenantID.String(v.AsString()))
			}
			// The first n distinct tenants keep their id, whatever comes later.
			want := map[string]int64{}
			first := []string{"t1", "t2", "t3", "t4", "t5"}
			for i, tn := range first {
				c := int64(0)
				for _, x := range tenants {
					if x == tn {
						c++
					}
				}
				if i < n {
					want[tn] = c
				} else {
					want[otelobs.OtherTenant] += c
				}
			}
			if fmt.Sprint(seen) != fmt.Sprint(want) {
				t.Errorf("decisions by tenant.id = %v, want %v", seen, want)
			}
			if len(seen) > n+1 {
				t.Errorf("%d distinct tenant.id values, cap %d (+%s)", len(seen), n, otelobs.OtherTenant)
			}
		})
	}
	t.Run("off for n <= 0", func(t *testing.T) {
		m, rd := newMetrics(t, otelobs.WithMetricsEnabled(true), otelobs.WithTenantAttribute(0))
		m.RecordDecision(ctx, otelobs.DecisionAttributes{Outcome: otelobs.OutcomeScoped, Tenant: "t1"})
		for _, set := range rd.Collect().Points(otelobs.MetricDecisions) {
			if _, ok := set.Value(otelobs.AttrTenantID); ok {
				t.Errorf("tenant.id recorded with WithTenantAttribute(0): %v", set.ToSlice())
			}
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		const n = 5
		m, rd := newMetrics(t, otelobs.WithMetricsEnabled(true), otelobs.WithTenantAttribute(n))
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 50 {
					m.RecordDecision(ctx, otelobs.DecisionAttributes{Outcome: otelobs.OutcomeScoped,
						Tenant: fmt.Sprintf("t%d", (g*50+i)%20)})
				}
			})
		}
		wg.Wait()
		snap := rd.Collect()
		var ids []string
		for _, set := range snap.Points(otelobs.MetricDecisions) {
			v, _ := set.Value(otelobs.AttrTenantID)
			ids = append(ids, v.AsString())
		}
		if len(ids) != n+1 || !slices.Contains(ids, otelobs.OtherTenant) {
			t.Errorf("tenant.id values %v, want %d tenants and %s", ids, n, otelobs.OtherTenant)
		}
		if got := snap.Sum(otelobs.MetricDecisions); got != 8*50 {
			t.Errorf("decisions = %d, want %d", got, 8*50)
		}
	})
}

func TestMetricsGuardDuration(t *testing.T) {
	m, rd := newMetrics(t, otelobs.WithMetricsEnabled(true))
	ctx := context.Background()
	for _, d := range []time.Duration{800 * time.Nanosecond, 3 * time.Microsecond, 40 * time.Microsecond} {
		m.RecordGuardDuration(ctx, d, "postgresql", "UPDATE")
	}
	m.RecordGuardDuration(ctx, time.Microsecond, "postgresql", "SELECT")
	snap := rd.Collect()
	count, bounds := snap.HistogramCount(otelobs.MetricGuardDuration, otelobs.AttrDBSystem.String("postgresql"),
		otelobs.AttrDBOperation.String("UPDATE"))
	if count != 3 {
		t.Errorf("UPDATE count = %d, want 3", count)
	}
	if !slices.Equal(bounds, otelobs.GuardDurationBuckets()) {
		t.Errorf("bounds %v, want the advised %v", bounds, otelobs.GuardDurationBuckets())
	}
	md, _ := snap.Find(otelobs.MetricGuardDuration)
	h := md.Data.(metricdata.Histogram[float64])
	if md.Unit != "s" {
		t.Errorf("unit %q, want s", md.Unit)
	}
	for _, dp := range h.DataPoints {
		if v, _ := dp.Attributes.Value(otelobs.AttrDBOperation); v.AsString() != "UPDATE" {
			continue
		}
		// 0.8 µs in the first bucket (<= 1 µs), 3 µs in (2.5, 5], 40 µs in (25, 50].
		want := make([]uint64, len(bounds)+1)
		want[0], want[2], want[5] = 1, 1, 1
		if !slices.Equal(dp.BucketCounts, want) {
			t.Errorf("bucket counts %v, want %v", dp.BucketCounts, want)
		}
		if lo, hi := 43.7e-6, 43.9e-6; dp.Sum < lo || dp.Sum > hi {
			t.Errorf("sum %g s, want 43.8e-6", dp.Sum)
		}
	}
}

func TestMetricsRejections(t *testing.T) {
	m, rd := newMetrics(t, otelobs.WithMetricsEnabled(true))
	ctx := context.Background()
	tests := []struct {
		reason string
		status int
	}{
		{otelobs.RejectionMissingTenant, 400},
		{otelobs.RejectionMissingTenant, 401},
		{otelobs.RejectionInvalidTenant, 400},
		{otelobs.RejectionInvalidToken, 401},
		{otelobs.RejectionTenantConflict, 400},
		{otelobs.RejectionTenantForbidden, 403},
		{otelobs.RejectionAuditUnavailable, 503},
	}
	for _, tc := range tests {
		m.RecordRejection(ctx, tc.reason, tc.status)
	}
	m.RecordRejection(ctx, otelobs.RejectionTenantForbidden, 0) // no status: left out
	snap := rd.Collect()
	for _, tc := range tests {
		if got := snap.Sum(otelobs.MetricRejections, otelobs.AttrRejectionReason.String(tc.reason),
			otelobs.AttrHTTPStatusCode.Int(tc.status)); got != 1 {
			t.Errorf("%s %d: %d, want 1", tc.reason, tc.status, got)
		}
	}
	if got := len(snap.Points(otelobs.MetricRejections)); got != len(tests)+1 {
		t.Errorf("%d series, want %d", got, len(tests)+1)
	}
}

// TestMetricsGlobalMeterProvider: without WithMeterProvider, a Metrics
// records through the global MeterProvider, including one installed after
// it was created (OTel's delegation).
func TestMetricsGlobalMeterProvider(t *testing.T) {
	m := otelobs.NewMetrics(otelobs.WithMetricsEnabled(true))
	mp, rd := metrictest.New(t)
	otel.SetMeterProvider(mp)
	m.RecordDecision(context.Background(), otelobs.DecisionAttributes{Outcome: otelobs.OutcomeBypassed})
	if got := rd.Collect().Sum(otelobs.MetricDecisions, otelobs.AttrDecision.String("bypassed")); got != 1 {
		t.Errorf("bypassed = %d through the global provider, want 1", got)
	}
	if otelobs.DefaultMetrics().Enabled() {
		t.Error("the default Metrics is on before ConfigureMetrics")
	}
	otelobs.ConfigureMetrics(true)
	t.Cleanup(func() { otelobs.ConfigureMetrics(false) })
	if !otelobs.DefaultMetrics().Enabled() || otelobs.Default().Enabled() {
		t.Error("ConfigureMetrics(true) must turn on the metrics gate, and only it")
	}
}

// TestMetricsAllocations: recording allocates nothing once an attribute
// combination has been seen, gate on or off.
func TestMetricsAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	ctx := context.Background()
	for _, on := range []bool{false, true} {
		m, _ := newMetrics(t, otelobs.WithMetricsEnabled(on), otelobs.WithTenantAttribute(10))
		a := otelobs.DecisionAttributes{Outcome: otelobs.OutcomeScoped, System: "sqlite", Operation: "SELECT",
			Table: "invoices", Tenant: "acme"}
		run := func() {
			m.RecordDecision(ctx, a)
			m.RecordGuardDuration(ctx, 2*time.Microsecond, "sqlite", "SELECT")
			m.RecordRejection(ctx, otelobs.RejectionInvalidToken, 401)
		}
		run()
		if n := testing.AllocsPerRun(1000, run); n != 0 {
			t.Errorf("gate on=%v: %.1f allocations per recording, want 0", on, n)
		}
	}
}

func TestMetricsAttributeKeys(t *testing.T) {
	for k, want := range map[attribute.Key]string{
		otelobs.AttrRejectionReason: "tenant.rejection.reason",
		otelobs.AttrAuditQueue:      "audit.queue",
		otelobs.AttrDecision:        "tenant.decision",
	} {
		if string(k) != want {
			t.Errorf("key %q, want %q", k, want)
		}
	}
}

func TestMetricsGuardTimer(t *testing.T) {
	ctx := context.Background()
	t.Run("every decision", func(t *testing.T) {
		m, rd := newMetrics(t, otelobs.WithMetricsEnabled(true), otelobs.WithGuardDurationSampling(1))
		for range 10 {
			g := m.StartGuard()
			g.Stop(ctx, "sqlite", "DELETE")
		}
		if n, _ := rd.Collect().HistogramCount(otelobs.MetricGuardDuration, otelobs.AttrDBOperation.String("DELETE")); n != 10 {
			t.Errorf("count = %d, want 10", n)
		}
	})
	t.Run("sampled", func(t *testing.T) {
		const n = 1600
		m, rd := newMetrics(t, otelobs.WithMetricsEnabled(true))
		for range n {
			g := m.StartGuard()
			g.Stop(ctx, "sqlite", "SELECT")
		}
		// One in 16 on average: 100 expected; (15/16)^1600 and
		// (1/16)^1600 make 0 and n impossible in practice.
		if got, _ := rd.Collect().HistogramCount(otelobs.MetricGuardDuration); got == 0 || got >= n/4 {
			t.Errorf("%d of %d decisions measured, want about %d", got, n, n/otelobs.DefaultGuardDurationSampling)
		}
	})
	t.Run("off", func(t *testing.T) {
		m, rd := newMetrics(t, otelobs.WithGuardDurationSampling(1))
		g := m.StartGuard()
		m.SetEnabled(true) // turned on in between: the timer was not started
		g.Stop(ctx, "sqlite", "SELECT")
		var zero otelobs.GuardTimer
		zero.Stop(ctx, "sqlite", "SELECT")
		if n, _ := rd.Collect().HistogramCount(otelobs.MetricGuardDuration); n != 0 {
			t.Errorf("count = %d with the gate off at StartGuard, want 0", n)
		}
	})
}

// TestMetricsOverflow: past the bound on attribute combinations, new ones
// are counted under db.collection.name _OTHER; nothing is lost.
func TestMetricsOverflow(t *testing.T) {
	const n = 1100
	m, rd := newMetrics(t, otelobs.WithMetricsEnabled(true))
	for i := range n {
		m.RecordDecision(context.Background(), otelobs.DecisionAttributes{Outcome: otelobs.OutcomeScoped, System: "sqlite",
			Operation: "SELECT", Table: fmt.Sprintf("t%d", i)})
	}
	snap := rd.Collect()
	if got := snap.Sum(otelobs.MetricDecisions); got != n {
		t.Errorf("decisions = %d, want %d", got, n)
	}
	other := snap.Sum(otelobs.MetricDecisions, otelobs.AttrDBCollection.String(otelobs.OtherTenant))
	if series := len(snap.Points(otelobs.MetricDecisions)); series > 1025 || other != int64(n-(series-1)) || other == 0 {
		t.Errorf("%d series, %d decisions on _OTHER: want at most 1025 series, the rest on _OTHER", series, other)
	}
}
