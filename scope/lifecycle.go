package scope

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
)

// Binder binds tenants for units of work and reports what happens on the audit
// bus and the observer it was built with. Its configuration is fixed at
// construction; it is safe for concurrent use.
type Binder struct {
	bus *auditlog.Bus
	obs *otelobs.Observer
}

// BinderOption configures a [Binder].
type BinderOption interface{ apply(*Binder) }

type binderOptionFunc func(*Binder)

func (f binderOptionFunc) apply(b *Binder) { f(b) }

// WithAuditBus sets the audit bus (default: auditlog.Default()).
func WithAuditBus(bus *auditlog.Bus) BinderOption {
	return binderOptionFunc(func(b *Binder) {
		if bus != nil {
			b.bus = bus
		}
	})
}

// WithObserver sets the observer (default: otelobs.Default()).
func WithObserver(obs *otelobs.Observer) BinderOption {
	return binderOptionFunc(func(b *Binder) {
		if obs != nil {
			b.obs = obs
		}
	})
}

// NewBinder returns a Binder.
func NewBinder(opts ...BinderOption) *Binder {
	b := &Binder{bus: auditlog.Default(), obs: otelobs.Default()}
	for _, o := range opts {
		o.apply(b)
	}
	return b
}

var defaultBinder = NewBinder()

// DefaultBinder returns the Binder used by the package-level functions: it
// reports to auditlog.Default() and otelobs.Default().
func DefaultBinder() *Binder { return defaultBinder }

// Bus returns the binder's audit bus.
func (b *Binder) Bus() *auditlog.Bus { return b.bus }

// Observer returns the binder's observer.
func (b *Binder) Observer() *otelobs.Observer { return b.obs }

// Binding is a tenant bound for a unit of work, returned by [Bind] and
// [Switch]. Call End exactly once when the work is done. The zero Binding's End
// does nothing.
type Binding struct {
	binder *Binder
	ctx    context.Context
	tenant Tenant
	lc     otelobs.Lifecycle
}

// Tenant returns the bound tenant.
func (b Binding) Tenant() Tenant { return b.tenant }

// Bind binds t with the default binder. See [Binder.Bind].
func Bind(ctx context.Context, t Tenant) (context.Context, Binding, error) {
	return defaultBinder.Bind(ctx, t)
}

// Switch changes tenant with the default binder. See [Binder.Switch].
func Switch(ctx context.Context, t Tenant, reason string) (context.Context, Binding, error) {
	return defaultBinder.Switch(ctx, t, reason)
}

// Run binds t with the default binder for the duration of fn. See [Binder.Run].
func Run(ctx context.Context, t Tenant, fn func(ctx context.Context) error) error {
	return defaultBinder.Run(ctx, t, fn)
}

// Bind returns a copy of ctx with t bound, and the Binding whose End closes the
// unit of work. It emits CONTEXT_BOUND (audit) and tenant.scope.entered
// (tracing), each only if its path is enabled.
//
// Binding the tenant already bound in ctx nests (and is reported again).
// Binding a different tenant is refused with a [*ConflictError], reported as an
// ENFORCEMENT_VIOLATION; use [Binder.Switch] to change tenant on purpose. A zero
// t is refused with an [*InvalidTenantError].
func (b *Binder) Bind(ctx context.Context, t Tenant) (context.Context, Binding, error) {
	if t.IsZero() {
		return ctx, Binding{}, &InvalidTenantError{ID: `""`, Reason: "it is empty (obtain tenants with scope.Parse)"}
	}
	if prev, ok := ctx.Value(tenantKey{}).(*binding); ok && (prev.conflict != nil || prev.tenant != t) {
		bound := prev.tenant.id
		if prev.conflict != nil {
			bound = prev.conflict.Bound
		}
		err := &ConflictError{Bound: bound, Requested: t.id}
		b.refuse(ctx, err, bound, t.id)
		return ctx, Binding{}, err
	}
	return b.enter(withBinding(ctx, binding{tenant: t}), t, nil)
}

// otelobs.AttrPreviousTenant names the tenant a Switch replaced, on the audit event and
// on the tenant.scope.switched span event alike.

// Switch returns a copy of ctx with t bound in place of whatever tenant ctx
// carries, for code that must deliberately act for another tenant (a support
// tool, a cross-tenant job step). The reason is mandatory. It emits
// CONTEXT_BOUND with the previous tenant and the reason, and the
// tenant.scope.switched span event. End the returned Binding like one from Bind.
func (b *Binder) Switch(ctx context.Context, t Tenant, reason string) (context.Context, Binding, error) {
	if t.IsZero() {
		return ctx, Binding{}, &InvalidTenantError{ID: `""`, Reason: "it is empty (obtain tenants with scope.Parse)"}
	}
	if strings.TrimSpace(reason) == "" {
		return ctx, Binding{}, fmt.Errorf("scope.Switch to %q: %w", t.id, ErrInvalidBypass)
	}
	prev := ""
	if pb, ok := ctx.Value(tenantKey{}).(*binding); ok {
		prev = pb.tenant.id
		if pb.conflict != nil {
			prev = pb.conflict.Bound
		}
	}
	return b.enter(switchContext(ctx, t), t, &switched{prev: prev, reason: reason})
}

// switched describes a Switch: the tenant it replaced ("" when none) and why.
type switched struct{ prev, reason string }

// enter starts the unit of work for t on ctx, which already carries t. For a
// Switch (sw non-nil), tenant.scope.switched is recorded on the span that
// EnterScope decorates or started, so it is not lost when no span was active,
// and CONTEXT_BOUND carries the previous tenant and the reason.
func (b *Binder) enter(ctx context.Context, t Tenant, sw *switched) (context.Context, Binding, error) {
	ctx, lc := b.obs.EnterScope(ctx, t.id)
	if sw != nil {
		if span := lc.Span(); span != nil {
			span.AddEvent(otelobs.EventScopeSwitched, trace.WithAttributes(
				otelobs.AttrTenantID.String(t.id), otelobs.AttrPreviousTenant.String(sw.prev), otelobs.AttrReason.String(sw.reason)))
		}
	}
	if b.bus.Enabled() {
		ev := auditlog.Event{Type: auditlog.ContextBound, Tenant: t.id, Operation: "bind", Outcome: auditlog.OutcomeSuccess}
		if sw != nil {
			ev.Operation = "switch"
			ev.Reason = sw.reason
			ev.Attributes = []attribute.KeyValue{otelobs.AttrPreviousTenant.String(sw.prev), attribute.Bool("tenant.switched", true)}
		}
		if err := b.bus.EmitChecked(ctx, ev); err != nil {
			// A blocking audit sink could not record the binding: the unit
			// of work does not start.
			lc.Exit(err)
			return ctx, Binding{}, err
		}
	}
	return ctx, Binding{binder: b, ctx: ctx, tenant: t, lc: lc}, nil
}

func (b *Binder) refuse(ctx context.Context, err *ConflictError, bound, requested string) {
	// An alert: emitted even without a sink, which the bus counts.
	b.bus.Emit(ctx, auditlog.Event{
		Type: auditlog.EnforcementViolation, Tenant: bound, AttemptedTenant: requested,
		Operation: "bind", Reason: "refused to bind a different tenant over the bound one", Outcome: auditlog.OutcomeBlocked,
	})
	if b.obs.Enabled() {
		b.obs.AddEvent(ctx, otelobs.EventScopeException, otelobs.Decision{
			Tenant: bound, Attempted: requested, Decision: "blocked", ErrorType: err.ErrorType(),
		})
	}
}

// End closes the unit of work: it emits CONTEXT_RELEASED (audit; outcome
// failure with the error when err is not nil) and tenant.scope.exited, or
// tenant.scope.exception with error.type when err is not nil (tracing), and
// ends the span Bind started, if it started one.
func (b Binding) End(err error) {
	if b.binder == nil {
		return
	}
	if b.binder.bus.Enabled() {
		ev := auditlog.Event{Type: auditlog.ContextReleased, Tenant: b.tenant.id, Operation: "release", Outcome: auditlog.OutcomeSuccess}
		if err != nil {
			ev.Outcome = auditlog.OutcomeFailure
			ev.Reason = err.Error()
			ev.Attributes = []attribute.KeyValue{otelobs.AttrErrorType.String(otelobs.ErrorType(err))}
		}
		b.binder.bus.Emit(b.ctx, ev)
	}
	b.lc.Exit(err)
}

// PanicError is the error a unit of work run by [Binder.Run] ended with when fn
// panicked. Run re-panics with the original value after recording it.
type PanicError struct{ Value any }

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// ErrorType returns a low-cardinality error.type.
func (e *PanicError) ErrorType() string { return "panic" }

// ErrAborted is the error a unit of work run by [Binder.Run] ends with when fn
// neither returned nor panicked (it called runtime.Goexit, as t.FailNow does).
var ErrAborted = errors.New("tenantshield: the unit of work was aborted (runtime.Goexit)")

// Run binds t, calls fn with the bound context and ends the binding with fn's
// error. If fn panics, the binding ends with a [*PanicError] and the panic
// continues; if fn calls runtime.Goexit, it ends with [ErrAborted]. A refused
// binding returns its error without calling fn.
func (b *Binder) Run(ctx context.Context, t Tenant, fn func(ctx context.Context) error) (err error) {
	ctx, bd, err := b.Bind(ctx, t)
	if err != nil {
		return err
	}
	returned := false
	defer func() {
		if r := recover(); r != nil {
			bd.End(&PanicError{Value: r})
			panic(r)
		}
		if !returned {
			bd.End(ErrAborted)
			return
		}
		bd.End(err)
	}()
	err = fn(ctx)
	returned = true
	return err
}
