package auditlog

import (
	"encoding/json"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// Type is the kind of an audit event. The string values are a stable contract:
// they are the EventName of OTel log records and the "type" of JSON lines.
type Type string

// The event catalogue.
const (
	// ContextBound: a tenant was bound to a unit of work (a request, a job).
	ContextBound Type = "CONTEXT_BOUND"
	// ContextReleased: the unit of work that bound a tenant ended.
	ContextReleased Type = "CONTEXT_RELEASED"
	// PolicyAllow: a policy allowed an operation.
	PolicyAllow Type = "POLICY_ALLOW"
	// PolicyDeny: a policy denied an operation.
	PolicyDeny Type = "POLICY_DENY"
	// EnforcementViolation: an operation was blocked (or, in report-only
	// mode, would have been) because it crossed or lacked the tenant scope.
	EnforcementViolation Type = "ENFORCEMENT_VIOLATION"
	// EnforcementBypass: an operation ran unscoped under an explicit bypass.
	EnforcementBypass Type = "ENFORCEMENT_BYPASS"
	// SinkFailure: a sink failed to record an event.
	SinkFailure Type = "SINK_FAILURE"
	// Checkpoint: the bus vouches for its stream so far: the sequence
	// number and hash of the last record before it, signed when the bus has
	// a signing key. Written every N records or T seconds and, marked
	// final, at [Bus.Shutdown], so that a clean end can be told from a lost
	// tail.
	Checkpoint Type = "CHECKPOINT"
)

// Types lists every event type of the catalogue.
func Types() []Type {
	return []Type{ContextBound, ContextReleased, PolicyAllow, PolicyDeny, EnforcementViolation, EnforcementBypass, SinkFailure, Checkpoint}
}

// Alert reports whether events of this type call for attention: violations,
// bypasses, policy denials and sink failures. Sinks map alerts to a WARN
// severity and everything else to INFO.
func (t Type) Alert() bool {
	switch t {
	case EnforcementViolation, EnforcementBypass, PolicyDeny, SinkFailure:
		return true
	}
	return false
}

// Outcome is the result of the decision an event records.
type Outcome string

// Outcomes.
const (
	OutcomeSuccess  Outcome = "success"  // the unit of work ended without error
	OutcomeFailure  Outcome = "failure"  // the unit of work ended with an error, or a sink failed
	OutcomeAllowed  Outcome = "allowed"  // a policy allowed the operation
	OutcomeDenied   Outcome = "denied"   // a policy denied the operation
	OutcomeBlocked  Outcome = "blocked"  // enforcement stopped the operation
	OutcomeReported Outcome = "reported" // report-only mode: would have been blocked, ran anyway
	OutcomeBypassed Outcome = "bypassed" // ran unscoped under an explicit bypass
)

// Caller is a source location, recorded for bypasses.
type Caller struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Function string `json:"function,omitempty"`
}

// IsZero reports whether c holds no location.
func (c Caller) IsZero() bool { return c.File == "" && c.Line == 0 && c.Function == "" }

// String returns "file:line".
func (c Caller) String() string {
	if c.IsZero() {
		return ""
	}
	return c.File + ":" + strconv.Itoa(c.Line)
}

// Event is one audit record. The bus fills ID, Stream, Seq, PrevHash, Hash,
// KeyID, Time (when zero), the trace correlation (when a span is active in
// the emitting context) and the request attributes (when the context
// carries a [Request]); the emitter fills the rest. Sinks must treat an
// Event and its Attributes as read-only.
type Event struct {
	ID              string               // unique, time-ordered (UUIDv7); set by the bus
	Stream          string               // the bus's stream (a UUIDv7 made when the bus was); set by the bus
	Seq             uint64               // gapless sequence number in the stream, from 1; set by the bus
	PrevHash        string               // Hash of the stream's previous record ("" for the first); set by the bus
	Hash            string               // hex SHA-256 (or HMAC-SHA256) of the record (see chain.go); set by the bus
	KeyID           string               // the HMAC key's id when Hash is keyed; set by the bus
	Time            time.Time            // when it happened, UTC
	Type            Type                 // what happened
	Tenant          string               // the bound tenant, empty when none
	AttemptedTenant string               // the tenant a violating operation tried to reach
	Table           string               // the table (or tables, comma-separated) concerned
	Model           string               // the Go model type concerned, when known
	Operation       string               // e.g. SELECT, INSERT, UPDATE, DELETE, read, write, bind
	Reason          string               // why: a human-readable explanation
	Outcome         Outcome              // the decision
	TraceID         string               // hex trace ID of the active span, if any
	SpanID          string               // hex span ID of the active span, if any
	Caller          Caller               // where a bypass was declared
	Attributes      []attribute.KeyValue // free attributes
}

type jsonEvent struct {
	Schema          int            `json:"schema_version"`
	Stream          string         `json:"stream_id,omitempty"`
	Seq             uint64         `json:"seq"`
	PrevHash        string         `json:"prev_hash,omitempty"`
	Hash            string         `json:"hash,omitempty"`
	KeyID           string         `json:"key_id,omitempty"`
	ID              string         `json:"event_id"`
	Time            string         `json:"time"`
	Type            Type           `json:"type"`
	Tenant          string         `json:"tenant_id,omitempty"`
	AttemptedTenant string         `json:"attempted_tenant_id,omitempty"`
	Table           string         `json:"table,omitempty"`
	Model           string         `json:"model,omitempty"`
	Operation       string         `json:"operation,omitempty"`
	Reason          string         `json:"reason,omitempty"`
	Outcome         Outcome        `json:"outcome,omitempty"`
	TraceID         string         `json:"trace_id,omitempty"`
	SpanID          string         `json:"span_id,omitempty"`
	Caller          *Caller        `json:"caller,omitempty"`
	Attributes      map[string]any `json:"attributes,omitempty"`
}

// MarshalJSON renders the event with stable snake_case field names, the time
// in RFC 3339 with nanoseconds (UTC) and the attributes as an object.
func (e Event) MarshalJSON() ([]byte, error) {
	j := jsonEvent{
		Schema: SchemaVersion, Stream: e.Stream, PrevHash: e.PrevHash, Hash: e.Hash, KeyID: e.KeyID,
		ID: e.ID, Seq: e.Seq, Time: e.Time.UTC().Format(time.RFC3339Nano), Type: e.Type,
		Tenant: e.Tenant, AttemptedTenant: e.AttemptedTenant, Table: e.Table, Model: e.Model,
		Operation: e.Operation, Reason: e.Reason, Outcome: e.Outcome, TraceID: e.TraceID, SpanID: e.SpanID,
	}
	if !e.Caller.IsZero() {
		c := e.Caller
		j.Caller = &c
	}
	if len(e.Attributes) > 0 {
		j.Attributes = make(map[string]any, len(e.Attributes))
		for _, kv := range e.Attributes {
			j.Attributes[string(kv.Key)] = kv.Value.AsInterface()
		}
	}
	return json.Marshal(j)
}

// Attr returns the value of the attribute with the given key, if present.
func (e *Event) Attr(key attribute.Key) (attribute.Value, bool) {
	for _, kv := range e.Attributes {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}
