package auditlog_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// line is a decoded JSON line and the body its hash covers.
type line struct {
	m    map[string]any
	body []byte
}

func (l line) str(k string) string { s, _ := l.m[k].(string); return s }

func (l line) seq(t *testing.T) uint64 {
	t.Helper()
	n, err := l.m["seq"].(json.Number).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return uint64(n)
}

// readLines decodes JSON lines as a verifier does: numbers kept as written,
// the header fields taken out of the body.
func readLines(t *testing.T, b []byte) []line {
	t.Helper()
	var out []line
	for _, raw := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		m := map[string]any{}
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		body := map[string]any{}
		for k, v := range m {
			body[k] = v
		}
		for _, k := range auditlog.BodyFields() {
			delete(body, k)
		}
		out = append(out, line{m: m, body: auditlog.CanonicalBody(body)})
	}
	return out
}

// checkChain verifies lines as one stream: gapless from 1, each prev_hash the
// previous hash, each hash recomputed with key.
func checkChain(t *testing.T, lines []line, key []byte) []line {
	t.Helper()
	sort.Slice(lines, func(i, j int) bool { return lines[i].seq(t) < lines[j].seq(t) })
	prev := ""
	for i, l := range lines {
		if got := l.seq(t); got != uint64(i+1) {
			t.Fatalf("record %d has seq %d: not gapless", i+1, got)
		}
		if l.str("prev_hash") != prev {
			t.Fatalf("seq %d: prev_hash %q, want %q", i+1, l.str("prev_hash"), prev)
		}
		want := auditlog.RecordHash(key, l.str("stream_id"), l.seq(t), prev, l.str("key_id"), l.body)
		if l.str("hash") != want {
			t.Fatalf("seq %d: hash %s, recomputed %s (body %s)", i+1, l.str("hash"), want, l.body)
		}
		prev = l.str("hash")
	}
	return lines
}

// TestChainOverJSONLines: records emitted concurrently form one gapless
// chain whose hashes a reader recomputes from the JSON lines alone; a
// checkpoint follows every 100 records and the final one ends the stream.
func TestChainOverJSONLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	bus := auditlog.NewBus()
	bus.Register(auditlog.NewJSONSink(&buf))
	bus.SetCheckpoints(100, 0)
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				e := violation()
				e.Reason = fmt.Sprintf("g%d-%d <&> \u2028 \xff", g, i) // HTML, line separator and invalid UTF-8
				bus.Emit(context.Background(), e)
			}
		}()
	}
	wg.Wait()
	if err := bus.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := checkChain(t, readLines(t, buf.Bytes()), nil)
	if n := len(lines); n != 500+5+1 {
		t.Fatalf("%d records, want 500 events, 5 checkpoints and the final one", n)
	}
	cps := 0
	for i, l := range lines {
		if l.str("type") != string(auditlog.Checkpoint) {
			continue
		}
		cps++
		attrs := l.m["attributes"].(map[string]any)
		vouched, _ := attrs["audit.checkpoint.sequence"].(json.Number).Int64()
		if uint64(vouched) != lines[i-1].seq(t) || attrs["audit.checkpoint.hash"] != lines[i-1].str("hash") {
			t.Fatalf("checkpoint at seq %d vouches for %d/%v, not the record before it", l.seq(t), vouched, attrs["audit.checkpoint.hash"])
		}
		if final := attrs["audit.checkpoint.final"] == true; final != (i == len(lines)-1) {
			t.Fatalf("checkpoint at seq %d: final=%v", l.seq(t), final)
		}
	}
	if cps != 6 || lines[0].str("stream_id") != bus.Stream() {
		t.Fatalf("%d checkpoints, stream %q (bus %q)", cps, lines[0].str("stream_id"), bus.Stream())
	}
}

// TestChainDetectsAnEdit: a changed field no longer matches its hash.
func TestChainDetectsAnEdit(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	bus := auditlog.NewBus()
	bus.Register(auditlog.NewJSONSink(&buf))
	bus.Emit(context.Background(), violation())
	edited := bytes.Replace(buf.Bytes(), []byte(`"tenant_id":"acme"`), []byte(`"tenant_id":"other"`), 1)
	if bytes.Equal(edited, buf.Bytes()) {
		t.Fatal("the fixture has no tenant_id to edit")
	}
	l := readLines(t, edited)[0]
	if auditlog.RecordHash(nil, l.str("stream_id"), 1, "", "", l.body) == l.str("hash") {
		t.Fatal("an edited record still matches its hash")
	}
}

// TestChainHMAC: with a key, hashes are HMACs under it, named by key_id:
// plain SHA-256 does not reproduce them.
func TestChainHMAC(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	bus := auditlog.NewBus()
	bus.Register(auditlog.NewJSONSink(&buf))
	key := []byte("0123456789abcdef0123456789abcdef")
	bus.SetHMACKey("k1", key)
	for range 3 {
		bus.Emit(context.Background(), violation())
	}
	lines := checkChain(t, readLines(t, buf.Bytes()), key)
	l := lines[0]
	if l.str("key_id") != "k1" || auditlog.RecordHash(nil, l.str("stream_id"), 1, "", "k1", l.body) == l.str("hash") {
		t.Fatalf("record 1: key_id %q, and SHA-256 without the key must not match", l.str("key_id"))
	}
}

// TestCheckpointSignature: checkpoints carry an Ed25519 signature that
// verifies with the public key and fails for anything else.
func TestCheckpointSignature(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := auditlog.NewMemorySink()
	bus := auditlog.NewBus()
	bus.Register(sink)
	bus.SetSigningKey("sig-1", priv)
	bus.Emit(context.Background(), violation())
	_ = bus.Shutdown(context.Background())
	cp := sink.Events(auditlog.Checkpoint)
	if len(cp) != 1 {
		t.Fatalf("%d checkpoints", len(cp))
	}
	sig, _ := cp[0].Attr(auditlog.AttrCheckpointSignature)
	kid, _ := cp[0].Attr(auditlog.AttrCheckpointSignKeyID)
	last := sink.Events(auditlog.EnforcementViolation)[0]
	if kid.AsString() != "sig-1" {
		t.Fatalf("signing key id %q", kid.AsString())
	}
	if err := auditlog.VerifyCheckpoint(pub, bus.Stream(), last.Seq, last.Hash, true, sig.AsString()); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]func() error{
		"other seq": func() error {
			return auditlog.VerifyCheckpoint(pub, bus.Stream(), last.Seq+1, last.Hash, true, sig.AsString())
		},
		"not final": func() error {
			return auditlog.VerifyCheckpoint(pub, bus.Stream(), last.Seq, last.Hash, false, sig.AsString())
		},
		"other hash": func() error {
			return auditlog.VerifyCheckpoint(pub, bus.Stream(), last.Seq, "00", true, sig.AsString())
		},
		"garbage sig": func() error { return auditlog.VerifyCheckpoint(pub, bus.Stream(), last.Seq, last.Hash, true, "!!") },
	} {
		if err := bad(); !errors.Is(err, auditlog.ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
}

// TestCheckpointByTime: a record at least the interval after the last
// checkpoint is followed by one (the record's own time decides, so the test
// needs no clock).
func TestCheckpointByTime(t *testing.T) {
	t.Parallel()
	sink := auditlog.NewMemorySink()
	bus := auditlog.NewBus()
	bus.Register(sink)
	bus.SetCheckpoints(0, time.Hour)
	e := violation()
	e.Time = time.Now().Add(time.Minute)
	bus.Emit(context.Background(), e)
	if n := len(sink.Events(auditlog.Checkpoint)); n != 0 {
		t.Fatalf("%d checkpoints after a minute, want 0", n)
	}
	e.Time = time.Now().Add(2 * time.Hour)
	bus.Emit(context.Background(), e)
	if n := len(sink.Events(auditlog.Checkpoint)); n != 1 {
		t.Fatalf("%d checkpoints after two hours, want 1", n)
	}
}

// TestChainGaplessAcrossFailuresAndSilence: a failing sink misses its
// records (a gap it cannot hide), the others hold every record including
// the SINK_FAILURE; emits with no sink registered take no sequence number.
func TestChainGaplessAcrossFailuresAndSilence(t *testing.T) {
	t.Parallel()
	bus := auditlog.NewBus(auditlog.WithErrorHandler(func(error) {}))
	bus.Emit(context.Background(), violation()) // no sink: not part of the stream
	good := auditlog.NewMemorySink()
	bus.Register(good)
	bus.Register(newFailingSink(errDiskFull))
	bus.Emit(context.Background(), violation())
	bus.Emit(context.Background(), violation())
	evs := good.Events()
	for i, e := range evs {
		if e.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d (types %v)", i+1, e.Seq, e.Type)
		}
		if i > 0 && e.PrevHash != evs[i-1].Hash {
			t.Fatalf("seq %d does not link to %d", e.Seq, evs[i-1].Seq)
		}
	}
	if len(evs) != 4 || len(good.Events(auditlog.SinkFailure)) != 2 {
		t.Fatalf("want 2 events and 2 SINK_FAILUREs in the good sink, got %d records", len(evs))
	}
}

// TestEventJSONRoundTrip: a record read back from its JSON line has the
// canonical body, and so the hash, it was written with.
func TestEventJSONRoundTrip(t *testing.T) {
	t.Parallel()
	sink := auditlog.NewMemorySink()
	bus := auditlog.NewBus()
	bus.Register(sink)
	e := violation()
	e.Caller = auditlog.Caller{File: "billing/report.go", Line: 42, Function: "billing.Report"}
	e.Attributes = []attribute.KeyValue{attribute.String("s", "x<y"), attribute.Int64("i", 7), attribute.Float64("f", 1.5),
		attribute.Float64("whole", 2), attribute.Bool("b", true), attribute.StringSlice("ss", []string{"a", "b"}),
		attribute.Int64Slice("is", []int64{1, 2}), attribute.Float64Slice("fs", []float64{0.5, 3})}
	bus.Emit(context.Background(), e)
	orig := sink.Events()[0]
	b, err := json.Marshal(orig)
	if err != nil {
		t.Fatal(err)
	}
	var back auditlog.Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Seq != orig.Seq || back.Stream != orig.Stream || back.Hash != orig.Hash || !back.Time.Equal(orig.Time) || back.Caller != orig.Caller {
		t.Fatalf("read back %+v\nwrote     %+v", back, orig)
	}
	l := readLines(t, b)[0]
	again, _ := json.Marshal(back)
	if l2 := readLines(t, again)[0]; !bytes.Equal(l.body, l2.body) {
		t.Fatalf("canonical body changed in the round trip:\n%s\n%s", l.body, l2.body)
	}
	if auditlog.RecordHash(nil, back.Stream, back.Seq, back.PrevHash, back.KeyID, l.body) != orig.Hash {
		t.Fatal("the record read back does not match its hash")
	}
	for _, bad := range []string{`{`, `{"schema_version":9,"time":"2026-01-01T00:00:00Z"}`, `{"time":"yesterday"}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// FuzzEventJSON: reading any bytes as a record never panics, and a record
// that reads writes back to a line that reads to the same canonical body.
func FuzzEventJSON(f *testing.F) {
	f.Add([]byte(`{"schema_version":2,"seq":1,"event_id":"x","time":"2026-12-06T10:00:00.5Z","type":"CHECKPOINT","attributes":{"a":[1,2.5],"b":"\u2028"}}`))
	f.Add([]byte(`{"time":"2026-12-06T10:00:00Z","caller":{"file":"f","line":3},"attributes":{"n":null,"o":{"x":1}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e auditlog.Event
		if json.Unmarshal(b, &e) != nil {
			return
		}
		one, err := json.Marshal(e)
		if err != nil {
			return // NaN and the like cannot be written
		}
		var back auditlog.Event
		if err := json.Unmarshal(one, &back); err != nil {
			t.Fatalf("a written record does not read: %v\n%s", err, one)
		}
		two, _ := json.Marshal(back)
		if !bytes.Equal(readLines(t, one)[0].body, readLines(t, two)[0].body) {
			t.Fatalf("canonical body not stable:\n%s\n%s", one, two)
		}
	})
}

// blockingSink fails every record and says it is blocking.
type blockingSink struct{ failingSink }

func (*blockingSink) Blocking() bool { return true }

// TestEmitCheckedBlocking: EmitChecked returns the failure of a blocking
// sink (the other sinks still get the record and a SINK_FAILURE), and
// nothing for a failing sink that is not blocking.
func TestEmitCheckedBlocking(t *testing.T) {
	t.Parallel()
	good := auditlog.NewMemorySink()
	bus := auditlog.NewBus(auditlog.WithErrorHandler(func(error) {}))
	bus.Register(good)
	bus.Register(newFailingSink(errDiskFull))
	if err := bus.EmitChecked(context.Background(), violation()); err != nil {
		t.Fatalf("a failing sink that is not blocking: %v", err)
	}
	blk := &blockingSink{failingSink{err: errDiskFull}}
	bus.Register(blk)
	err := bus.EmitChecked(context.Background(), violation())
	var nre *auditlog.NotRecordedError
	if !errors.Is(err, auditlog.ErrNotRecorded) || !errors.Is(err, auditlog.ErrSinkFailed) || !errors.As(err, &nre) ||
		!errors.Is(err, errDiskFull) || nre.Event != auditlog.EnforcementViolation {
		t.Fatalf("a blocking sink failed: %v", err)
	}
	if n := len(good.Events(auditlog.EnforcementViolation)); n != 2 {
		t.Fatalf("the good sink got %d of the 2 records", n)
	}
}
