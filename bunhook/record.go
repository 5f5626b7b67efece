package bunhook

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook/internal/sqlguard"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

// outcomeKind is what enforcement decided about one operation.
type outcomeKind uint8

const (
	scoped   outcomeKind = iota + 1 // verified (and possibly rescoped): it runs
	bypassed                        // runs unscoped under scope.WithBypass
	violated                        // blocked (reported in report-only mode)
	denied                          // a policy denied it (reported in report-only mode)
	allowed                         // a policy allowed it
)

// outcome is a typed decision, the one input of [Enforcer.record].
type outcome struct {
	kind  outcomeKind
	write bool // a write: tenant.write.* rather than tenant.read.*

	op, model        string
	table            string             // the table(s) named in reports; see tableName
	tables           sqlguard.TableList // the statement's tenant tables, when table is empty
	bound, attempted string
	reason, fix      string

	err       error         // violated: the sentinel the caller's error matches
	bypass    *scope.Bypass // bypassed: the declaration
	policy    *scope.PolicyError
	rewritten bool // scoped: the statement was re-rendered with the predicate
	// supplied: scoped writes, bunhook supplied the tenant (filled the rows
	// of a model INSERT, added the predicate of a model UPDATE or DELETE):
	// only then is there a tenant.write.injected event.
	supplied bool
}

// record reports o on both paths, each when enabled: an audit record on the
// bus and, on the trace, the decision as attributes of span (the guard's
// span; nil when there is none) and as a tenant.* span event. It returns the
// error the caller gets: a *scope.ViolationError or *scope.PolicyError when o
// blocks, nil when it does not or in report-only mode. Every decision of
// every layer goes through here.
func (e *Enforcer) record(ctx context.Context, span trace.Span, o *outcome) error {
	report := e.reportOnly()
	var err error
	switch o.kind {
	case violated:
		err = &scope.ViolationError{Op: o.op, Table: o.tableName(), Model: o.model, Bound: o.bound, Attempted: o.attempted,
			Reason: o.reason, Fix: o.fix, Err: o.err}
	case denied:
		err = o.policy
	}
	// Alerts are emitted even on a bus without a sink, which counts them
	// (auditlog.Bus.Unheard); the rest only when a sink listens.
	if o.kind != scoped && (o.kind != allowed || e.bus.Enabled()) {
		if ev, ok := o.auditEvent(report, e.policyAllow); ok {
			// An operation that goes ahead (a bypass, a policy allow) is
			// refused when a blocking sink could not record it.
			if rerr := e.bus.EmitChecked(ctx, ev); rerr != nil && err == nil && (o.kind == bypassed || o.kind == allowed) {
				err = rerr
				report = false
			}
		}
	}
	if e.obs.Enabled() && o.kind != allowed {
		e.traceOutcome(ctx, span, o, report, err)
	}
	if e.metrics.Enabled() {
		e.countDecision(ctx, o, report, err)
	}
	if report {
		return nil
	}
	return err
}

// auditEvent is o's audit record, if it has one.
func (o *outcome) auditEvent(report, policyAllow bool) (auditlog.Event, bool) {
	ev := auditlog.Event{Tenant: o.bound, Table: o.tableName(), Operation: o.op, Reason: o.reason}
	switch o.kind {
	case violated:
		ev.Type, ev.AttemptedTenant, ev.Model = auditlog.EnforcementViolation, o.attempted, o.model
		ev.Outcome = pick(report, auditlog.OutcomeReported, auditlog.OutcomeBlocked)
	case bypassed:
		ev.Type, ev.Outcome = auditlog.EnforcementBypass, auditlog.OutcomeBypassed
		ev.Caller = auditlog.Caller{File: o.bypass.File, Line: o.bypass.Line, Function: o.bypass.Function}
	case denied:
		ev.Type = auditlog.PolicyDeny
		ev.Outcome = pick(report, auditlog.OutcomeReported, auditlog.OutcomeDenied)
	case allowed:
		if !policyAllow {
			return ev, false
		}
		ev.Type, ev.Outcome = auditlog.PolicyAllow, auditlog.OutcomeAllowed
	default:
		return ev, false
	}
	return ev, true
}

// traceOutcome puts o on the trace: on span, the statement's decision; as
// an event, tenant.read.filtered / tenant.write.injected or tenant.bypass on
// span, and tenant.read.blocked / tenant.write.blocked on the span active in
// ctx (or one of its own, so that a block is always visible).
func (e *Enforcer) traceOutcome(ctx context.Context, span trace.Span, o *outcome, report bool, err error) {
	d := otelobs.Decision{Tenant: o.bound, Attempted: o.attempted, Reason: o.reason, System: e.system,
		Table: o.tableName(), Operation: o.op}
	switch o.kind {
	case scoped:
		d.Decision = "scoped"
	case bypassed:
		d.Decision = "bypassed"
	case violated:
		d.Decision = pick(report, "reported", "blocked")
	case denied:
		d.Decision = pick(report, "reported", "denied")
	}
	if span != nil {
		decorate(span, o.write, d)
	}
	switch o.kind {
	case scoped:
		if span == nil {
			return
		}
		if o.rewritten {
			span.SetAttributes(attrRewritten)
		}
		if o.write && !o.supplied {
			return // the statement carried the tenant itself: nothing was injected
		}
		// One event per tenant table the statement was verified for.
		name := pick(o.write, otelobs.EventWriteInjected, otelobs.EventReadFiltered)
		var buf [8]attribute.KeyValue
		for i := 0; i < max(o.tables.Len(), 1); i++ {
			if o.tables.Len() > 0 {
				d.Table = o.tables.At(i)
			}
			span.AddEvent(name, trace.WithAttributes(d.Attributes(buf[:0])...))
		}
	case bypassed:
		if span != nil {
			span.AddEvent(otelobs.EventBypass, trace.WithAttributes(otelobs.AttrBypassReason.String(o.bypass.Reason),
				otelobs.AttrCodeFile.String(o.bypass.File), otelobs.AttrCodeLine.Int(o.bypass.Line)))
		}
	case violated, denied:
		d.ErrorType = otelobs.ErrorType(err)
		name := pick(o.write, otelobs.EventWriteBlocked, otelobs.EventReadBlocked)
		if trace.SpanFromContext(ctx).IsRecording() {
			e.obs.AddEvent(ctx, name, d)
			return
		}
		sctx, own := e.obs.Start(ctx, spanName(o.write), trace.WithSpanKind(trace.SpanKindInternal))
		e.obs.Annotate(own, d)
		e.obs.AddEvent(sctx, name, d)
		if err != nil && !report {
			own.SetStatus(codes.Error, err.Error())
		}
		own.End()
	}
}

var attrRewritten = otelobs.AttrRewritten.Bool(true)

// countDecision adds o to the decisions metric with the outcome the
// operation got: a bypass or a policy allow that a blocking audit sink
// could not record (err) is blocked; a policy allow is otherwise not a
// decision of its own (the statement's is counted when it is scoped).
// A statement on several tables has no db.collection.name.
func (e *Enforcer) countDecision(ctx context.Context, o *outcome, report bool, err error) {
	var oc otelobs.Outcome
	switch o.kind {
	case scoped:
		oc = otelobs.OutcomeScoped
	case bypassed:
		oc = pick(err != nil, otelobs.OutcomeBlocked, otelobs.OutcomeBypassed)
	case violated:
		oc = pick(report, otelobs.OutcomeReported, otelobs.OutcomeBlocked)
	case denied:
		oc = pick(report, otelobs.OutcomeReported, otelobs.OutcomeDenied)
	default: // allowed
		if err == nil {
			return
		}
		oc = otelobs.OutcomeBlocked
	}
	table := o.table
	if table == "" && o.tables.Len() == 1 {
		table = o.tables.At(0)
	}
	e.metrics.RecordDecision(ctx, otelobs.DecisionAttributes{Outcome: oc, System: e.system, Operation: o.op, Table: table,
		Tenant: o.bound})
}

// decorate names the guard's span after the statement and sets the decision
// on it.
func decorate(span trace.Span, write bool, d otelobs.Decision) {
	name := spanName(write)
	if d.Operation != "" {
		name += " " + d.Operation
	}
	span.SetName(name)
	var buf [8]attribute.KeyValue
	span.SetAttributes(d.Attributes(buf[:0])...)
}

func spanName(write bool) string { return pick(write, "tenant.write", "tenant.read") }

func pick[T any](cond bool, yes, no T) T {
	if cond {
		return yes
	}
	return no
}

// Outcomes built from the guard's verdict.

// tableNames renders a statement's tenant tables for reports: the name, or
// the names comma-separated in first-seen order.
func tableNames(l sqlguard.TableList) string {
	switch l.Len() {
	case 0:
		return ""
	case 1:
		return l.At(0)
	}
	return strings.Join(l.Slice(), ",")
}

// tableName is the table, or the comma-separated tables, an outcome is
// about. It is computed only when a report needs it: joining names
// allocates.
func (o *outcome) tableName() string {
	if o.table != "" {
		return o.table
	}
	return tableNames(o.tables)
}

// verdictOutcome starts an outcome about the statement v describes.
func verdictOutcome(kind outcomeKind, v *sqlguard.Verdict, bound string) outcome {
	return outcome{kind: kind, op: v.Operation, tables: v.Tables, bound: bound, write: v.Kind != sqlguard.Select}
}

const fixBindTenant = "bind one with scope.Bind/scope.Run (the scopehttp middleware does it per request), " +
	"or run the work under scope.WithBypass(ctx, reason)"

// noTenant is the violation of an operation run with no tenant bound, or
// with conflicting bindings (err is scope.Require's).
func noTenant(o outcome, err error) *outcome {
	o.kind, o.err = violated, scope.ErrNoTenant
	o.reason, o.fix = "no tenant is bound in the context", fixBindTenant
	if ce, ok := asConflict(err); ok {
		o.err = scope.ErrTenantConflict
		o.bound, o.attempted = ce.Bound, ce.Requested
		o.reason = "the context carries conflicting tenant bindings"
		o.fix = "bind one tenant per context; use scope.Switch with a reason to change tenant"
	}
	return &o
}

const (
	fixWhereGroup = "put OR conditions inside q.WhereGroup(\" AND \", func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where(...).WhereOr(...) }) " +
		"so that the tenant predicate applies to all of them"
	fixRawPredicate = "restrict every tenant table in the statement with <alias>.<tenant column> = the bound tenant, " +
		"or run it under scope.WithBypass(ctx, reason)"
	fixBuilderScope = "scope subqueries, unions and CTEs on tenant tables with bunhook.Scope(ctx, q) before using them, " +
		"or use a model query (Model(&rows)) instead of Table()"
	fixDupKey = "make every unique key include the tenant column and open the DB with bunhook.WithDuplicateKeyUpdate(), or use a plain INSERT/UPDATE"
	// fixUnhooked is added to the fix of a statement that reached the driver
	// without passing bun's hooks.
	fixUnhooked = " (this statement did not pass through bun's hooks, e.g. db.DB, tx.Tx, Prepare or conn.Raw, " +
		"so it is checked as text: write the tenant as a literal rather than a driver placeholder, " +
		"or use db.ExecContext, db.QueryContext or db.NewRaw, which interpolate ? arguments)"
)

// findingViolation turns the guard's finding into a violation with a fix.
// raw tells whether the statement was written as SQL (no builder query to
// re-render) and hooked whether it passed bun's hooks.
func findingViolation(v *sqlguard.Verdict, bound string, raw, hooked bool) *outcome {
	o := verdictOutcome(violated, v, bound)
	o.err = scope.ErrUnscopedQuery
	f := v.Finding
	if f == nil {
		o.reason = "the statement could not be verified"
		return &o
	}
	if f.Table != "" {
		o.table = f.Table
	}
	o.reason = f.Detail
	switch f.Code {
	case sqlguard.MissingPredicate:
		o.fix = pick(raw, fixRawPredicate, fixBuilderScope)
	case sqlguard.OrEscape:
		o.fix = fixWhereGroup
	case sqlguard.TenantAssigned:
		o.err, o.attempted = scope.ErrCrossTenant, v.Attempted
		o.fix = "the tenant column is immutable: do not Set, SetColumn or Value it (inserted rows get the bound tenant automatically)"
	case sqlguard.TenantColumnMissing:
		o.fix = "insert the tenant column (do not drop it with Column or ExcludeColumn); bunhook fills it from the context"
	case sqlguard.DuplicateKeyUpdate:
		o.fix = fixDupKey
	case sqlguard.InsertSelect:
		o.fix = "insert rows through a model, or run the statement under scope.WithBypass(ctx, reason)"
	case sqlguard.Unregistered:
		o.fix = fixUnregistered
	default:
		o.fix = "MERGE, TRUNCATE, DDL and multi-statement SQL on tenant tables need scope.WithBypass(ctx, reason)"
	}
	if !hooked {
		o.fix += fixUnhooked
	}
	return &o
}
