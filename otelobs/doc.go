// Package otelobs is TenantShield's observability path: it turns tenant
// lifecycle and enforcement decisions into OpenTelemetry spans and span events
// named under "tenant." (tenant.scope.*, tenant.read.*, tenant.write.*,
// tenant.middleware.*).
//
// Observability is off by default and is switched at run time, without a
// restart, through an [Observer]'s gate ([Observer.SetEnabled], or [Configure]
// for the [Default] observer). It is independent of the audit path (package
// auditlog): turning one on never turns the other on.
//
// An Observer uses the global TracerProvider unless one is given with
// [WithTracerProvider]; its tracer carries [ScopeName] and [Version]. The
// helpers decorate the span already active in the context when there is one
// (an HTTP server span, bunotel's query span) and start their own span only
// when there is none, so a lifecycle is visible either way and never leaves a
// span unended.
//
// When the gate is off the helpers return at once: no span is started, no
// attribute is built and nothing is allocated. When it is on, attributes are
// only built for spans that are recording.
//
//	obs := otelobs.New(otelobs.WithEnabled(true)) // global TracerProvider
//	ctx, lc := obs.EnterScope(ctx, "acme")
//	err := work(ctx)
//	lc.Exit(err) // tenant.scope.exited, or tenant.scope.exception with error.type
//
// # Metrics
//
// [Metrics] is the metric side, with a gate of its own, off by default
// ([Metrics.SetEnabled], [WithMetricsEnabled], or [ConfigureMetrics] for
// [DefaultMetrics]; [Configure] does not touch it). It uses the global
// MeterProvider unless one is given with [WithMeterProvider]; its meter
// carries [ScopeName] and [Version]. Off, a Record method costs one atomic
// load and allocates nothing; on, it allocates nothing either (attribute sets
// are built once per combination).
//
//	| instrument                          | kind                          | unit       | attributes                                                                  |
//	|-------------------------------------|-------------------------------|------------|-----------------------------------------------------------------------------|
//	| tenantshield.decisions              | Int64ObservableCounter        | {decision} | tenant.decision, db.system.name, db.operation.name, db.collection.name, [tenant.id] |
//	| tenantshield.guard.duration         | Float64Histogram              | s          | db.system.name, db.operation.name                                           |
//	| tenantshield.middleware.rejections  | Int64ObservableCounter        | {request}  | tenant.rejection.reason, http.response.status_code                          |
//	| tenantshield.audit.records.emitted  | Int64ObservableCounter        | {record}   |                                                                             |
//	| tenantshield.audit.records.exported | Int64ObservableCounter        | {record}   |                                                                             |
//	| tenantshield.audit.records.failed   | Int64ObservableCounter        | {record}   |                                                                             |
//	| tenantshield.audit.records.dropped  | Int64ObservableCounter        | {record}   |                                                                             |
//	| tenantshield.audit.export.retries   | Int64ObservableCounter        | {export}   |                                                                             |
//	| tenantshield.audit.queue.size       | Int64ObservableUpDownCounter  | {record}   | audit.queue (memory, spool)                                                 |
//
// tenant.decision is the value the trace path sets on the guard's span:
// scoped, blocked, reported (report-only mode), bypassed or denied (a
// policy). The db.* keys are the stable database semantic conventions;
// db.collection.name is left out for a statement on several tables.
// tenant.rejection.reason is one of missing_tenant, invalid_tenant,
// invalid_token, tenant_conflict, tenant_forbidden (a policy deny) and
// audit_unavailable. Durations are in seconds, as the semantic conventions
// ask, with bucket boundaries advised from 1 µs to 10 ms
// ([GuardDurationBuckets]), and measured for one decision in
// [DefaultGuardDurationSampling] ([WithGuardDurationSampling]): two clock
// reads and a histogram measurement cost more than everything else
// together. The counters are counted in atomic cells and reported by
// observable instruments at collection.
//
// tenant.id is not an attribute by default: a series per tenant is what
// makes a metrics backend expensive. [WithTenantAttribute](n) adds it to
// tenantshield.decisions for the first n distinct tenants and reports the
// others as [OtherTenant] ("_OTHER", as the semantic conventions name
// values outside a known set).
//
// Packages bunhook (decisions, guard duration) and scopehttp (rejections)
// record through [DefaultMetrics] unless given a Metrics; the audit delivery
// instruments are registered by auditotlp.RegisterMetrics. Package
// otelobs/metrictest reads them back in tests.
//
// # API
//
// [Observer] ([New], [WithEnabled], [WithTracerProvider], [Default],
// [Configure]) with [Observer.Start], [Observer.AddEvent],
// [Observer.Annotate] and [Observer.EnterScope] ([Lifecycle]); [Decision];
// [ErrorType] and [ErrorTyper]; the span and event names (SpanScope,
// Event*) and the attribute keys (Attr*) of the trace path, which are a
// contract; [ScopeName] and [Version]. Metrics: [Metrics] ([NewMetrics],
// [WithMeterProvider], [WithMetricsEnabled], [WithTenantAttribute],
// [WithGuardDurationSampling], [DefaultMetrics], [ConfigureMetrics]) with
// [Metrics.RecordDecision] ([DecisionAttributes], [Outcome]),
// [Metrics.StartGuard] ([GuardTimer]), [Metrics.RecordGuardDuration] and
// [Metrics.RecordRejection]; the instrument names (Metric*), the rejection
// reasons (Rejection*), [OtherTenant], [MaxTenantAttribute] and
// [GuardDurationBuckets].
package otelobs
