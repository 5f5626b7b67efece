package auditotlp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/auditlog/auditspool"
)

// DurableSink is the "durable" audit delivery mode: an auditlog.Sink whose
// Emit returns only when the record is persisted (fsynced, with group
// commit) in a local spool (package auditlog/auditspool), and a shipper
// that sends the spool to the Collector in sequence order, retries without
// a time limit, and removes records only after the Collector accepted them.
// Records still in the spool when the process stops (a Collector down, a
// crash, a SIGKILL) are shipped by the next DurableSink opened on the same
// directory. Delivery is at least once: a record whose acceptance was not
// yet acknowledged in the spool when the process died is sent again, and a
// reader dedupes by (stream, seq) as `tenantshield audit verify` does.
//
// Emit fails, and the bus reports the failure as a SINK_FAILURE to the
// other sinks and to its error handler, when the record cannot be made
// durable: a write error (a full disk), or a full spool under the
// auditspool.FullDrop policy (counted; under FullBlock, the default here,
// Emit waits for room until its context is done).
type DurableSink struct {
	dir   string
	spool *auditspool.Spool
	maker *recordMaker
	ship  *shipper
	exp   sdklog.Exporter
	stats *ExportStats
	batch int

	onError  func(error)
	blocking bool
	lossBus  *auditlog.Bus // nil: lossTarget's choice
	loss     lossAccount   // records not made durable, named once Emit succeeds again
	drain    chan struct{} // closed by Shutdown: ship what is left, then stop
	abort    context.CancelFunc
	done     chan struct{}
	once     sync.Once
	err      error // of Shutdown
}

// NewDurableSink opens (or creates, mode 0700) the spool directory dir and
// starts shipping it, including what an earlier process left there. dir is
// required: there is no default, and a directory that others can write, a
// symbolic link or one owned by another user is refused
// (auditspool.ErrUnsafeDir). The exporter, resource, stats and error
// handler come from the options as for [NewLoggerProvider];
// [WithSpoolOptions] passes options to auditspool.Open. Close it with
// [DurableSink.Shutdown] after the bus's Shutdown.
func NewDurableSink(ctx context.Context, dir string, opts ...Option) (*DurableSink, error) {
	if dir == "" {
		return nil, errors.New("auditotlp: the durable sink needs a spool directory of its own (no default: a shared directory would let others read or inject audit records)")
	}
	c := config{getenv: os.Getenv}
	for _, o := range opts {
		o.apply(&c)
	}
	exp, res, err := c.exporterAndResource(ctx)
	if err != nil {
		return nil, err
	}
	onError := c.handler()
	policy := auditspool.FullBlock
	if c.blocking {
		policy = auditspool.FullDrop // fail the operation at once rather than hold it
	}
	sp, err := auditspool.Open(dir, append([]auditspool.Option{auditspool.WithFullPolicy(policy),
		auditspool.WithOnCorrupt(func(ce auditspool.CorruptError) { onError(&ce) })}, c.spoolOpts...)...)
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("auditotlp: the durable sink cannot use %s: %w", dir, err)
	}
	shipCtx, abort := context.WithCancel(context.Background())
	d := &DurableSink{dir: dir, spool: sp, maker: newRecordMaker(res), exp: exp, stats: c.stats, batch: 512,
		onError: onError, blocking: c.blocking, lossBus: c.lossBus, drain: make(chan struct{}), abort: abort, done: make(chan struct{})}
	d.ship = newShipper(exp, c.stats, onError)
	d.ship.hurry = d.drain // Shutdown retries at once, not after the backoff
	go d.run(shipCtx)
	return d, nil
}

// WithBlocking makes a durable sink the "blocking" delivery mode: it
// implements auditlog.Blocking, so an operation whose record it cannot make
// durable (a full disk, a full spool) fails with an error matching
// auditlog.ErrNotRecorded instead of going ahead unaudited: bunhook refuses
// the bypassed statement, scope.Bind refuses the binding, and scopehttp
// answers 503. A full spool fails at once (auditspool.FullDrop) unless
// WithSpoolOptions says otherwise.
func WithBlocking() Option { return optionFunc(func(c *config) { c.blocking = true }) }

// Blocking reports whether the sink was made with [WithBlocking].
func (d *DurableSink) Blocking() bool { return d.blocking }

// WithSpoolOptions passes options to auditspool.Open for [NewDurableSink]
// (segment size, total size, full policy, HMAC of the entries).
func WithSpoolOptions(opts ...auditspool.Option) Option {
	return optionFunc(func(c *config) { c.spoolOpts = append(c.spoolOpts, opts...) })
}

// SinkName names the sink in SINK_FAILURE records.
func (d *DurableSink) SinkName() string { return "auditotlp.DurableSink(" + d.dir + ")" }

// Emit persists e in the spool; it returns when e is durable.
func (d *DurableSink) Emit(ctx context.Context, e auditlog.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if d.stats != nil {
		d.stats.emitted.Add(1)
	}
	if _, err := d.spool.Append(ctx, b); err != nil {
		if d.stats != nil {
			d.stats.failed.Add(1) // not durable: a full spool, a write error, a closed sink
		}
		d.loss.note(e.Stream, int64(e.Seq), spoolCause(err))
		return fmt.Errorf("auditotlp: audit record %d of stream %s could not be made durable in %s: %w", e.Seq, e.Stream, d.dir, err)
	}
	if d.loss.pending.Load() {
		d.reportLosses()
	}
	return nil
}

// Skipped notes the sequence number of the SINK_FAILURE record about this
// sink's own failure, which the bus does not deliver to it
// (auditlog.Skipper): it is named with the failed record's run.
func (d *DurableSink) Skipped(e auditlog.Event) {
	d.loss.note(e.Stream, int64(e.Seq), "the SINK_FAILURE records about them")
}

// reportLosses writes a loss record for each run of records this sink
// could not make durable, now that it can again: the trail then names its
// own gaps (`tenantshield audit verify` reports them as gaps; the loss
// records say why). The loss records are ordinary records of the bus,
// delivered to this sink too; one that fails is noted again.
func (d *DurableSink) reportLosses() {
	what := "were not made durable in the spool " + d.dir
	if d.blocking {
		what += " (blocking mode: the operations that checked were refused)"
	}
	for _, l := range d.loss.take() {
		if !emitLoss(context.Background(), d.lossBus, l, what) {
			d.onError(fmt.Errorf("auditotlp: %d audit record(s) of stream %s, sequence %s, %s: %s (no bus to record this on: use WithLossReports)",
				l.last-l.first+1, l.stream, seqRange(l.first, l.last), what, l.cause))
		}
	}
}

// run ships the spool until Shutdown. What the Collector accepted is
// acknowledged in the spool (one fsynced write) every ackEvery records, or
// ackIdle after the spool last ran dry, or at shutdown; not after every
// batch: a crash in between sends those records again, which readers
// dedupe by (stream, seq), and the appends do not wait behind an
// acknowledgement per batch.
func (d *DurableSink) run(ctx context.Context) {
	defer close(d.done)
	draining := false
	var shipped, unacked uint64 // the last seq shipped; records shipped since the last Ack
	ack := func() {
		if unacked == 0 {
			return
		}
		if err := d.spool.Ack(shipped); err != nil {
			d.onError(fmt.Errorf("auditotlp: acknowledging shipped records in %s (they will be sent again): %w", d.dir, err))
		}
		unacked = 0
	}
	defer ack()
	idle := time.NewTimer(ackIdle)
	idle.Stop()
	defer idle.Stop()
	for {
		entries, err := d.spool.Next(ctx, d.batch)
		if err != nil {
			d.onError(fmt.Errorf("auditotlp: reading the spool %s: %w", d.dir, err))
			return
		}
		if len(entries) == 0 {
			if draining {
				return // the deferred ack
			}
			if unacked > 0 {
				idle.Reset(ackIdle)
			}
			select {
			case <-d.spool.Ready():
				// Let a batch form: one read of the spool and one export
				// for the records of the next moment, not one per record.
				if sleepCtx(ctx, linger) != nil {
					return
				}
			case <-idle.C:
				ack()
			case <-d.drain:
				draining = true
			case <-ctx.Done():
				return
			}
			continue
		}
		evs := make([]auditlog.Event, 0, len(entries))
		for _, en := range entries {
			var e auditlog.Event
			if err := json.Unmarshal(en.Payload, &e); err != nil {
				// The spool's checksum passed, so this was written as it
				// is: report it and move on rather than block the rest.
				d.onError(fmt.Errorf("auditotlp: spool entry %d of %s is not an audit record, skipped: %w", en.Seq, d.dir, err))
				continue
			}
			evs = append(evs, e)
		}
		if err := d.ship.ship(ctx, d.maker.records(ctx, evs)); err != nil {
			d.spool.Rewind() // kept for the next run, or the next process
			return
		}
		shipped, unacked = entries[len(entries)-1].Seq, unacked+uint64(len(entries))
		if unacked >= ackEvery {
			ack()
		}
	}
}

// ackEvery bounds the records shipped but not yet acknowledged in the
// spool; ackIdle is how long a quiet shipper waits before acknowledging.
const (
	ackEvery = 4096
	ackIdle  = time.Second
	linger   = 5 * time.Millisecond
)

// Shutdown ships what the spool holds until ctx is done, then stops and
// closes the spool and the exporter. Records not shipped by then stay in
// the spool for the next DurableSink on the directory; the error says how
// many.
func (d *DurableSink) Shutdown(ctx context.Context) error {
	d.once.Do(func() {
		close(d.drain)
		select {
		case <-d.done:
		case <-ctx.Done():
			d.abort()
			<-d.done
		}
		d.abort()
		pending := d.spool.Stats().PendingEntries
		errs := []error{d.spool.Close(), d.maker.shutdown(context.Background()), d.exp.Shutdown(ctx)}
		if pending > 0 {
			errs = append(errs, fmt.Errorf("auditotlp: %d audit record(s) not yet accepted by the Collector stay in %s; the next durable sink on it ships them", pending, d.dir))
		}
		d.err = errors.Join(errs...)
	})
	return d.err
}

// Pending returns how many records the spool holds that the Collector has
// not accepted yet.
func (d *DurableSink) Pending() int { return int(d.spool.Stats().PendingEntries) }

// SpoolStats returns the spool's counters.
func (d *DurableSink) SpoolStats() auditspool.Stats { return d.spool.Stats() }
