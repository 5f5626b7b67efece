package auditlog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/internal/telemetry"
)

// Sink records audit events.
//
// Emit is called synchronously on the path of the operation being audited, so
// it should be fast; a sink that needs to do slow I/O should buffer. Emit may
// be called concurrently from many goroutines. It must treat the event as
// read-only. An error or a panic is isolated by the [Bus] (see the package
// documentation); it never reaches the audited operation.
//
// A sink is registered by identity, so its dynamic type must be comparable
// (use a pointer type).
type Sink interface {
	Emit(ctx context.Context, e Event) error
}

// ErrSinkFailed is matched (errors.Is) by every [SinkError].
var ErrSinkFailed = errors.New("auditlog: sink failed")

// SinkError reports that a sink failed to record an event.
type SinkError struct {
	Sink      string // the failing sink's type, e.g. "*auditlog.JSONSink"
	EventType Type   // the type of the event it failed to record
	EventID   string // the ID of that event
	Err       error  // what the sink returned, or the recovered panic as an error
	Panicked  bool   // whether the sink panicked
}

func (e *SinkError) Error() string {
	how := "failed"
	if e.Panicked {
		how = "panicked"
	}
	return fmt.Sprintf("auditlog: sink %s %s recording %s event %s: %v (the event was delivered to the other sinks; fix or unregister this sink)",
		e.Sink, how, e.EventType, e.EventID, e.Err)
}

// Unwrap returns the sink's own error.
func (e *SinkError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrSinkFailed].
func (e *SinkError) Is(target error) bool { return target == ErrSinkFailed }

// Attribute keys of SINK_FAILURE events.
const (
	AttrSinkType          = telemetry.AuditSinkType
	AttrOriginalEventType = telemetry.AuditOriginalEventType
	AttrOriginalEventID   = telemetry.AuditOriginalEventID
	AttrErrorType         = telemetry.ErrorType
)

// Bus delivers events to registered sinks. The zero value is not usable; use
// [NewBus] or [Default]. A Bus is safe for concurrent use.
type Bus struct {
	mu       sync.Mutex             // serialises Register/Unregister
	sinks    atomic.Pointer[[]Sink] // copy-on-write snapshot read by Emit
	chain    chain                  // the stream: sequence, hash chain, keys, checkpoints
	failures atomic.Uint64
	unheard  atomic.Uint64 // alerts emitted while no sink was registered
	onError  func(error)
}

// Option configures a [Bus].
type Option interface{ apply(*Bus) }

type optionFunc func(*Bus)

func (f optionFunc) apply(b *Bus) { f(b) }

// WithErrorHandler sets the function that receives every sink failure (a
// [*SinkError]). The default is otel.Handle, which hands the error to the
// OpenTelemetry global error handler. A nil fn is ignored.
func WithErrorHandler(fn func(error)) Option {
	return optionFunc(func(b *Bus) {
		if fn != nil {
			b.onError = fn
		}
	})
}

// NewBus returns a bus with no sinks.
func NewBus(opts ...Option) *Bus {
	b := &Bus{onError: otel.Handle}
	b.chain.init(time.Now())
	for _, o := range opts {
		o.apply(b)
	}
	return b
}

var defaultBus = NewBus()

// Default returns the process-wide bus that TenantShield's packages use unless
// they are given another one.
func Default() *Bus { return defaultBus }

// Register adds s to the default bus. See [Bus.Register].
func Register(s Sink) { defaultBus.Register(s) }

// Unregister removes s from the default bus. See [Bus.Unregister].
func Unregister(s Sink) { defaultBus.Unregister(s) }

// Emit delivers e through the default bus. See [Bus.Emit].
func Emit(ctx context.Context, e Event) { defaultBus.Emit(ctx, e) }

// Enabled reports whether the default bus has a sink.
func Enabled() bool { return defaultBus.Enabled() }

// Register adds s after the sinks already registered. Registering a sink that
// is already registered does nothing. It panics if s is nil or its dynamic type
// is not comparable, which are programming errors.
func (b *Bus) Register(s Sink) {
	if s == nil {
		panic("auditlog: Register called with a nil Sink")
	}
	if !reflect.ValueOf(s).Comparable() {
		panic(fmt.Sprintf("auditlog: Register needs a comparable Sink (use a pointer); %T is not comparable", s))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.snapshot()
	for _, x := range cur {
		if x == s {
			return
		}
	}
	next := make([]Sink, len(cur), len(cur)+1)
	copy(next, cur)
	next = append(next, s)
	b.sinks.Store(&next)
}

// Unregister removes s. Removing a sink that is not registered does nothing.
func (b *Bus) Unregister(s Sink) {
	if s == nil || !reflect.ValueOf(s).Comparable() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.snapshot()
	next := make([]Sink, 0, len(cur))
	for _, x := range cur {
		if x != s {
			next = append(next, x)
		}
	}
	if len(next) == len(cur) {
		return
	}
	b.sinks.Store(&next)
}

// Sinks returns the registered sinks in registration order.
func (b *Bus) Sinks() []Sink {
	cur := b.snapshot()
	out := make([]Sink, len(cur))
	copy(out, cur)
	return out
}

func (b *Bus) snapshot() []Sink {
	if p := b.sinks.Load(); p != nil {
		return *p
	}
	return nil
}

// Enabled reports whether at least one sink is registered. Emitters check it
// before building an event; it costs one atomic load. A nil *Bus is disabled.
func (b *Bus) Enabled() bool {
	if b == nil {
		return false
	}
	p := b.sinks.Load()
	return p != nil && len(*p) > 0
}

// Unheard returns how many alerts (ENFORCEMENT_VIOLATION,
// ENFORCEMENT_BYPASS, POLICY_DENY, SINK_FAILURE) were emitted while the bus
// had no sink, so that nobody recorded them. It is a count only: with no
// sink the audit path stays silent by design (zero volume is the default),
// but a deployment can check, or export, that it audits what it should. This
// module's emitters call Emit for alerts even when the bus is not
// [Bus.Enabled], so that the count is complete.
func (b *Bus) Unheard() uint64 { return b.unheard.Load() }

// Failures returns how many sink failures this bus has seen (including
// failures while delivering SINK_FAILURE events).
func (b *Bus) Failures() uint64 { return b.failures.Load() }

// Emit stamps e (ID, sequence number, time when zero, trace and span IDs from
// the span active in ctx) and delivers it synchronously to every registered
// sink in registration order. It never fails and never panics because of a
// sink: see the package documentation for what happens when a sink fails. With
// no sink registered it returns at once. Emit on a nil *Bus does nothing.
func (b *Bus) Emit(ctx context.Context, e Event) { _ = b.EmitChecked(ctx, e) }

// EmitChecked is Emit that also tells the emitter when a blocking sink (a
// [Blocking] one that says so) failed to record e: it returns a
// [*NotRecordedError] (errors.Is [ErrNotRecorded]) naming it, and the
// emitter fails the operation it was about to let through. Failures of the
// other sinks are handled as by Emit and never returned.
func (b *Bus) EmitChecked(ctx context.Context, e Event) error {
	if b == nil {
		return nil
	}
	sinks := b.snapshot()
	if len(sinks) == 0 {
		if e.Type.Alert() {
			b.unheard.Add(1)
		}
		return nil
	}
	due := b.stamp(ctx, &e)
	err := b.deliverAll(ctx, sinks, e)
	if due {
		b.checkpoint(ctx, false)
	}
	return err
}

// Blocking is implemented by sinks whose failure must fail the audited
// operation (the "blocking" delivery mode): [Bus.EmitChecked] returns their
// errors.
type Blocking interface {
	Blocking() bool
}

// ErrNotRecorded is matched by the error of an operation that was refused
// because its audit record could not be recorded by a blocking sink.
var ErrNotRecorded = errors.New("auditlog: the audit record could not be made durable, so the operation was refused")

// NotRecordedError names the record and the blocking sink's failure.
type NotRecordedError struct {
	Event Type   // the record's type
	ID    string // the record's ID
	Err   *SinkError
}

func (e *NotRecordedError) Error() string {
	return fmt.Sprintf("auditlog: %s record %s could not be recorded by a blocking sink, so the operation was refused (fix the audit sink's storage, or use a non-blocking delivery mode): %v",
		e.Event, e.ID, e.Err)
}

// Is reports whether target is ErrNotRecorded or ErrSinkFailed.
func (e *NotRecordedError) Is(target error) bool {
	return target == ErrNotRecorded || target == ErrSinkFailed
}

// Unwrap returns the sink's error.
func (e *NotRecordedError) Unwrap() error { return e.Err }

// Skipper is implemented by sinks that keep their own account of the
// sequence numbers they did not record (auditotlp's durable sink names them
// in loss records once it records again). The SINK_FAILURE event about a
// sink's own failure is not delivered to that sink (a failing sink would
// fail it too, and a failure about a failure is not re-reported); the bus
// passes it to Skipped instead, stamped, so that the sink learns its
// sequence number. Skipped must not block or call back into the bus.
type Skipper interface {
	Skipped(e Event)
}

func blocking(s Sink) bool {
	bs, ok := s.(Blocking)
	return ok && bs.Blocking()
}

// deliverAll delivers e to every sink, and a SINK_FAILURE for each sink that
// fails to the others. It returns the failure of the first blocking sink
// that failed, if any.
func (b *Bus) deliverAll(ctx context.Context, sinks []Sink, e Event) error {
	var blocked error
	// The common case has no failure: keep the bookkeeping on the stack.
	var failedBuf [2]failed
	failedList := failedBuf[:0]
	for i, s := range sinks {
		if err := deliver(ctx, s, e); err != nil {
			f := failed{idx: i, err: b.fail(s, e, err)}
			failedList = append(failedList, f)
			if blocked == nil && blocking(s) {
				blocked = &NotRecordedError{Event: e.Type, ID: e.ID, Err: f.err}
			}
		}
	}
	for _, f := range failedList {
		fe := Event{
			Type:      SinkFailure,
			Tenant:    e.Tenant,
			Table:     e.Table,
			Operation: e.Operation,
			Reason:    f.err.Error(),
			Outcome:   OutcomeFailure,
			Attributes: []attribute.KeyValue{
				AttrSinkType.String(f.err.Sink),
				AttrOriginalEventType.String(string(e.Type)),
				AttrOriginalEventID.String(e.ID),
				AttrErrorType.String(errorType(f.err)),
			},
		}
		b.stamp(ctx, &fe)
		for i, s := range sinks {
			if i == f.idx {
				if sk, ok := s.(Skipper); ok {
					sk.Skipped(fe)
				}
				continue
			}
			if err := deliver(ctx, s, fe); err != nil {
				// Reported to the handler and counted, never re-delivered:
				// a failure about a failure must not recurse.
				_ = b.fail(s, fe, err)
			}
		}
	}
	return blocked
}

type failed struct {
	idx int
	err *SinkError
}

func (b *Bus) fail(s Sink, e Event, err error) *SinkError {
	var se *SinkError
	if !errors.As(err, &se) || se.EventID != e.ID {
		se = &SinkError{Sink: sinkName(s), EventType: e.Type, EventID: e.ID, Err: err}
	}
	b.failures.Add(1)
	b.onError(se)
	return se
}

func errorType(se *SinkError) string {
	if se.Panicked {
		return "panic"
	}
	return fmt.Sprintf("%T", se.Err)
}

// SinkNamer may be implemented by a sink to name itself in SINK_FAILURE events.
type SinkNamer interface{ SinkName() string }

func sinkName(s Sink) string {
	if n, ok := s.(SinkNamer); ok {
		return n.SinkName()
	}
	return fmt.Sprintf("%T", s)
}

func deliver(ctx context.Context, s Sink, e Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			perr, ok := r.(error)
			if !ok {
				perr = fmt.Errorf("panic: %v", r)
			}
			err = &SinkError{Sink: sinkName(s), EventType: e.Type, EventID: e.ID, Err: perr, Panicked: true}
		}
	}()
	return s.Emit(ctx, e)
}

// stamp fills what the bus owns of e (time, ID, trace correlation, the
// request's attributes) and seals it into the stream; it reports whether a
// checkpoint is due.
func (b *Bus) stamp(ctx context.Context, e *Event) bool {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	e.ID = newID(e.Time)
	if e.TraceID == "" {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			e.TraceID = sc.TraceID().String()
			e.SpanID = sc.SpanID().String()
		}
	}
	if r, ok := RequestFromContext(ctx); ok {
		e.Attributes = r.addTo(e.Attributes)
	}
	bp := bodyPool.Get().(*[]byte)
	body, ok := appendCanonical((*bp)[:0], e)
	if !ok {
		body = canonicalBody(e) // a NaN or infinite float: the reference encoding
	}
	due := b.chain.seal(e, body)
	if ok {
		*bp = body[:0]
	}
	bodyPool.Put(bp)
	return due
}

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const hexDigits = "0123456789abcdef"

// newID returns a UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random
// bits, so IDs sort by time.
func newID(t time.Time) string {
	var u [16]byte
	ms := uint64(t.UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	r1, r2 := rand.Uint64(), rand.Uint64()
	u[6] = 0x70 | byte(r1>>8)&0x0f
	u[7] = byte(r1)
	u[8] = 0x80 | byte(r2>>56)&0x3f
	for i := 9; i < 16; i++ {
		u[i] = byte(r2 >> (8 * (15 - i)))
	}
	var s [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j] = hexDigits[c>>4]
		s[j+1] = hexDigits[c&0x0f]
		j += 2
	}
	return string(s[:])
}
