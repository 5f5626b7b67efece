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
// # API
//
// [Observer] ([New], [WithEnabled], [WithTracerProvider], [Default],
// [Configure]) with [Observer.Start], [Observer.AddEvent],
// [Observer.Annotate] and [Observer.EnterScope] ([Lifecycle]); [Decision];
// [ErrorType] and [ErrorTyper]; the span and event names (SpanScope,
// Event*) and the attribute keys (Attr*) of the trace path, which are a
// contract; [ScopeName] and [Version].
package otelobs
