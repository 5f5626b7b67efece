package auditlogtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// Read returns the events a sink delivered, decoded. It is called once,
// after the last Emit, and may flush or close the sink.
type Read func() ([]auditlog.Event, error)

// Target is a sink under test.
type Target struct {
	Sink auditlog.Sink
	// Read returns the events the sink delivered (see [Read]).
	Read Read
	// Break, when set, breaks the sink's backend (closes its writer,
	// fills its disk): after it, Emit must return an error.
	Break func()
}

// check is one conformance check.
type check struct {
	name string
	run  func(c *checker)
}

var checks = []check{
	{"Fields", checkFields},
	{"AttributeKinds", checkKinds},
	{"InvalidUTF8", checkUTF8},
	{"Large", checkLarge},
	{"Concurrent", checkConcurrent},
	{"ReadOnly", checkReadOnly},
	{"EdgeInput", checkEdge},
	{"Identity", checkIdentity},
	{"Failure", checkFailure},
}

// checker emits events into one sink and remembers what it must deliver.
type checker struct {
	sink   auditlog.Sink
	brk    func()
	mu     sync.Mutex
	want   []auditlog.Event // events Emit accepted
	fails  []string
	broken bool
}

func (c *checker) failf(format string, args ...any) {
	c.mu.Lock()
	c.fails = append(c.fails, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

// spanCtx is a context with a sampled span, so events carry trace ids.
func spanCtx() context.Context {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, TraceFlags: trace.FlagsSampled,
	})
	return trace.ContextWithSpanContext(context.Background(), sc)
}

// stamper seals events into a stream, as the bus does for a sink.
type stamper struct {
	bus *auditlog.Bus
	mem *auditlog.MemorySink
}

func newStamper(keyed bool) *stamper {
	s := &stamper{bus: auditlog.NewBus(auditlog.WithErrorHandler(func(error) {})), mem: auditlog.NewMemorySink()}
	if keyed {
		s.bus.SetHMACKey("conformance-key", []byte("auditlogtest conformance key"))
	}
	s.bus.Register(s.mem)
	return s
}

func (s *stamper) stamp(ctx context.Context, e auditlog.Event) auditlog.Event {
	s.mem.Reset()
	s.bus.Emit(ctx, e)
	out := s.mem.Events()
	return out[len(out)-1]
}

// emit sends e to the sink; an accepted event must be delivered, unless
// mayRefuse (then an error is fine too). A panic is a failure.
func (c *checker) emit(ctx context.Context, e auditlog.Event, mayRefuse bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.failf("Emit panicked on %s event seq %d: %v (a sink reports failures by returning an error)", e.Type, e.Seq, r)
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	err = c.sink.Emit(ctx, e)
	switch {
	case err == nil:
		c.mu.Lock()
		c.want = append(c.want, e)
		c.mu.Unlock()
	case !mayRefuse && !c.broken:
		c.failf("Emit of %s event seq %d failed: %v", e.Type, e.Seq, err)
	}
	return err
}

// full returns an event of type t with every field set.
func full(t auditlog.Type, i int) auditlog.Event {
	return auditlog.Event{
		Type: t, Tenant: "acme", AttemptedTenant: "globex", Table: "invoices,items", Model: "main.Invoice",
		Operation: "UPDATE", Reason: fmt.Sprintf("reason %d: a cross-tenant write", i), Outcome: auditlog.OutcomeBlocked,
		Caller:     auditlog.Caller{File: "/src/app/handlers.go", Line: 40 + i, Function: "app.(*Server).Update"},
		Attributes: []attribute.KeyValue{attribute.String("app.note", fmt.Sprintf("note %d", i)), attribute.Int64("app.n", int64(i))},
	}
}

func checkFields(c *checker) {
	ctx := auditlog.WithRequest(spanCtx(), auditlog.Request{Actor: "alice", ClientAddress: "192.0.2.1", Method: "PATCH", Route: "/invoices/{id}"})
	keyed := newStamper(true)
	for i, t := range auditlog.Types() {
		c.send(ctx, keyed.stamp(ctx, full(t, i)), false)
	}
	plain := newStamper(false)
	c.send(context.Background(), plain.stamp(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme", Outcome: auditlog.OutcomeSuccess}), false)
	c.send(context.Background(), plain.stamp(context.Background(), auditlog.Event{Type: auditlog.ContextReleased}), false)
}

func checkKinds(c *checker) {
	ctx := spanCtx()
	s := newStamper(false)
	e := full(auditlog.PolicyDeny, 0)
	e.Attributes = []attribute.KeyValue{
		attribute.Bool("k.bool", true), attribute.Bool("k.false", false),
		attribute.Int64("k.int", -42), attribute.Int64("k.maxint", math.MaxInt64), attribute.Int64("k.minint", math.MinInt64),
		attribute.Float64("k.float", 1.5), attribute.Float64("k.floatint", 2), attribute.Float64("k.big", 1e300), attribute.Float64("k.tiny", 5e-324),
		attribute.String("k.string", "text"), attribute.String("k.empty", ""), attribute.String("k.json", `{"a":[1,"<b>&"]}`),
		attribute.BoolSlice("k.bools", []bool{true, false}), attribute.Int64Slice("k.ints", []int64{1, -2, math.MaxInt64}),
		attribute.Float64Slice("k.floats", []float64{0.25, -3}), attribute.StringSlice("k.strings", []string{"a", "", "ü"}),
	}
	c.send(ctx, s.stamp(ctx, e), false)
}

func checkUTF8(c *checker) {
	ctx := spanCtx()
	s := newStamper(false)
	bad := "ok\xffbad\xc3(\xe2\x82"
	e := full(auditlog.EnforcementViolation, 0)
	e.Reason, e.Table, e.Model, e.Operation = "reason "+bad, "t"+bad, "m"+bad, "op"+bad
	e.Caller.File, e.Caller.Function = "/src/"+bad+".go", "f"+bad
	e.Attributes = []attribute.KeyValue{attribute.String("k.bad", bad), attribute.StringSlice("k.bads", []string{bad, "fine"}),
		attribute.String("k.bad\xfe.key", "v")}
	c.send(ctx, s.stamp(ctx, e), false)
}

func checkLarge(c *checker) {
	ctx := spanCtx()
	s := newStamper(false)
	e := full(auditlog.EnforcementBypass, 0)
	e.Reason = strings.Repeat("0123456789abcdef", 16<<10) // 256 KiB
	for i := range 300 {
		e.Attributes = append(e.Attributes, attribute.String(fmt.Sprintf("k.attr%03d", i), strings.Repeat("v", i)))
	}
	c.send(ctx, s.stamp(ctx, e), false)
}

func checkConcurrent(c *checker) {
	ctx := spanCtx()
	s := newStamper(false)
	const workers, each = 8, 25
	events := make([]auditlog.Event, 0, workers*each)
	for i := range workers * each {
		events = append(events, s.stamp(ctx, full(auditlog.Types()[i%len(auditlog.Types())], i)))
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for _, e := range events[w*each : (w+1)*each] {
				c.send(ctx, e, false)
			}
		})
	}
	wg.Wait()
}

func checkReadOnly(c *checker) {
	ctx := spanCtx()
	s := newStamper(false)
	e := s.stamp(ctx, full(auditlog.PolicyAllow, 0))
	e.Attributes = append(e.Attributes, attribute.StringSlice("k.list", []string{"x\xff", "y"}))
	before := deepCopy(e)
	c.send(ctx, e, false)
	if !reflect.DeepEqual(before, e) {
		c.failf("Emit changed the event it was given (sinks must treat an Event and its Attributes as read-only)")
	}
}

func checkEdge(c *checker) {
	ctx := spanCtx()
	s := newStamper(false)
	e := full(auditlog.PolicyDeny, 0)
	e.Attributes = []attribute.KeyValue{attribute.Float64("k.nan", math.NaN()), attribute.Float64("k.inf", math.Inf(1)),
		attribute.Float64Slice("k.infs", []float64{math.Inf(-1)})}
	c.send(ctx, s.stamp(ctx, e), true)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	c.send(cancelled, s.stamp(ctx, full(auditlog.ContextBound, 1)), true)
	func() {
		defer func() {
			if r := recover(); r != nil {
				c.failf("Emit panicked on the zero Event: %v", r)
			}
		}()
		_ = c.sink.Emit(context.Background(), auditlog.Event{}) // not required to be delivered
	}()
}

func checkIdentity(c *checker) {
	if !reflect.TypeOf(c.sink).Comparable() {
		c.failf("the sink's dynamic type %T is not comparable: the bus registers sinks by identity (use a pointer type)", c.sink)
	}
	n, ok := c.sink.(auditlog.SinkNamer)
	if !ok {
		return
	}
	name := n.SinkName()
	switch {
	case name == "":
		c.failf("SinkName() is empty")
	case !utf8.ValidString(name):
		c.failf("SinkName() %q is not valid UTF-8", name)
	case n.SinkName() != name:
		c.failf("SinkName() is not stable")
	}
}

func checkFailure(c *checker) {
	if c.brk == nil {
		return
	}
	ctx := spanCtx()
	s := newStamper(false)
	c.send(ctx, s.stamp(ctx, full(auditlog.ContextBound, 0)), false)
	c.brk()
	c.broken = true
	e := s.stamp(ctx, full(auditlog.EnforcementViolation, 1))
	if err := c.emit(ctx, e, true); err == nil {
		c.failf("Emit returned nil after WithBreak broke the sink: a sink must report its own failures as errors")
		c.mu.Lock()
		c.want = slices.DeleteFunc(c.want, func(w auditlog.Event) bool { return w.Seq == e.Seq && w.Stream == e.Stream })
		c.mu.Unlock()
	}
}

// verify compares what the sink delivered with what it accepted.
func (c *checker) verify(read Read) {
	got, err := read()
	if err != nil {
		c.failf("reading the delivered events: %v", err)
		return
	}
	type key struct {
		stream string
		seq    uint64
	}
	byKey := map[key]auditlog.Event{}
	for _, g := range got {
		k := key{g.Stream, g.Seq}
		if prev, dup := byKey[k]; dup {
			if d := compare(prev, g); len(d) > 0 {
				c.failf("event stream %s seq %d delivered twice with different content: %s", g.Stream, g.Seq, strings.Join(d, "; "))
			}
		}
		byKey[k] = g
	}
	for _, w := range c.want {
		g, ok := byKey[key{w.Stream, w.Seq}]
		if !ok {
			c.failf("%s event seq %d: Emit returned nil but the event was not delivered", w.Type, w.Seq)
			continue
		}
		for _, d := range compare(w, g) {
			c.failf("%s event seq %d: %s", w.Type, w.Seq, d)
		}
	}
}

// TestSink runs every check on the target's sink, one after the other,
// then calls Read once and returns an error listing every failure (nil when
// the sink conforms). Events of different checks come from different
// streams.
func TestSink(tg Target) error {
	c := &checker{sink: tg.Sink, brk: tg.Break}
	for _, ch := range checks {
		ch.run(c)
	}
	c.verify(tg.Read)
	return joinFails(c.fails)
}

// Run runs each check as a subtest named by the check, on a target of its
// own made by newTarget.
func Run(t *testing.T, newTarget func(t *testing.T) Target) {
	t.Helper()
	for _, ch := range checks {
		t.Run(ch.name, func(t *testing.T) {
			tg := newTarget(t)
			if ch.name == "Failure" && tg.Break == nil {
				t.Skip("no Target.Break: the sink's own failures are not exercised")
			}
			c := &checker{sink: tg.Sink, brk: tg.Break}
			ch.run(c)
			c.verify(tg.Read)
			if err := joinFails(c.fails); err != nil {
				t.Error(err)
			}
		})
	}
}

func joinFails(fails []string) error {
	if len(fails) == 0 {
		return nil
	}
	errs := make([]error, len(fails))
	for i, f := range fails {
		errs[i] = errors.New("auditlogtest: " + f)
	}
	return errors.Join(errs...)
}

// send is emit for checks that need not look at the error.
func (c *checker) send(ctx context.Context, e auditlog.Event, mayRefuse bool) {
	_ = c.emit(ctx, e, mayRefuse)
}
