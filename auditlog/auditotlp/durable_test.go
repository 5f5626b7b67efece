package auditotlp

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/auditlog/auditspool"
)

// gateExporter fails while closed is set, and keeps what it accepts.
type gateExporter struct {
	memExporter
	mu     sync.Mutex
	closed bool
	tries  int
}

func (e *gateExporter) setClosed(v bool) { e.mu.Lock(); e.closed = v; e.mu.Unlock() }

func (e *gateExporter) Export(ctx context.Context, rs []sdklog.Record) error {
	e.mu.Lock()
	e.tries++
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return errors.New("connection refused")
	}
	return e.memExporter.Export(ctx, rs)
}

func (e *gateExporter) attempts() int { e.mu.Lock(); defer e.mu.Unlock(); return e.tries }

// seqs returns the audit.sequence of each exported record, in order.
func seqs(t *testing.T, rs []sdklog.Record) []int64 {
	t.Helper()
	var out []int64
	for _, r := range rs {
		found := false
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			if kv.Key == "audit.sequence" {
				out, found = append(out, kv.Value.AsInt64()), true
				return false
			}
			return true
		})
		if !found {
			t.Fatalf("record without audit.sequence: %v", r.EventName())
		}
	}
	return out
}

func newTestDurable(t *testing.T, dir string, exp sdklog.Exporter, stats *ExportStats, onErr func(error)) *DurableSink {
	t.Helper()
	d, err := NewDurableSink(context.Background(), dir, WithExporter(exp), WithResource(resource.Empty()),
		WithStats(stats), WithErrorHandler(onErr))
	if err != nil {
		t.Fatal(err)
	}
	d.ship.initial, d.ship.max = time.Millisecond, 5*time.Millisecond
	return d
}

// TestDurableDeliversInOrder: every record reaches the exporter once, in
// sequence order, and the spool is empty after Shutdown.
func TestDurableDeliversInOrder(t *testing.T) {
	t.Parallel()
	exp := &gateExporter{}
	var stats ExportStats
	d := newTestDurable(t, filepath.Join(t.TempDir(), "spool"), exp, &stats, func(err error) { t.Errorf("unexpected: %v", err) })
	bus := auditlog.NewBus()
	bus.Register(d)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				bus.Emit(context.Background(), auditlog.Event{Type: auditlog.EnforcementViolation, Tenant: "acme", Outcome: auditlog.OutcomeBlocked})
			}
		}()
	}
	wg.Wait()
	_ = bus.Shutdown(context.Background())
	if err := d.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := exp.snapshot()
	ss := seqs(t, got)
	if len(ss) != 401 {
		t.Fatalf("%d records exported, want 400 and the final checkpoint", len(ss))
	}
	// In spool order; the spool's order is the order Emit made them
	// durable, which for concurrent emitters need not be seq order: each
	// seq exactly once is what a reader needs.
	seen := map[int64]bool{}
	for _, s := range ss {
		if seen[s] || s < 1 || s > 401 {
			t.Fatalf("seq %d twice or out of range", s)
		}
		seen[s] = true
	}
	if st := stats.Snapshot(); st.Emitted != 401 || st.Exported != 401 || st.Retries != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDurableSurvivesCollectorOutage: while the Collector refuses, records
// wait in the spool and the exports are retried; when it is back they all
// arrive and nothing is reported lost.
func TestDurableSurvivesCollectorOutage(t *testing.T) {
	t.Parallel()
	exp := &gateExporter{closed: true}
	var stats ExportStats
	var mu sync.Mutex
	var retrying int
	d := newTestDurable(t, filepath.Join(t.TempDir(), "spool"), exp, &stats, func(err error) {
		var ee *ExportError
		if !errors.As(err, &ee) || !ee.Retrying {
			t.Errorf("unexpected: %v", err)
		}
		mu.Lock()
		retrying++
		mu.Unlock()
	})
	bus := auditlog.NewBus()
	bus.Register(d)
	for range 100 {
		bus.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme", Outcome: auditlog.OutcomeSuccess})
	}
	for exp.attempts() < 3 { // the shipper keeps trying
		time.Sleep(time.Millisecond)
	}
	if d.Pending() == 0 {
		t.Fatal("records left the spool while the Collector refused them")
	}
	exp.setClosed(false)
	_ = bus.Shutdown(context.Background())
	if err := d.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := exp.snapshot()
	if len(got) != 101 || stats.Snapshot().Retries == 0 || retrying == 0 {
		t.Fatalf("%d exported, stats %+v, %d retry reports", len(got), stats.Snapshot(), retrying)
	}
}

// TestDurableReplaysAfterRestart: a process that stops (or dies) with the
// Collector down leaves its records in the spool; the next durable sink on
// the directory ships them, before and with its own.
func TestDurableReplaysAfterRestart(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "spool")
	down := &gateExporter{closed: true}
	d1 := newTestDurable(t, dir, down, nil, func(error) {})
	bus1 := auditlog.NewBus()
	bus1.Register(d1)
	for range 30 {
		bus1.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := d1.Shutdown(ctx) // the Collector never answers: the records stay
	if err == nil || d1.Pending() != 30 {
		t.Fatalf("Shutdown with the Collector down: %v, %d pending; want an error naming 30", err, d1.Pending())
	}

	up := &gateExporter{}
	d2 := newTestDurable(t, dir, up, nil, func(err error) { t.Errorf("unexpected: %v", err) })
	bus2 := auditlog.NewBus()
	bus2.Register(d2)
	bus2.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "globex"})
	if err := d2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := up.snapshot()
	if len(got) != 31 {
		t.Fatalf("%d records shipped after the restart, want the 30 left and 1 new", len(got))
	}
	if ss := seqs(t, got[:30]); ss[0] != 1 || ss[29] != 30 {
		t.Fatalf("the replayed records come first, in order: %v", ss)
	}
}

// TestDurableRefusesUnsafeDirectories: no default directory, and one that
// others may write is refused with the spool's explanation.
func TestDurableRefusesUnsafeDirectories(t *testing.T) {
	t.Parallel()
	if _, err := NewDurableSink(context.Background(), "", WithExporter(&memExporter{})); err == nil {
		t.Fatal("no directory: no error")
	}
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	exp := &memExporter{}
	_, err := NewDurableSink(context.Background(), dir, WithExporter(exp))
	if !errors.Is(err, auditspool.ErrUnsafeDir) {
		t.Fatalf("a world-writable directory: %v, want ErrUnsafeDir", err)
	}
	if _, shut := exp.snapshot(); !shut {
		t.Fatal("the exporter was left running")
	}
}

// TestDurableEmitFailsWhenFull: under FullDrop a record that does not fit
// fails its Emit (the bus reports it), and is counted as failed.
func TestDurableEmitFailsWhenFull(t *testing.T) {
	t.Parallel()
	exp := &gateExporter{closed: true}
	var stats ExportStats
	d, err := NewDurableSink(context.Background(), filepath.Join(t.TempDir(), "spool"), WithExporter(exp),
		WithResource(resource.Empty()), WithStats(&stats), WithErrorHandler(func(error) {}),
		WithSpoolOptions(auditspool.WithSegmentSize(4096), auditspool.WithMaxBytes(8192), auditspool.WithFullPolicy(auditspool.FullDrop)))
	if err != nil {
		t.Fatal(err)
	}
	var failures []error
	bus := auditlog.NewBus(auditlog.WithErrorHandler(func(err error) { failures = append(failures, err) }))
	bus.Register(d)
	for range 200 {
		bus.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme"})
	}
	if len(failures) == 0 || !errors.Is(failures[0], auditspool.ErrFull) || stats.Snapshot().Failed == 0 {
		t.Fatalf("a full spool: %d failures (%v), stats %+v", len(failures), failures, stats.Snapshot())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_ = d.Shutdown(ctx)
}

// TestDurableBlocking: WithBlocking makes the sink blocking: once the spool
// is full (the Collector down), EmitChecked fails with ErrNotRecorded at
// once instead of waiting, so the audited operation is refused.
func TestDurableBlocking(t *testing.T) {
	t.Parallel()
	d, err := NewDurableSink(context.Background(), filepath.Join(t.TempDir(), "spool"), WithExporter(&gateExporter{closed: true}),
		WithResource(resource.Empty()), WithErrorHandler(func(error) {}), WithBlocking(),
		WithSpoolOptions(auditspool.WithSegmentSize(4096), auditspool.WithMaxBytes(8192)))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Blocking() {
		t.Fatal("WithBlocking: not blocking")
	}
	bus := auditlog.NewBus(auditlog.WithErrorHandler(func(error) {}))
	bus.Register(d)
	var refused error
	for i := 0; i < 200 && refused == nil; i++ {
		refused = bus.EmitChecked(context.Background(), auditlog.Event{Type: auditlog.EnforcementBypass, Tenant: "acme"})
	}
	if !errors.Is(refused, auditlog.ErrNotRecorded) || !errors.Is(refused, auditspool.ErrFull) {
		t.Fatalf("a full spool in blocking mode: %v", refused)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_ = d.Shutdown(ctx)
}

// TestDurableNamesWhatItCouldNotStore: in blocking mode with the Collector
// down, the spool fills and operations are refused; once the Collector is
// back and the spool drains, the next record makes the sink write loss
// records. Every sequence number missing from what the Collector received
// (the refused records and the SINK_FAILURE records about them, which the
// bus did not deliver to the failing sink) is named by exactly one loss
// record.
func TestDurableNamesWhatItCouldNotStore(t *testing.T) {
	t.Parallel()
	exp := &gateExporter{closed: true}
	bus := auditlog.NewBus(auditlog.WithErrorHandler(func(error) {}))
	d, err := NewDurableSink(context.Background(), filepath.Join(t.TempDir(), "spool"), WithExporter(exp),
		WithResource(resource.Empty()), WithErrorHandler(func(error) {}), WithBlocking(), WithLossReports(bus),
		WithSpoolOptions(auditspool.WithSegmentSize(4096), auditspool.WithMaxBytes(8192)))
	if err != nil {
		t.Fatal(err)
	}
	d.ship.initial, d.ship.max = time.Millisecond, 5*time.Millisecond
	bus.Register(d)
	refused := 0
	for range 100 {
		if err := bus.EmitChecked(context.Background(), auditlog.Event{Type: auditlog.EnforcementBypass, Tenant: "acme"}); err != nil {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("the spool never filled: nothing to name")
	}
	exp.setClosed(false)
	for i := 0; d.Pending() > 0; i++ {
		if i == 2000 {
			t.Fatalf("the spool did not drain: %d pending", d.Pending())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A loss record that finds the small spool full again is itself noted
	// and named by the next one; a few more records settle the account.
	for i := 0; d.loss.pending.Load(); i++ {
		if i == 50 {
			t.Fatal("the loss account never settled")
		}
		for d.Pending() > 0 {
			time.Sleep(5 * time.Millisecond)
		}
		_ = bus.EmitChecked(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme"})
	}
	if err := bus.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rs, _ := exp.snapshot()
	got := map[int64]bool{}
	for _, s := range seqs(t, rs) {
		got[s] = true
	}
	named := map[int64]int{}
	for _, r := range rs {
		first, ok1 := attrOf(r, AttrLossFirst)
		last, ok2 := attrOf(r, AttrLossLast)
		if !ok1 || !ok2 {
			continue
		}
		for s := first.AsInt64(); s <= last.AsInt64(); s++ {
			named[s]++
		}
	}
	var maxSeq int64
	for s := range got {
		maxSeq = max(maxSeq, s)
	}
	missing := 0
	for s := int64(1); s <= maxSeq; s++ {
		if got[s] {
			if named[s] > 0 {
				t.Errorf("seq %d was received but a loss record names it", s)
			}
			continue
		}
		missing++
		if named[s] != 1 {
			t.Errorf("seq %d is missing and named by %d loss records, want 1", s, named[s])
		}
	}
	// Each refusal loses the record and the SINK_FAILURE about it (and a
	// loss record that found the spool full, the same two).
	if missing < 2*refused || missing%2 != 0 {
		t.Errorf("%d sequence numbers missing for %d refused records, want 2 per refusal", missing, refused)
	}
}

// TestDurableShutdownCutsTheBackoff: a shipper sleeping in a long backoff
// after an outage tries again as soon as Shutdown starts, so a graceful
// stop after the Collector came back delivers what the spool holds instead
// of leaving it for the next process.
func TestDurableShutdownCutsTheBackoff(t *testing.T) {
	t.Parallel()
	exp := &gateExporter{closed: true}
	d := newTestDurable(t, filepath.Join(t.TempDir(), "spool"), exp, nil, func(error) {})
	d.ship.initial, d.ship.max = time.Hour, time.Hour // without the cut: an hour's wait
	bus := auditlog.NewBus()
	bus.Register(d)
	for range 5 {
		bus.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme"})
	}
	for i := 0; exp.attempts() == 0; i++ {
		if i == 1000 {
			t.Fatal("no export attempt")
		}
		time.Sleep(5 * time.Millisecond)
	}
	exp.setClosed(false) // the Collector is back; the shipper sleeps
	if err := bus.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown after the outage: %v", err)
	}
	rs, _ := exp.snapshot()
	if got := seqs(t, rs); len(got) != 6 { // 5 records and the final checkpoint
		t.Fatalf("exported %v, want 6 records", got)
	}
}
