package auditverify

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseLine: no line, however malformed, panics the parser or the
// verifier, and every line is either read or a parse error.
func FuzzParseLine(f *testing.F) {
	lines, _ := fixture{sign: true, every: 2, events: 3}.jsonLines(f)
	otlp, _ := fixture{hmac: true, every: 2, events: 3}.otlpLines(f, false, nil)
	for _, l := range append(lines, otlp...) {
		f.Add([]byte(l))
	}
	for _, s := range []string{"", "{}", "null", "[]", `{"stream_id":1}`, `{"resourceLogs":{}}`, `{"resourceLogs":[{"scopeLogs":[1]}]}`,
		`{"schema_version":1}`, `{"stream_id":"s","seq":"1","hash":"h","schema_version":2}`, `{"a":1} {"b":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		p, err := parseLine(line, "f:1")
		if err == nil && p.format == "" {
			t.Fatalf("no error and no format for %q", line)
		}
		r, err := Verify(Options{PublicKeys: withPubKey.PublicKeys}, Input{Name: "f", R: bytes.NewReader(line)})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := r.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if r.Intact && len(r.Streams) == 0 && len(bytes.TrimSpace(line)) > 0 && !bytes.Contains(line, []byte("resourceLogs")) &&
			!bytes.Contains(line, []byte("resource_logs")) {
			t.Fatalf("a non-empty line that is not OTLP was neither read nor an error: %q", line)
		}
	})
}
