// Package auditlog records tenant-isolation decisions as audit events and
// delivers them to sinks.
//
// Audit is one of TenantShield's two reporting paths (the other is tracing, in
// package otelobs). The two are independent: registering a sink turns audit on,
// whatever the tracing gate says, and enabling tracing never registers a sink.
// With no sink registered, [Bus.Enabled] is false and emitting costs a single
// atomic load, so callers check it before they build an [Event].
//
// # Events
//
// An [Event] carries a unique ID (a time-ordered UUIDv7), a per-bus sequence
// number, the time (UTC), its [Type] (CONTEXT_BOUND, CONTEXT_RELEASED,
// POLICY_ALLOW, POLICY_DENY, ENFORCEMENT_VIOLATION, ENFORCEMENT_BYPASS,
// SINK_FAILURE, CHECKPOINT), the bound tenant, the attempted tenant of a violation, the
// table and model, the operation, a reason, an [Outcome], the trace and span
// IDs of the span active in the emitting context, the caller location of a
// bypass and free attributes. The names of the types are a contract: SIEM rules
// and Collector routes match on them.
//
// # Completeness and tamper evidence
//
// Each bus is one stream ([Bus.Stream], a UUIDv7 made with the bus). Every
// record it delivers carries the stream id, a gapless sequence number, the
// hash of the previous record and its own hash over a canonical encoding
// ([CanonicalBody], [RecordHash]; SHA-256, or HMAC-SHA256 under
// [Bus.SetHMACKey]). CHECKPOINT records, every 1000 records or minute
// ([Bus.SetCheckpoints]) and at [Bus.Shutdown], vouch for the stream so far
// and are Ed25519-signed under [Bus.SetSigningKey] ([VerifyCheckpoint]). A
// reader can then tell a lost, removed, reordered or edited record, and a
// clean end from a lost tail: `tenantshield audit verify` does.
// docs/audit-integrity.md specifies the encoding and maps every field to
// OCSF and ECS. Records made inside a request also carry its [Request]
// (actor, client address, method, route), which scopehttp's middleware
// binds with [WithRequest].
//
// # The bus and its sinks
//
// A [Bus] delivers every event synchronously, in registration order, to each
// registered [Sink]. Registration is one line and idempotent:
//
//	auditlog.Register(auditlog.NewSlogSink(slog.Default()))
//
// A sink that returns an error or panics never breaks the caller. Every other
// sink receives one SINK_FAILURE event naming the failing sink, the original
// event type and the error; a failure while delivering SINK_FAILURE is not
// re-reported to sinks (no recursion). The failing sink itself is told the
// SINK_FAILURE's sequence number when it implements [Skipper]. Every failure is also passed to the
// bus's error handler (default: otel.Handle) and counted ([Bus.Failures]), so a
// single failing sink never fails silently.
//
// Sinks provided: [MemorySink] (tests), [SlogSink] (log/slog: WARN for
// violations, bypasses, denies and sink failures, INFO for the rest),
// [JSONSink] (JSON lines to an io.Writer) and [OTelSink], which emits OTel log
// records through a log.LoggerProvider that the caller passes in. The OTel sink
// never falls back to the global LoggerProvider: a silently no-op audit trail is
// a compliance failure. Package auditlog/auditotlp builds a dedicated SDK
// LoggerProvider with an OTLP exporter configured from the standard
// OTEL_EXPORTER_OTLP_* environment, so audit records travel on their own
// pipeline, apart from application logs.
//
// The package-level functions ([Register], [Unregister], [Emit], [Enabled])
// act on [Default], the process-wide bus that TenantShield's other packages use
// unless they are given a bus of their own.
//
// # API
//
// Events: [Event], [Type] and its constants ([Types]), [Outcome], [Caller],
// [Request] ([WithRequest], [RequestFromContext]). The stream:
// [SchemaVersion], [Bus.Stream], [Bus.SetHMACKey], [Bus.SetSigningKey],
// [Bus.SetCheckpoints], [Bus.Checkpoint], [Bus.Shutdown], [CanonicalBody],
// [BodyFields], [RecordHash], [CheckpointMessage], [VerifyCheckpoint]
// ([ErrBadSignature]) and the integrity attribute keys.
// The bus: [Bus] ([NewBus], [WithErrorHandler], [Default] and the
// package-level functions), [Sink], [SinkNamer], [SinkError]
// ([ErrSinkFailed]) and the SINK_FAILURE attribute keys. Sinks:
// [MemorySink], [SlogSink], [JSONSink], [OTelSink] ([ErrNoLoggerProvider]).
// [ScopeName] and [Version] name the OTel logger. The other attributes of
// an OTel audit record are audit.event.id, audit.sequence, audit.outcome,
// audit.reason, audit.model, tenant.id, tenant.attempted_id,
// db.collection.name, db.operation.name, code.file.path, code.line.number
// and code.function.name.
package auditlog
