package auditotlp

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// Attribute keys of the loss records of the batch mode (SINK_FAILURE
// records that name audit records lost before the Collector took them).
const (
	AttrLossStream = attribute.Key("audit.loss.stream.id")
	AttrLossFirst  = attribute.Key("audit.loss.first_sequence")
	AttrLossLast   = attribute.Key("audit.loss.last_sequence")
	AttrLossCount  = attribute.Key("audit.loss.count")
	AttrLossCause  = attribute.Key("audit.loss.cause")
)

// DropError reports records the batch mode dropped because its queue was
// full (counted in [Stats.Dropped]).
type DropError struct {
	Records int // dropped so far in this overflow
	Queue   int // the queue's size
}

func (e *DropError) Error() string {
	return fmt.Sprintf("auditotlp: the audit queue (%d records) is full: %d record(s) dropped; the Collector is slow or down (use the durable mode, auditotlp.NewDurableSink, to lose nothing)", e.Queue, e.Records)
}

// lossProcessor is the batch mode with its losses made visible: a bounded
// queue in front of the exporter that counts and reports every record it
// drops when full, counts and reports failed exports, and once an export
// succeeds again writes a loss record (SINK_FAILURE) through lossBus for
// each run of sequence numbers that was lost, so that the audit trail
// itself names its gaps.
type lossProcessor struct {
	exp      sdklog.Exporter
	stats    *ExportStats
	onError  func(error)
	lossBus  *auditlog.Bus
	size     int
	batch    int
	interval time.Duration
	timeout  time.Duration

	flushMu sync.Mutex // one flush at a time: a failed export's losses are noted before the next export succeeds
	mu      sync.Mutex
	queue   []sdklog.Record
	losses  []sdklog.Record // loss records: exported first, never dropped for room
	lost    lossAccount     // runs lost since the last loss records
	overrun int             // records dropped in the current overflow
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newLossProcessor(exp sdklog.Exporter, stats *ExportStats, onError func(error), lossBus *auditlog.Bus, size int) *lossProcessor {
	p := &lossProcessor{exp: exp, stats: stats, onError: onError, lossBus: lossBus, size: size, batch: 512,
		interval: time.Second, timeout: 30 * time.Second,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	return p
}

// configure overrides the export interval, the export timeout and the batch
// size (the OTEL_BLRP_* environment) where given, and starts the worker.
func (p *lossProcessor) configure(interval, timeout time.Duration, batch int) {
	if interval > 0 {
		p.interval = interval
	}
	if timeout > 0 {
		p.timeout = timeout
	}
	if batch > 0 {
		p.batch = batch
	}
	go p.run()
}

// OnEmit queues a copy of r, dropping the oldest queued record when full.
func (p *lossProcessor) OnEmit(_ context.Context, r *sdklog.Record) error {
	if isLossRecord(r) {
		// A loss record carries the account of what was lost: dropping it
		// would lose that account with it. There is one per run of lost
		// records, so these stay few.
		p.mu.Lock()
		p.losses = append(p.losses, r.Clone())
		p.mu.Unlock()
		select {
		case p.wake <- struct{}{}:
		default:
		}
		return nil
	}
	p.mu.Lock()
	var dropped *sdklog.Record
	if len(p.queue) >= p.size {
		dropped = &p.queue[0]
		p.noteLost(dropped, "queue full")
		p.queue = p.queue[1:]
		p.overrun++
	}
	p.queue = append(p.queue, r.Clone())
	p.noteQueued()
	full := len(p.queue) >= p.batch
	overrun := p.overrun
	p.mu.Unlock()
	if dropped != nil {
		if p.stats != nil {
			p.stats.dropped.Add(1)
		}
		if overrun == 1 || overrun%1000 == 0 {
			p.onError(&DropError{Records: overrun, Queue: p.size})
		}
	}
	if full {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// noteQueued sets Stats.Queued to the queue's length (p.mu held).
func (p *lossProcessor) noteQueued() {
	if p.stats != nil {
		p.stats.queued.Store(uint64(len(p.queue)))
	}
}

// isLossRecord reports whether r is a loss record (a SINK_FAILURE naming
// a run of lost sequence numbers).
func isLossRecord(r *sdklog.Record) bool {
	if r.EventName() != string(auditlog.SinkFailure) {
		return false
	}
	found := false
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		found = kv.Key == AttrLossFirst
		return !found
	})
	return found
}

// noteLost adds r's sequence number to the lost runs (p.mu held). When r
// is itself a loss record, the run it names is noted again too, so that a
// later loss record names it.
func (p *lossProcessor) noteLost(r *sdklog.Record, cause string) {
	var stream, lossStream, lossCause string
	seq, lossFirst, lossLast := int64(-1), int64(-1), int64(-1)
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		switch kv.Key {
		case auditlog.AttrStream:
			stream = kv.Value.AsString()
		case "audit.sequence":
			seq = kv.Value.AsInt64()
		case AttrLossStream:
			lossStream = kv.Value.AsString()
		case AttrLossFirst:
			lossFirst = kv.Value.AsInt64()
		case AttrLossLast:
			lossLast = kv.Value.AsInt64()
		case AttrLossCause:
			lossCause = kv.Value.AsString()
		}
		return true
	})
	if lossFirst > 0 && lossLast >= lossFirst {
		p.lost.add(lossRun{stream: lossStream, first: lossFirst, last: lossLast, cause: lossCause})
	}
	p.lost.note(stream, seq, cause)
}

func (p *lossProcessor) run() {
	defer close(p.done)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		case <-p.wake:
		}
		p.flush(context.Background(), false)
	}
}

// flush exports the queue in batches (all of it when all is set, else
// while a full batch is queued or once per tick).
func (p *lossProcessor) flush(ctx context.Context, all bool) {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	for {
		p.mu.Lock()
		// Loss records first: they are few, and say what the rest lacks.
		nl := min(len(p.losses), p.batch)
		n := min(len(p.queue), p.batch-nl)
		if nl+n == 0 {
			p.mu.Unlock()
			return
		}
		recs := make([]sdklog.Record, 0, nl+n)
		recs = append(append(recs, p.losses[:nl]...), p.queue[:n]...)
		p.losses, p.queue = p.losses[nl:], p.queue[n:]
		p.noteQueued()
		more := len(p.queue)+len(p.losses) >= p.batch
		p.mu.Unlock()
		p.export(ctx, recs)
		if !all && !more {
			return
		}
	}
}

func (p *lossProcessor) export(ctx context.Context, recs []sdklog.Record) {
	ectx, cancel := context.WithTimeout(ctx, p.timeout)
	err := p.exp.Export(ectx, recs)
	cancel()
	if err != nil {
		if p.stats != nil {
			p.stats.failed.Add(uint64(len(recs)))
		}
		p.mu.Lock()
		for i := range recs {
			p.noteLost(&recs[i], "export failed")
		}
		p.mu.Unlock()
		p.onError(&ExportError{Records: len(recs), Err: err})
		return
	}
	if p.stats != nil {
		p.stats.exported.Add(uint64(len(recs)))
	}
	p.mu.Lock()
	lost := p.lost.take()
	p.overrun = 0
	p.mu.Unlock()
	// The pipeline works again: the trail names what it lost.
	for _, l := range lost {
		emitLoss(ctx, p.lossBus, l, "were lost before the Collector took them")
	}
}

func (p *lossProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }

// ForceFlush exports everything queued.
func (p *lossProcessor) ForceFlush(ctx context.Context) error {
	p.flush(ctx, true)
	return ctx.Err()
}

// Shutdown stops the worker, exports what is queued and shuts the exporter
// down.
func (p *lossProcessor) Shutdown(ctx context.Context) error {
	var err error
	p.once.Do(func() {
		close(p.stop)
		<-p.done
		p.flush(ctx, true)
		err = p.exp.Shutdown(ctx)
	})
	return err
}
