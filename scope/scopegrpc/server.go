package scopegrpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

// OperationGRPCRequest is the Operation of the audit events the interceptor
// itself emits for refused calls.
const OperationGRPCRequest = "grpc.request"

// AttrRPCStatusCode is the attribute that carries the gRPC status code, as
// the OpenTelemetry RPC semantic conventions (and otelgrpc) name it; its
// value is the canonical code name, e.g. "INVALID_ARGUMENT".
const AttrRPCStatusCode = attribute.Key("rpc.response.status_code")

// The fixed messages of refused calls. They never contain call input; the
// reason is in the audit record and the span event.
const (
	MsgInvalidTenant = "tenantshield: the tenant id in the call's metadata is invalid"
	MsgMissingTenant = "tenantshield: the call names no tenant"
	MsgUnauthorized  = "tenantshield: missing or invalid credentials for the tenant"
	MsgConflict      = "tenantshield: the call names conflicting tenants"
	MsgForbidden     = "tenantshield: the tenant is not allowed to call this method"
	MsgUnaudited     = "tenantshield: the call could not be audited, so it was not processed; retry later"
	MsgUnresolved    = "tenantshield: the tenant could not be resolved from the call"
)

// Interceptor binds the tenant of each call for its handler. Build it with
// [New]; install [Interceptor.UnaryServerInterceptor] and
// [Interceptor.StreamServerInterceptor]. It is safe for concurrent use.
type Interceptor struct {
	strategy Strategy
	desc     string
	scheme   string
	binder   *scope.Binder
	policy   scope.Policy
	optional bool
	action   func(fullMethod string) scope.Action
}

// Option configures an [Interceptor].
type Option interface{ apply(*Interceptor) }

type optionFunc func(*Interceptor)

func (f optionFunc) apply(i *Interceptor) { f(i) }

// WithBinder sets the binder (default scope.DefaultBinder()). A nil b is
// ignored.
func WithBinder(b *scope.Binder) Option {
	return optionFunc(func(i *Interceptor) {
		if b != nil {
			i.binder = b
		}
	})
}

// WithPolicy evaluates p for every call whose tenant is resolved, before
// binding it, with the operation {Tenant, Table: "grpc:" + full method,
// Action: see [WithAction]}. A deny answers PermissionDenied. A nil p is
// ignored.
func WithPolicy(p scope.Policy) Option {
	return optionFunc(func(i *Interceptor) {
		if p != nil {
			i.policy = p
		}
	})
}

// WithAction sets the function that says whether a method reads or writes,
// for the policy. The default says write for every method: gRPC has no safe
// methods.
func WithAction(fn func(fullMethod string) scope.Action) Option {
	return optionFunc(func(i *Interceptor) {
		if fn != nil {
			i.action = fn
		}
	})
}

// WithOptionalTenant lets a call that names no tenant through, with no tenant
// bound: code that needs one fails closed downstream. A tenant that is named
// but invalid is refused in both modes.
func WithOptionalTenant() Option { return optionFunc(func(i *Interceptor) { i.optional = true }) }

// New returns an interceptor that resolves each call's tenant with s. It
// panics if s is nil.
func New(s Strategy, opts ...Option) *Interceptor {
	if s == nil {
		panic("scopegrpc: New called with a nil Strategy")
	}
	i := &Interceptor{strategy: s, desc: describe(s), binder: scope.DefaultBinder(),
		action: func(string) scope.Action { return scope.ActionWrite }}
	if a, ok := s.(Authenticator); ok {
		i.scheme = a.AuthScheme()
	}
	for _, o := range opts {
		o.apply(i)
	}
	return i
}

// UnaryServerInterceptor returns the unary server interceptor.
func (i *Interceptor) UnaryServerInterceptor() grpc.UnaryServerInterceptor { return i.unary }

// StreamServerInterceptor returns the stream server interceptor. The
// handler's stream is wrapped so that its Context carries the binding.
func (i *Interceptor) StreamServerInterceptor() grpc.StreamServerInterceptor { return i.stream }

func (i *Interceptor) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	c, err := i.admit(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	if !c.bound {
		return handler(c.ctx, req)
	}
	defer func() {
		if p := recover(); p != nil {
			c.end(&scope.PanicError{Value: p}, codes.Unknown, true)
			panic(p)
		}
		c.end(err, status.Code(err), false)
	}()
	return handler(c.ctx, req)
}

// boundStream is the handler's stream, whose Context carries the binding.
type boundStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *boundStream) Context() context.Context { return s.ctx }

func (i *Interceptor) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	c, err := i.admit(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	bs := &boundStream{ServerStream: ss, ctx: c.ctx}
	if !c.bound {
		return handler(srv, bs)
	}
	defer func() {
		if p := recover(); p != nil {
			c.end(&scope.PanicError{Value: p}, codes.Unknown, true)
			panic(p)
		}
		c.end(err, status.Code(err), false)
	}()
	return handler(srv, bs)
}

// call is an admitted call.
type call struct {
	i      *Interceptor
	ctx    context.Context // the handler's context
	outer  context.Context // before the binding: where request_unbound goes
	t      scope.Tenant
	b      scope.Binding
	bound  bool
	ownEnd trace.Span // the tenant.scope span the interceptor started, or nil
}

// admit resolves, evaluates and binds the tenant of a call. A refusal is
// audited, traced and returned as a status error.
func (i *Interceptor) admit(ctx context.Context, method string) (call, error) {
	obs := i.binder.Observer()
	var own trace.Span
	if obs.Enabled() && !trace.SpanFromContext(ctx).IsRecording() {
		ctx, own = obs.Start(ctx, otelobs.SpanScope, trace.WithAttributes(attribute.String("rpc.method", method)))
	}
	t, subject, err := resolveSubject(ctx, i.strategy)
	if i.binder.Bus().Enabled() {
		ctx = auditlog.WithRequest(ctx, auditlog.Request{Actor: subject, ClientAddress: clientAddress(ctx), Route: capped(method)})
	}
	refuse := func(err error, audited bool) (call, error) {
		serr := i.refuse(ctx, method, err, audited)
		if own != nil {
			own.End()
		}
		return call{}, serr
	}
	switch {
	case errors.Is(err, ErrNotApplicable):
		t = scope.Tenant{}
	case err != nil:
		return refuse(err, false)
	}
	if t.IsZero() && !i.optional {
		return refuse(i.missing(), false)
	}
	if i.policy != nil {
		op := scope.Operation{Tenant: t, Table: "grpc:" + method, Action: i.action(method)}
		if err := i.binder.Evaluate(ctx, i.policy, op); err != nil {
			return refuse(err, true) // Evaluate recorded POLICY_DENY
		}
	}
	if t.IsZero() {
		if own != nil {
			// Nothing bound: the span covers the admission only.
			own.End()
		}
		return call{ctx: ctx}, nil
	}
	cur, cerr := scope.Require(ctx)
	conflict := !errors.Is(cerr, scope.ErrNoTenant) && (cerr != nil || cur != t)
	if !conflict {
		i.event(ctx, otelobs.EventMiddlewareRequestBound, t, nil, codes.OK, false)
	}
	bctx, b, err := i.binder.Bind(ctx, t)
	if err != nil {
		if !conflict {
			i.event(ctx, otelobs.EventMiddlewareRequestUnbound, t, err, codes.OK, false)
		}
		return refuse(err, errors.Is(err, scope.ErrTenantConflict))
	}
	return call{i: i, ctx: bctx, outer: ctx, t: t, b: b, bound: true, ownEnd: own}, nil
}

// end ends the binding with the handler's outcome: err is the handler's
// error, or a *scope.PanicError when panicked.
func (c *call) end(err error, code codes.Code, panicked bool) {
	var endErr error
	switch {
	case panicked:
		endErr = err
	case serverFailure(code):
		endErr = &StatusError{Code: code}
	}
	c.b.End(endErr)
	c.i.event(c.outer, otelobs.EventMiddlewareRequestUnbound, c.t, endErr, code, true)
	if c.ownEnd != nil {
		c.ownEnd.End()
	}
}

// clientAddress is the host of the peer's address.
func clientAddress(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	a := p.Addr.String()
	if host, _, err := net.SplitHostPort(a); err == nil {
		return host
	}
	return a
}

func (i *Interceptor) missing() error {
	return &StrategyError{Strategy: i.desc, Err: ErrMissingTenant, Reason: "the call names no tenant (looked at: " + i.desc + ")"}
}

// event records a request_bound or request_unbound span event on the span of
// ctx, when the observability gate is on and the span records.
func (i *Interceptor) event(ctx context.Context, name string, t scope.Tenant, err error, code codes.Code, withCode bool) {
	if !i.binder.Observer().Enabled() {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	var buf [3]attribute.KeyValue
	attrs := append(buf[:0], otelobs.AttrTenantID.String(t.String()))
	if withCode {
		attrs = append(attrs, AttrRPCStatusCode.String(canonical(code)))
	}
	if err != nil {
		attrs = append(attrs, otelobs.AttrErrorType.String(otelobs.ErrorType(err)))
	}
	span.AddEvent(name, trace.WithAttributes(attrs...))
}

// classify maps a refusal to its status code, fixed message and the tenant
// the call attempted ("" when unknown). The order matters as in scopehttp:
// a bearer token with an invalid tenant claim is an invalid token.
func (i *Interceptor) classify(err error) (code codes.Code, msg, attempted, reason string) {
	var (
		ite *scope.InvalidTenantError
		pol *scope.PolicyError
		pc  *ConflictError
		sc  *scope.ConflictError
		se  *StrategyError
	)
	if errors.As(err, &ite) {
		attempted = ite.ID
	}
	switch {
	case errors.As(err, &pol):
		attempted = pol.Op.Tenant.String()
		code, msg, reason = codes.PermissionDenied, MsgForbidden, "tenant "+attempted+" may not "+string(pol.Op.Action)+" "+pol.Op.Table
	case errors.As(err, &pc):
		attempted = pc.Second.String()
		code, msg = codes.InvalidArgument, MsgConflict
	case errors.As(err, &sc):
		attempted = sc.Requested
		code, msg, reason = codes.InvalidArgument, MsgConflict, "a different tenant is already bound for this call"
	case errors.Is(err, auditlog.ErrNotRecorded):
		code, msg = codes.Unavailable, MsgUnaudited
	case errors.Is(err, ErrInvalidToken):
		code, msg = codes.Unauthenticated, MsgUnauthorized
	case errors.Is(err, ErrMissingTenant):
		code, msg = codes.InvalidArgument, MsgMissingTenant
		if i.scheme != "" {
			code, msg = codes.Unauthenticated, MsgUnauthorized
		}
	case errors.Is(err, scope.ErrInvalidTenant):
		code, msg = codes.InvalidArgument, MsgInvalidTenant
	default: // an error of a user strategy: its message is not used
		code, msg, reason = codes.InvalidArgument, MsgUnresolved, "the strategy failed"
	}
	if errors.As(err, &se) && se.Reason != "" {
		reason = se.Reason
	} else if reason == "" {
		reason = err.Error()
	}
	return code, msg, attempted, reason
}

// refuse records the refusal (audit unless audited says the binder already
// did; trace always) and returns the status error.
func (i *Interceptor) refuse(ctx context.Context, method string, err error, audited bool) error {
	code, msg, attempted, reason := i.classify(err)
	et := otelobs.ErrorType(err)
	instance := newInstance()
	if !audited {
		// A refusal is an alert: emitted even without a sink, which the
		// bus counts.
		bound, _ := scope.FromContext(ctx)
		i.binder.Bus().Emit(ctx, auditlog.Event{
			Type: auditlog.PolicyDeny, Tenant: bound.String(), AttemptedTenant: attempted,
			Table: "grpc:" + capped(method), Operation: OperationGRPCRequest, Reason: reason, Outcome: auditlog.OutcomeDenied,
			Attributes: []attribute.KeyValue{
				otelobs.AttrErrorType.String(et),
				AttrRPCStatusCode.String(canonical(code)),
				otelobs.AttrProblemInstance.String(instance),
			},
		})
	}
	if i.binder.Observer().Enabled() {
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			attrs := make([]attribute.KeyValue, 0, 6)
			if attempted != "" {
				attrs = append(attrs, otelobs.AttrAttemptedTenant.String(attempted))
			}
			attrs = append(attrs,
				otelobs.AttrDecision.String("rejected"),
				otelobs.AttrReason.String(reason),
				otelobs.AttrErrorType.String(et),
				AttrRPCStatusCode.String(canonical(code)),
				otelobs.AttrProblemInstance.String(instance),
			)
			span.AddEvent(otelobs.EventMiddlewareRequestRejected, trace.WithAttributes(attrs...))
		}
	}
	return status.Error(code, msg+" ("+instance+")")
}

// newInstance returns a fresh urn:uuid (version 4) naming one refusal in the
// status message, the audit record and the span event.
func newInstance() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return "urn:uuid:" + string(s[:])
}

// canonical returns the canonical name of c ("INVALID_ARGUMENT"), as the
// semantic conventions use.
func canonical(c codes.Code) string {
	if n, ok := canonicalNames[c]; ok {
		return n
	}
	return c.String()
}

var canonicalNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
	codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
	codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

// maxAuditMethod caps the method name in audit records: with an unknown
// service, grpc-go still runs the interceptors with the client's string.
const maxAuditMethod = 1024

func capped(s string) string {
	if len(s) <= maxAuditMethod {
		return s
	}
	cut := maxAuditMethod
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
