package auditverify

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestOTLP verifies the Collector's file output of a real OTLP/HTTP
// export, and shows that it rebuilds exactly the records of the JSON
// lines written by the same bus: every record of one file is an identical
// duplicate of the other's.
func TestOTLP(t *testing.T) {
	t.Parallel()
	f := fixture{hmac: true, sign: true, every: 5, events: 12}
	opts := Options{HMACKeys: map[string][]byte{"k1": hmacKey}, PublicKeys: withPubKey.PublicKeys, RequireSignatures: true}
	for _, raw := range []bool{false, true} {
		var js strings.Builder
		otlp, stream := f.otlpLines(t, raw, &js)
		jsonLines := strings.Split(strings.TrimSpace(js.String()), "\n")
		r := verifyLines(t, opts, otlp)
		if got := summary(r); len(got) != 0 || !r.Intact || len(r.Streams) != 1 || r.Streams[0].Stream != stream || r.Streams[0].Records != 15 {
			t.Fatalf("raw IDs %v: %q %+v", raw, got, r)
		}
		if fr := r.Files[0]; fr.Skipped != 1 || fr.Records != 15 || !reflect.DeepEqual(fr.Formats, []string{"otlp"}) {
			t.Errorf("file report %+v: want the other scope's record skipped", fr)
		}
		r = verifyLines(t, opts, otlp, jsonLines)
		if s := r.Streams[0]; !r.Intact || s.Records != 15 || s.Duplicates != 15 {
			t.Fatalf("raw IDs %v: OTLP and JSON lines of one bus: %q %+v", raw, summary(r), s)
		}
	}
}

// editOTLP applies fn to the attributes of the OTLP record with audit
// sequence seq.
func editOTLP(t *testing.T, lines []string, seq string, fn func(lr map[string]any, attrs []any)) []string {
	t.Helper()
	out := slices.Clone(lines)
	for i, l := range out {
		m := lineMap(t, l)
		found := false
		for _, rl := range list(m, "resourceLogs", "") {
			for _, sl := range list(object(rl), "scopeLogs", "") {
				for _, lr := range list(object(sl), "logRecords", "") {
					attrs := list(object(lr), "attributes", "")
					for _, a := range attrs {
						if object(a)["key"] == "audit.sequence" && object(object(a)["value"])["intValue"] == seq {
							fn(object(lr), attrs)
							found = true
						}
					}
				}
			}
		}
		if found {
			out[i] = mapLine(t, m)
			return out
		}
	}
	t.Fatalf("no OTLP record with sequence %s", seq)
	return nil
}

// lineOf returns the line number of the OTLP record with sequence seq.
func lineOf(t *testing.T, lines []string, seq string) string {
	for i, l := range lines {
		if strings.Contains(l, `{"key":"audit.sequence","value":{"intValue":"`+seq+`"}}`) {
			return itoa(i + 1)
		}
	}
	t.Fatalf("no line has sequence %s", seq)
	return ""
}

func TestTamperOTLP(t *testing.T) {
	t.Parallel()
	otlp, _ := fixture{sign: true, every: 5, events: 12}.otlpLines(t, false, nil)
	setAttr := func(key string, v any) func(map[string]any, []any) {
		return func(_ map[string]any, attrs []any) {
			for _, a := range attrs {
				if object(a)["key"] == key {
					object(a)["value"] = v
				}
			}
		}
	}
	for _, tc := range []struct {
		name  string
		lines []string
		want  []string
	}{
		{"untouched", otlp, []string{}},
		{"tenant edited", editOTLP(t, otlp, "3", setAttr("tenant.id", map[string]any{"stringValue": "globex"})), []string{"RECORD_EDITED 3"}},
		{"free attribute edited", editOTLP(t, otlp, "4", setAttr("n", map[string]any{"intValue": "99"})), []string{"RECORD_EDITED 4"}},
		{"int as a JSON number", editOTLP(t, otlp, "4", func(_ map[string]any, attrs []any) {
			for _, a := range attrs {
				if v := object(object(a)["value"]); v["intValue"] != nil {
					v["intValue"] = json.Number(v["intValue"].(string))
				}
			}
		}), []string{}},
		{"snake_case names", editOTLP(t, otlp, "4", func(lr map[string]any, attrs []any) {
			lr["time_unix_nano"], lr["event_name"] = lr["timeUnixNano"], lr["eventName"]
			delete(lr, "timeUnixNano")
			delete(lr, "eventName")
			for _, a := range attrs {
				if v := object(object(a)["value"]); v["stringValue"] != nil {
					v["string_value"] = v["stringValue"]
					delete(v, "stringValue")
				}
			}
		}), []string{}},
		{"time edited", editOTLP(t, otlp, "7", func(lr map[string]any, _ []any) { lr["timeUnixNano"] = "1" }), []string{"RECORD_EDITED 7"}},
		{"trace edited", editOTLP(t, otlp, "1", func(lr map[string]any, _ []any) { lr["traceId"] = strings.Repeat("ab", 16) }), []string{"RECORD_EDITED 1"}},
		{"severity edited (not covered)", editOTLP(t, otlp, "2", func(lr map[string]any, _ []any) { lr["severityText"] = "DEBUG" }), []string{}},
		{"not an AnyValue", editOTLP(t, otlp, "5", setAttr("n", "5")), []string{"parse f1:" + lineOf(t, otlp, "5"), "GAP 5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := verifyLines(t, withPubKey, tc.lines)
			if got := summary(r); !reflect.DeepEqual(got, tc.want) {
				var b strings.Builder
				_ = r.WriteText(&b)
				t.Fatalf("findings %q, want %q\n%s", got, tc.want, b.String())
			}
		})
	}
}
