package auditverify

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestReportForms: the JSON form's field names are the stable ones, and
// the text form names each failure with its file:line.
func TestReportForms(t *testing.T) {
	t.Parallel()
	lines, stream := sigFixture.jsonLines(t)
	tampered := without(lines, indexOf(t, lines, 8))
	i := indexOf(t, tampered, 3)
	m := lineMap(t, tampered[i])
	m["tenant_id"] = "globex"
	tampered[i] = mapLine(t, m)
	tampered = append(tampered, "{")
	r := verifyLines(t, withPubKey, tampered)

	var js strings.Builder
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Intact      bool `json:"intact"`
		ParseErrors []struct {
			File string `json:"file"`
			Line int    `json:"line"`
		} `json:"parse_errors"`
		Streams []struct {
			Stream   string   `json:"stream_id"`
			Intact   bool     `json:"intact"`
			Gaps     []string `json:"gaps"`
			Final    bool     `json:"final_checkpoint"`
			Through  uint64   `json:"signed_through"`
			Findings []struct {
				Kind    string   `json:"kind"`
				Failure bool     `json:"failure"`
				Seq     uint64   `json:"seq"`
				Where   []string `json:"where"`
				Message string   `json:"message"`
			} `json:"findings"`
		} `json:"streams"`
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(js.String()), &raw); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !reflect.DeepEqual(keys, []string{"files", "intact", "parse_errors", "streams"}) {
		t.Errorf("top-level keys %q", keys)
	}
	if err := json.Unmarshal([]byte(js.String()), &got); err != nil {
		t.Fatal(err)
	}
	s := got.Streams[0]
	if got.Intact || len(got.ParseErrors) != 1 || got.ParseErrors[0].Line != 15 || s.Stream != stream || s.Intact ||
		!reflect.DeepEqual(s.Gaps, []string{"8"}) || !s.Final || s.Through != 14 || len(s.Findings) != 2 ||
		s.Findings[0].Kind != "record_edited" || s.Findings[0].Seq != 3 || !s.Findings[0].Failure ||
		!reflect.DeepEqual(s.Findings[0].Where, []string{"f1:3"}) || s.Findings[1].Kind != "gap" {
		t.Errorf("JSON report:\n%s", js.String())
	}

	var txt strings.Builder
	if err := r.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"tenantshield audit verify: 1 file, 14 records, 1 stream: NOT INTACT (3 failures)\n",
		"FAIL parse f1:15: not a JSON object: unexpected EOF\n",
		"stream " + stream + ": NOT INTACT\n",
		"  FAIL record_edited at 3 (f1:3): the hash does not match",
		"  FAIL gap 8: 1 record missing",
	} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("no %q in:\n%s", want, txt.String())
		}
	}
}
