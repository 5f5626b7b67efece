package otelobs

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/internal/telemetry"
)

// ScopeName is the instrumentation scope name of the tracer.
const ScopeName = telemetry.ScopeObservability

// Version is the version of this module, recorded as the instrumentation
// scope version.
func Version() string { return telemetry.Version }

// Span and span-event names. They are a contract, like the audit event types.
const (
	SpanScope = "tenant.scope" // started only when no span is active

	EventScopeEntered   = "tenant.scope.entered"
	EventScopeExited    = "tenant.scope.exited"
	EventScopeException = "tenant.scope.exception"
	EventScopeSwitched  = "tenant.scope.switched"

	EventReadFiltered  = "tenant.read.filtered"
	EventReadBlocked   = "tenant.read.blocked"
	EventWriteInjected = "tenant.write.injected"
	EventWriteBlocked  = "tenant.write.blocked"
	EventBypass        = "tenant.bypass"

	EventMiddlewareRequestBound   = "tenant.middleware.request_bound"
	EventMiddlewareRequestUnbound = "tenant.middleware.request_unbound"
	// EventMiddlewareRequestRejected is recorded when the middleware turns a
	// request away (missing, invalid or forbidden tenant).
	EventMiddlewareRequestRejected = "tenant.middleware.request_rejected"
)

// Attribute keys of spans and span events: the trace path's contract. The
// db.*, error.type, code.* and http.* keys follow the stable OpenTelemetry
// semantic conventions; OpenTelemetry has no tenant attribute yet, so
// tenant.* is this project's own.
const (
	AttrTenantID        = telemetry.TenantID
	AttrAttemptedTenant = telemetry.AttemptedTenant
	AttrPreviousTenant  = telemetry.PreviousTenant
	AttrConflictingID   = telemetry.ConflictingID
	AttrDecision        = telemetry.Decision
	AttrReason          = telemetry.Reason
	AttrBypassReason    = telemetry.BypassReason
	AttrRewritten       = telemetry.Rewritten
	AttrProblemType     = telemetry.ProblemType
	AttrProblemInstance = telemetry.ProblemInstance
	AttrDBSystem        = telemetry.DBSystem
	AttrDBCollection    = telemetry.DBCollection
	AttrDBOperation     = telemetry.DBOperation
	AttrErrorType       = telemetry.ErrorType
	AttrCodeFile        = telemetry.CodeFile
	AttrCodeLine        = telemetry.CodeLine
	AttrHTTPMethod      = telemetry.HTTPMethod
	AttrHTTPStatusCode  = telemetry.HTTPStatusCode
)

// Observer emits tenant spans and span events when its gate is on. It is safe
// for concurrent use; a nil *Observer is valid and always off.
type Observer struct {
	enabled atomic.Bool
	tracer  trace.Tracer
}

type config struct {
	tp      trace.TracerProvider
	enabled bool
}

// Option configures an [Observer].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithTracerProvider sets the TracerProvider. A nil provider is ignored, and
// the global TracerProvider is used.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if tp != nil {
			c.tp = tp
		}
	})
}

// WithEnabled sets the initial state of the gate (default: off).
func WithEnabled(on bool) Option { return optionFunc(func(c *config) { c.enabled = on }) }

// New returns an Observer. Without [WithTracerProvider] it uses the provider
// otel.GetTracerProvider returns when New is called. Before any global
// provider is installed that is OTel's delegating provider, which forwards to
// the first provider installed later (OTel delegates only once: a provider
// installed after that is not seen by an Observer created before it).
func New(opts ...Option) *Observer {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	o := &Observer{tracer: c.tp.Tracer(ScopeName, trace.WithInstrumentationVersion(Version()))}
	o.enabled.Store(c.enabled)
	return o
}

var defaultObserver = New()

// Default returns the process-wide Observer (global TracerProvider, off until
// [Configure] turns it on) that TenantShield's packages use unless given one.
func Default() *Observer { return defaultObserver }

// Configure turns the default Observer's gate on or off.
func Configure(enabled bool) { defaultObserver.SetEnabled(enabled) }

// SetEnabled turns the gate on or off. It takes effect for the next call.
func (o *Observer) SetEnabled(on bool) { o.enabled.Store(on) }

// Enabled reports whether the gate is on.
func (o *Observer) Enabled() bool { return o != nil && o.enabled.Load() }

// Tracer returns the Observer's tracer.
func (o *Observer) Tracer() trace.Tracer { return o.tracer }

// Decision describes what TenantShield decided about an operation. Empty fields
// are left out of the attributes.
type Decision struct {
	Tenant    string // tenant.id
	Attempted string // tenant.attempted_id
	Decision  string // tenant.decision: e.g. scoped, blocked, reported, bypassed
	Reason    string // tenant.reason
	System    string // db.system.name
	Table     string // db.collection.name
	Operation string // db.operation.name
	ErrorType string // error.type
}

// Attributes appends d's non-empty fields to dst.
func (d *Decision) Attributes(dst []attribute.KeyValue) []attribute.KeyValue {
	add := func(k attribute.Key, v string) {
		if v != "" {
			dst = append(dst, k.String(v))
		}
	}
	add(AttrTenantID, d.Tenant)
	add(AttrAttemptedTenant, d.Attempted)
	add(AttrDecision, d.Decision)
	add(AttrReason, d.Reason)
	add(AttrDBSystem, d.System)
	add(AttrDBCollection, d.Table)
	add(AttrDBOperation, d.Operation)
	add(AttrErrorType, d.ErrorType)
	return dst
}

// AddEvent adds the span event name, with d as attributes, to the span active
// in ctx, if the gate is on and that span is recording.
func (o *Observer) AddEvent(ctx context.Context, name string, d Decision) {
	// Kept small enough to inline, so a closed gate costs one atomic load and
	// no copy of d.
	if o != nil && o.enabled.Load() {
		addEvent(ctx, name, &d)
	}
}

func addEvent(ctx context.Context, name string, d *Decision) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	var buf [8]attribute.KeyValue
	span.AddEvent(name, trace.WithAttributes(d.Attributes(buf[:0])...))
}

// Annotate sets d as attributes on span, if the gate is on and span is
// recording.
func (o *Observer) Annotate(span trace.Span, d Decision) {
	if !o.Enabled() {
		return
	}
	annotate(span, &d)
}

func annotate(span trace.Span, d *Decision) {
	if span == nil || !span.IsRecording() {
		return
	}
	var buf [8]attribute.KeyValue
	span.SetAttributes(d.Attributes(buf[:0])...)
}

// Start starts a span named name when the gate is on. When it is off it
// returns ctx and a non-recording span without allocating; ending that span
// does nothing.
func (o *Observer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !o.Enabled() {
		return ctx, trace.SpanFromContext(context.Background())
	}
	return o.tracer.Start(ctx, name, opts...)
}

// Lifecycle is the observability side of a bound scope, returned by
// [Observer.EnterScope]. The zero value does nothing.
//
// It is one pointer wide, so that the gate-off path, which returns the zero
// value, costs nothing to return and to copy into a caller's struct.
type Lifecycle struct {
	s *lifecycle
}

type lifecycle struct {
	span   trace.Span
	tenant string
	owned  bool // EnterScope started span: Exit ends it
}

// EnterScope records tenant.scope.entered for tenant on the span active in ctx,
// or, when no span is recording, on a new "tenant.scope" span that
// [Lifecycle.Exit] ends. With the gate off it does nothing.
func (o *Observer) EnterScope(ctx context.Context, tenant string) (context.Context, Lifecycle) {
	if !o.Enabled() {
		return ctx, Lifecycle{}
	}
	return o.enterScope(ctx, tenant)
}

func (o *Observer) enterScope(ctx context.Context, tenant string) (context.Context, Lifecycle) {
	span := trace.SpanFromContext(ctx)
	owned := false
	if !span.IsRecording() {
		ctx, span = o.tracer.Start(ctx, SpanScope, trace.WithAttributes(AttrTenantID.String(tenant)))
		owned = true
		if !span.IsRecording() { // sampled out: nothing to decorate
			span.End()
			return ctx, Lifecycle{}
		}
	}
	span.AddEvent(EventScopeEntered, trace.WithAttributes(AttrTenantID.String(tenant)))
	return ctx, Lifecycle{&lifecycle{span: span, tenant: tenant, owned: owned}}
}

// Exit records tenant.scope.exited, or tenant.scope.exception with error.type
// when err is not nil, and ends the span EnterScope started, if any. It must be
// called once. It acts even if the gate was turned off since EnterScope, so no
// span is left unended.
func (l Lifecycle) Exit(err error) {
	if l.s != nil {
		l.s.exit(err)
	}
}

func (l *lifecycle) exit(err error) {
	if err != nil {
		et := ErrorType(err)
		l.span.AddEvent(EventScopeException, trace.WithAttributes(
			AttrTenantID.String(l.tenant), AttrErrorType.String(et),
			attribute.String("exception.message", err.Error())))
		if l.owned {
			l.span.SetAttributes(AttrErrorType.String(et))
			l.span.SetStatus(codes.Error, err.Error())
		}
	} else {
		l.span.AddEvent(EventScopeExited, trace.WithAttributes(AttrTenantID.String(l.tenant)))
	}
	if l.owned {
		l.span.End()
	}
}

// Span returns the span the lifecycle decorates (nil when inactive).
func (l Lifecycle) Span() trace.Span {
	if l.s == nil {
		return nil
	}
	return l.s.span
}

// ErrorTyper may be implemented by errors to give a low-cardinality error.type.
type ErrorTyper interface{ ErrorType() string }

// ErrorType returns the error.type value for err: its ErrorType() method when it
// has one, otherwise its Go type name ("_OTHER" for nil).
func ErrorType(err error) string {
	if err == nil {
		return "_OTHER"
	}
	var et ErrorTyper
	if errors.As(err, &et) {
		return et.ErrorType()
	}
	return fmt.Sprintf("%T", err)
}
