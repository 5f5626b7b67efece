package auditlogtest

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// valid replaces each invalid UTF-8 byte of s with U+FFFD, as the canonical
// body and encoding/json do.
func valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// canon renders an attribute value as the canonical encoding sees it:
// strings made valid, numbers by value (2.0 == 2), non-finite floats by
// name.
func canon(v attribute.Value) string {
	num := func(f float64) any {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Sprint(f)
		}
		return f
	}
	var x any
	switch v.Type() {
	case attribute.STRING:
		x = valid(v.AsString())
	case attribute.STRINGSLICE:
		ss := v.AsStringSlice()
		for i := range ss {
			ss[i] = valid(ss[i])
		}
		x = ss
	case attribute.FLOAT64:
		x = num(v.AsFloat64())
	case attribute.FLOAT64SLICE:
		var fs []any
		for _, f := range v.AsFloat64Slice() {
			fs = append(fs, num(f))
		}
		x = fs
	default:
		x = v.AsInterface()
	}
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Sprintf("%#v", x)
	}
	return string(b)
}

// compare lists the differences between the event emitted (w) and the one
// delivered (g).
func compare(w, g auditlog.Event) []string {
	var out []string
	str := func(field, want, got string) {
		if want != got && valid(want) != got {
			out = append(out, fmt.Sprintf("field %s: got %q, want %q", field, got, want))
		}
	}
	str("ID", w.ID, g.ID)
	str("Stream", w.Stream, g.Stream)
	str("PrevHash", w.PrevHash, g.PrevHash)
	str("Hash", w.Hash, g.Hash)
	str("KeyID", w.KeyID, g.KeyID)
	str("Type", string(w.Type), string(g.Type))
	str("Tenant", w.Tenant, g.Tenant)
	str("AttemptedTenant", w.AttemptedTenant, g.AttemptedTenant)
	str("Table", w.Table, g.Table)
	str("Model", w.Model, g.Model)
	str("Operation", w.Operation, g.Operation)
	str("Reason", w.Reason, g.Reason)
	str("Outcome", string(w.Outcome), string(g.Outcome))
	str("TraceID", w.TraceID, g.TraceID)
	str("SpanID", w.SpanID, g.SpanID)
	str("Caller.File", w.Caller.File, g.Caller.File)
	str("Caller.Function", w.Caller.Function, g.Caller.Function)
	if w.Seq != g.Seq {
		out = append(out, fmt.Sprintf("field Seq: got %d, want %d", g.Seq, w.Seq))
	}
	if w.Caller.Line != g.Caller.Line {
		out = append(out, fmt.Sprintf("field Caller.Line: got %d, want %d", g.Caller.Line, w.Caller.Line))
	}
	if !w.Time.Equal(g.Time) {
		out = append(out, fmt.Sprintf("field Time: got %s, want %s", g.Time.Format("2006-01-02T15:04:05.999999999Z07:00"), w.Time.Format("2006-01-02T15:04:05.999999999Z07:00")))
	}
	want := map[string]string{}
	for _, kv := range w.Attributes {
		want[valid(string(kv.Key))] = canon(kv.Value)
	}
	got := map[string]string{}
	for _, kv := range g.Attributes {
		got[valid(string(kv.Key))] = canon(kv.Value)
	}
	var missing, extra, changed []string
	for k, v := range want {
		gv, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case gv != v:
			changed = append(changed, fmt.Sprintf("%s: got %s, want %s", k, clip(gv), clip(v)))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	for _, l := range []struct {
		what string
		keys []string
	}{{"missing", missing}, {"unexpected", extra}} {
		if len(l.keys) > 0 {
			slices.Sort(l.keys)
			out = append(out, fmt.Sprintf("%d attribute(s) %s: %s", len(l.keys), l.what, clip(strings.Join(l.keys, ", "))))
		}
	}
	slices.Sort(changed)
	for _, c := range changed {
		out = append(out, "attribute "+c)
	}
	return out
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

// deepCopy returns a copy of e that shares nothing mutable with it.
func deepCopy(e auditlog.Event) auditlog.Event {
	c := e
	c.Attributes = nil
	for _, kv := range e.Attributes {
		switch kv.Value.Type() {
		case attribute.STRINGSLICE:
			kv = attribute.StringSlice(string(kv.Key), kv.Value.AsStringSlice())
		case attribute.INT64SLICE:
			kv = attribute.Int64Slice(string(kv.Key), kv.Value.AsInt64Slice())
		}
		c.Attributes = append(c.Attributes, kv)
	}
	return c
}
