package bunhook_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/attribute"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/otelobs/metrictest"
	"github.com/tenantshield/tenantshield-go/scope"
)

// MetrOrder is the tenant-owned model of the metrics tests (tables metr_*).
type MetrOrder struct {
	bun.BaseModel `bun:"table:metr_orders,alias:metr_order"`
	bunhook.TenantOwned
	ID       int64  `bun:",pk,autoincrement"`
	TenantID string `bun:",notnull"`
	Number   string `bun:",notnull"`
}

// openMetricsDB opens td's kind with MetrOrder registered, its table
// created, metrics recorded on a ManualReader (every guard decision timed)
// and tenant R read-only.
func openMetricsDB(t *testing.T, kind string, mopts ...otelobs.MetricsOption) (*testDB, *otelobs.Metrics, *metrictest.Reader) {
	t.Helper()
	mp, rd := metrictest.New(t)
	m := otelobs.NewMetrics(append([]otelobs.MetricsOption{otelobs.WithMeterProvider(mp), otelobs.WithMetricsEnabled(true),
		otelobs.WithGuardDurationSampling(1)}, mopts...)...)
	td := openTestDB(t, kind, bunhook.WithModels((*MetrOrder)(nil)), bunhook.WithMetrics(m),
		bunhook.WithPolicy(scope.ReadOnlyTenants("R")))
	if _, err := td.db.NewCreateTable().Model((*MetrOrder)(nil)).Exec(bypassCtx(t)); err != nil {
		t.Fatal(err)
	}
	return td, m, rd
}

func decisionAttrs(td *testDB, outcome, op, table string) []attribute.KeyValue {
	system := map[string]string{"sqlite": "sqlite", "pg": "postgresql", "pgx": "postgresql", "mysql": "mysql"}[td.kind]
	kvs := []attribute.KeyValue{otelobs.AttrDecision.String(outcome), otelobs.AttrDBSystem.String(system),
		otelobs.AttrDBOperation.String(op)}
	if table != "" {
		kvs = append(kvs, otelobs.AttrDBCollection.String(table))
	}
	return kvs
}

// TestMetricsDecisionOutcomes drives one statement to each outcome and
// reads tenantshield.decisions and tenantshield.guard.duration back.
func TestMetricsDecisionOutcomes(t *testing.T) {
	for _, kind := range dbKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			td, _, rd := openMetricsDB(t, kind)
			a, r := tenantCtx(t, "A"), tenantCtx(t, "R")
			base := rd.Collect() // creating the table: bypassed
			count := func(outcome, op, table string) int64 {
				return rd.Collect().Sum(otelobs.MetricDecisions, decisionAttrs(td, outcome, op, table)...) -
					base.Sum(otelobs.MetricDecisions, decisionAttrs(td, outcome, op, table)...)
			}

			// scoped: an INSERT filled by the model hook, a SELECT, a Count rescoped.
			if _, err := td.db.NewInsert().Model(&MetrOrder{Number: "1"}).Exec(a); err != nil {
				t.Fatal(err)
			}
			var rows []MetrOrder
			if err := td.db.NewSelect().Model(&rows).Scan(a); err != nil || len(rows) != 1 {
				t.Fatalf("select: %v %d", err, len(rows))
			}
			if _, err := td.db.NewSelect().Model((*MetrOrder)(nil)).Count(a); err != nil {
				t.Fatal(err)
			}
			// blocked: raw SQL without the predicate (guard), and no tenant (model hook).
			if _, err := td.db.NewRaw("SELECT id FROM metr_orders").Exec(a); !errors.Is(err, scope.ErrUnscopedQuery) {
				t.Fatalf("raw unscoped select: %v", err)
			}
			if err := td.db.NewSelect().Model(&rows).Scan(context.Background()); !errors.Is(err, scope.ErrNoTenant) {
				t.Fatalf("select without tenant: %v", err)
			}
			// bypassed
			if _, err := td.db.NewSelect().Model((*MetrOrder)(nil)).Count(bypassCtx(t)); err != nil {
				t.Fatal(err)
			}
			// denied: R is read-only.
			if _, err := td.db.NewInsert().Model(&MetrOrder{Number: "R"}).Exec(r); !errors.Is(err, scope.ErrPolicyDenied) {
				t.Fatalf("R inserts: %v", err)
			}
			// reported: the unscoped raw SELECT again, in report-only mode.
			enf, ok := bunhook.EnforcerOf(td.db)
			if !ok {
				t.Fatal("EnforcerOf: not a bunhook DB")
			}
			enf.SetMode(bunhook.ModeReport)
			if _, err := td.db.NewRaw("SELECT id FROM metr_orders").Exec(a); err != nil {
				t.Fatalf("report-only mode: %v", err)
			}
			enf.SetMode(bunhook.ModeEnforce)

			for _, c := range []struct {
				outcome, op string
				want        int64
			}{
				{"scoped", "INSERT", 1},
				{"scoped", "SELECT", 2},
				{"blocked", "SELECT", 2},
				{"bypassed", "SELECT", 1},
				{"denied", "INSERT", 1},
				{"reported", "SELECT", 1},
			} {
				if got := count(c.outcome, c.op, "metr_orders"); got != c.want {
					t.Errorf("%s %s on metr_orders: %d, want %d", c.outcome, c.op, got, c.want)
				}
			}
			snap := rd.Collect()
			if got, want := snap.Sum(otelobs.MetricDecisions)-base.Sum(otelobs.MetricDecisions), int64(8); got != want {
				t.Errorf("%d decisions in all, want %d", got, want)
			}
			for _, set := range snap.Points(otelobs.MetricDecisions) {
				if _, ok := set.Value(otelobs.AttrTenantID); ok {
					t.Errorf("tenant.id without WithTenantAttribute: %v", set.ToSlice())
				}
			}
			// Every guard decision is timed (sampling 1); the model hook's
			// block (no tenant) is not the guard's.
			for op, want := range map[string]uint64{"SELECT": 5, "INSERT": 2} {
				n, _ := snap.HistogramCount(otelobs.MetricGuardDuration, otelobs.AttrDBOperation.String(op))
				n0, _ := base.HistogramCount(otelobs.MetricGuardDuration, otelobs.AttrDBOperation.String(op))
				if n-n0 != want {
					t.Errorf("%d %s decisions timed, want %d", n-n0, op, want)
				}
			}
			_, bounds := snap.HistogramCount(otelobs.MetricGuardDuration)
			if !slices.Equal(bounds, otelobs.GuardDurationBuckets()) {
				t.Errorf("guard duration bounds %v", bounds)
			}
		})
	}
}

// TestMetricsTenantOptIn: tenant.id only with WithTenantAttribute, capped.
func TestMetricsTenantOptIn(t *testing.T) {
	td, _, rd := openMetricsDB(t, "sqlite", otelobs.WithTenantAttribute(2))
	for _, tn := range []string{"A", "B", "C", "D", "A"} {
		if _, err := td.db.NewSelect().Model((*MetrOrder)(nil)).Count(tenantCtx(t, tn)); err != nil {
			t.Fatal(err)
		}
	}
	snap := rd.Collect()
	for tn, want := range map[string]int64{"A": 2, "B": 1, "C": 0, otelobs.OtherTenant: 2} {
		if got := snap.Sum(otelobs.MetricDecisions, otelobs.AttrDecision.String("scoped"), otelobs.AttrTenantID.String(tn)); got != want {
			t.Errorf("scoped decisions of tenant.id %s: %d, want %d", tn, got, want)
		}
	}
}

// TestMetricsOff: with the gate off nothing is recorded.
func TestMetricsOff(t *testing.T) {
	td, m, rd := openMetricsDB(t, "sqlite")
	m.SetEnabled(false)
	base := rd.Collect()
	before := base.Sum(otelobs.MetricDecisions)
	if _, err := td.db.NewRaw("SELECT id FROM metr_orders").Exec(tenantCtx(t, "A")); !errors.Is(err, scope.ErrUnscopedQuery) {
		t.Fatal(err)
	}
	if _, err := td.db.NewSelect().Model((*MetrOrder)(nil)).Count(tenantCtx(t, "A")); err != nil {
		t.Fatal(err)
	}
	snap := rd.Collect()
	if got := snap.Sum(otelobs.MetricDecisions); got != before {
		t.Errorf("decisions went from %d to %d with the gate off", before, got)
	}
	n, _ := snap.HistogramCount(otelobs.MetricGuardDuration)
	if n0, _ := base.HistogramCount(otelobs.MetricGuardDuration); n != n0 {
		t.Errorf("guard durations went from %d to %d with the gate off", n0, n)
	}
}
