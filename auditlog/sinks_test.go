package auditlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

func TestMemorySinkFilteringAndReset(t *testing.T) {
	t.Parallel()
	m := auditlog.NewMemorySink()
	ctx := context.Background()
	for _, ty := range []auditlog.Type{auditlog.ContextBound, auditlog.PolicyDeny, auditlog.ContextReleased, auditlog.PolicyDeny} {
		if err := m.Emit(ctx, auditlog.Event{Type: ty}); err != nil {
			t.Fatal(err)
		}
	}
	if m.Len() != 4 {
		t.Fatalf("Len = %d", m.Len())
	}
	if got := types(m.Events(auditlog.PolicyDeny)); !slices.Equal(got, []auditlog.Type{auditlog.PolicyDeny, auditlog.PolicyDeny}) {
		t.Fatalf("filtered = %v", got)
	}
	if got := types(m.Events(auditlog.ContextBound, auditlog.ContextReleased)); !slices.Equal(got, []auditlog.Type{auditlog.ContextBound, auditlog.ContextReleased}) {
		t.Fatalf("filtered by two types = %v", got)
	}
	if n := len(m.Events(auditlog.SinkFailure)); n != 0 {
		t.Fatalf("%d events of an absent type", n)
	}
	evs := m.Events()
	evs[0].Type = "MUTATED"
	if m.Events()[0].Type != auditlog.ContextBound {
		t.Fatal("Events returned the sink's own slice")
	}
	kept := m.Events()
	m.Reset()
	if m.Len() != 0 || len(m.Events()) != 0 {
		t.Fatal("Reset left events")
	}
	_ = m.Emit(ctx, auditlog.Event{Type: auditlog.SinkFailure})
	if got := types(m.Events()); !slices.Equal(got, []auditlog.Type{auditlog.SinkFailure}) {
		t.Fatalf("after Reset and Emit: %v", got)
	}
	if kept[0].Type != auditlog.ContextBound {
		t.Fatal("Reset changed events returned before it")
	}
}

func TestMemorySinkConcurrent(t *testing.T) {
	t.Parallel()
	m := auditlog.NewMemorySink()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 250; i++ {
				_ = m.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound})
			}
		}()
		go func() { // readers alongside writers
			defer wg.Done()
			for i := 0; i < 50; i++ {
				_ = m.Events(auditlog.ContextBound)
				_ = m.Len()
			}
		}()
	}
	wg.Wait()
	if m.Len() != 2000 {
		t.Fatalf("Len = %d, want 2000", m.Len())
	}
}

// recordingHandler is a slog.Handler that keeps the records it handles.
type recordingHandler struct {
	min     slog.Level
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func recordAttrs(r slog.Record) map[string]slog.Value {
	out := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool {
		out[a.Key] = a.Value
		return true
	})
	return out
}

func TestSlogSinkLevels(t *testing.T) {
	t.Parallel()
	h := &recordingHandler{min: slog.LevelDebug}
	bus := auditlog.NewBus()
	bus.Register(auditlog.NewSlogSink(slog.New(h)))
	want := map[auditlog.Type]slog.Level{
		auditlog.ContextBound:         slog.LevelInfo,
		auditlog.ContextReleased:      slog.LevelInfo,
		auditlog.PolicyAllow:          slog.LevelInfo,
		auditlog.PolicyDeny:           slog.LevelWarn,
		auditlog.EnforcementViolation: slog.LevelWarn,
		auditlog.EnforcementBypass:    slog.LevelWarn,
		auditlog.SinkFailure:          slog.LevelWarn,
		auditlog.Checkpoint:           slog.LevelInfo,
	}
	if len(want) != len(auditlog.Types()) {
		t.Fatal("the catalogue changed: update this test")
	}
	for _, ty := range auditlog.Types() {
		bus.Emit(context.Background(), auditlog.Event{Type: ty, Tenant: "acme"})
	}
	if len(h.records) != len(want) {
		t.Fatalf("%d records", len(h.records))
	}
	for _, r := range h.records {
		ty := auditlog.Type(r.Message)
		if r.Level != want[ty] {
			t.Errorf("%s logged at %v, want %v", ty, r.Level, want[ty])
		}
		if (r.Level == slog.LevelWarn) != ty.Alert() {
			t.Errorf("%s: level disagrees with Type.Alert", ty)
		}
	}
}

func TestSlogSinkFields(t *testing.T) {
	t.Parallel()
	tp, _ := newTracer(t)
	h := &recordingHandler{min: slog.LevelDebug}
	bus := auditlog.NewBus()
	bus.Register(auditlog.NewSlogSink(slog.New(h)))
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()

	e := violation()
	e.Caller = auditlog.Caller{File: "/src/app/report.go", Line: 42, Function: "app.Report"}
	e.Attributes = []attribute.KeyValue{attribute.String("db.system.name", "postgresql"), attribute.Int("rows", 3)}
	bus.Emit(ctx, e)

	r := h.records[0]
	a := recordAttrs(r)
	for k, v := range map[string]string{
		"tenant_id": "acme", "attempted_tenant_id": "globex", "table": "orders", "model": "*app.Order",
		"operation": "UPDATE", "reason": e.Reason, "outcome": "blocked", "caller": "/src/app/report.go:42",
		"trace_id": span.SpanContext().TraceID().String(), "span_id": span.SpanContext().SpanID().String(),
	} {
		if got := a[k].String(); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if a["event_id"].String() == "" || a["seq"].Uint64() != 1 || a["time"].Kind() != slog.KindTime {
		t.Errorf("stamp fields: %v", a)
	}
	group := a["attributes"]
	if group.Kind() != slog.KindGroup {
		t.Fatalf("attributes is %v, want a group", group.Kind())
	}
	g := map[string]string{}
	for _, ga := range group.Group() {
		g[ga.Key] = ga.Value.String()
	}
	if g["db.system.name"] != "postgresql" || g["rows"] != "3" {
		t.Errorf("attributes group = %v", g)
	}

	// Empty fields are left out.
	h2 := &recordingHandler{min: slog.LevelDebug}
	s2 := auditlog.NewSlogSink(slog.New(h2))
	_ = s2.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound})
	for _, k := range []string{"tenant_id", "attempted_tenant_id", "caller", "trace_id", "attributes"} {
		if _, ok := recordAttrs(h2.records[0])[k]; ok {
			t.Errorf("empty field %s logged", k)
		}
	}
}

func TestSlogSinkRespectsHandlerLevel(t *testing.T) {
	t.Parallel()
	h := &recordingHandler{min: slog.LevelWarn}
	s := auditlog.NewSlogSink(slog.New(h))
	ctx := context.Background()
	_ = s.Emit(ctx, auditlog.Event{Type: auditlog.ContextBound})
	_ = s.Emit(ctx, auditlog.Event{Type: auditlog.EnforcementViolation})
	if len(h.records) != 1 || h.records[0].Message != string(auditlog.EnforcementViolation) {
		t.Fatalf("records = %v", h.records)
	}
	if auditlog.NewSlogSink(nil) == nil {
		t.Fatal("NewSlogSink(nil) returned nil")
	}
}

// countingWriter records every Write call.
type countingWriter struct {
	mu     sync.Mutex
	writes [][]byte
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.writes = append(w.writes, append([]byte(nil), p...))
	w.mu.Unlock()
	return len(p), nil
}

func TestJSONSinkLines(t *testing.T) {
	t.Parallel()
	tp, _ := newTracer(t)
	w := &countingWriter{}
	bus := auditlog.NewBus()
	bus.Register(auditlog.NewJSONSink(w))
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()

	e := violation()
	e.Caller = auditlog.Caller{File: "/src/app/report.go", Line: 42, Function: "app.Report"}
	e.Attributes = []attribute.KeyValue{attribute.String("db.system.name", "postgresql"), attribute.Bool("dry_run", true)}
	bus.Emit(ctx, e)
	bus.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme"})

	if len(w.writes) != 2 {
		t.Fatalf("%d Write calls, want one per event", len(w.writes))
	}
	for _, line := range w.writes {
		if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("not one line per event: %q", line)
		}
	}

	var full map[string]any
	if err := json.Unmarshal(w.writes[0], &full); err != nil {
		t.Fatalf("line 1 is not a JSON object: %v", err)
	}
	keys := make([]string, 0, len(full))
	for k := range full {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	wantKeys := []string{"attempted_tenant_id", "attributes", "caller", "event_id", "hash", "model", "operation", "outcome",
		"reason", "schema_version", "seq", "span_id", "stream_id", "table", "tenant_id", "time", "trace_id", "type"}
	if !slices.Equal(keys, wantKeys) {
		t.Fatalf("fields = %v, want %v", keys, wantKeys)
	}
	sc := span.SpanContext()
	for k, v := range map[string]any{
		"type": "ENFORCEMENT_VIOLATION", "tenant_id": "acme", "attempted_tenant_id": "globex", "table": "orders",
		"model": "*app.Order", "operation": "UPDATE", "outcome": "blocked", "seq": float64(1),
		"trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String(),
	} {
		if full[k] != v {
			t.Errorf("%s = %v, want %v", k, full[k], v)
		}
	}
	if !uuidV7.MatchString(full["event_id"].(string)) {
		t.Errorf("event_id = %v", full["event_id"])
	}
	if ts, _ := full["time"].(string); !strings.HasSuffix(ts, "Z") {
		t.Errorf("time %q is not RFC 3339 UTC", ts)
	}
	caller := full["caller"].(map[string]any)
	if caller["file"] != "/src/app/report.go" || caller["line"] != float64(42) || caller["function"] != "app.Report" {
		t.Errorf("caller = %v", caller)
	}
	attrs := full["attributes"].(map[string]any)
	if attrs["db.system.name"] != "postgresql" || attrs["dry_run"] != true {
		t.Errorf("attributes = %v", attrs)
	}

	var minimal map[string]any
	if err := json.Unmarshal(w.writes[1], &minimal); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"attempted_tenant_id", "caller", "attributes", "trace_id", "span_id"} {
		if _, ok := minimal[k]; ok {
			t.Errorf("empty field %s present", k)
		}
	}
}

type failingWriter struct{}

var errPipe = errors.New("broken pipe")

func (failingWriter) Write([]byte) (int, error) { return 0, errPipe }

func TestJSONSinkWriterErrorBecomesSinkFailure(t *testing.T) {
	t.Parallel()
	var h handlerLog
	bus := auditlog.NewBus(auditlog.WithErrorHandler(h.handle))
	js := auditlog.NewJSONSink(failingWriter{})
	if err := js.Emit(context.Background(), violation()); !errors.Is(err, errPipe) {
		t.Fatalf("Emit = %v, want the writer's error", err)
	}
	m := auditlog.NewMemorySink()
	bus.Register(js)
	bus.Register(m)
	bus.Emit(context.Background(), violation())
	sf := m.Events(auditlog.SinkFailure)
	if len(sf) != 1 {
		t.Fatalf("%d SINK_FAILURE", len(sf))
	}
	if attr(t, sf[0], "audit.sink.type") != "*auditlog.JSONSink" || !strings.Contains(sf[0].Reason, "broken pipe") {
		t.Fatalf("SINK_FAILURE = %+v", sf[0])
	}
	if errs := h.all(); len(errs) != 1 || !errors.Is(errs[0], errPipe) {
		t.Fatalf("handler got %v", errs)
	}
}

func TestJSONSinkConcurrentLinesDoNotInterleave(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	bus := auditlog.NewBus()
	bus.Register(auditlog.NewJSONSink(&buf))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				bus.Emit(context.Background(), violation())
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines, want 400", len(lines))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("invalid line %q", l)
		}
	}
}

// TestSlogSinkHonoursTheHandlersLevel: as slog.Logger would, the sink does
// not write records below the handler's level (INFO bindings under a WARN
// handler), and still writes the alerts.
func TestSlogSinkHonoursTheHandlersLevel(t *testing.T) {
	var buf bytes.Buffer
	s := auditlog.NewSlogSink(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := s.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme"}); err != nil || buf.Len() != 0 {
		t.Fatalf("an INFO record under a WARN handler: %v, wrote %q", err, buf.String())
	}
	if err := s.Emit(context.Background(), auditlog.Event{Type: auditlog.EnforcementViolation, Tenant: "acme"}); err != nil ||
		!strings.Contains(buf.String(), "ENFORCEMENT_VIOLATION") {
		t.Fatalf("a WARN record: %v, wrote %q", err, buf.String())
	}
}
