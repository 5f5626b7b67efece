package auditverify

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

func TestHMACChain(t *testing.T) {
	t.Parallel()
	lines, _ := fixture{hmac: true, every: 4, events: 9}.jsonLines(t)
	n := len(lines) // 9 events, checkpoints after 4 and 8 records, a final one: 12
	keys := Options{HMACKeys: map[string][]byte{"k1": hmacKey}}
	recomputed := func(key []byte) []string {
		out := slices.Clone(lines)
		i := indexOf(t, out, 3)
		m := lineMap(t, out[i])
		m["tenant_id"] = "globex"
		rehash(t, m, key)
		out[i] = mapLine(t, m)
		return out
	}
	for _, tc := range []struct {
		name  string
		lines []string
		opts  Options
		want  []string
		check func(t *testing.T, s StreamReport)
	}{
		{name: "with the key", lines: lines, opts: keys, want: []string{}, check: func(t *testing.T, s StreamReport) {
			if !reflect.DeepEqual(s.KeyIDs, []string{"k1"}) || s.Unverified != 0 || s.Records != n {
				t.Errorf("%+v", s)
			}
		}},
		{name: "without the key", lines: lines, want: []string{"UNKNOWN_KEY"}},
		{name: "without the key, allowed", lines: lines, opts: Options{AllowUnknownKeys: true}, want: []string{"unknown_key"},
			check: func(t *testing.T, s StreamReport) {
				if s.Unverified != n {
					t.Errorf("unverified %d, want %d", s.Unverified, n)
				}
			}},
		{name: "without the key, links still checked", lines: func() []string {
			out := slices.Clone(lines)
			i := indexOf(t, out, 5)
			m := lineMap(t, out[i])
			m["prev_hash"] = strings.Repeat("a", 64)
			out[i] = mapLine(t, m)
			return out
		}(), opts: Options{AllowUnknownKeys: true}, want: []string{"CHAIN_RELINKED 5", "unknown_key"}},
		{name: "the wrong key", lines: lines, opts: Options{HMACKeys: map[string][]byte{"k1": []byte("guess")}},
			check: func(t *testing.T, s StreamReport) {
				for _, f := range s.Findings {
					if f.Kind != KindRecordEdited {
						t.Errorf("finding %+v", f)
					}
				}
				if len(s.Findings) != n {
					t.Errorf("%d findings, want every record's", len(s.Findings))
				}
			}},
		{name: "edited, hash recomputed with SHA-256", lines: recomputed(nil), opts: keys, want: []string{"RECORD_EDITED 3", "CHAIN_RELINKED 4"},
			check: func(t *testing.T, s StreamReport) {
				if !strings.Contains(s.Findings[0].Message, "plain SHA-256") {
					t.Errorf("message %q does not say the hash was recomputed without the key", s.Findings[0].Message)
				}
			}},
		{name: "edited, hash recomputed with the key", lines: recomputed(hmacKey), opts: keys, want: []string{"CHAIN_RELINKED 4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := verifyLines(t, tc.opts, tc.lines)
			if got := summary(r); tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				var b strings.Builder
				_ = r.WriteText(&b)
				t.Fatalf("findings %q, want %q\n%s", got, tc.want, b.String())
			}
			if tc.check != nil {
				tc.check(t, r.Streams[0])
			}
		})
	}
}

// TestConcurrentEmitters: records reach the file out of sequence order;
// the stream is intact, and a deleted record is the gap it leaves.
func TestConcurrentEmitters(t *testing.T) {
	t.Parallel()
	f := fixture{hmac: true, sign: true, every: 10, events: 60, emitters: 8}
	lines, stream := f.jsonLines(t)
	// 480 events, a checkpoint after every 10 of them, the final one.
	events := 0
	for _, l := range lines {
		if !strings.Contains(l, `"type":"CHECKPOINT"`) {
			events++
		}
	}
	if events != 480 || len(lines) != 480+48+1 {
		t.Fatalf("%d lines, %d events", len(lines), events)
	}
	opts := Options{HMACKeys: map[string][]byte{"k1": hmacKey}, PublicKeys: withPubKey.PublicKeys, RequireSignatures: true}
	r := verifyLines(t, opts, lines)
	if got := summary(r); len(got) != 0 || !r.Intact || r.Streams[0].Stream != stream || r.Streams[0].Records != len(lines) {
		t.Fatalf("%q %+v", got, r.Streams)
	}
	seq := 2 + rand.IntN(len(lines)-3)
	r = verifyLines(t, opts, without(lines, indexOf(t, lines, seq)))
	if got, want := summary(r), []string{"GAP " + itoa(seq)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("deleting %d: %q, want %q", seq, got, want)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestTwoStreamsInOneFile: two buses (two processes) append to one file.
func TestTwoStreamsInOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	sink := auditlog.NewJSONSink(file)
	a, b := fixture{every: 3}.bus(), fixture{hmac: true, sign: true, every: 2}.bus()
	a.Register(sink)
	b.Register(sink)
	ctx := t.Context()
	for i := range 7 {
		a.Emit(ctx, event(i))
		b.Emit(ctx, event(100+i))
		if i%2 == 0 {
			b.Emit(ctx, event(200+i))
		}
	}
	_ = a.Shutdown(ctx)
	_ = b.Shutdown(ctx)
	_ = file.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	opts := Options{HMACKeys: map[string][]byte{"k1": hmacKey}, PublicKeys: withPubKey.PublicKeys}
	r := verifyLines(t, opts, lines)
	if len(r.Streams) != 2 || !r.Intact {
		t.Fatalf("%d streams, intact %v: %q", len(r.Streams), r.Intact, summary(r))
	}
	byID := map[string]StreamReport{}
	for _, s := range r.Streams {
		byID[s.Stream] = s
	}
	// a: 7 events, checkpoints after 3 and 6 records, a final one.
	if s := byID[a.Stream()]; s.Records != 7+2+1 || s.Checkpoints != 3 || !reflect.DeepEqual(s.KeyIDs, []string{""}) {
		t.Errorf("stream a: %+v", s)
	}
	// b: 11 events, a checkpoint after every 2 records, a final one.
	if s := byID[b.Stream()]; s.Records != 11+5+1 || s.VerifiedSignatures != 6 || !reflect.DeepEqual(s.KeyIDs, []string{"k1"}) {
		t.Errorf("stream b: %+v", s)
	}
	// Deleting one of b's records leaves a intact.
	bLine := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, b.Stream()) && strings.Contains(l, `"seq":4,`) })
	r = verifyLines(t, opts, without(lines, bLine))
	for _, s := range r.Streams {
		if s.Intact != (s.Stream == a.Stream()) {
			t.Errorf("stream %s intact %v: %q", s.Stream, s.Intact, s.Gaps)
		}
	}
}
