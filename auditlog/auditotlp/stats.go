package auditotlp

import (
	"context"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// Stats is a snapshot of the delivery counters of an audit LoggerProvider.
//
// After the provider's Shutdown has returned:
//
//   - Exported records were accepted by the exporter (for OTLP: the Collector
//     answered success, after the exporter's own retries);
//   - Failed records were handed to the exporter and given up on (the
//     exporter returned an error: retries exhausted, export timeout, a
//     non-retryable status, or the exporter was already shut down);
//   - Emitted - Exported - Failed records never reached the exporter: the
//     batch processor's queue was full and dropped its oldest records
//     (it logs "dropped log records" through the OpenTelemetry internal
//     logger), or Shutdown's context expired before they were exported.
type Stats struct {
	Emitted  uint64 // records emitted to the provider
	Exported uint64 // records the exporter accepted
	Failed   uint64 // records the exporter failed to deliver (dropped)
	Retries  uint64 // failed exports retried by a durable sink (nothing dropped)
	Dropped  uint64 // records dropped from a full queue, counted as it happens (WithLossReports)
	Queued   uint64 // records waiting in the batch mode's queue now
}

// Lost is the number of records emitted but not exported: Failed plus those
// that never reached the exporter. Meaningful after Shutdown.
func (s Stats) Lost() uint64 {
	if s.Exported >= s.Emitted {
		return 0
	}
	return s.Emitted - s.Exported
}

// ExportStats collects the counters of [Stats]. The zero value is ready to
// use; pass it to [NewLoggerProvider] with [WithStats] and read it with
// [ExportStats.Snapshot]. Safe for concurrent use.
type ExportStats struct {
	emitted, exported, failed, retries, dropped, queued atomic.Uint64
}

// Snapshot returns the current counters.
func (s *ExportStats) Snapshot() Stats {
	if s == nil {
		return Stats{}
	}
	return Stats{Emitted: s.emitted.Load(), Exported: s.exported.Load(), Failed: s.failed.Load(), Retries: s.retries.Load(), Dropped: s.dropped.Load(),
		Queued: s.queued.Load()}
}

// WithStats makes [NewLoggerProvider] count the records emitted, exported and
// failed into s (see [Stats]). A nil s is ignored.
func WithStats(s *ExportStats) Option {
	return optionFunc(func(c *config) {
		if s != nil {
			c.stats = s
		}
	})
}

// WithErrorHandler replaces the handler that receives an [*ExportError] each
// time records could not be exported. The default is otel.Handle (the
// OpenTelemetry global error handler). A nil h restores the default.
func WithErrorHandler(h func(error)) Option {
	return optionFunc(func(c *config) { c.onError = h })
}

// ExportError reports audit records that the exporter failed to deliver:
// dropped (counted in [Stats.Failed]), or, with Retrying, kept to be sent
// again (a durable sink; counted in [Stats.Retries]).
type ExportError struct {
	Records  int   // records in the failed export
	Err      error // the exporter's error
	Retrying bool  // the records are kept and the export will be retried
}

func (e *ExportError) Error() string {
	if e.Retrying {
		return fmt.Sprintf("auditotlp: exporting %d audit record(s) failed, retrying (they are kept): %v", e.Records, e.Err)
	}
	return fmt.Sprintf("auditotlp: %d audit record(s) dropped: export failed: %v", e.Records, e.Err)
}

func (e *ExportError) Unwrap() error { return e.Err }

// NewCountingExporter wraps exp: it counts the records exp accepts and those
// it fails to export into stats (which may be nil), and reports each failure
// to onError (nil: otel.Handle) as an [*ExportError] naming the number of
// records dropped. Having reported it, it returns nil to the calling
// processor, so that the failure is reported once, not also by the SDK
// processor. [NewLoggerProvider] wraps its exporter with it.
func NewCountingExporter(exp sdklog.Exporter, stats *ExportStats, onError func(error)) sdklog.Exporter {
	if onError == nil {
		onError = otel.Handle
	}
	return &countingExporter{next: exp, stats: stats, onError: onError}
}

type countingExporter struct {
	next    sdklog.Exporter
	stats   *ExportStats
	onError func(error)
}

func (e *countingExporter) Export(ctx context.Context, records []sdklog.Record) error {
	if len(records) == 0 {
		return e.next.Export(ctx, records)
	}
	n := uint64(len(records))
	if err := e.next.Export(ctx, records); err != nil {
		if e.stats != nil {
			e.stats.failed.Add(n)
		}
		e.onError(&ExportError{Records: len(records), Err: err})
		return nil
	}
	if e.stats != nil {
		e.stats.exported.Add(n)
	}
	return nil
}

func (e *countingExporter) Shutdown(ctx context.Context) error   { return e.next.Shutdown(ctx) }
func (e *countingExporter) ForceFlush(ctx context.Context) error { return e.next.ForceFlush(ctx) }

// emitCounter is the processor, first in the chain, that counts the records
// emitted.
type emitCounter struct{ stats *ExportStats }

func (p emitCounter) OnEmit(context.Context, *sdklog.Record) error {
	p.stats.emitted.Add(1)
	return nil
}

func (p emitCounter) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p emitCounter) Shutdown(context.Context) error                         { return nil }
func (p emitCounter) ForceFlush(context.Context) error                       { return nil }
