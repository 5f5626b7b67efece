package auditotlp

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// flakyExporter fails while down is set, and otherwise accepts.
type flakyExporter struct {
	down     atomic.Bool
	accepted atomic.Int64
}

var errCollectorDown = errors.New("connection refused")

func (e *flakyExporter) Export(_ context.Context, rs []sdklog.Record) error {
	if e.down.Load() {
		return errCollectorDown
	}
	e.accepted.Add(int64(len(rs)))
	return nil
}
func (e *flakyExporter) Shutdown(context.Context) error   { return nil }
func (e *flakyExporter) ForceFlush(context.Context) error { return nil }

type errorSink struct {
	mu   sync.Mutex
	errs []error
}

func (s *errorSink) handle(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

func (s *errorSink) all() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

func TestStatsCountFailedAndExported(t *testing.T) {
	for _, sync := range []bool{false, true} {
		name := "batch"
		if sync {
			name = "synchronous"
		}
		t.Run(name, func(t *testing.T) {
			exp := &flakyExporter{}
			exp.down.Store(true)
			var stats ExportStats
			var handled errorSink
			opts := []Option{WithExporter(exp), WithStats(&stats), WithErrorHandler(handled.handle)}
			if sync {
				opts = append(opts, WithSynchronousExport())
			}
			lp, err := NewLoggerProvider(context.Background(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			emitAudit(t, lp, 3)
			if err := lp.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
			exp.down.Store(false)
			emitAudit(t, lp, 2)
			if err := lp.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}

			got := stats.Snapshot()
			want := Stats{Emitted: 5, Exported: 2, Failed: 3}
			if got != want {
				t.Fatalf("stats = %+v, want %+v", got, want)
			}
			if got.Lost() != 3 {
				t.Errorf("Lost() = %d, want 3", got.Lost())
			}
			if exp.accepted.Load() != 2 {
				t.Errorf("exporter accepted %d, want 2", exp.accepted.Load())
			}
			var total int
			for _, err := range handled.all() {
				var ee *ExportError
				if !errors.As(err, &ee) {
					t.Fatalf("handler got %T %v, want *ExportError", err, err)
				}
				if !errors.Is(err, errCollectorDown) {
					t.Errorf("%v does not wrap the exporter's error", err)
				}
				if !strings.Contains(err.Error(), "dropped") {
					t.Errorf("error %q does not say the records were dropped", err)
				}
				total += ee.Records
			}
			if total != 3 {
				t.Errorf("errors name %d records in all, want 3 (%v)", total, handled.all())
			}
		})
	}
}

func TestStatsCountQueueDrops(t *testing.T) {
	// A queue of 2 and no export before Shutdown: Shutdown exports what the
	// queue holds; the rest was dropped by the batch processor and never
	// reached the exporter, which Emitted - Exported - Failed shows.
	exp := &flakyExporter{}
	var stats ExportStats
	lp, err := NewLoggerProvider(context.Background(), WithExporter(exp), WithStats(&stats),
		WithBatchOptions(sdklog.WithMaxQueueSize(2), sdklog.WithExportMaxBatchSize(2), sdklog.WithExportInterval(1<<40)),
		WithErrorHandler(func(error) {}))
	if err != nil {
		t.Fatal(err)
	}
	emitAudit(t, lp, 10)
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := stats.Snapshot()
	if s.Emitted != 10 || s.Failed != 0 || s.Exported == 0 || s.Exported > 10 {
		t.Fatalf("stats = %+v", s)
	}
	if s.Lost() != 10-s.Exported {
		t.Errorf("Lost() = %d with %+v", s.Lost(), s)
	}
}

func TestCountingExporterDefaultsAndNilStats(t *testing.T) {
	exp := &flakyExporter{}
	exp.down.Store(true)
	var handled errorSink
	ce := NewCountingExporter(exp, nil, handled.handle)
	if err := ce.Export(context.Background(), make([]sdklog.Record, 4)); err != nil {
		t.Fatalf("Export returned %v; the failure is reported to the handler instead", err)
	}
	errs := handled.all()
	if len(errs) != 1 {
		t.Fatalf("handler called %d times", len(errs))
	}
	var ee *ExportError
	if !errors.As(errs[0], &ee) || ee.Records != 4 || !strings.Contains(ee.Error(), "4 audit record(s) dropped") {
		t.Fatalf("got %v", errs[0])
	}
	exp.down.Store(false)
	if err := ce.Export(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	var nilStats *ExportStats
	if nilStats.Snapshot() != (Stats{}) {
		t.Error("nil ExportStats snapshot is not zero")
	}
	if NewCountingExporter(exp, nil, nil).(*countingExporter).onError == nil {
		t.Error("no default error handler")
	}
}
