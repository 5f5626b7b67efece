// Package scope is a minimal stand-in for the real scope.
package scope

import "context"

type Tenant struct{ id string }

func MustParse(id string) Tenant { return Tenant{id} }

func NewContext(ctx context.Context, t Tenant) context.Context { return ctx }

func WithBypass(ctx context.Context, reason string) (context.Context, error) { return ctx, nil }

func Run(ctx context.Context, t Tenant, fn func(ctx context.Context) error) error { return fn(ctx) }
func Detach(ctx context.Context) (context.Context, error)                         { return ctx, nil }
