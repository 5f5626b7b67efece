package auditlogtest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/auditlog/auditlogtest"
)

func TestMemorySink(t *testing.T) {
	auditlogtest.Run(t, func(*testing.T) auditlogtest.Target {
		m := auditlog.NewMemorySink()
		return auditlogtest.Target{Sink: m, Read: func() ([]auditlog.Event, error) { return m.Events(), nil }}
	})
}

// breakable is a writer that fails once broken.
type breakable struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	broken bool
}

func (b *breakable) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.broken {
		return 0, errors.New("disk full")
	}
	return b.buf.Write(p)
}

func (b *breakable) lines() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out
}

// TestJSONSink reads the JSON lines back with Event.UnmarshalJSON.
func TestJSONSink(t *testing.T) {
	auditlogtest.Run(t, func(*testing.T) auditlogtest.Target {
		w := &breakable{}
		return auditlogtest.Target{
			Sink:  auditlog.NewJSONSink(w),
			Break: func() { w.mu.Lock(); w.broken = true; w.mu.Unlock() },
			Read: func() ([]auditlog.Event, error) {
				var out []auditlog.Event
				for _, l := range w.lines() {
					var e auditlog.Event
					if err := e.UnmarshalJSON(l); err != nil {
						return nil, err
					}
					out = append(out, e)
				}
				return out, nil
			},
		}
	})
}

// fromSlogJSON turns a line of slog's JSON handler written by SlogSink into
// the JSON line form Event.UnmarshalJSON reads.
func fromSlogJSON(line []byte) (auditlog.Event, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return auditlog.Event{}, err
	}
	m["type"] = m["msg"]
	var caller string
	if raw, ok := m["caller"]; ok {
		if err := json.Unmarshal(raw, &caller); err != nil {
			return auditlog.Event{}, err
		}
		i := strings.LastIndexByte(caller, ':')
		n, _ := strconv.Atoi(caller[i+1:])
		var fn string
		if raw, ok := m["caller_function"]; ok {
			_ = json.Unmarshal(raw, &fn)
		}
		c, _ := json.Marshal(auditlog.Caller{File: caller[:i], Line: n, Function: fn})
		m["caller"] = c
	}
	b, err := json.Marshal(m)
	if err != nil {
		return auditlog.Event{}, err
	}
	var e auditlog.Event
	err = e.UnmarshalJSON(b)
	return e, err
}

// TestSlogSink runs SlogSink over slog's JSON handler.
func TestSlogSink(t *testing.T) {
	auditlogtest.Run(t, func(*testing.T) auditlogtest.Target {
		w := &breakable{}
		return auditlogtest.Target{
			Sink:  auditlog.NewSlogSink(slog.New(slog.NewJSONHandler(w, nil))),
			Break: func() { w.mu.Lock(); w.broken = true; w.mu.Unlock() },
			Read: func() ([]auditlog.Event, error) {
				var out []auditlog.Event
				for _, l := range w.lines() {
					e, err := fromSlogJSON(l)
					if err != nil {
						return nil, fmt.Errorf("%w: %s", err, l)
					}
					out = append(out, e)
				}
				return out, nil
			},
		}
	})
}

// memExporter keeps exported records.
type memExporter struct {
	mu sync.Mutex
	rs []sdklog.Record
}

func (m *memExporter) Export(_ context.Context, rs []sdklog.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range rs {
		m.rs = append(m.rs, r.Clone())
	}
	return nil
}
func (m *memExporter) Shutdown(context.Context) error   { return nil }
func (m *memExporter) ForceFlush(context.Context) error { return nil }

func (m *memExporter) events() []auditlog.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []auditlog.Event
	for _, r := range m.rs {
		out = append(out, auditlogtest.FromRecord(r))
	}
	return out
}

// TestOTelSink runs OTelSink on an SDK LoggerProvider with a simple
// processor and an in-memory exporter.
func TestOTelSink(t *testing.T) {
	auditlogtest.Run(t, func(t *testing.T) auditlogtest.Target {
		exp := &memExporter{}
		lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)),
			sdklog.WithAttributeCountLimit(-1), sdklog.WithAttributeValueLengthLimit(-1))
		t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
		sink, err := auditlog.NewOTelSink(lp)
		if err != nil {
			t.Fatal(err)
		}
		return auditlogtest.Target{Sink: sink, Read: func() ([]auditlog.Event, error) { return exp.events(), nil }}
	})
}

// dropsReason is a deliberately broken sink: it loses the Reason field.
type dropsReason struct{ m *auditlog.MemorySink }

func (d *dropsReason) Emit(ctx context.Context, e auditlog.Event) error {
	e.Reason = ""
	return d.m.Emit(ctx, e)
}

// TestBrokenSinkIsCaught: TestSink reports a sink that drops a field, naming
// the field, the event and what was expected.
func TestBrokenSinkIsCaught(t *testing.T) {
	m := auditlog.NewMemorySink()
	err := auditlogtest.TestSink(auditlogtest.Target{Sink: &dropsReason{m}, Read: func() ([]auditlog.Event, error) { return m.Events(), nil }})
	if err == nil {
		t.Fatal("TestSink accepted a sink that drops Reason")
	}
	msg := err.Error()
	for _, want := range []string{`field Reason: got "", want "reason 0: a cross-tenant write"`, "ENFORCEMENT_VIOLATION event seq"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the report does not say %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "field Reason"); n < len(auditlog.Types()) {
		t.Errorf("%d Reason failures reported, want one per event type at least:\n%s", n, msg)
	}
	if strings.Contains(msg, "field Tenant") {
		t.Errorf("a field the sink keeps is reported:\n%s", msg)
	}
	// A conforming sink passes the same function.
	m2 := auditlog.NewMemorySink()
	if err := auditlogtest.TestSink(auditlogtest.Target{Sink: m2, Read: func() ([]auditlog.Event, error) { return m2.Events(), nil }}); err != nil {
		t.Errorf("MemorySink: %v", err)
	}
}

// panicky panics in Emit; silent accepts and loses everything.
type panicky struct{}

func (panicky) Emit(context.Context, auditlog.Event) error { panic("boom") }

type silent struct{}

func (*silent) Emit(context.Context, auditlog.Event) error { return nil }

func TestMisbehavingSinksAreCaught(t *testing.T) {
	read := func() ([]auditlog.Event, error) { return nil, nil }
	for _, tc := range []struct {
		name string
		sink auditlog.Sink
		want string
	}{
		{"panics", panicky{}, "Emit panicked"},
		{"loses", &silent{}, "Emit returned nil but the event was not delivered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := auditlogtest.TestSink(auditlogtest.Target{Sink: tc.sink, Read: read})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	_ = attribute.String
}
