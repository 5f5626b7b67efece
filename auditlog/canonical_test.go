package auditlog

import (
	"bytes"
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

func checkFast(t *testing.T, e *Event) {
	t.Helper()
	want := CanonicalBody(eventMap(e))
	got, ok := appendCanonical(nil, e)
	if !ok {
		if !bytes.Contains(want, []byte("unsupported value")) {
			t.Fatalf("fast path refused an encodable record: %s", want)
		}
		return
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("fast canonical body differs:\n got %s\nwant %s", got, want)
	}
}

// TestCanonicalFastPath: the direct writer and the reference encoding (a
// map through encoding/json) agree byte for byte.
func TestCanonicalFastPath(t *testing.T) {
	base := Event{ID: "01a2", Time: time.Date(2026, 12, 6, 10, 0, 0, 123456000, time.UTC), Type: EnforcementViolation}
	cases := []func(e *Event){
		func(*Event) {},
		func(e *Event) {
			e.Tenant, e.AttemptedTenant, e.Table, e.Model, e.Operation = "acme", "globex", "orders", "*app.Order", "UPDATE"
			e.Reason, e.Outcome, e.TraceID, e.SpanID = "x <&> \"q\" \\ \n\t\r\b\f\x01 \u2028\u2029 é 😀", OutcomeBlocked, "ab", "cd"
		},
		func(e *Event) { e.Reason = "bad \xff\xfe utf8 \xe2\x82" },
		func(e *Event) { e.Caller = Caller{File: "a/b.go", Line: 42} },
		func(e *Event) { e.Caller = Caller{File: "a\x00b.go", Line: -1, Function: "f"} },
		func(e *Event) { e.Time = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)) },
		func(e *Event) {
			e.Attributes = []attribute.KeyValue{
				attribute.String("z", "last"), attribute.Int64("a", -7), attribute.Float64("f1", 1e21), attribute.Float64("f2", 1e-7),
				attribute.Float64("f3", 123456789.125), attribute.Float64("f4", math.Copysign(0, -1)), attribute.Float64("f5", 5e-324),
				attribute.Bool("b", false), attribute.StringSlice("ss", []string{"x", "\u2028"}), attribute.StringSlice("empty", []string{}),
				attribute.Int64Slice("is", []int64{1, -2}), attribute.Float64Slice("fs", []float64{0.1, 1e300}), attribute.BoolSlice("bs", []bool{true}),
				attribute.String("z", "dup wins"), attribute.String("\xff", "invalid key"), attribute.String("\xfe", "same key after cleaning"),
			}
		},
		func(e *Event) { e.Attributes = []attribute.KeyValue{attribute.Float64("nan", math.NaN())} },
		func(e *Event) { e.Attributes = []attribute.KeyValue{{Key: "zero"}} },
	}
	for _, f := range cases {
		e := base
		f(&e)
		checkFast(t, &e)
	}
}

// FuzzCanonicalFastPath: any strings, integers and floats encode the same
// both ways.
func FuzzCanonicalFastPath(f *testing.F) {
	f.Add("acme", "reason \u2028", "k", "v\xff", int64(3), 1.5, int64(1700000000123456789), true)
	f.Add("", "", "", "", int64(0), 0.0, int64(0), false)
	f.Fuzz(func(t *testing.T, tenant, reason, k, v string, i int64, fl float64, nanos int64, b bool) {
		e := Event{ID: "id", Time: time.Unix(0, nanos), Type: Type(k), Tenant: tenant, Reason: reason, Table: v,
			Caller: Caller{File: v, Line: int(i)},
			Attributes: []attribute.KeyValue{attribute.String(k, v), attribute.Int64(v, i), attribute.Float64(reason, fl),
				attribute.Bool(tenant, b), attribute.StringSlice(k+"s", []string{v, reason}), attribute.Float64Slice("fs", []float64{fl, float64(i)})}}
		checkFast(t, &e)
	})
}
