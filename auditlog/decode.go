package auditlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// UnmarshalJSON reads a record written by [Event.MarshalJSON] (a JSON line of
// [JSONSink]). Attribute values come back as strings, booleans, int64 (a
// number without a fraction or exponent), float64, or slices of one of
// those; anything else as its JSON text. The canonical body, and so the
// hash, of the record read is the one written: a durable spool and a
// verifier rely on it.
func (e *Event) UnmarshalJSON(b []byte) error {
	var j struct {
		Schema          int                        `json:"schema_version"`
		Stream          string                     `json:"stream_id"`
		Seq             uint64                     `json:"seq"`
		PrevHash        string                     `json:"prev_hash"`
		Hash            string                     `json:"hash"`
		KeyID           string                     `json:"key_id"`
		ID              string                     `json:"event_id"`
		Time            string                     `json:"time"`
		Type            Type                       `json:"type"`
		Tenant          string                     `json:"tenant_id"`
		AttemptedTenant string                     `json:"attempted_tenant_id"`
		Table           string                     `json:"table"`
		Model           string                     `json:"model"`
		Operation       string                     `json:"operation"`
		Reason          string                     `json:"reason"`
		Outcome         Outcome                    `json:"outcome"`
		TraceID         string                     `json:"trace_id"`
		SpanID          string                     `json:"span_id"`
		Caller          *Caller                    `json:"caller"`
		Attributes      map[string]json.RawMessage `json:"attributes"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("auditlog: not an audit record: %w", err)
	}
	if j.Schema > SchemaVersion {
		return fmt.Errorf("auditlog: record of schema version %d, this reader knows up to %d", j.Schema, SchemaVersion)
	}
	t, err := time.Parse(time.RFC3339Nano, j.Time)
	if err != nil {
		return fmt.Errorf("auditlog: record %s: time %q: %w", j.ID, j.Time, err)
	}
	*e = Event{ID: j.ID, Stream: j.Stream, Seq: j.Seq, PrevHash: j.PrevHash, Hash: j.Hash, KeyID: j.KeyID,
		Time: t.UTC(), Type: j.Type, Tenant: j.Tenant, AttemptedTenant: j.AttemptedTenant, Table: j.Table,
		Model: j.Model, Operation: j.Operation, Reason: j.Reason, Outcome: j.Outcome, TraceID: j.TraceID, SpanID: j.SpanID}
	if j.Caller != nil {
		e.Caller = *j.Caller
	}
	if len(j.Attributes) > 0 {
		e.Attributes = make([]attribute.KeyValue, 0, len(j.Attributes))
		for k, raw := range j.Attributes {
			e.Attributes = append(e.Attributes, attributeOf(k, raw))
		}
	}
	return nil
}

// attributeOf turns a JSON value back into an attribute.
func attributeOf(k string, raw json.RawMessage) attribute.KeyValue {
	key := attribute.Key(k)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return key.String(string(raw))
	}
	switch x := v.(type) {
	case string:
		return key.String(x)
	case bool:
		return key.Bool(x)
	case json.Number:
		if i, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return key.Int64(i)
		}
		if f, err := x.Float64(); err == nil {
			return key.Float64(f)
		}
	case []any:
		if kv, ok := sliceAttribute(key, x); ok {
			return kv
		}
	}
	return key.String(string(raw))
}

// sliceAttribute rebuilds a slice attribute whose elements share one kind.
func sliceAttribute(key attribute.Key, xs []any) (attribute.KeyValue, bool) {
	var ss []string
	var bs []bool
	var is []int64
	var fs []float64
	for _, x := range xs {
		switch v := x.(type) {
		case string:
			ss = append(ss, v)
		case bool:
			bs = append(bs, v)
		case json.Number:
			if i, err := strconv.ParseInt(v.String(), 10, 64); err == nil && fs == nil {
				is = append(is, i)
			} else if f, err := v.Float64(); err == nil {
				for _, i := range is {
					fs = append(fs, float64(i))
				}
				is = nil
				fs = append(fs, f)
			} else {
				return attribute.KeyValue{}, false
			}
		default:
			return attribute.KeyValue{}, false
		}
	}
	switch n := len(xs); {
	case len(ss) == n:
		return key.StringSlice(ss), true
	case len(bs) == n:
		return key.BoolSlice(bs), true
	case len(is) == n:
		return key.Int64Slice(is), true
	case len(fs) == n:
		return key.Float64Slice(fs), true
	}
	return attribute.KeyValue{}, false
}
