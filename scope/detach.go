package scope

import (
	"context"
	"fmt"
)

// Detach returns a context for work that outlives the unit of work of ctx (a
// request whose handler returns before the work is done): it keeps every
// value of ctx, the bound tenant first, but not its cancellation or deadline
// (context.WithoutCancel). Queries run with the detached context are
// enforced for the same tenant as the request's.
//
// Detach fails closed: with no tenant bound it returns [ErrNoTenant], and
// with a conflicting binding the [*ConflictError], instead of a context that
// would run the work for no tenant (or, on a reused worker, for whichever
// tenant came before). Work that legitimately spans tenants declares a
// bypass with [WithBypass] instead and needs no Detach.
//
// Detach binds nothing and emits nothing; [Go] runs a function on a detached
// context as a unit of work of its own (CONTEXT_BOUND ... CONTEXT_RELEASED).
func Detach(ctx context.Context) (context.Context, error) {
	if _, err := Require(ctx); err != nil {
		return ctx, fmt.Errorf("scope.Detach: %w", err)
	}
	return context.WithoutCancel(ctx), nil
}

// Go runs fn in a new goroutine with the default binder. See [Binder.Go].
func Go(ctx context.Context, fn func(ctx context.Context) error) error {
	return defaultBinder.Go(ctx, fn)
}

// Go runs fn in a new goroutine, for the tenant bound in ctx, on a context
// detached from ctx's cancellation (see [Detach]): the request may end, the
// work goes on for the same tenant. The goroutine is a unit of work of its
// own, run by [Binder.Run]: it emits CONTEXT_BOUND when it starts and
// CONTEXT_RELEASED with fn's error when fn returns. A panic in fn is
// recorded as a [*PanicError] and then continues, crashing the program as
// any panic in a goroutine does.
//
// With no tenant bound in ctx (or a conflicting binding), Go returns the
// error of [Detach] and fn never runs. Go does not wait for fn: signal its
// end through fn itself (a channel, a sync.WaitGroup).
func (b *Binder) Go(ctx context.Context, fn func(ctx context.Context) error) error {
	t, err := Require(ctx)
	if err != nil {
		return fmt.Errorf("scope.Go: %w", err)
	}
	detached := context.WithoutCancel(ctx)
	go func() { _ = b.Run(detached, t, fn) }()
	return nil
}
