package auditotlp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/auditlog/auditspool"
)

// lossRun is a run of consecutive sequence numbers of one stream that a
// delivery mode lost, and why.
type lossRun struct {
	stream      string
	first, last int64
	cause       string
}

// lossTarget is the bus that records a loss of stream's records: bus when
// one was given (WithLossReports), else the default bus when stream is its
// stream (the usual setup, a sink registered with auditlog.Register), else
// none: a loss record must join the stream whose gap it names.
func lossTarget(bus *auditlog.Bus, stream string) *auditlog.Bus {
	if bus != nil {
		return bus
	}
	if d := auditlog.Default(); stream != "" && d.Stream() == stream {
		return d
	}
	return nil
}

// emitLoss writes the loss record of l (a SINK_FAILURE naming the stream
// and the range, attributes audit.loss.*) through bus, or lossTarget's
// choice when bus is nil. what says where the records were lost. It
// reports whether a bus took it.
func emitLoss(ctx context.Context, bus *auditlog.Bus, l lossRun, what string) bool {
	bus = lossTarget(bus, l.stream)
	if bus == nil {
		return false
	}
	n := l.last - l.first + 1
	bus.Emit(ctx, auditlog.Event{Type: auditlog.SinkFailure, Outcome: auditlog.OutcomeFailure,
		Reason: fmt.Sprintf("%d audit record(s) of stream %s, sequence %s, %s: %s",
			n, l.stream, seqRange(l.first, l.last), what, l.cause),
		Attributes: []attribute.KeyValue{AttrLossStream.String(l.stream), AttrLossFirst.Int64(l.first),
			AttrLossLast.Int64(l.last), AttrLossCount.Int64(n), AttrLossCause.String(l.cause)}})
	return true
}

func seqRange(first, last int64) string {
	if first == last {
		return strconv.FormatInt(first, 10)
	}
	return strconv.FormatInt(first, 10) + "-" + strconv.FormatInt(last, 10)
}

// lossAccount collects the sequence numbers a sink could not record, in
// any order (concurrent emitters fail out of order), as coalesced runs.
type lossAccount struct {
	pending atomic.Bool // a cheap check on every Emit
	mu      sync.Mutex
	runs    []lossRun
}

// note adds seq of stream, lost for cause.
func (a *lossAccount) note(stream string, seq int64, cause string) {
	if seq <= 0 {
		return // not stamped by a bus: nothing to name
	}
	a.add(lossRun{stream: stream, first: seq, last: seq, cause: cause})
}

// add adds the run r.
func (a *lossAccount) add(r lossRun) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := len(a.runs); n > 0 {
		l := &a.runs[n-1]
		if l.stream == r.stream && r.first == l.last+1 {
			l.last, l.cause = r.last, joinCause(l.cause, r.cause)
			a.pending.Store(true)
			return
		}
	}
	a.runs = append(a.runs, r)
	if len(a.runs) >= 4096 {
		a.runs = coalesce(a.runs) // bounded memory during a long outage
	}
	a.pending.Store(true)
}

// take returns the runs noted so far, sorted and coalesced, and forgets
// them.
func (a *lossAccount) take() []lossRun {
	if !a.pending.Load() {
		return nil
	}
	a.mu.Lock()
	runs := a.runs
	a.runs = nil
	a.pending.Store(false)
	a.mu.Unlock()
	return coalesce(runs)
}

// coalesce sorts runs by stream and first sequence number and merges the
// ones that touch or overlap, joining their causes.
func coalesce(runs []lossRun) []lossRun {
	slices.SortFunc(runs, func(x, y lossRun) int {
		return cmp.Or(cmp.Compare(x.stream, y.stream), cmp.Compare(x.first, y.first))
	})
	out := runs[:0]
	for _, r := range runs {
		if n := len(out); n > 0 {
			l := &out[n-1]
			if l.stream == r.stream && r.first <= l.last+1 {
				l.last, l.cause = max(l.last, r.last), joinCause(l.cause, r.cause)
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// joinCause adds cause to the "; "-separated causes of a run, once.
func joinCause(causes, cause string) string {
	if causes == "" {
		return cause
	}
	for c := range strings.SplitSeq(causes, "; ") {
		if c == cause {
			return causes
		}
	}
	return causes + "; " + cause
}

// spoolCause names why the spool did not take a record, for loss records.
func spoolCause(err error) string {
	var we *auditspool.WriteError
	switch {
	case errors.Is(err, auditspool.ErrFull):
		return "spool full"
	case errors.As(err, &we):
		return "spool " + we.Op + " failed"
	case errors.Is(err, auditspool.ErrClosed):
		return "sink shut down"
	case errors.Is(err, auditspool.ErrTooLarge):
		return "record too large"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "caller gave up waiting"
	default:
		return "not durable"
	}
}
