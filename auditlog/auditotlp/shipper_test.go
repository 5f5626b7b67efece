package auditotlp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// failNExporter fails its first fails exports, then keeps what it is given.
type failNExporter struct {
	memExporter
	mu    sync.Mutex
	fails int
	calls int
}

func (e *failNExporter) Export(ctx context.Context, rs []sdklog.Record) error {
	e.mu.Lock()
	e.calls++
	fail := e.calls <= e.fails
	e.mu.Unlock()
	if fail {
		return errors.New("collector unavailable")
	}
	return e.memExporter.Export(ctx, rs)
}

func sealedEvents(t *testing.T, n int) []auditlog.Event {
	t.Helper()
	sink := auditlog.NewMemorySink()
	bus := auditlog.NewBus()
	bus.Register(sink)
	for i := range n {
		bus.Emit(context.Background(), auditlog.Event{Type: auditlog.EnforcementViolation, Tenant: "acme",
			Outcome: auditlog.OutcomeBlocked, Reason: fmt.Sprint(i), Attributes: []attribute.KeyValue{attribute.Int("i", i)}})
	}
	return sink.Events()
}

// TestRecordMakerMatchesOTelSink: the records a shipper exports are those an
// OTelSink on a provider with the same resource would have exported.
func TestRecordMakerMatchesOTelSink(t *testing.T) {
	t.Parallel()
	res := resource.NewSchemaless(attribute.String("service.name", "billing"))
	evs := sealedEvents(t, 3)

	direct := &memExporter{}
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewSimpleProcessor(direct)))
	sink, _ := auditlog.NewOTelSink(lp)
	for _, e := range evs {
		_ = sink.Emit(context.Background(), e)
	}
	_ = lp.Shutdown(context.Background())
	want, _ := direct.snapshot()

	m := newRecordMaker(res)
	got := m.records(context.Background(), evs)
	_ = m.shutdown(context.Background())
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.EventName() != w.EventName() || !g.Timestamp().Equal(w.Timestamp()) || g.Severity() != w.Severity() ||
			g.Resource().Equivalent() != w.Resource().Equivalent() || g.InstrumentationScope() != w.InstrumentationScope() ||
			fmt.Sprint(attrs(g)) != fmt.Sprint(attrs(w)) || g.Body().String() != w.Body().String() {
			t.Fatalf("record %d differs:\n got %v %v\nwant %v %v", i, g.EventName(), attrs(g), w.EventName(), attrs(w))
		}
	}
}

func attrs(r sdklog.Record) map[string]string {
	m := map[string]string{}
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		m[string(kv.Key)] = kv.Value.String()
		return true
	})
	return m
}

// TestShipperRetriesWithoutLimit: a batch is exported again after each
// failure, reported as retrying and counted, until the exporter takes it;
// only the context ends the retries.
func TestShipperRetriesWithoutLimit(t *testing.T) {
	t.Parallel()
	exp := &failNExporter{fails: 7}
	var stats ExportStats
	var errs []error
	s := newShipper(exp, &stats, func(err error) { errs = append(errs, err) })
	var slept []time.Duration
	s.sleep = func(_ context.Context, d time.Duration, _ <-chan struct{}) error {
		slept = append(slept, d)
		return nil
	}
	s.initial, s.max = 10*time.Millisecond, 40*time.Millisecond
	m := newRecordMaker(resource.Empty())
	defer func() { _ = m.shutdown(context.Background()) }()
	if err := s.ship(context.Background(), m.records(context.Background(), sealedEvents(t, 4))); err != nil {
		t.Fatal(err)
	}
	got, _ := exp.snapshot()
	st := stats.Snapshot()
	if len(got) != 4 || st.Exported != 4 || st.Retries != 7 || len(errs) != 7 {
		t.Fatalf("exported %d (stats %+v), %d errors; want 4 records after 7 retries", len(got), st, len(errs))
	}
	var ee *ExportError
	if !errors.As(errs[0], &ee) || !ee.Retrying || ee.Records != 4 {
		t.Fatalf("error %v: want a retrying *ExportError for 4 records", errs[0])
	}
	for _, d := range slept {
		if d > 40*time.Millisecond {
			t.Fatalf("backoff %v above its cap", d)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	never := &failNExporter{fails: 1 << 30}
	s2 := newShipper(never, nil, nil)
	if err := s2.ship(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled context: %v", err)
	}
}
