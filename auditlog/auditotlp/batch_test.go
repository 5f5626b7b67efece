package auditotlp

import (
	"context"
	"errors"
	"strings"
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
	var causes []string
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
		c, _ := attrOf(r, AttrLossCause)
		runs, causes = append(runs, run{f.AsInt64(), l.AsInt64()}), append(causes, c.AsString())
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
	// Touching runs are named by one loss record; its cause names both
	// ways the records were lost.
	all := strings.Join(causes, "; ")
	if st := stats.Snapshot(); st.Failed == 0 || exportErrs == 0 || !strings.Contains(all, "queue full") || !strings.Contains(all, "export failed") {
		t.Fatalf("stats %+v, %d export errors, loss runs %v, causes %q", st, exportErrs, runs, causes)
	}
}

// lossFailExporter fails while closed, and fails the first batch that
// holds a loss record.
type lossFailExporter struct {
	gateExporter
	failedLoss bool
}

func (e *lossFailExporter) Export(ctx context.Context, rs []sdklog.Record) error {
	e.mu.Lock()
	if !e.failedLoss && !e.closed {
		for i := range rs {
			if isLossRecord(&rs[i]) {
				e.failedLoss = true
				e.mu.Unlock()
				return errors.New("connection reset")
			}
		}
	}
	e.mu.Unlock()
	return e.gateExporter.Export(ctx, rs)
}

// TestLossRecordsAreNotLost: a loss record whose export fails is not the
// end of its account: the run it named is named again by a later loss
// record, together with the lost loss record's own sequence number.
func TestLossRecordsAreNotLost(t *testing.T) {
	t.Setenv("OTEL_BLRP_MAX_QUEUE_SIZE", "10")
	exp := &lossFailExporter{gateExporter: gateExporter{closed: true}}
	bus := auditlog.NewBus()
	lp, err := NewLoggerProvider(context.Background(), WithExporter(exp), WithResource(resource.Empty()),
		WithLossReports(bus), WithErrorHandler(func(error) {}))
	if err != nil {
		t.Fatal(err)
	}
	sink, _ := auditlog.NewOTelSink(lp)
	bus.Register(sink)
	bus.SetCheckpoints(0, 0)
	emit := func(n int) {
		for range n {
			bus.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme"})
		}
	}
	emit(30)                                // 20 dropped from the full queue
	_ = lp.ForceFlush(context.Background()) // the other 10 fail
	exp.setClosed(false)
	emit(1)
	_ = lp.ForceFlush(context.Background()) // 31 goes out; its loss record fails
	emit(1)
	for range 3 {
		_ = lp.ForceFlush(context.Background())
	}
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !exp.failedLoss {
		t.Fatal("no loss record export failed: the test did not test anything")
	}
	got, _ := exp.snapshot()
	seen, named := map[int64]bool{}, map[int64]bool{}
	var last int64
	for _, r := range got {
		if s, ok := attrOf(r, "audit.sequence"); ok {
			seen[s.AsInt64()], last = true, max(last, s.AsInt64())
		}
		f, ok1 := attrOf(r, AttrLossFirst)
		l, ok2 := attrOf(r, AttrLossLast)
		if ok1 && ok2 {
			for s := f.AsInt64(); s <= l.AsInt64(); s++ {
				named[s] = true
			}
		}
	}
	for s := int64(1); s <= last; s++ {
		if !seen[s] && !named[s] {
			t.Fatalf("seq %d is missing and no loss record names it (exported %d records)", s, len(got))
		}
	}
}
