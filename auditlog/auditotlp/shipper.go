package auditotlp

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// recordMaker turns audit events into SDK log records exactly as an
// auditlog.OTelSink on a provider with the given resource emits them
// (attributes, event name, severity, trace context, resource and
// instrumentation scope), without exporting them: a shipper that reads
// events back from a spool exports the records itself and learns whether
// the Collector took them.
type recordMaker struct {
	sink    *auditlog.OTelSink
	lp      *sdklog.LoggerProvider
	capture *captureProcessor
}

func newRecordMaker(res *resource.Resource) *recordMaker {
	c := &captureProcessor{}
	lp := sdklog.NewLoggerProvider(append(noLimits(), sdklog.WithResource(res), sdklog.WithProcessor(c))...)
	sink, err := auditlog.NewOTelSink(lp)
	if err != nil {
		panic("auditotlp: " + err.Error()) // a non-nil provider: cannot happen
	}
	return &recordMaker{sink: sink, lp: lp, capture: c}
}

// records returns the log records of evs, in order.
func (m *recordMaker) records(ctx context.Context, evs []auditlog.Event) []sdklog.Record {
	m.capture.mu.Lock()
	m.capture.recs = make([]sdklog.Record, 0, len(evs))
	m.capture.mu.Unlock()
	for _, e := range evs {
		_ = m.sink.Emit(ctx, e)
	}
	m.capture.mu.Lock()
	defer m.capture.mu.Unlock()
	out := m.capture.recs
	m.capture.recs = nil
	return out
}

func (m *recordMaker) shutdown(ctx context.Context) error { return m.lp.Shutdown(ctx) }

// captureProcessor keeps the records emitted to it.
type captureProcessor struct {
	mu   sync.Mutex
	recs []sdklog.Record
}

func (p *captureProcessor) OnEmit(_ context.Context, r *sdklog.Record) error {
	p.mu.Lock()
	p.recs = append(p.recs, r.Clone())
	p.mu.Unlock()
	return nil
}

func (p *captureProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *captureProcessor) Shutdown(context.Context) error                         { return nil }
func (p *captureProcessor) ForceFlush(context.Context) error                       { return nil }

// shipper exports batches of records in order, retrying a failed export
// with capped, jittered backoff and no time limit: it returns only when the
// exporter accepted the batch or ctx is done.
type shipper struct {
	exp     sdklog.Exporter
	onError func(error)
	stats   *ExportStats
	// backoff bounds (tests shorten them)
	initial, max time.Duration
	sleep        func(ctx context.Context, d time.Duration, wake <-chan struct{}) error
	// hurry, when closed (the durable sink's Shutdown), cuts the backoff
	// to initial, waking a sleep in progress: a shutdown after a long
	// outage tries again at once instead of after up to max.
	hurry <-chan struct{}
}

func newShipper(exp sdklog.Exporter, stats *ExportStats, onError func(error)) *shipper {
	return &shipper{exp: exp, stats: stats, onError: onError, initial: 200 * time.Millisecond, max: 30 * time.Second, sleep: sleepUntil}
}

// ship exports recs until the exporter accepts them. Each failed attempt
// is reported to onError as an *ExportError with Retrying set (the records
// are kept, not dropped) and counted in Stats.Retries.
func (s *shipper) ship(ctx context.Context, recs []sdklog.Record) error {
	delay := s.initial
	for {
		err := s.exp.Export(ctx, recs)
		if err == nil {
			if s.stats != nil {
				s.stats.exported.Add(uint64(len(recs)))
			}
			return nil
		}
		if s.stats != nil {
			s.stats.retries.Add(1)
		}
		if s.onError != nil {
			s.onError(&ExportError{Records: len(recs), Err: err, Retrying: true})
		}
		if s.hurried() {
			delay = s.initial
		}
		if err := s.pause(ctx, delay/2+rand.N(delay/2+1)); err != nil {
			return err
		}
		delay = min(2*delay, s.max)
	}
}

// hurried reports whether hurry is closed.
func (s *shipper) hurried() bool {
	select {
	case <-s.hurry:
		return true
	default:
		return false
	}
}

// pause sleeps d, or until hurry closes (if it is not closed yet).
func (s *shipper) pause(ctx context.Context, d time.Duration) error {
	wake := s.hurry
	if s.hurried() {
		wake = nil // closed: the delay is already cut to initial
	}
	return s.sleep(ctx, d, wake)
}

func sleepCtx(ctx context.Context, d time.Duration) error { return sleepUntil(ctx, d, nil) }

// sleepUntil sleeps d, returning early with nil when wake closes, or with
// ctx's error when ctx is done.
func sleepUntil(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
