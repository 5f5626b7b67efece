package auditotlp

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

func attrOf(r sdklog.Record, k attribute.Key) (attribute.Value, bool) {
	var v attribute.Value
	found := false
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if kv.Key == k {
			v, found = kv.Value, true
			return false
		}
		return true
	})
	return v, found
}

// TestLossReports: with WithLossReports, a full queue's drops are counted
// and reported as they happen, failed exports as before, and once an export
// succeeds the trail gets one SINK_FAILURE per lost run naming its range.
func TestLossReports(t *testing.T) {
	t.Setenv("OTEL_BLRP_MAX_QUEUE_SIZE", "10")
	exp := &gateExporter{closed: true}
	var stats ExportStats
	var mu sync.Mutex
	var drops, exportErrs int
	bus := auditlog.NewBus()
	lp, err := NewLoggerProvider(context.Background(), WithExporter(exp), WithResource(resource.Empty()), WithStats(&stats),
		WithLossReports(bus), WithErrorHandler(func(err error) {
			mu.Lock()
			defer mu.Unlock()
			var de *DropError
			var ee *ExportError
			switch {
			case errors.As(err, &de):
				drops++
			case errors.As(err, &ee):
				exportErrs++
			default:
				t.Errorf("unexpected: %v", err)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	sink, _ := auditlog.NewOTelSink(lp)
	bus.Register(sink)
	bus.SetCheckpoints(0, 0)
	for range 50 {
		bus.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme"})
	}
	if st := stats.Snapshot(); st.Dropped != 40 || drops != 1 {
		t.Fatalf("while running: %d dropped (stats %+v), %d drop reports; want 40 and 1", st.Dropped, st, drops)
	}
	_ = lp.ForceFlush(context.Background()) // the Collector is down: the 10 queued fail
	exp.setClosed(false)
	bus.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme"})
	_ = lp.ForceFlush(context.Background()) // record 51 goes out; the loss records follow it
	_ = lp.ForceFlush(context.Background())
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := exp.snapshot()
	type run struct{ first, last int64 }
	var runs []run
	seen := map[int64]bool{}
	for _, r := range got {
		if s, ok := attrOf(r, "audit.sequence"); ok {
			seen[s.AsInt64()] = true
		}
		if r.EventName() != string(auditlog.SinkFailure) {
			continue
		}
		f, _ := attrOf(r, AttrLossFirst)
		l, _ := attrOf(r, AttrLossLast)
		runs = append(runs, run{f.AsInt64(), l.AsInt64()})
	}
	covered := map[int64]bool{}
	for _, r := range runs {
		for s := r.first; s <= r.last; s++ {
			covered[s] = true
		}
	}
	for s := int64(1); s <= 51; s++ {
		if seen[s] == covered[s] {
			t.Fatalf("seq %d: exported %v, named lost %v (runs %v)", s, seen[s], covered[s], runs)
		}
	}
	if st := stats.Snapshot(); st.Failed == 0 || exportErrs == 0 || len(runs) < 2 {
		t.Fatalf("stats %+v, %d export errors, loss runs %v", st, exportErrs, runs)
	}
}
