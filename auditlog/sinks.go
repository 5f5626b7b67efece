package auditlog

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// MemorySink keeps events in memory. It is meant for tests and is safe for
// concurrent use.
type MemorySink struct {
	mu     sync.Mutex
	events []Event
}

// NewMemorySink returns an empty MemorySink.
func NewMemorySink() *MemorySink { return &MemorySink{} }

// Emit appends e. It never fails.
func (m *MemorySink) Emit(_ context.Context, e Event) error {
	m.mu.Lock()
	m.events = append(m.events, e)
	m.mu.Unlock()
	return nil
}

// Events returns a copy of the recorded events, in arrival order. With types
// given, only events of those types are returned.
func (m *MemorySink) Events(types ...Type) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Event, 0, len(m.events))
	for _, e := range m.events {
		if len(types) == 0 || hasType(types, e.Type) {
			out = append(out, e)
		}
	}
	return out
}

// Len returns the number of recorded events.
func (m *MemorySink) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.events)
}

// Reset forgets the recorded events. It keeps the storage, so a sink that is
// reset regularly stops allocating.
func (m *MemorySink) Reset() {
	m.mu.Lock()
	clear(m.events) // drop references to the events' strings and attributes
	m.events = m.events[:0]
	m.mu.Unlock()
}

func hasType(types []Type, t Type) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

// SlogSink writes events to a *slog.Logger: WARN for alerts (violations,
// bypasses, policy denials, sink failures; see [Type.Alert]), INFO for the
// rest. The message is the event type; the fields are attributes.
type SlogSink struct {
	logger *slog.Logger
}

// NewSlogSink returns a sink writing to logger (slog.Default() when nil).
func NewSlogSink(logger *slog.Logger) *SlogSink {
	if logger == nil {
		logger = slog.Default()
	}
	return &SlogSink{logger: logger}
}

// Emit logs e through the logger's handler and returns the handler's error
// (a failed write), which slog.Logger's own methods would drop. Non-finite
// float attributes are logged as their names ("NaN", "+Inf"), which JSON
// cannot carry as numbers.
func (s *SlogSink) Emit(ctx context.Context, e Event) error {
	level := slog.LevelInfo
	if e.Type.Alert() {
		level = slog.LevelWarn
	}
	if !s.logger.Enabled(ctx, level) {
		return nil
	}
	attrs := make([]slog.Attr, 0, 20)
	attrs = append(attrs, slog.String("event_id", e.ID), slog.Uint64("seq", e.Seq), slog.Time("time", e.Time))
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	add("stream_id", e.Stream)
	add("prev_hash", e.PrevHash)
	add("hash", e.Hash)
	add("key_id", e.KeyID)
	add("tenant_id", e.Tenant)
	add("attempted_tenant_id", e.AttemptedTenant)
	add("table", e.Table)
	add("model", e.Model)
	add("operation", e.Operation)
	add("reason", e.Reason)
	add("outcome", string(e.Outcome))
	add("trace_id", e.TraceID)
	add("span_id", e.SpanID)
	add("caller", e.Caller.String())
	add("caller_function", e.Caller.Function)
	if len(e.Attributes) > 0 {
		group := make([]any, 0, len(e.Attributes))
		for _, kv := range e.Attributes {
			group = append(group, slog.Any(string(kv.Key), slogValue(kv.Value)))
		}
		attrs = append(attrs, slog.Group("attributes", group...))
	}
	h := s.logger.Handler()
	if !h.Enabled(ctx, level) {
		return nil // filtered by the handler's level, as slog.Logger would
	}
	r := slog.NewRecord(time.Now(), level, string(e.Type), 0)
	r.AddAttrs(attrs...)
	return h.Handle(ctx, r)
}

// slogValue is v for slog, with non-finite floats as their names.
func slogValue(v attribute.Value) any {
	switch v.Type() {
	case attribute.FLOAT64:
		if f := v.AsFloat64(); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Sprint(f)
		}
	case attribute.FLOAT64SLICE:
		fs := v.AsFloat64Slice()
		for _, f := range fs {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				out := make([]any, len(fs))
				for i, f := range fs {
					out[i] = f
					if math.IsNaN(f) || math.IsInf(f, 0) {
						out[i] = fmt.Sprint(f)
					}
				}
				return out
			}
		}
	}
	return v.AsInterface()
}

// JSONSink writes each event as one JSON object per line (see
// [Event.MarshalJSON] for the fields). Writes are serialised, and each line is
// handed to the writer in a single Write call.
type JSONSink struct {
	mu sync.Mutex
	w  io.Writer
}

// NewJSONSink returns a sink writing JSON lines to w.
func NewJSONSink(w io.Writer) *JSONSink { return &JSONSink{w: w} }

// Emit writes e and returns the writer's error, if any.
func (j *JSONSink) Emit(_ context.Context, e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	_, err = j.w.Write(b)
	return err
}
