// Package scopegrpc is the gRPC door of package scope: server interceptors
// that bind each call's tenant, and client interceptors that forward it to
// the next service.
//
//	header, err := scopegrpc.NewHeaderStrategy(scopegrpc.HeaderConfig{}) // x-tenant-id
//	if err != nil { ... }
//	ic := scopegrpc.New(header, scopegrpc.WithPolicy(policy))
//	srv := grpc.NewServer(
//		grpc.StatsHandler(otelgrpc.NewServerHandler()),
//		grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor()),
//		grpc.ChainStreamInterceptor(ic.StreamServerInterceptor()),
//	)
//
// Inside the handlers, the context (and a stream's Context) carries the
// tenant: scope.Require returns it and bunhook scopes every query made with
// it. When the handler returns, the binding ends.
//
// # Strategies
//
// The strategies are those of scopehttp, reading the call's incoming
// metadata instead of headers, with the same configuration types and the
// same code underneath: [HeaderStrategy] (a metadata key, default
// x-tenant-id), [JWTStrategy] (a bearer token in "authorization"),
// [TokenStrategy] (a propagation token signed by the calling service, see
// package scopetoken), [StrategyFunc], [NewChain] and [NewConsistentChain].
//
// # Refusals
//
// A refused call never reaches the handler. Its status has a fixed message
// (one of the Msg* constants) followed by a fresh urn:uuid instance that is
// also on the audit record and the span event; the reason, which may quote
// call input in scope's display form, is only in those records.
//
//	case                                                code
//	invalid tenant id (bad characters, sent twice,      InvalidArgument
//	  oversized, empty)
//	no tenant named, header strategy                    InvalidArgument
//	no tenant named, credential strategy                Unauthenticated
//	bad bearer or propagation token (forged, expired,   Unauthenticated
//	  wrong key, another trace, oversized, malformed)
//	two sources disagree, or another tenant is bound    InvalidArgument
//	policy denies                                       PermissionDenied
//	the blocking audit mode cannot record the binding   Unavailable
//	any other error of a StrategyFunc                   InvalidArgument (generic message)
//
// The handler's own errors are returned unchanged. A server-side failure
// (Unknown, DeadlineExceeded, Unimplemented, Internal, Unavailable,
// DataLoss) ends the binding with a [*StatusError]; a panic ends it with a
// *scope.PanicError and goes on.
//
// # Audit and trace records
//
// As scopehttp's: the binder's CONTEXT_BOUND and CONTEXT_RELEASED, POLICY_ALLOW
// or POLICY_DENY from a policy, and for every other refusal a POLICY_DENY with
// Operation [OperationGRPCRequest], Table "grpc:" + full method, the reason
// and the attributes error.type, [AttrRPCStatusCode] and
// tenant.problem.instance. Every record of a call names the actor (a JWT's
// sub), the peer's address and the full method as its route
// (auditlog.WithRequest). With the observability gate on, the span events
// tenant.middleware.request_bound, request_unbound and request_rejected go on
// the server span of otelgrpc's stats handler, or on a tenant.scope span the
// interceptor starts and ends when there is none.
//
// # Between services
//
// [UnaryClientInterceptor] and [StreamClientInterceptor] sign the bound
// tenant for the current trace with a scopetoken.Keyring and send it in the
// metadata; the next service verifies it with [NewTokenStrategy]. Install
// otelgrpc's stats handlers on both sides so that the server's context is in
// the caller's trace. A tenant in W3C baggage is never read.
package scopegrpc
