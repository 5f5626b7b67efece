package auditotlp

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/otelobs/metrictest"
)

// auditCounts reads the audit delivery instruments.
func auditCounts(rd *metrictest.Reader) map[string]int64 {
	s := rd.Collect()
	out := map[string]int64{}
	for _, name := range []string{otelobs.MetricAuditEmitted, otelobs.MetricAuditExported, otelobs.MetricAuditFailed,
		otelobs.MetricAuditDropped, otelobs.MetricAuditRetries} {
		out[name] = s.Sum(name)
	}
	out["memory"] = s.Sum(otelobs.MetricAuditQueueSize, otelobs.AttrAuditQueue.String(QueueMemory))
	out["spool"] = s.Sum(otelobs.MetricAuditQueueSize, otelobs.AttrAuditQueue.String(QueueSpool))
	return out
}

// TestMetricsBatchMode: emitted, dropped (full queue), failed (export
// refused), exported, and the in-memory queue's depth, read back from the
// instruments RegisterMetrics registers.
func TestMetricsBatchMode(t *testing.T) {
	t.Setenv("OTEL_BLRP_MAX_QUEUE_SIZE", "10")
	t.Setenv("OTEL_BLRP_SCHEDULE_DELAY", "3600000") // no flush but ours
	exp := &gateExporter{closed: true}
	var stats ExportStats
	lp, err := NewLoggerProvider(context.Background(), WithExporter(exp), WithResource(resource.Empty()), WithStats(&stats),
		WithLossReports(nil), WithErrorHandler(func(error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lp.Shutdown(context.Background()) }()
	mp, rd := metrictest.New(t)
	reg, err := RegisterMetrics(mp, &stats, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink, _ := auditlog.NewOTelSink(lp)
	bus := auditlog.NewBus()
	bus.Register(sink)
	bus.SetCheckpoints(0, 0)
	for range 50 {
		bus.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme"})
	}
	check := func(when string, want map[string]int64) {
		t.Helper()
		got := auditCounts(rd)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %d, want %d (all: %v)", when, k, got[k], v, got)
			}
		}
	}
	check("queue full", map[string]int64{otelobs.MetricAuditEmitted: 50, otelobs.MetricAuditDropped: 40, "memory": 10,
		otelobs.MetricAuditFailed: 0, otelobs.MetricAuditExported: 0, "spool": 0})
	_ = lp.ForceFlush(context.Background()) // the Collector is down
	check("export failed", map[string]int64{otelobs.MetricAuditFailed: 10, "memory": 0})
	exp.setClosed(false)
	bus.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme"})
	_ = lp.ForceFlush(context.Background())
	check("exported", map[string]int64{otelobs.MetricAuditEmitted: 51, otelobs.MetricAuditExported: 1, "memory": 0})

	md, _ := rd.Collect().Find(otelobs.MetricAuditQueueSize)
	if md.Unit != "{record}" {
		t.Errorf("queue size unit %q", md.Unit)
	}
	if name, _ := rd.Collect().Scope(otelobs.MetricAuditEmitted); name != "github.com/tenantshield/tenantshield-go/auditlog/auditotlp" {
		t.Errorf("scope %q", name)
	}
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	if got := rd.Collect().Sum(otelobs.MetricAuditEmitted); got != 0 {
		t.Errorf("emitted = %d after Unregister, want nothing reported", got)
	}
}

// TestMetricsDurableMode: the spool's pending records are the queue size;
// retried exports are counted; once the Collector is back everything is
// exported and the spool drains.
func TestMetricsDurableMode(t *testing.T) {
	t.Parallel()
	exp := &gateExporter{closed: true}
	var stats ExportStats
	d := newTestDurable(t, filepath.Join(t.TempDir(), "spool"), exp, &stats, func(error) {})
	mp, rd := metrictest.New(t)
	if _, err := RegisterMetrics(mp, &stats, d); err != nil {
		t.Fatal(err)
	}
	bus := auditlog.NewBus()
	bus.Register(d)
	bus.SetCheckpoints(0, 0)
	for range 5 {
		bus.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme"})
	}
	waitFor := func(what string, ok func(map[string]int64) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := auditCounts(rd)
			if ok(got) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v", what, got)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("5 pending in the spool, exports retried", func(m map[string]int64) bool {
		return m["spool"] == 5 && m[otelobs.MetricAuditRetries] > 0 && m[otelobs.MetricAuditEmitted] == 5 && m["memory"] == 0
	})
	exp.setClosed(false)
	waitFor("all exported, spool empty", func(m map[string]int64) bool {
		return m["spool"] == 0 && m[otelobs.MetricAuditExported] == 5 && m[otelobs.MetricAuditFailed] == 0
	})
	if err := d.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterMetricsNeedsStats(t *testing.T) {
	if _, err := RegisterMetrics(nil, nil, nil); err == nil {
		t.Fatal("RegisterMetrics(nil stats): no error")
	}
}
