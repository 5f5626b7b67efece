package bunhook

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"unsafe"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/bunhook/internal/sqlguard"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

// QueryHook is the guard: a bun.QueryHook that verifies the final SQL of every
// statement against the tenant bound in its context (see the package
// documentation). [Open] installs it; it cannot block a statement by itself,
// only through the connector Open installs with it.
//
// With observability on, every statement on a tenant-owned table gets one
// span, "tenant.read" or "tenant.write", carrying the decision. The span is
// kept in the event's Stash and never put in the statement's context, so it
// cannot be confused with bunotel's span whatever the order of the hooks.
type QueryHook struct {
	e *Enforcer
}

var _ bun.QueryHook = (*QueryHook)(nil)

type stashKey struct{}

// BeforeQuery checks the statement and marks its context with the decision.
func (h *QueryHook) BeforeQuery(ctx context.Context, ev *bun.QueryEvent) context.Context {
	e := h.e
	g := e.guard.Load()
	if !g.Mentions(ev.Query) {
		return ctx
	}
	var span trace.Span
	sctx := ctx
	if e.obs.Enabled() {
		sctx, span = e.obs.Tracer().Start(ctx, "tenant.guard", trace.WithSpanKind(trace.SpanKindInternal))
		if span.IsRecording() {
			if ev.Stash == nil {
				ev.Stash = make(map[any]any, 1)
			}
			ev.Stash[stashKey{}] = span
		} else {
			span.End()
			span = nil
		}
	}

	if b, ok := scope.BypassFromContext(ctx); ok {
		v := g.Check(ev.Query, "")
		t, _ := scope.FromContext(ctx)
		table := tableNames(v.Tables)
		e.bypassed(sctx, b, t.String(), v.Operation, table)
		if span != nil {
			d := otelobs.Decision{Tenant: t.String(), Decision: "bypassed", Reason: b.Reason, System: e.system,
				Table: table, Operation: v.Operation}
			e.decorate(span, v.Kind, d)
			span.AddEvent(otelobs.EventBypass, trace.WithAttributes(otelobs.AttrBypassReason.String(b.Reason),
				otelobs.AttrCodeFile.String(b.File), otelobs.AttrCodeLine.Int(b.Line)))
		}
		return withDecision(ctx, decision{query: ev.Query})
	}

	if found, err := e.inlinedError(sctx, ev.Query); found {
		return withDecision(ctx, decision{query: ev.Query, veto: err})
	}

	t, err := scope.Require(ctx)
	if err != nil {
		v := g.Check(ev.Query, "")
		viol := noTenantViolation(v.Operation, tableNames(v.Tables), err, v.Kind != sqlguard.Select)
		return e.decide(ctx, sctx, span, ev, v, viol)
	}
	tenant := t.String()
	v := g.Check(ev.Query, tenant)
	if !v.OK() && e.allowDupKey && onlyDupKey(v) {
		v = sqlguard.Verdict{Kind: v.Kind, Operation: v.Operation, Tables: v.Tables}
	}
	rewritten := false
	d := decision{query: ev.Query}
	if !v.OK() && rewritable(v) {
		if q, ok := e.rescope(ev.IQuery, tenant); ok {
			if v2 := g.Check(q, tenant); v2.OK() {
				d.to = q
				ev.Query = q // later hooks (bunotel) record what runs
				v, rewritten = v2, true
			} else {
				v = v2
			}
		}
	}
	if !v.OK() {
		return e.decide(ctx, sctx, span, ev, v, e.findingViolation(v, tenant, ev.IQuery))
	}
	if err := e.checkPolicy(sctx, t, &v); err != nil {
		if span != nil {
			e.decorate(span, v.Kind, otelobs.Decision{Tenant: tenant, Decision: "denied", Reason: err.Reason,
				System: e.system, Table: err.Op.Table, Operation: v.Operation})
		}
		d.veto = err
		return withDecision(ctx, d)
	}
	ctx = withDecision(ctx, d)
	if span != nil {
		d := otelobs.Decision{Tenant: tenant, Decision: "scoped", System: e.system, Table: tableNames(v.Tables), Operation: v.Operation}
		e.decorate(span, v.Kind, d)
		name := otelobs.EventReadFiltered
		if v.Kind != sqlguard.Select {
			name = otelobs.EventWriteInjected
		}
		if rewritten {
			span.SetAttributes(attrRewritten)
		}
		var buf [8]attributeKV
		span.AddEvent(name, trace.WithAttributes(d.Attributes(buf[:0])...))
	}
	return ctx
}

// decide reports a violation and, unless in report-only mode, vetoes the
// statement through the connector.
func (e *Enforcer) decide(ctx, sctx context.Context, span trace.Span, ev *bun.QueryEvent, v sqlguard.Verdict, viol violation) context.Context {
	if span != nil {
		decision := "blocked"
		if e.reportOnly() {
			decision = "reported"
		}
		e.decorate(span, v.Kind, otelobs.Decision{Tenant: viol.bound, Attempted: viol.attempted, Decision: decision,
			Reason: viol.reason, System: e.system, Table: viol.table, Operation: viol.op})
	}
	d := decision{query: ev.Query}
	if err := e.block(sctx, viol); err != nil {
		d.veto = err
	}
	return withDecision(ctx, d)
}

func (e *Enforcer) decorate(span trace.Span, kind sqlguard.Kind, d otelobs.Decision) {
	name := "tenant.read"
	if kind != sqlguard.Select {
		name = "tenant.write"
	}
	if d.Operation != "" {
		name += " " + d.Operation
	}
	span.SetName(name)
	var buf [8]attributeKV
	span.SetAttributes(d.Attributes(buf[:0])...)
}

// AfterQuery ends the guard's span, recording error.type when the statement
// failed (sql.ErrNoRows is not a failure).
func (h *QueryHook) AfterQuery(_ context.Context, ev *bun.QueryEvent) {
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

func onlyDupKey(v sqlguard.Verdict) bool {
	f := v.Finding
	return f != nil && f.Code == sqlguard.DuplicateKeyUpdate && v.Findings == 1
}

// rewritable reports whether a failed SELECT could be fixed by re-rendering
// its builder query with the tenant predicate: only a missing predicate is.
func rewritable(v sqlguard.Verdict) bool {
	return v.Kind == sqlguard.Select && v.Finding != nil && v.Finding.Code == sqlguard.MissingPredicate
}

// findingViolation turns the guard's finding into a violation with a fix.
func (e *Enforcer) findingViolation(v sqlguard.Verdict, tenant string, iq bun.Query) violation {
	viol := violation{op: v.Operation, table: tableNames(v.Tables), bound: tenant, err: scope.ErrUnscopedQuery,
		write: v.Kind != sqlguard.Select}
	f := v.Finding
	if f == nil {
		viol.reason = "the statement could not be verified"
		return viol
	}
	if f.Table != "" {
		viol.table = f.Table
	}
	viol.reason = f.Detail
	raw := iq == nil || isRaw(iq)
	switch f.Code {
	case sqlguard.MissingPredicate:
		if raw {
			viol.fix = "restrict every tenant table in the statement with <alias>.<tenant column> = the bound tenant, " +
				"or run it under scope.WithBypass(ctx, reason)"
		} else {
			viol.fix = "scope subqueries, unions and CTEs on tenant tables with bunhook.Scope(ctx, q) before using them, " +
				"or use a model query (Model(&rows)) instead of Table()"
		}
	case sqlguard.OrEscape:
		viol.fix = fixWhereGroup
	case sqlguard.TenantAssigned:
		viol.err, viol.attempted = scope.ErrCrossTenant, v.Attempted
		viol.fix = "the tenant column is immutable: do not Set, SetColumn or Value it (inserted rows get the bound tenant automatically)"
	case sqlguard.TenantColumnMissing:
		viol.fix = "insert the tenant column (do not drop it with Column or ExcludeColumn); bunhook fills it from the context"
	case sqlguard.DuplicateKeyUpdate:
		viol.fix = "make every unique key include the tenant column and open the DB with bunhook.WithDuplicateKeyUpdate(), or use a plain INSERT/UPDATE"
	case sqlguard.InsertSelect:
		viol.fix = "insert rows through a model, or run the statement under scope.WithBypass(ctx, reason)"
	default:
		viol.fix = "MERGE, TRUNCATE, DDL and multi-statement SQL on tenant tables need scope.WithBypass(ctx, reason)"
	}
	return viol
}

func isRaw(iq bun.Query) bool {
	_, ok := iq.(*bun.RawQuery)
	return ok
}

// rescope re-renders a model SELECT (Rows, Exec, Count, Exists, the count of
// ScanAndCount) with the tenant predicate added to a clone of it.
func (e *Enforcer) rescope(iq bun.Query, tenant string) (string, bool) {
	c, ok := iq.(interface{ Clone() *bun.SelectQuery })
	if !ok {
		return "", false
	}
	sel := c.Clone()
	if sel == nil {
		return "", false
	}
	tm, ok := sel.GetModel().(bun.TableModel)
	if !ok {
		return "", false
	}
	mi := e.modelInfo(tm.Table())
	if !mi.owned || mi.err != nil || selectHasOr(sel) {
		return "", false
	}
	addSelectPredicate(sel, mi, tenant)
	if mi.inline {
		e.scopeJoins(sel, tenant)
	}
	var qa schema.QueryAppender = sel
	if _, same := iq.(*bun.SelectQuery); !same {
		if qa = rewrap(iq, sel); qa == nil {
			return "", false
		}
	}
	b, err := qa.AppendQuery(sel.DB().QueryGen(), nil)
	if err != nil {
		return "", false
	}
	return string(b), true
}

var selectQueryPtr = reflect.TypeOf((*bun.SelectQuery)(nil))

// rewrap builds bun's unexported count/exists wrapper (a struct embedding
// *SelectQuery) around sel.
func rewrap(iq bun.Query, sel *bun.SelectQuery) schema.QueryAppender {
	t := reflect.TypeOf(iq)
	if t.Kind() != reflect.Struct || t.NumField() != 1 || t.Field(0).Type != selectQueryPtr {
		return nil
	}
	v := reflect.New(t).Elem()
	f := v.Field(0)
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(reflect.ValueOf(sel))
	qa, _ := v.Interface().(schema.QueryAppender)
	return qa
}

// Scope adds the tenant predicate of ctx to a model SELECT, for queries bun
// never hooks and the guard cannot re-render: subqueries, union arms and CTE
// bodies on tenant-owned tables. It reports through q's error when no tenant
// is bound or the model is not tenant-owned: bun returns that error from the
// outer query for unions and CTEs, and renders it into the SQL text for
// arguments of Where, TableExpr, Join and ColumnExpr, where the guard stops
// the outer statement with it. Under a bypass it returns q unchanged.
func Scope(ctx context.Context, q *bun.SelectQuery) *bun.SelectQuery {
	e, mi, err := resolve(q.DB(), q.GetModel())
	if err != nil {
		rememberInlined(err)
		return q.Err(err)
	}
	if !mi.owned {
		return q
	}
	if _, ok := scope.BypassFromContext(ctx); ok {
		return q
	}
	if err := e.scopeSelect(ctx, q, mi); err != nil {
		rememberInlined(err)
		return q.Err(err)
	}
	return q
}

// decision is what the guard tells the connector about one statement. The
// guard attaches one to every statement on a tenant table that it sees; a
// statement that reaches the connector without a decision for its exact text
// did not pass the guard (see checkUnhooked).
type decision struct {
	query string // the statement decided on
	veto  error  // return this error instead of running the statement
	to    string // run this instead of query (re-rendered with the tenant predicate)
}

type decisionKey struct{}

// decisionCtx carries a decision; one allocation per guarded statement.
type decisionCtx struct {
	context.Context
	d decision
}

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

// statement returns what the connector runs for query under ctx, or the
// error that stops it: the guard's veto, or, for a statement the guard never
// saw, the verdict of checkUnhooked.
func (e *Enforcer) statement(ctx context.Context, query string) (string, error) {
	if d := decisionFrom(ctx); d != nil {
		if d.veto != nil {
			return "", d.veto
		}
		if query == d.query {
			if d.to != "" {
				return d.to, nil
			}
			return query, nil
		}
	}
	return query, e.checkUnhooked(ctx, query)
}

type attributeKV = attribute.KeyValue

var attrRewritten = attribute.Bool("tenant.rewritten", true)
