package auditlog_test

import (
	"encoding/json"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

func TestCatalogue(t *testing.T) {
	t.Parallel()
	want := map[auditlog.Type]bool{ // name → alert
		"CONTEXT_BOUND": false, "CONTEXT_RELEASED": false, "POLICY_ALLOW": false, "POLICY_DENY": true,
		"ENFORCEMENT_VIOLATION": true, "ENFORCEMENT_BYPASS": true, "SINK_FAILURE": true, "CHECKPOINT": false,
	}
	got := auditlog.Types()
	if len(got) != len(want) {
		t.Fatalf("Types = %v", got)
	}
	for _, ty := range got {
		alert, ok := want[ty]
		if !ok {
			t.Fatalf("unexpected type %q", ty)
		}
		if ty.Alert() != alert {
			t.Errorf("%s.Alert() = %v", ty, ty.Alert())
		}
	}
}

func TestCaller(t *testing.T) {
	t.Parallel()
	var zero auditlog.Caller
	if !zero.IsZero() || zero.String() != "" {
		t.Fatal("zero Caller")
	}
	c := auditlog.Caller{File: "/a/b.go", Line: 9}
	if c.IsZero() || c.String() != "/a/b.go:9" {
		t.Fatalf("String = %q", c.String())
	}
}

func TestEventAttrAndJSON(t *testing.T) {
	t.Parallel()
	e := auditlog.Event{
		ID: "x", Seq: 3, Time: time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 7200)), Type: auditlog.PolicyDeny,
		Attributes: []attribute.KeyValue{attribute.String("k", "v"), attribute.Int64("n", 5), attribute.StringSlice("s", []string{"a"})},
	}
	if v, ok := e.Attr("n"); !ok || v.AsInt64() != 5 {
		t.Fatal("Attr(n)")
	}
	if _, ok := e.Attr("missing"); ok {
		t.Fatal("Attr(missing) found")
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["time"] != "2025-01-02T01:04:05.000000006Z" {
		t.Errorf("time = %v, want RFC 3339 nano in UTC", m["time"])
	}
	attrs := m["attributes"].(map[string]any)
	if attrs["k"] != "v" || attrs["n"] != float64(5) {
		t.Errorf("attributes = %v", attrs)
	}
	if s, ok := attrs["s"].([]any); !ok || len(s) != 1 || s[0] != "a" {
		t.Errorf("slice attribute = %v", attrs["s"])
	}
}
