// Package telemetry is the one place that names what this module writes on
// its two telemetry paths: the module version recorded as the
// instrumentation scope version, the instrumentation scope names, and every
// attribute key of spans, span events and audit log records.
//
// It is a leaf: it imports only the OpenTelemetry attribute package, so the
// bottom layers (auditlog, otelobs) and everything above them may use it.
// Keys follow the stable OpenTelemetry semantic conventions where one exists
// (db.*, error.type, code.*, http.*); tenant.* and audit.* are this
// project's own (OpenTelemetry has no tenant attribute yet).
//
// The public contract of these names is documented by the packages that
// write them: otelobs re-exports the keys of the trace path, and auditlog's
// package documentation lists the attributes of an audit record.
package telemetry

import "go.opentelemetry.io/otel/attribute"

// Version is the version of this module, recorded as the instrumentation
// scope version of every tracer and logger it creates.
const Version = "0.1.0"

// Module is the module path; instrumentation scope names are below it.
const Module = "github.com/tenantshield/tenantshield-go"

// Instrumentation scope names.
const (
	ScopeAudit         = Module + "/auditlog"
	ScopeObservability = Module + "/otelobs"
	// ScopeAuditDelivery is the meter of the audit delivery instruments
	// (auditotlp.RegisterMetrics).
	ScopeAuditDelivery = Module + "/auditlog/auditotlp"
)

// Metric instrument names. They are a contract, like span and event names:
// otelobs documents them, auditotlp registers the audit delivery ones.
const (
	MetricDecisions     = "tenantshield.decisions"
	MetricGuardDuration = "tenantshield.guard.duration"
	MetricRejections    = "tenantshield.middleware.rejections"

	MetricAuditEmitted   = "tenantshield.audit.records.emitted"
	MetricAuditExported  = "tenantshield.audit.records.exported"
	MetricAuditFailed    = "tenantshield.audit.records.failed"
	MetricAuditDropped   = "tenantshield.audit.records.dropped"
	MetricAuditRetries   = "tenantshield.audit.export.retries"
	MetricAuditQueueSize = "tenantshield.audit.queue.size"
)

// Metric-only attribute keys.
const (
	RejectionReason = attribute.Key("tenant.rejection.reason")
	AuditQueue      = attribute.Key("audit.queue")
)

// Tenant keys (both paths).
const (
	TenantID        = attribute.Key("tenant.id")
	AttemptedTenant = attribute.Key("tenant.attempted_id")
	PreviousTenant  = attribute.Key("tenant.previous_id")
	ConflictingID   = attribute.Key("tenant.conflicting_id")
	Switched        = attribute.Key("tenant.switched")
	Decision        = attribute.Key("tenant.decision")
	Reason          = attribute.Key("tenant.reason")
	BypassReason    = attribute.Key("tenant.bypass.reason")
	Rewritten       = attribute.Key("tenant.rewritten")
	ProblemType     = attribute.Key("tenant.problem.type")
	ProblemInstance = attribute.Key("tenant.problem.instance")
)

// Database, error, code and HTTP keys of the OpenTelemetry semantic
// conventions.
const (
	DBSystem       = attribute.Key("db.system.name")
	DBCollection   = attribute.Key("db.collection.name")
	DBOperation    = attribute.Key("db.operation.name")
	ErrorType      = attribute.Key("error.type")
	CodeFile       = attribute.Key("code.file.path")
	CodeLine       = attribute.Key("code.line.number")
	CodeFunction   = attribute.Key("code.function.name")
	HTTPMethod     = attribute.Key("http.request.method")
	HTTPStatusCode = attribute.Key("http.response.status_code")
	HTTPRoute      = attribute.Key("http.route")
	ClientAddress  = attribute.Key("client.address")
	EnduserID      = attribute.Key("enduser.id")
)

// Audit record keys.
const (
	AuditEventID           = attribute.Key("audit.event.id")
	AuditSequence          = attribute.Key("audit.sequence")
	AuditOutcome           = attribute.Key("audit.outcome")
	AuditReason            = attribute.Key("audit.reason")
	AuditModel             = attribute.Key("audit.model")
	AuditOriginalEventType = attribute.Key("audit.original_event.type")
	AuditOriginalEventID   = attribute.Key("audit.original_event.id")
	AuditSinkType          = attribute.Key("audit.sink.type")

	AuditStream              = attribute.Key("audit.stream.id")
	AuditPrevHash            = attribute.Key("audit.prev_hash")
	AuditHash                = attribute.Key("audit.hash")
	AuditKeyID               = attribute.Key("audit.key_id")
	AuditSchemaVersion       = attribute.Key("audit.schema_version")
	AuditCheckpointSeq       = attribute.Key("audit.checkpoint.sequence")
	AuditCheckpointHash      = attribute.Key("audit.checkpoint.hash")
	AuditCheckpointFinal     = attribute.Key("audit.checkpoint.final")
	AuditCheckpointSignature = attribute.Key("audit.checkpoint.signature")
	AuditCheckpointSignKeyID = attribute.Key("audit.checkpoint.signing_key_id")
)
