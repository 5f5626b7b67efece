package auditverify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// Keys of the fixtures (fixed, so that failures reproduce).
var (
	hmacKey    = []byte("0123456789abcdef0123456789abcdef")
	signSeed   = bytes.Repeat([]byte{7}, ed25519.SeedSize)
	signKey    = ed25519.NewKeyFromSeed(signSeed)
	signPub    = signKey.Public().(ed25519.PublicKey)
	otherKey   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	withPubKey = Options{PublicKeys: map[string]ed25519.PublicKey{"sig1": signPub}}
)

// fixture says how a bus writes a trail.
type fixture struct {
	hmac       bool // key the chain with hmacKey ("k1")
	sign       bool // sign checkpoints with signKey ("sig1")
	every      int  // checkpoint every this many records (0: none but the final one)
	events     int  // events per emitter
	emitters   int  // concurrent emitters (0 or 1: one, in order)
	noShutdown bool // no final checkpoint
}

func (f fixture) bus() *auditlog.Bus {
	bus := auditlog.NewBus()
	bus.SetCheckpoints(f.every, 0)
	if f.hmac {
		bus.SetHMACKey("k1", hmacKey)
	}
	if f.sign {
		bus.SetSigningKey("sig1", signKey)
	}
	return bus
}

// event is the i-th event of a fixture: every field and attribute type a
// record can have, over the event types.
func event(i int) auditlog.Event {
	e := auditlog.Event{
		Type: auditlog.Types()[i%6], Tenant: "acme", Table: "orders", Operation: "UPDATE",
		Reason: "test <&> \u2028 record " + strconv.Itoa(i), Outcome: auditlog.OutcomeBlocked,
		Attributes: []attribute.KeyValue{
			attribute.Int("n", i), attribute.Float64("ratio", float64(i)/4), attribute.Bool("even", i%2 == 0),
			attribute.StringSlice("tags", []string{"a", "b"}), attribute.Int64Slice("ids", []int64{1, -2, 1 << 40}),
			attribute.Float64("big", 1e21), attribute.Float64("whole", 3),
		},
	}
	switch i % 3 {
	case 0:
		e.AttemptedTenant, e.Model = "globex", "*app.Order"
		e.TraceID, e.SpanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	case 1:
		e.Caller = auditlog.Caller{File: "/src/billing/run.go", Line: 17 + i, Function: "billing.Run"}
	case 2:
		e.Caller = auditlog.Caller{File: "/src/x.go", Line: 3}
		e.Attributes = nil
	}
	return e
}

// emit writes the fixture's events through bus.
func (f fixture) emit(t testing.TB, bus *auditlog.Bus) {
	t.Helper()
	ctx := auditlog.WithRequest(context.Background(), auditlog.Request{Actor: "u1", ClientAddress: "10.0.0.1", Method: "PATCH", Route: "/orders/{id}"})
	var wg sync.WaitGroup
	for g := 0; g < max(f.emitters, 1); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < f.events; i++ {
				bus.Emit(ctx, event(g*1000+i))
			}
		}()
	}
	wg.Wait()
	if !f.noShutdown {
		if err := bus.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// jsonLines runs the fixture through a JSONSink writing to a file, and
// returns the file's lines (each without its newline) and the stream id.
func (f fixture) jsonLines(t testing.TB) ([]string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bus := f.bus()
	bus.Register(auditlog.NewJSONSink(file))
	f.emit(t, bus)
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"), bus.Stream()
}

// collector is an OTLP/HTTP endpoint that writes what it receives as the
// Collector's file exporter does: one ExportLogsServiceRequest JSON
// object per line, trace and span IDs in hex (rawIDs: as protojson
// writes them, base64).
type collector struct {
	mu     sync.Mutex
	lines  []string
	rawIDs bool
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req collogs.ExportLogsServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	var line []byte
	if err == nil {
		line, err = protojson.Marshal(&req)
	}
	if err == nil && !c.rawIDs {
		line, err = hexIDs(line)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.lines = append(c.lines, string(line))
	c.mu.Unlock()
	resp, _ := proto.Marshal(&collogs.ExportLogsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// hexIDs rewrites protojson's base64 traceId and spanId in hex, as the
// Collector's OTLP/JSON encoding has them.
func hexIDs(line []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	for _, rl := range list(m, "resourceLogs", "") {
		for _, sl := range list(object(rl), "scopeLogs", "") {
			for _, lr := range list(object(sl), "logRecords", "") {
				lrm := object(lr)
				for _, k := range []string{"traceId", "spanId"} {
					if s, ok := lrm[k].(string); ok {
						b, err := base64.StdEncoding.DecodeString(s)
						if err != nil {
							return nil, err
						}
						lrm[k] = hex.EncodeToString(b)
					}
				}
			}
		}
	}
	return json.Marshal(m)
}

// otlpLines runs the fixture through an OTelSink whose provider exports
// with the real OTLP/HTTP exporter to a collector, and returns the
// collector's lines; with also, the bus writes JSON lines there too.
func (f fixture) otlpLines(t testing.TB, rawIDs bool, also io.Writer) ([]string, string) {
	t.Helper()
	c := &collector{rawIDs: rawIDs}
	srv := httptest.NewServer(c)
	defer srv.Close()
	exp, err := otlploghttp.New(context.Background(), otlploghttp.WithEndpointURL(srv.URL+"/v1/logs"))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp, sdklog.WithExportMaxBatchSize(7))))
	sink, err := auditlog.NewOTelSink(lp)
	if err != nil {
		t.Fatal(err)
	}
	bus := f.bus()
	bus.Register(sink)
	if also != nil {
		bus.Register(auditlog.NewJSONSink(also))
	}
	// A record of another scope, which the verifier skips.
	other := lp.Logger("github.com/example/app")
	var rec otellog.Record
	rec.SetBody(attribute.StringValue("not audit"))
	other.Emit(context.Background(), rec)
	f.emit(t, bus)
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lines) == 0 {
		t.Fatal("the collector received nothing")
	}
	return append([]string(nil), c.lines...), bus.Stream()
}

// verifyLines verifies files given as lines.
func verifyLines(t testing.TB, o Options, files ...[]string) *Report {
	t.Helper()
	var in []Input
	for i, lines := range files {
		in = append(in, Input{Name: fmt.Sprintf("f%d", i+1), R: strings.NewReader(strings.Join(lines, "\n") + "\n")})
	}
	r, err := Verify(o, in...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// lineMap decodes a JSON line.
func lineMap(t testing.TB, line string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mapLine(t testing.TB, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// indexOf returns the index of the line with sequence number seq.
func indexOf(t testing.TB, lines []string, seq int) int {
	t.Helper()
	for i, l := range lines {
		if lineMap(t, l)["seq"] == json.Number(strconv.Itoa(seq)) {
			return i
		}
	}
	t.Fatalf("no line with seq %d", seq)
	return -1
}

// rehash recomputes the hash of a JSON line's record as someone with key
// (nil: plain SHA-256) would.
func rehash(t testing.TB, m map[string]any, key []byte) {
	t.Helper()
	body := map[string]any{}
	for k, v := range m {
		body[k] = v
	}
	for _, k := range auditlog.BodyFields() {
		delete(body, k)
	}
	seq, _ := strconv.ParseUint(string(m["seq"].(json.Number)), 10, 64)
	keyID, _ := m["key_id"].(string)
	prev, _ := m["prev_hash"].(string)
	m["hash"] = auditlog.RecordHash(key, m["stream_id"].(string), seq, prev, keyID, auditlog.CanonicalBody(body))
}

// rewriteFrom edits the record seq with edit and recomputes the chain from
// there to the end, as someone who can rewrite the file (and knows key)
// would: every later hash and prev_hash, and what the checkpoints vouch
// for. Signatures cannot be recomputed.
func rewriteFrom(t testing.TB, lines []string, seq int, key []byte, edit func(map[string]any)) []string {
	t.Helper()
	out := append([]string(nil), lines...)
	prev := ""
	for s := seq; s <= len(lines); s++ {
		i := indexOf(t, out, s)
		m := lineMap(t, out[i])
		if s == seq {
			edit(m)
		} else {
			m["prev_hash"] = prev
		}
		if a, ok := m["attributes"].(map[string]any); ok && s > seq && m["type"] == string(auditlog.Checkpoint) {
			a[string(auditlog.AttrCheckpointHash)] = prev
		}
		rehash(t, m, key)
		prev = m["hash"].(string)
		out[i] = mapLine(t, m)
	}
	return out
}
