// Package scope holds the tenant a unit of work runs for, and the rules
// around it.
//
// A [Tenant] is a validated identifier: every entry point ([Parse],
// [Validator.Parse], the HTTP middleware) rejects empty, oversized,
// whitespace, control and invisible-format characters, and anything outside
// the allowed pattern, with [ErrInvalidTenant] and the reason.
//
// The tenant travels in a context.Context under an unexported key:
// [NewContext], [FromContext], and [Require], which fails closed with
// [ErrNoTenant] when none is bound. Binding a different tenant over an
// already bound one is refused: [Bind] returns a [*ConflictError], and a raw
// [NewContext] over another tenant yields a context whose tenant lookup fails
// closed. The only way to change tenant inside a bound context is [Switch],
// which requires a reason and is audited.
//
// A unit of work with a beginning and an end (a request, a job) binds its
// tenant with [Bind] (or [Run]) and ends with [Binding.End]: binding emits the
// CONTEXT_BOUND audit event and the tenant.scope.entered span event; the end
// emits CONTEXT_RELEASED and tenant.scope.exited, or tenant.scope.exception
// with the error type when the work failed. Audit and tracing are independent
// paths (packages auditlog and otelobs), each off until enabled.
//
//	t, err := scope.Parse(r.Header.Get("X-Tenant-Id"))
//	if err != nil { ... } // errors.Is(err, scope.ErrInvalidTenant)
//	err = scope.Run(ctx, t, func(ctx context.Context) error {
//		return handle(ctx) // queries through bunhook see tenant t
//	})
//
// Enforcement can be skipped only explicitly: [WithBypass] marks a context with
// a mandatory reason and the caller's file and line, and every query that runs
// under it is audited as ENFORCEMENT_BYPASS.
//
// A [Policy] decides whether a tenant may perform an operation on a table;
// [DenyByDefault], [AllowTables] and [Chain] are provided, and
// [Binder.Evaluate] records the decision as POLICY_ALLOW or POLICY_DENY.
//
// Work that outlives its request (a goroutine started by a handler) keeps
// the tenant with [Detach], which drops the request's cancellation but not
// its tenant, or [Go], which runs a function as a unit of work of its own on
// such a context; both refuse to start work when no tenant is bound.
//
// # API
//
// Tenants: [Tenant], [Parse], [MustParse], [Validator] ([DefaultValidator],
// [SetDefaultValidator]). Context: [NewContext], [FromContext], [Require],
// [WithRoles], [RolesFromContext], [CacheKey] (a shared cache's key scoped
// to the bound tenant). Lifecycle: [Bind], [Run], [Switch], [Detach], [Go],
// [Binding], [Binder] ([NewBinder], [DefaultBinder], [WithAuditBus],
// [WithObserver]). Bypass: [WithBypass], [BypassFromContext], the bypass manifest
// ([ParseBypassSites], [SetBypassSites], [BypassSites]),
// [WithoutBypass]. Policies: [Policy], [PolicyFunc], [Operation], [Action],
// [Decision], [Evaluate] and the built-ins. Errors: the sentinels
// ([ErrNoTenant], [ErrCrossTenant], [ErrInvalidTenant], [ErrTenantConflict],
// [ErrPolicyDenied], [ErrInvalidBypass], [ErrUnscopedQuery], [ErrAborted])
// and the typed errors that match them.
package scope
