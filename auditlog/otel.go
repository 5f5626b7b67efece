package auditlog

import (
	"context"
	"errors"
	"reflect"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/internal/telemetry"
)

// ScopeName is the instrumentation scope name of the audit logger.
const ScopeName = telemetry.ScopeAudit

// Version is the version of this module, recorded as the instrumentation
// scope version.
func Version() string { return telemetry.Version }

// ErrNoLoggerProvider is returned by [NewOTelSink] when no LoggerProvider is
// given.
var ErrNoLoggerProvider = errors.New("auditlog: NewOTelSink needs a log.LoggerProvider dedicated to audit " +
	"(build one with auditotlp.NewLoggerProvider); the global LoggerProvider is never used for audit, " +
	"because a silently no-op audit trail is a compliance failure")

// OTelSink emits events as OpenTelemetry log records through a
// log.LoggerProvider that the caller passes in: each record has the event type
// as its EventName, a WARN (alerts) or INFO severity, the event's fields as
// attributes, and the trace correlation of the context it is emitted with.
type OTelSink struct {
	logger log.Logger
}

// NewOTelSink returns a sink that emits through provider. It never falls back
// to the global LoggerProvider: a nil provider (including a nil pointer, such
// as the one a failed auditotlp.NewLoggerProvider returns) is an error.
func NewOTelSink(provider log.LoggerProvider) (*OTelSink, error) {
	if isNil(provider) {
		return nil, ErrNoLoggerProvider
	}
	l := provider.Logger(ScopeName, log.WithInstrumentationVersion(Version()))
	return &OTelSink{logger: l}, nil
}

// isNil reports whether p is nil or a nil pointer in an interface, such as the
// *sdklog.LoggerProvider that a failed constructor returns with its error.
func isNil(p log.LoggerProvider) bool {
	if p == nil {
		return true
	}
	v := reflect.ValueOf(p)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// Severity returns the OTel severity of events of type t.
func Severity(t Type) log.Severity {
	if t.Alert() {
		return log.SeverityWarn
	}
	return log.SeverityInfo
}

// Emit emits e as a log record. The Logs API reports no errors, so Emit only
// fails if the sink was built without [NewOTelSink].
func (s *OTelSink) Emit(ctx context.Context, e Event) error {
	if s == nil || s.logger == nil {
		return ErrNoLoggerProvider
	}
	sev := Severity(e.Type)
	if !s.logger.Enabled(ctx, log.EnabledParameters{Severity: sev, EventName: string(e.Type)}) {
		return nil
	}
	var r log.Record
	r.SetEventName(string(e.Type))
	r.SetTimestamp(e.Time)
	r.SetObservedTimestamp(time.Now())
	r.SetSeverity(sev)
	r.SetSeverityText(sev.String())
	r.SetBody(attribute.StringValue(validUTF8(summary(e))))
	attrs := make([]attribute.KeyValue, 0, 20+len(e.Attributes))
	attrs = append(attrs, telemetry.AuditEventID.String(e.ID), telemetry.AuditSequence.Int64(int64(e.Seq)),
		AttrSchemaVersion.Int(SchemaVersion))
	// Strings go out as the canonical body hashes them (each invalid UTF-8
	// byte as U+FFFD): OTLP's protobuf encoding rejects invalid UTF-8, and
	// would drop the whole batch.
	add := func(k attribute.Key, v string) {
		if v != "" {
			attrs = append(attrs, k.String(validUTF8(v)))
		}
	}
	add(AttrStream, e.Stream)
	add(AttrPrevHash, e.PrevHash)
	add(AttrHash, e.Hash)
	add(AttrKeyID, e.KeyID)
	add(telemetry.AuditOutcome, string(e.Outcome))
	add(telemetry.AuditReason, e.Reason)
	add(telemetry.TenantID, e.Tenant)
	add(telemetry.AttemptedTenant, e.AttemptedTenant)
	add(telemetry.DBCollection, e.Table)
	add(telemetry.AuditModel, e.Model)
	add(telemetry.DBOperation, e.Operation)
	if !e.Caller.IsZero() {
		attrs = append(attrs, telemetry.CodeFile.String(validUTF8(e.Caller.File)), telemetry.CodeLine.Int(e.Caller.Line))
		add(telemetry.CodeFunction, e.Caller.Function)
	}
	for _, kv := range e.Attributes {
		attrs = append(attrs, validAttribute(kv))
	}
	r.AddAttributes(attrs...)
	s.logger.Emit(withEventSpan(ctx, e), r)
	return nil
}

// withEventSpan returns ctx with the span context of e's trace and span IDs
// when ctx's differs, so that the record's trace correlation is the one the
// hash covers.
func withEventSpan(ctx context.Context, e Event) context.Context {
	sc := trace.SpanContextFromContext(ctx)
	if e.TraceID == "" || (sc.IsValid() && sc.TraceID().String() == e.TraceID && sc.SpanID().String() == e.SpanID) {
		return ctx
	}
	tid, err1 := trace.TraceIDFromHex(e.TraceID)
	sid, err2 := trace.SpanIDFromHex(e.SpanID)
	if err1 != nil || err2 != nil {
		return ctx
	}
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: sc.TraceFlags()}))
}

// summary is the human-readable body of a record.
func summary(e Event) string {
	s := string(e.Type)
	if e.Tenant != "" {
		s += " tenant=" + e.Tenant
	}
	if e.AttemptedTenant != "" {
		s += " attempted=" + e.AttemptedTenant
	}
	if e.Operation != "" {
		s += " op=" + e.Operation
	}
	if e.Table != "" {
		s += " table=" + e.Table
	}
	if e.Outcome != "" {
		s += " outcome=" + string(e.Outcome)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// validAttribute returns kv with its key and string values made valid
// UTF-8 as the canonical body makes them.
func validAttribute(kv attribute.KeyValue) attribute.KeyValue {
	k := attribute.Key(validUTF8(string(kv.Key)))
	switch kv.Value.Type() {
	case attribute.STRING:
		if s := kv.Value.AsString(); !utf8.ValidString(s) {
			return k.String(validUTF8(s))
		}
	case attribute.STRINGSLICE:
		ss := kv.Value.AsStringSlice()
		for i, s := range ss {
			ss[i] = validUTF8(s)
		}
		return k.StringSlice(ss)
	}
	return attribute.KeyValue{Key: k, Value: kv.Value}
}
