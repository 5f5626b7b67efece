package bunhook

import (
	"context"
	"errors"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/bunhook/internal/bunx"
	"github.com/tenantshield/tenantshield-go/bunhook/internal/sqlguard"
	"github.com/tenantshield/tenantshield-go/scope"
)

// The statement pipeline. Every statement that names a tenant-owned table
// goes through decide, once: from the guard hook (hook.go) when it passed
// bun's hooks, or from the driver layer (gate.go) when it did not. The steps,
// in the order they run:
//
//  1. classify: does the statement name a tenant-owned table at all
//     (Guard.Mentions, by the caller)? If not, it runs untouched, unless a
//     tenant is bound and its kind is one the guard cannot see through
//     (admit: dynamic SQL, DDL, privileges, server state, ...).
//  2. resolve the tenant, or the bypass: an explicit bypass runs unscoped
//     and audited; a sub-query that Scope refused vetoes the statement; no
//     tenant (or conflicting ones) is a violation.
//  3. verify, and rescope: the guard checks the final SQL against the bound
//     tenant; a model SELECT that bun did not hook (Count, Exists, Rows,
//     Exec) is re-rendered with the predicate and checked again.
//  4. policy: the scope.Policy, per tenant table of a verified statement.
//  5. record: one outcome, on both paths (record.go).
//  6. veto: the decision, carried on the statement's context to the driver
//     layer, which returns its error or runs its statement.

// statement is one statement entering the pipeline.
type statement struct {
	query  string
	iq     bun.Query // the builder query; nil when it did not pass bun's hooks
	hooked bool
	// cached is the guard's verdict on query for the bound tenant when the
	// guard's cache held it (Guard.Cached, isCached).
	cached   sqlguard.Verdict
	isCached bool
}

// decision is what the pipeline tells the driver layer about one statement.
type decision struct {
	query string // the statement decided on
	veto  error  // return this error instead of running the statement
	to    string // run this instead of query (re-rendered with the tenant predicate)
	op    string // db.operation.name, for the guard-duration metric
}

// decide runs steps 2 to 6 for a statement that names a tenant-owned table
// (step 1). span is the guard's span, nil when none records.
func (e *Enforcer) decide(ctx context.Context, span trace.Span, g *sqlguard.Guard, st statement) decision {
	d := decision{query: st.query}

	// 2. Resolve the tenant, or the bypass.
	if b, ok := scope.BypassFromContext(ctx); ok {
		t, _ := scope.FromContext(ctx)
		v := g.Check(st.query, "")
		d.op = v.Operation
		o := verdictOutcome(bypassed, &v, t.String())
		o.bypass, o.reason = b, b.Reason
		// nil unless a blocking audit sink could not record the bypass
		d.veto = e.record(ctx, span, &o)
		return d
	}
	if found, err := e.refusedArgument(ctx, span, g, st.query); found {
		d.veto = err
		return d
	}
	t, err := scope.Require(ctx)
	if err != nil {
		v := g.Check(st.query, "")
		d.op = v.Operation
		d.veto = e.record(ctx, span, noTenant(verdictOutcome(violated, &v, ""), err))
		return d
	}
	tenant := t.String()
	if e.folding && !canonical(tenant) {
		v := g.Check(st.query, "")
		d.op = v.Operation
		o := verdictOutcome(violated, &v, tenant)
		o.err, o.reason, o.fix = ErrFoldedTenant, "the tenant id is not canonical for a case- or accent-insensitive tenant column", fixFolded
		d.veto = e.record(ctx, span, &o)
		return d
	}

	// 3. Verify, and rescope what bun did not hook.
	v, to := e.verify(g, st, tenant)
	d.op = v.Operation
	if !v.OK() {
		raw := st.iq == nil || isRaw(st.iq)
		d.veto = e.record(ctx, span, findingViolation(&v, tenant, raw, st.hooked))
		return d
	}

	if to != "" && e.attached {
		d.veto = e.record(ctx, span, attachedRescope(&v, tenant))
		return d
	}
	d.to = to // later hooks (bunotel) record it, even when the policy denies it

	// 4. Policy.
	if err := e.evaluatePolicy(ctx, span, t, &v); err != nil {
		d.veto = err
		return d
	}

	// 5. Record, 6. the decision.
	o := verdictOutcome(scoped, &v, tenant)
	o.rewritten = to != ""
	o.supplied = o.write && e.supplied(st.iq)
	_ = e.record(ctx, span, &o)
	return d
}

// supplied reports whether bunhook's model hooks supplied the tenant of the
// write iq: the rows of a model INSERT it filled, the predicate of a model
// UPDATE or DELETE on a tenant-owned model.
func (e *Enforcer) supplied(iq bun.Query) bool {
	switch q := iq.(type) {
	case *bun.InsertQuery:
		return e.filled.take(q)
	case *bun.UpdateQuery, *bun.DeleteQuery:
		tm, ok := q.GetModel().(bun.TableModel)
		if !ok {
			return false
		}
		mi := e.modelInfo(tm.Table())
		return mi.owned && mi.err == nil
	}
	return false
}

// ErrFoldedTenant is matched by the error of a statement on a tenant table
// under a tenant id that a case- or accent-insensitive tenant column would
// compare equal to other ids (see [CollationFolding]).
var ErrFoldedTenant = errors.New("bunhook: the database compares this tenant id equal to other tenant ids")

const fixFolded = "use canonical tenant ids (lower-case ASCII, no spaces), e.g. with a scope.Validator pattern " +
	"such as ^[a-z0-9][a-z0-9._:-]*$; or make every tenant column compare exactly " +
	"(MySQL/MariaDB: ALTER TABLE t MODIFY tenant_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL) " +
	"and open with bunhook.WithTenantCollation(bunhook.CollationExact)"

// canonical reports whether a case- and accent-insensitive collation
// compares tenant equal to no other string a tenant id can be: printable
// ASCII without upper-case letters and spaces (scope rejects whitespace
// and control characters in ids, so PAD SPACE cannot join two ids either).
func canonical(tenant string) bool {
	for i := 0; i < len(tenant); i++ {
		if c := tenant[i]; c <= ' ' || c >= 0x7f || (c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

const fixUnregistered = "under a tenant scope a statement may name only registered relations and allowed functions: " +
	"register a table without tenant rows with bunhook.WithSharedModels or WithSharedTables, a view or partition of " +
	"tenant rows with bunhook.WithTenantTable(name, tenantColumn) so it is verified like a table, and a function that " +
	"reads no tenant table with bunhook.WithFunctions; or run the statement under scope.WithBypass(ctx, reason)"

const fixNotAllowed = "statements of this kind can reach any tenant's rows in ways the SQL text does not show " +
	"(dynamic SQL, DDL, privileges, server settings, files): run them outside the tenant scope under " +
	"scope.WithBypass(ctx, reason), e.g. in a migration or an admin job"

// admit is step 1 for a statement that names no tenant-owned table: under a
// tenant scope (and no bypass) it runs only if its kind is one the guard
// verifies (sqlguard's Guard.Admit). It returns the veto, recorded.
func (e *Enforcer) admit(ctx context.Context, g *sqlguard.Guard, query string) error {
	if _, ok := scope.BypassFromContext(ctx); ok {
		return nil
	}
	t, ok := scope.FromContext(ctx)
	if !ok {
		return nil
	}
	v := g.Admit(query)
	if v.OK() {
		return nil
	}
	o := verdictOutcome(violated, &v, t.String())
	o.err, o.reason, o.fix = scope.ErrUnscopedQuery, v.Finding.Detail, fixNotAllowed
	switch v.Finding.Code {
	case sqlguard.Unregistered:
		o.fix = fixUnregistered
	case sqlguard.Unverifiable:
		o.fix = "the guard cannot read this statement, so it cannot tell what it reads: write it in a shape the " +
			"guard understands (the README lists them), or run it under scope.WithBypass(ctx, reason)"
	}
	return e.record(ctx, nil, &o)
}

// verify checks the statement against tenant; a failed model SELECT is
// re-rendered with the tenant predicate and checked again, and to is the
// statement to run instead when that succeeds.
func (e *Enforcer) verify(g *sqlguard.Guard, st statement, tenant string) (v sqlguard.Verdict, to string) {
	if st.isCached {
		return st.cached, "" // the cache holds only verified statements
	}
	v = g.Check(st.query, tenant)
	if v.OK() {
		return v, ""
	}
	if e.allowDupKey && onlyDupKey(v) {
		return sqlguard.Verdict{Kind: v.Kind, Operation: v.Operation, Tables: v.Tables}, ""
	}
	if st.iq == nil || !rewritable(v) {
		return v, ""
	}
	q, ok := e.rescope(st.iq, tenant)
	if !ok {
		return v, ""
	}
	v = g.Check(q, tenant)
	if !v.OK() {
		return v, ""
	}
	return v, q
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
	if !mi.owned || mi.err != nil || bunx.HasOr(sel) {
		return "", false
	}
	e.addSelectPredicate(sel, mi, tenant)
	var qa schema.QueryAppender = sel
	if _, same := iq.(*bun.SelectQuery); !same {
		if qa = bunx.Rewrap(iq, sel); qa == nil {
			return "", false
		}
	}
	b, err := qa.AppendQuery(sel.DB().QueryGen(), nil)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// addSelectPredicate restricts a model SELECT, and its inline joins, to
// tenant.
func (e *Enforcer) addSelectPredicate(q *bun.SelectQuery, mi *modelInfo, tenant string) {
	q.Where("?TableAlias.? = ?", mi.tenantArgs(tenant)...)
	if mi.inline {
		bunx.ScopeJoins(q, tenant, e.tenantColumn)
	}
}

// evaluatePolicy is step 4: it evaluates the policy for each tenant table
// of a verified statement and returns the error that blocks it (nil in
// report-only mode, where denies are reported and the statement runs).
func (e *Enforcer) evaluatePolicy(ctx context.Context, span trace.Span, t scope.Tenant, v *sqlguard.Verdict) error {
	if e.policy == nil {
		return nil
	}
	action := actionOf(v.Kind)
	report := e.reportOnly()
	for i := 0; i < v.Tables.Len(); i++ {
		op := scope.Operation{Tenant: t, Table: v.Tables.At(i), Action: action}
		pd := e.policy.Evaluate(ctx, op)
		o := outcome{kind: allowed, op: v.Operation, table: op.Table, bound: t.String(), reason: pd.Reason,
			write: action != scope.ActionRead}
		if pd.Allowed {
			// nil unless a blocking audit sink could not record the allow
			if err := e.record(ctx, nil, &o); err != nil {
				return err
			}
			continue
		}
		o.kind, o.policy = denied, &scope.PolicyError{Op: op, Reason: pd.Reason}
		// In report-only mode the statement goes on and its span gets the
		// final decision; a deny that blocks is the span's decision.
		if err := e.record(ctx, pick(report, nil, span), &o); err != nil {
			return err
		}
	}
	return nil
}

func actionOf(k sqlguard.Kind) scope.Action {
	switch k {
	case sqlguard.Select:
		return scope.ActionRead
	case sqlguard.Delete:
		return scope.ActionDelete
	}
	return scope.ActionWrite
}

func asConflict(err error) (*scope.ConflictError, bool) {
	var ce *scope.ConflictError
	ok := errors.As(err, &ce)
	return ce, ok
}
