package auditlog

import (
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
)

// appendCanonical appends e's canonical body (what CanonicalBody(eventMap(e))
// encodes) without building the map: the keys are written in their sorted
// order. It reports false for a value it does not write the way
// encoding/json does (a NaN or infinite float), for which the caller falls
// back to the map. TestCanonicalFastPath and FuzzCanonicalFastPath hold it
// to the reference encoding byte for byte.
func appendCanonical(b []byte, e *Event) ([]byte, bool) {
	b = append(b, '{')
	first := true
	key := func(k string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
	}
	str := func(k, v string) {
		if v != "" {
			key(k)
			b = appendJSONString(b, v)
		}
	}
	// Keys in byte order: attempted_tenant_id, attributes, caller,
	// event_id, model, operation, outcome, reason, span_id, table,
	// tenant_id, time, trace_id, type.
	str("attempted_tenant_id", e.AttemptedTenant)
	if len(e.Attributes) > 0 {
		key("attributes")
		var ok bool
		if b, ok = appendAttributes(b, e.Attributes); !ok {
			return b, false
		}
	}
	if !e.Caller.IsZero() {
		key("caller")
		b = append(b, `{"file":`...)
		b = appendJSONString(b, e.Caller.File)
		if e.Caller.Function != "" {
			b = append(b, `,"function":`...)
			b = appendJSONString(b, e.Caller.Function)
		}
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(e.Caller.Line), 10)
		b = append(b, '}')
	}
	key("event_id")
	b = appendJSONString(b, e.ID)
	str("model", e.Model)
	str("operation", e.Operation)
	str("outcome", string(e.Outcome))
	str("reason", e.Reason)
	str("span_id", e.SpanID)
	str("table", e.Table)
	str("tenant_id", e.Tenant)
	key("time")
	b = append(b, '"')
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	str("trace_id", e.TraceID)
	str("type", string(e.Type))
	return append(b, '}'), true
}

var attrOrder = sync.Pool{New: func() any { s := make([]int, 0, 16); return &s }}

// appendAttributes writes the attributes as an object with sorted keys; a
// repeated key keeps its last value, as the map does.
func appendAttributes(b []byte, attrs []attribute.KeyValue) ([]byte, bool) {
	op := attrOrder.Get().(*[]int)
	defer attrOrder.Put(op)
	idx := (*op)[:0]
	for i := range attrs {
		idx = append(idx, i)
	}
	keyOf := func(i int) string { return validUTF8(string(attrs[i].Key)) }
	slices.SortStableFunc(idx, func(x, y int) int {
		kx, ky := keyOf(x), keyOf(y)
		switch {
		case kx < ky:
			return -1
		case kx > ky:
			return 1
		}
		return 0
	})
	*op = idx
	b = append(b, '{')
	n := 0
	for j, i := range idx {
		if j+1 < len(idx) && keyOf(idx[j+1]) == keyOf(i) {
			continue // the map keeps the last one
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendJSONString(b, string(attrs[i].Key))
		b = append(b, ':')
		var ok bool
		if b, ok = appendValue(b, attrs[i].Value); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

func appendValue(b []byte, v attribute.Value) ([]byte, bool) {
	switch v.Type() {
	case attribute.EMPTY:
		return append(b, "null"...), true
	case attribute.BOOL:
		return strconv.AppendBool(b, v.AsBool()), true
	case attribute.INT64:
		return strconv.AppendInt(b, v.AsInt64(), 10), true
	case attribute.FLOAT64:
		return appendJSONFloat(b, v.AsFloat64())
	case attribute.STRING:
		return appendJSONString(b, v.AsString()), true
	case attribute.BOOLSLICE:
		return appendSlice(b, v.AsBoolSlice(), func(b []byte, x bool) ([]byte, bool) { return strconv.AppendBool(b, x), true })
	case attribute.INT64SLICE:
		return appendSlice(b, v.AsInt64Slice(), func(b []byte, x int64) ([]byte, bool) { return strconv.AppendInt(b, x, 10), true })
	case attribute.FLOAT64SLICE:
		return appendSlice(b, v.AsFloat64Slice(), appendJSONFloat)
	case attribute.STRINGSLICE:
		return appendSlice(b, v.AsStringSlice(), func(b []byte, x string) ([]byte, bool) { return appendJSONString(b, x), true })
	}
	return b, false
}

func appendSlice[T any](b []byte, xs []T, f func([]byte, T) ([]byte, bool)) ([]byte, bool) {
	if xs == nil {
		return append(b, "null"...), true
	}
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = f(b, x); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}

// appendJSONFloat writes f as encoding/json does (ECMAScript's number to
// string): 'f' form between 1e-6 and 1e21, 'e' form with a trimmed
// exponent outside.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

const hexChars = "0123456789abcdef"

// appendJSONString writes s as encoding/json does without HTML escaping,
// after validUTF8: quotes, backslashes and control characters escaped
// (\b \f \n \r \t or \u00XX), U+2028 and U+2029 as \u2028 and \u2029.
func appendJSONString(b []byte, s string) []byte {
	s = validUTF8(s)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexChars[c>>4], hexChars[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexChars[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
