package auditlogtest

import (
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/internal/telemetry"
)

// FromRecord turns a log record written by auditlog.OTelSink back into the
// event it carries: the event name is the type, the record's timestamp the
// time, its trace and span ids the event's, the audit.*, tenant.*, db.* and
// code.* attributes the fields, and the other attributes the event's.
func FromRecord(r sdklog.Record) auditlog.Event {
	e := auditlog.Event{Type: auditlog.Type(r.EventName()), Time: r.Timestamp().UTC()}
	if r.TraceID().IsValid() {
		e.TraceID = r.TraceID().String()
	}
	if r.SpanID().IsValid() {
		e.SpanID = r.SpanID().String()
	}
	fields := map[attribute.Key]*string{
		telemetry.AuditEventID: &e.ID, auditlog.AttrStream: &e.Stream, auditlog.AttrPrevHash: &e.PrevHash,
		auditlog.AttrHash: &e.Hash, auditlog.AttrKeyID: &e.KeyID, telemetry.AuditReason: &e.Reason,
		telemetry.TenantID: &e.Tenant, telemetry.AttemptedTenant: &e.AttemptedTenant, telemetry.DBCollection: &e.Table,
		telemetry.AuditModel: &e.Model, telemetry.DBOperation: &e.Operation, telemetry.CodeFile: &e.Caller.File,
		telemetry.CodeFunction: &e.Caller.Function,
	}
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		k := kv.Key
		switch {
		case fields[k] != nil:
			*fields[k] = kv.Value.AsString()
		case k == telemetry.AuditOutcome:
			e.Outcome = auditlog.Outcome(kv.Value.AsString())
		case k == telemetry.AuditSequence:
			e.Seq = uint64(kv.Value.AsInt64())
		case k == telemetry.CodeLine:
			e.Caller.Line = int(kv.Value.AsInt64())
		case k == auditlog.AttrSchemaVersion:
		default:
			e.Attributes = append(e.Attributes, kv)
		}
		return true
	})
	return e
}
