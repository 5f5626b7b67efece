// Package scopehttp is the net/http middleware that binds each request's
// tenant, and the strategies that find the tenant in a request.
//
// A service mounts the middleware once, in front of its handlers:
//
//	header, err := scopehttp.NewHeaderStrategy(scopehttp.HeaderConfig{}) // X-Tenant-Id
//	if err != nil { ... }
//	mw := scopehttp.New(header)
//	http.ListenAndServe(addr, otelhttp.NewHandler(mw.Wrap(mux), "server"))
//
// Inside the handlers, r.Context() carries the tenant: scope.Require returns
// it, goroutines started with the context see it, and bunhook scopes every
// query made with it. When the handler returns, the binding ends; nothing is
// left bound anywhere.
//
// # Strategies
//
// A [Strategy] resolves a request to a tenant, reports that it does not apply
// ([ErrNotApplicable]), or fails with a typed error. Four are provided:
//
//   - [HeaderStrategy]: a header (default X-Tenant-Id). Suitable behind an
//     authenticating proxy that sets it, or checked against a token.
//   - [HostStrategy]: the label below one of the configured base domains
//     (acme.example.com). IP addresses, bare base domains and reserved labels
//     (www, api) do not apply; a.b.example.com is refused.
//   - [JWTStrategy]: a claim (default tenant_id) of a bearer token verified
//     with golang-jwt: an algorithm allow-list that never includes "none",
//     keys or a key function, issuer, audience, exp/nbf/iat with leeway.
//   - [StrategyFunc]: your function, for example a lookup by API key.
//
// [NewChain] tries strategies in order, the first that applies wins;
// [NewConsistentChain] consults them all and refuses a request whose sources
// disagree, for example a header naming another tenant than the token:
//
//	token, err := scopehttp.NewJWTStrategy(scopehttp.JWTConfig{
//		Algorithms: []string{"RS256"},
//		Keys:       []any{publicKey},
//		Issuer:     "https://login.example.com",
//		Audience:   []string{"orders-api"},
//		Leeway:     30 * time.Second,
//	})
//	if err != nil { ... }
//	mw := scopehttp.New(scopehttp.NewConsistentChain(token, header),
//		scopehttp.WithPolicy(policy))
//
// Every tenant a strategy returns has passed scope's validator (configurable
// per strategy), and every message a strategy produces shows request input
// only in scope's quoted and truncated display form.
//
// # What the middleware does
//
// For each request it resolves the tenant; evaluates the optional policy
// ([WithPolicy]) through the binder's Evaluate with the operation
// {Tenant, Table: "http:" + route, Action: read for GET, HEAD and OPTIONS,
// write otherwise}; binds the tenant with the binder's Bind (default
// scope.DefaultBinder(), see [WithBinder]); runs the handler with the bound
// context; and ends the binding with the handler's outcome: a panic ends it
// with a [*scope.PanicError] and is re-raised (net/http then recovers it as
// usual), a 5xx status with a [*StatusError], anything else with success.
//
// Unless both the audit and the observability paths are off, the
// ResponseWriter is wrapped to record the status. The wrapper forwards Flush
// (http.Flusher and http.ResponseController), Hijack and ReadFrom, and
// unwraps for http.ResponseController, so streamed responses, deadlines and
// upgrades keep working.
//
// In the default required mode a request that names no tenant is refused; with
// [WithOptionalTenant] it runs with no tenant bound, and whatever needs a
// tenant downstream fails closed (scope.Require returns scope.ErrNoTenant,
// bunhook refuses tenant-owned tables).
//
// # Refusals
//
// A refused request never reaches the handler and never becomes a 500. The
// default [RejectionHandler], [WriteProblem], answers with an RFC 9457
// application/problem+json body whose type is one of:
//
//	case                                          status  type (https://tenantshield.dev/problems/…)
//	no tenant named                               400     missing-tenant
//	no tenant named, strategy is an Authenticator 401     missing-tenant   WWW-Authenticate: Bearer
//	valid bearer token without the tenant claim   401     missing-tenant   WWW-Authenticate: Bearer error="invalid_token"
//	invalid tenant id (header, host, sent twice)  400     invalid-tenant
//	bad token: malformed, forged, expired,        401     invalid-token    WWW-Authenticate: Bearer error="invalid_token"
//	  not yet valid, wrong iss/aud/alg, bad claim
//	two sources name different tenants, or a      400     tenant-conflict
//	  different tenant is already bound
//	policy denies                                 403     tenant-forbidden
//	any other error of a StrategyFunc             400     invalid-tenant   (generic detail; the message is not shown)
//
// The instance member is a fresh urn:uuid that is also recorded on the audit
// event and the span event, so a client's report can be matched to them.
// [WithRejectionHandler] replaces the response; the decision, its audit record
// and its span event are made before it runs.
//
// # Audit and trace records
//
// Both paths are those of the binder: its audit bus and its Observer's gate.
// With a server span in the request context (otelhttp's), span events are
// added to it; without one, and with the gate on, the middleware starts a
// tenant.scope span for the request.
//
// A bound request records, in this order, the span events
// tenant.middleware.request_bound, tenant.scope.entered, then
// tenant.scope.exited (or tenant.scope.exception with error.type "panic" or
// the 5xx status code), then tenant.middleware.request_unbound (with
// http.response.status_code); and the audit events CONTEXT_BOUND and
// CONTEXT_RELEASED (outcome failure with the error for a panic or a 5xx),
// preceded by POLICY_ALLOW when a policy is configured.
//
// Every refusal records one audit event and the span event
// [EventRequestRejected] (tenant.middleware.request_rejected) with error.type,
// tenant.attempted_id, tenant.reason, http.response.status_code and the
// problem's type and instance. The audit event is:
//
//   - for a policy denial, the POLICY_DENY that the binder's Evaluate records
//     (Tenant: the tenant, Table: "http:" + route, Operation: read or write,
//     Reason: the policy's reason, outcome denied), next to its
//     tenant.read.blocked or tenant.write.blocked span event;
//   - for a different tenant already bound in the context, the
//     ENFORCEMENT_VIOLATION that the binder's Bind records (Operation bind,
//     outcome blocked);
//   - for every other refusal, a POLICY_DENY emitted by the middleware with
//     Operation "http.request", AttemptedTenant (a valid id, or an invalid one
//     in display form), Table "http:" + route, Reason (the problem's detail),
//     outcome denied, and the attributes error.type, http.request.method,
//     http.response.status_code, tenant.problem.type and
//     tenant.problem.instance. POLICY_DENY is used for all of them because the
//     middleware's rule (a request must name one valid, authenticated tenant)
//     is a policy at the boundary: nothing was attempted on tenant data yet,
//     which is what ENFORCEMENT_VIOLATION reports.
//
// # API
//
// The middleware: [New], [Middleware], its options ([WithBinder],
// [WithPolicy], [WithOptionalTenant], [WithRoute],
// [WithRejectionHandler]). Strategies: [Strategy], [StrategyFunc], the
// header, host and JWT strategies with their configs, [NewChain] and
// [NewConsistentChain]. Between services: [NewTransport] and [Transport]
// (forward the bound tenant as a signed propagation token of package
// scopetoken), [NewTokenStrategy] and [TokenStrategy] (verify it). Refusals: [Rejection], [Problem], [WriteProblem],
// [RejectionHandler], the Problem* type URIs and the errors.
package scopehttp
