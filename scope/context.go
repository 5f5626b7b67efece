package scope

import "context"

type tenantKey struct{}

// binding is what the context holds. A conflict marks a context on which a
// different tenant was bound over an existing one with NewContext: lookups
// on it fail closed.
type binding struct {
	tenant   Tenant
	conflict *ConflictError
}

// boundContext carries a binding: context.WithValue with the value stored
// inline, one allocation instead of two on every request's path.
type boundContext struct {
	context.Context
	b binding
}

func withBinding(ctx context.Context, b binding) context.Context {
	return &boundContext{Context: ctx, b: b}
}

func (c *boundContext) Value(key any) any {
	if _, ok := key.(tenantKey); ok {
		return &c.b
	}
	return c.Context.Value(key)
}

func (c *boundContext) String() string { return "scope.boundContext(" + c.b.tenant.id + ")" }

// NewContext returns a copy of ctx carrying t.
//
// NewContext never silently replaces a tenant: if ctx already carries a
// different tenant, the returned context carries a conflict instead, so
// [FromContext] reports no tenant and [Require] returns a [*ConflictError]
// (enforcement fails closed). Use [Switch] to change tenant deliberately. A
// zero t yields ctx unchanged.
//
// NewContext emits nothing; [Bind] is the audited lifecycle around it.
func NewContext(ctx context.Context, t Tenant) context.Context {
	if t.IsZero() {
		return ctx
	}
	if prev, ok := ctx.Value(tenantKey{}).(*binding); ok {
		switch {
		case prev.conflict != nil:
			return ctx // already poisoned: stays poisoned
		case prev.tenant == t:
			return ctx
		default:
			return withBinding(ctx, binding{conflict: &ConflictError{Bound: prev.tenant.id, Requested: t.id}})
		}
	}
	return withBinding(ctx, binding{tenant: t})
}

// switchContext binds t over whatever ctx carries, conflicts included.
func switchContext(ctx context.Context, t Tenant) context.Context {
	return withBinding(ctx, binding{tenant: t})
}

// FromContext returns the tenant bound in ctx. It reports false when none is
// bound or the binding is in conflict.
func FromContext(ctx context.Context) (Tenant, bool) {
	b, ok := ctx.Value(tenantKey{}).(*binding)
	if !ok || b.conflict != nil {
		return Tenant{}, false
	}
	return b.tenant, true
}

// Require returns the tenant bound in ctx, or an error: [ErrNoTenant] (whose
// message says how to bind one) when none is bound, a [*ConflictError] when
// the binding is in conflict.
func Require(ctx context.Context) (Tenant, error) {
	b, ok := ctx.Value(tenantKey{}).(*binding)
	if !ok {
		return Tenant{}, ErrNoTenant
	}
	if b.conflict != nil {
		return Tenant{}, b.conflict
	}
	return b.tenant, nil
}
