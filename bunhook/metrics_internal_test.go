package bunhook

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

type metrBenchOrder struct {
	bun.BaseModel `bun:"table:metr_bench_orders"`
	TenantOwned
	ID       int64  `bun:",pk,autoincrement"`
	TenantID string `bun:",notnull"`
}

// metricsGuard opens a SQLite DB whose guard records on a real SDK
// MeterProvider (gate on or off), with tracing and audit off, and returns
// its guard hook, a scoped statement's event and the tenant's context.
func metricsGuard(tb testing.TB, on bool, mopts ...otelobs.MetricsOption) (*bun.DB, *queryHook, func() *bun.QueryEvent, context.Context) {
	tb.Helper()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tb.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m := otelobs.NewMetrics(append([]otelobs.MetricsOption{otelobs.WithMeterProvider(mp), otelobs.WithMetricsEnabled(on)}, mopts...)...)
	dsn := "file:" + filepath.Join(tb.TempDir(), "metr.db")
	db, err := Open(DSNConnector(sqliteshim.Driver(), dsn), sqlitedialect.New(), WithModels((*metrBenchOrder)(nil)),
		WithMetrics(m), WithAuditBus(auditlog.NewBus()), WithObserver(otelobs.New()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	admin, err := scope.WithBypass(context.Background(), "test fixture")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := db.NewCreateTable().Model((*metrBenchOrder)(nil)).Exec(admin); err != nil {
		tb.Fatal(err)
	}
	e, _ := EnforcerOf(db)
	const q = "SELECT id FROM metr_bench_orders WHERE tenant_id = 'A' AND id = 1"
	raw := db.NewRaw(q)
	ev := func() *bun.QueryEvent { return &bun.QueryEvent{DB: db, Query: q, IQuery: raw} }
	return db, &queryHook{e: e}, ev, scope.NewContext(context.Background(), scope.MustParse("A"))
}

// TestMetricsAllocationsPerDecision: recording a decision allocates nothing,
// in the guard alone and over a whole statement.
func TestMetricsAllocationsPerDecision(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector changes allocation counts")
	}
	allocs := func(on bool, sampling int) (guard, stmt float64) {
		db, h, newEv, ctx := metricsGuard(t, on, otelobs.WithGuardDurationSampling(sampling))
		ev := newEv()
		decide := func() {
			ev.Query, ev.Stash = newEv().Query, nil
			if d := decisionFrom(h.BeforeQuery(ctx, ev)); d == nil || d.veto != nil {
				t.Fatalf("not a scoped decision: %+v", d)
			}
		}
		var id int64
		run := func() {
			if err := db.NewRaw(newEv().Query).Scan(ctx, &id); err != nil && err.Error() != "sql: no rows in result set" {
				t.Fatal(err)
			}
		}
		decide()
		run()
		return testing.AllocsPerRun(500, decide), testing.AllocsPerRun(200, run)
	}
	offGuard, offStmt := allocs(false, 1)
	for _, sampling := range []int{1, otelobs.DefaultGuardDurationSampling} {
		onGuard, onStmt := allocs(true, sampling)
		t.Logf("sampling %d: guard %.0f allocs off, %.0f on; statement %.0f off, %.0f on", sampling, offGuard, onGuard, offStmt, onStmt)
		if onGuard != offGuard {
			t.Errorf("sampling %d: the guard allocates %.0f times per decision with metrics on, %.0f off", sampling, onGuard, offGuard)
		}
		if onStmt > offStmt {
			t.Errorf("sampling %d: a statement allocates %.0f times with metrics on, %.0f off", sampling, onStmt, offStmt)
		}
	}
}

// BenchmarkGuardDecision is the guard's decision on a scoped point select
// (verdict cached, as in steady state), metrics off and on: the difference
// is what metrics cost per decision.
func BenchmarkGuardDecision(b *testing.B) {
	for _, c := range []struct {
		name     string
		on       bool
		sampling int
	}{
		{"metrics=off", false, otelobs.DefaultGuardDurationSampling},
		{"metrics=on", true, otelobs.DefaultGuardDurationSampling},
		{"metrics=on,every-decision-timed", true, 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			_, h, newEv, ctx := metricsGuard(b, c.on, otelobs.WithGuardDurationSampling(c.sampling))
			ev := newEv()
			q := ev.Query
			b.ReportAllocs()
			for b.Loop() {
				ev.Query = q
				h.BeforeQuery(ctx, ev)
			}
		})
	}
}
