package bunhook

import (
	"context"
	"database/sql"
	"errors"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

// queryHook is the guard, layer 2: a bun.QueryHook that sends the final SQL
// of every statement through the pipeline (pipeline.go) and marks the
// statement's context with the decision, for the driver layer to carry out.
// It cannot block a statement by itself: a bun QueryHook returns only a
// context.
//
// With observability on, every statement on a tenant-owned table gets one
// span, "tenant.read" or "tenant.write", carrying the decision. The span is
// kept in the event's Stash and never put in the statement's context, so it
// cannot be confused with bunotel's span whatever the order of the hooks.
type queryHook struct {
	e *Enforcer
}

var _ bun.QueryHook = (*queryHook)(nil)

type stashKey struct{}

// BeforeQuery decides the statement and marks its context with the decision.
func (h *queryHook) BeforeQuery(ctx context.Context, ev *bun.QueryEvent) context.Context {
	e := h.e
	timer := e.metrics.StartGuard() // classifying is part of deciding
	g := e.guard.Load()
	st := statement{query: ev.Query, iq: ev.IQuery, hooked: true}
	// 1. classify. A statement whose shape the guard verified before for
	// the bound tenant, naming a tenant table, needs neither Mentions nor
	// the parse; anything else is classified by its text.
	t, _ := scope.FromContext(ctx)
	if v, ok := g.Cached(ev.Query, t.String()); ok && v.Tables.Len() > 0 {
		st.cached, st.isCached = v, true
	} else if !g.Mentions(ev.Query) {
		return ctx
	}
	sctx, span := e.startGuardSpan(ctx, ev)
	d := e.decide(sctx, span, g, st)
	timer.Stop(ctx, e.system, d.op)
	if e.attached {
		// No driver layer to carry the decision out: a refusal travels
		// as a context that is done already (see Attach).
		if d.veto != nil {
			return &vetoCtx{Context: ctx, err: d.veto}
		}
		return ctx
	}
	if d.to != "" {
		ev.Query = d.to // later hooks (bunotel) record what runs
	}
	return withDecision(ctx, d)
}

// startGuardSpan starts the guard's span when observability is on, and
// keeps it in ev.Stash for AfterQuery. span is nil when none records.
func (e *Enforcer) startGuardSpan(ctx context.Context, ev *bun.QueryEvent) (context.Context, trace.Span) {
	if !e.obs.Enabled() {
		return ctx, nil
	}
	sctx, span := e.obs.Tracer().Start(ctx, "tenant.guard", trace.WithSpanKind(trace.SpanKindInternal))
	if !span.IsRecording() {
		span.End()
		return sctx, nil
	}
	if ev.Stash == nil {
		ev.Stash = make(map[any]any, 1)
	}
	ev.Stash[stashKey{}] = span
	return sctx, span
}

// AfterQuery ends the guard's span, recording error.type when the statement
// failed (sql.ErrNoRows is not a failure).
func (h *queryHook) AfterQuery(_ context.Context, ev *bun.QueryEvent) {
	span, ok := ev.Stash[stashKey{}].(trace.Span)
	if !ok {
		return
	}
	if err := ev.Err; err != nil && !errors.Is(err, sql.ErrNoRows) {
		span.SetAttributes(otelobs.AttrErrorType.String(otelobs.ErrorType(err)))
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// decisionCtx carries a decision; one allocation per guarded statement.
type decisionCtx struct {
	context.Context
	d decision
}

type decisionKey struct{}

func (c *decisionCtx) Value(key any) any {
	if _, ok := key.(decisionKey); ok {
		return &c.d
	}
	return c.Context.Value(key)
}

func withDecision(ctx context.Context, d decision) context.Context {
	return &decisionCtx{Context: ctx, d: d}
}

func decisionFrom(ctx context.Context) *decision {
	d, _ := ctx.Value(decisionKey{}).(*decision)
	return d
}
