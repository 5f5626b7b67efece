package scopehttp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

// EventRequestRejected is the span event recorded, with error.type, on the
// current span when the middleware refuses a request. (It belongs with the
// other tenant.middleware.* names of package otelobs.)
const EventRequestRejected = otelobs.EventMiddlewareRequestRejected

// OperationHTTPRequest is the Operation of the audit events the middleware
// itself emits for refused requests.
const OperationHTTPRequest = "http.request"

// Middleware binds the tenant of each request for its handler. Build it with
// [New]; mount it with [Middleware.Wrap]. It is safe for concurrent use.
type Middleware struct {
	strategy Strategy
	desc     string
	binder   *scope.Binder
	policy   scope.Policy
	optional bool
	reject   RejectionHandler
	route    func(*http.Request) string
	metrics  *otelobs.Metrics
}

// Option configures a [Middleware].
type Option interface{ apply(*Middleware) }

type optionFunc func(*Middleware)

func (f optionFunc) apply(m *Middleware) { f(m) }

// WithBinder sets the binder that binds tenants and reports on the audit and
// observability paths (default: scope.DefaultBinder()). A nil b is ignored.
func WithBinder(b *scope.Binder) Option {
	return optionFunc(func(m *Middleware) {
		if b != nil {
			m.binder = b
		}
	})
}

// WithMetrics sets the metrics that count refused requests
// (tenantshield.middleware.rejections, by tenant.rejection.reason and
// http.response.status_code) (default: otelobs.DefaultMetrics(), off until
// otelobs.ConfigureMetrics turns it on). A nil m is ignored.
func WithMetrics(m *otelobs.Metrics) Option {
	return optionFunc(func(mw *Middleware) {
		if m != nil {
			mw.metrics = m
		}
	})
}

// WithPolicy evaluates p for every request whose tenant is resolved, before
// binding it, through the binder's Evaluate (POLICY_ALLOW or POLICY_DENY).
// The operation is {Tenant, Table: "http:" + route, Action: read for GET,
// HEAD and OPTIONS, write otherwise}; see [WithRoute]. In optional mode p is
// also evaluated for requests without a tenant, with a zero Tenant. A deny
// answers 403. A nil p is ignored.
func WithPolicy(p scope.Policy) Option {
	return optionFunc(func(m *Middleware) {
		if p != nil {
			m.policy = p
		}
	})
}

// WithOptionalTenant lets a request that names no tenant through, with no
// tenant bound: code that needs one fails closed downstream (scope.Require
// returns scope.ErrNoTenant, and bunhook refuses tenant-owned tables). By
// default a tenant is required. A tenant that is named but invalid is refused
// in both modes.
func WithOptionalTenant() Option {
	return optionFunc(func(m *Middleware) { m.optional = true })
}

// WithRejectionHandler replaces [WriteProblem] as the writer of refused
// requests' responses. The decision is made, audited and traced before h
// runs; h only chooses the response. A nil h is ignored.
func WithRejectionHandler(h RejectionHandler) Option {
	return optionFunc(func(m *Middleware) {
		if h != nil {
			m.reject = h
		}
	})
}

// WithRoute sets the function that names the resource of a request for the
// policy's Table ("http:" + route) and for audit events. The default is
// r.Pattern (set when the middleware wraps a handler registered on an
// http.ServeMux) or else r.URL.Path. A nil fn is ignored.
func WithRoute(fn func(r *http.Request) string) Option {
	return optionFunc(func(m *Middleware) {
		if fn != nil {
			m.route = fn
		}
	})
}

// New returns a middleware that resolves each request's tenant with s. It
// panics if s is nil.
func New(s Strategy, opts ...Option) *Middleware {
	if s == nil {
		panic("scopehttp: New called with a nil Strategy")
	}
	m := &Middleware{strategy: s, desc: describe(s), binder: scope.DefaultBinder(), reject: WriteProblem, route: defaultRoute,
		metrics: otelobs.DefaultMetrics()}
	for _, o := range opts {
		o.apply(m)
	}
	return m
}

// clientAddress is the host of the connection's remote address. Forwarding
// headers are not read: a client can set them to anything.
func clientAddress(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func defaultRoute(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.URL.Path
}

// Wrap returns next wrapped by the middleware, for use as
// mux.Handle("/", m.Wrap(app)) or with routers' Use(m.Wrap).
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	if next == nil {
		panic("scopehttp: Wrap called with a nil handler")
	}
	return &handler{m: m, next: next}
}

type handler struct {
	m    *Middleware
	next http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	ctx := r.Context()
	obs := m.binder.Observer()
	if obs.Enabled() && !trace.SpanFromContext(ctx).IsRecording() {
		// No server span to decorate: record the request's tenant events on
		// a tenant.scope span of our own, as scope does for a bare Bind.
		var span trace.Span
		ctx, span = obs.Start(ctx, otelobs.SpanScope, trace.WithAttributes(otelobs.AttrHTTPMethod.String(r.Method)))
		defer span.End()
		r = r.WithContext(ctx)
	}

	t, subject, err := resolveSubject(m.strategy, r)
	if m.binder.Bus().Enabled() {
		// Every audit record of the request names who made it, from where,
		// and what it asked for.
		ctx = auditlog.WithRequest(ctx, auditlog.Request{Actor: subject, ClientAddress: clientAddress(r),
			Method: r.Method, Route: m.route(r)})
		r = r.WithContext(ctx)
	}
	switch {
	case errors.Is(err, ErrNotApplicable):
		t = scope.Tenant{}
	case err != nil:
		m.refuse(w, r, err, false)
		return
	}
	if t.IsZero() && !m.optional {
		m.refuse(w, r, m.missing(), false)
		return
	}
	if m.policy != nil {
		op := scope.Operation{Tenant: t, Table: "http:" + m.route(r), Action: action(r.Method)}
		if err := m.binder.Evaluate(ctx, m.policy, op); err != nil {
			m.refuse(w, r, err, true) // Evaluate recorded POLICY_DENY
			return
		}
	}
	if t.IsZero() {
		h.next.ServeHTTP(w, r)
		return
	}
	// Bind refuses a tenant other than one already bound (by an outer
	// middleware) and records ENFORCEMENT_VIOLATION; request_bound is only
	// recorded for a binding that will happen, before its scope.entered.
	cur, cerr := scope.Require(ctx)
	refused := !errors.Is(cerr, scope.ErrNoTenant) && (cerr != nil || cur != t)
	if !refused {
		m.event(ctx, otelobs.EventMiddlewareRequestBound, t, nil, 0)
	}
	bctx, binding, err := m.binder.Bind(ctx, t)
	if err != nil {
		if !refused {
			m.event(ctx, otelobs.EventMiddlewareRequestUnbound, t, err, 0)
		}
		m.refuse(w, r, err, errors.Is(err, scope.ErrTenantConflict))
		return
	}
	// The status decides how the binding ends, which only the audit and
	// trace records show: with both paths off, w is passed on unwrapped.
	var rw *responseWriter
	if m.binder.Bus().Enabled() || obs.Enabled() {
		rw = &responseWriter{ResponseWriter: w}
		w = rw
	}
	defer func() {
		if p := recover(); p != nil {
			perr := &scope.PanicError{Value: p}
			binding.End(perr)
			m.event(ctx, otelobs.EventMiddlewareRequestUnbound, t, perr, rw.written())
			panic(p)
		}
		var endErr error
		status := rw.finalStatus()
		if status >= 500 {
			endErr = &StatusError{Code: status}
		}
		binding.End(endErr)
		m.event(ctx, otelobs.EventMiddlewareRequestUnbound, t, endErr, status)
	}()
	h.next.ServeHTTP(w, r.WithContext(bctx))
}

// missing is the error of a request that names no tenant.
func (m *Middleware) missing() error {
	se := &StrategyError{Strategy: m.desc, Err: ErrMissingTenant, Reason: "the request names no tenant (looked at: " + m.desc + ")"}
	se.Challenge = authScheme(m.strategy) // e.g. "Bearer": 401 instead of 400
	return se
}

func action(method string) scope.Action {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return scope.ActionRead
	}
	return scope.ActionWrite
}

// event records a request_bound or request_unbound span event on the span of
// ctx, when the observability gate is on and the span records.
func (m *Middleware) event(ctx context.Context, name string, t scope.Tenant, err error, status int) {
	if !m.binder.Observer().Enabled() {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	var buf [3]attribute.KeyValue
	attrs := append(buf[:0], otelobs.AttrTenantID.String(t.String()))
	if status != 0 {
		attrs = append(attrs, otelobs.AttrHTTPStatusCode.Int(status))
	}
	if err != nil {
		attrs = append(attrs, otelobs.AttrErrorType.String(otelobs.ErrorType(err)))
	}
	span.AddEvent(name, trace.WithAttributes(attrs...))
}

// refuse classifies err, records the rejection (audit unless audited says
// the lifecycle or the policy evaluation already did; trace always) and hands
// the response to the rejection handler.
func (m *Middleware) refuse(w http.ResponseWriter, r *http.Request, err error, audited bool) {
	rej := rejection(err)
	ctx := r.Context()
	et := errorType(err)
	var conflicting string
	var ce *ConflictError
	if errors.As(err, &ce) {
		conflicting = ce.First.String()
	}
	// A rejection is an alert: emitted even without a sink, which the bus
	// counts (auditlog.Bus.Unheard).
	if bus := m.binder.Bus(); !audited {
		attrs := []attribute.KeyValue{
			otelobs.AttrErrorType.String(et),
			otelobs.AttrHTTPMethod.String(r.Method),
			otelobs.AttrHTTPStatusCode.Int(rej.Problem.Status),
			otelobs.AttrProblemType.String(rej.Problem.Type),
			otelobs.AttrProblemInstance.String(rej.Problem.Instance),
		}
		if conflicting != "" {
			attrs = append(attrs, otelobs.AttrConflictingID.String(conflicting))
		}
		bound, _ := scope.FromContext(ctx)
		bus.Emit(ctx, auditlog.Event{
			Type:            auditlog.PolicyDeny,
			Tenant:          bound.String(),
			AttemptedTenant: rej.Attempted,
			Table:           "http:" + capped(m.route(r)),
			Operation:       OperationHTTPRequest,
			Reason:          rej.Problem.Detail,
			Outcome:         auditlog.OutcomeDenied,
			Attributes:      attrs,
		})
	}
	if m.binder.Observer().Enabled() {
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			attrs := make([]attribute.KeyValue, 0, 8)
			if rej.Attempted != "" {
				attrs = append(attrs, otelobs.AttrAttemptedTenant.String(rej.Attempted))
			}
			if conflicting != "" {
				attrs = append(attrs, otelobs.AttrConflictingID.String(conflicting))
			}
			attrs = append(attrs,
				otelobs.AttrDecision.String("rejected"),
				otelobs.AttrReason.String(rej.Problem.Detail),
				otelobs.AttrErrorType.String(et),
				otelobs.AttrHTTPStatusCode.Int(rej.Problem.Status),
				otelobs.AttrProblemType.String(rej.Problem.Type),
				otelobs.AttrProblemInstance.String(rej.Problem.Instance),
			)
			span.AddEvent(EventRequestRejected, trace.WithAttributes(attrs...))
		}
	}
	if m.metrics.Enabled() {
		m.metrics.RecordRejection(ctx, rejectionReason(rej.Problem.Type), rej.Problem.Status)
	}
	m.reject(w, r, rej)
}

// maxAuditRoute caps the route in the middleware's own audit events: with the
// default route it is the request's path, which the client chooses.
const maxAuditRoute = 1024

func capped(route string) string {
	if len(route) <= maxAuditRoute {
		return route
	}
	cut := maxAuditRoute
	for cut > 0 && !utf8.RuneStart(route[cut]) {
		cut--
	}
	return route[:cut] + "..."
}
