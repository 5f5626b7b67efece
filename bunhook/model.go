package bunhook

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/feature"

	"github.com/tenantshield/tenantshield-go/bunhook/internal/bunx"
	"github.com/tenantshield/tenantshield-go/scope"
)

// TenantOwned marks a model as tenant-owned. Embed it by value; its methods
// are bun model hooks (layer 1) that scope and check every query on the
// model (see the package documentation). It holds no data. The tenant column
// is "tenant_id" unless the embedded field carries a `tenant:"column"` tag.
type TenantOwned struct{}

var (
	_ bun.BeforeSelectHook      = (*TenantOwned)(nil)
	_ bun.BeforeInsertHook      = (*TenantOwned)(nil)
	_ bun.BeforeUpdateHook      = (*TenantOwned)(nil)
	_ bun.BeforeDeleteHook      = (*TenantOwned)(nil)
	_ bun.BeforeCreateTableHook = (*TenantOwned)(nil)
	_ bun.BeforeDropTableHook   = (*TenantOwned)(nil)
)

// resolve finds the enforcer and model of a hooked query. The enforcer is
// returned with a model declaration error, nil when enforcement is not
// installed.
func resolve(db *bun.DB, model bun.Model) (*Enforcer, *modelInfo, error) {
	tm, ok := model.(bun.TableModel)
	if !ok {
		return nil, nil, fmt.Errorf("%w: query has no table model", ErrModel)
	}
	e := enforcerOfSQL(db.DB)
	if e == nil {
		return nil, nil, ErrNotInstalled
	}
	mi := e.modelInfo(tm.Table())
	if mi.err != nil {
		return e, nil, mi.err
	}
	return e, mi, nil
}

// modelOutcome starts an outcome about an operation on mi's table.
func modelOutcome(kind outcomeKind, op string, mi *modelInfo, bound string, write bool) outcome {
	return outcome{kind: kind, op: op, table: mi.table.Name, model: mi.table.TypeName, bound: bound, write: write}
}

// BeforeSelect scopes Scan and ScanAndCount to the bound tenant (see the
// package documentation).
func (*TenantOwned) BeforeSelect(ctx context.Context, q *bun.SelectQuery) error {
	e, mi, err := resolve(q.DB(), q.GetModel())
	if err != nil {
		return err
	}
	if _, ok := scope.BypassFromContext(ctx); ok {
		return nil // the guard audits each bypassed statement
	}
	return e.scopeSelect(ctx, q, mi)
}

// scopeSelect adds the tenant predicate and the tenant conditions of inline
// joins to q, or reports why it cannot.
func (e *Enforcer) scopeSelect(ctx context.Context, q *bun.SelectQuery, mi *modelInfo) error {
	t, err := scope.Require(ctx)
	if err != nil {
		if e.reportOnly() {
			return nil // runs unscoped; the guard reports the statement
		}
		return e.record(ctx, nil, noTenant(modelOutcome(violated, "SELECT", mi, "", false), err))
	}
	if bunx.HasOr(q) && !e.reportOnly() {
		o := modelOutcome(violated, "SELECT", mi, t.String(), false)
		o.reason, o.fix, o.err = "a top-level WhereOr would let rows of other tenants escape the tenant predicate", fixWhereGroup, scope.ErrUnscopedQuery
		return e.record(ctx, nil, &o)
	}
	e.addSelectPredicate(q, mi, t.String())
	return nil
}

// BeforeInsert fills an empty tenant column with the bound tenant and rejects
// rows of another tenant, and rows whose foreign keys (mapped by bun
// relations) refer to another tenant's rows; on PostgreSQL and SQLite it restricts ON CONFLICT DO
// UPDATE to the bound tenant's rows, and on MySQL/MariaDB it rejects ON
// DUPLICATE KEY UPDATE unless WithDuplicateKeyUpdate was given.
func (*TenantOwned) BeforeInsert(ctx context.Context, q *bun.InsertQuery) error {
	e, mi, tenant, proceed, err := writeHook(ctx, q.DB(), q.GetModel(), "INSERT", q)
	if !proceed {
		return err
	}
	filled, err := e.stampRows(ctx, "INSERT", q.GetModel(), mi, tenant)
	if err != nil {
		return err
	}
	on := strings.ToUpper(bunx.InsertOn(q))
	switch {
	case strings.Contains(on, "DUPLICATE KEY"):
		if !e.allowDupKey {
			o := modelOutcome(violated, "INSERT", mi, tenant, true)
			o.reason = "ON DUPLICATE KEY UPDATE has no WHERE clause, so a key collision would overwrite another tenant's row"
			o.fix, o.err = fixDupKey, scope.ErrUnscopedQuery
			return e.record(ctx, nil, &o)
		}
	case strings.Contains(on, "DO UPDATE"):
		q.Where("?TableAlias.? = ?", mi.tenantArgs(tenant)...)
	}
	if err := e.checkReferences(ctx, q, mi, tenant); err != nil {
		return err
	}
	if filled {
		e.filled.mark(q)
	}
	return nil
}

// BeforeUpdate restricts UPDATE to the bound tenant's rows and fills or checks
// the tenant of the rows it writes.
func (*TenantOwned) BeforeUpdate(ctx context.Context, q *bun.UpdateQuery) error {
	e, mi, tenant, proceed, err := writeHook(ctx, q.DB(), q.GetModel(), "UPDATE", q)
	if !proceed {
		if err == nil {
			err = bulkSupported(q)
		}
		return err
	}
	// Rows of another tenant are a violation, whether or not the server
	// could run the statement.
	if _, err := e.stampRows(ctx, "UPDATE", q.GetModel(), mi, tenant); err != nil {
		return err
	}
	if err := bulkSupported(q); err != nil {
		return err
	}
	// The Set and Value assignments, read once for both checks.
	as, ok := e.updateAssignments(q)
	if err := e.checkSets(ctx, q, mi, tenant, as, ok); err != nil {
		return err
	}
	if err := e.checkUpdateReferences(ctx, q, mi, tenant, as, ok); err != nil {
		return err
	}
	q.Where("? = ?", mi.fqnTenantArgs(q.FQN(mi.column), tenant)...)
	return nil
}

// bulkSupported refuses bun's Bulk() (an UPDATE of a slice model) where the
// dialect has no CTEs (MariaDB, MySQL before 8.0): bun renders it as
// WITH ... VALUES anyway, which the server rejects with a syntax error.
func bulkSupported(q *bun.UpdateQuery) error {
	if q.DB().HasFeature(feature.CTE) || q.GetModel() == nil {
		return nil
	}
	if v := reflect.Indirect(reflect.ValueOf(q.GetModel().Value())); v.Kind() != reflect.Slice {
		return nil
	}
	return fmt.Errorf("bunhook: Bulk() cannot run on %s: bun renders it as WITH ... VALUES, which this server "+
		"(MariaDB, or MySQL before 8.0) rejects; update the rows one by one in a transaction: %w",
		q.DB().Dialect().Name(), errors.ErrUnsupported)
}

// checkSets refuses a Set, SetColumn or Value of the tenant column,
// whatever its value: the column is immutable (the guard refuses another
// tenant's value in the final SQL; this refuses the intent, even with the
// bound tenant's). as are q's assignments; ok false (they could not be
// read) fails closed.
func (e *Enforcer) checkSets(ctx context.Context, q *bun.UpdateQuery, mi *modelInfo, tenant string, as []assignment, ok bool) error {
	reason, attempted := "", ""
	if !ok {
		reason = "bunhook cannot read the Set and Value expressions of this UPDATE"
	}
	for _, a := range as {
		if a.assigns(mi.column) {
			reason = a.from + " assigns the tenant column " + mi.column
			if s, isString := a.Literal.(string); isString && s != tenant {
				attempted = s
			}
			break
		}
	}
	if reason == "" {
		return nil
	}
	if attempted == "" {
		// A value from a CTE or another table: the guard reads the tenant
		// it would write from the final SQL, for the audit record.
		if b, err := q.AppendQuery(q.DB().QueryGen(), nil); err == nil {
			attempted = e.guard.Load().Check(string(b), tenant).Attempted
		}
	}
	o := modelOutcome(violated, "UPDATE", mi, tenant, true)
	o.reason, o.err, o.attempted = reason, scope.ErrCrossTenant, attempted
	o.fix = "the tenant column is immutable: do not Set, SetColumn or Value it (rows keep the tenant they were inserted with)"
	return e.record(ctx, nil, &o)
}

// BeforeDelete restricts DELETE (and soft deletes, which bun renders as
// UPDATE) to the bound tenant's rows.
func (*TenantOwned) BeforeDelete(ctx context.Context, q *bun.DeleteQuery) error {
	_, mi, tenant, proceed, err := writeHook(ctx, q.DB(), q.GetModel(), "DELETE", q)
	if !proceed {
		return err
	}
	// A soft delete renders as UPDATE, which bun always aliases; a real
	// DELETE has the alias only where the dialect supports it (not MariaDB).
	// When bun's flags cannot be read, softDelete answers false: on MariaDB
	// the predicate then misses the UPDATE's alias and the guard blocks the
	// statement (fail closed).
	if bunx.SoftDelete(q, mi.table) || q.DB().HasFeature(feature.DeleteTableAlias) || q.DB().Dialect().Name() != dialect.MySQL {
		q.Where("?TableAlias.? = ?", mi.tenantArgs(tenant)...)
	} else {
		q.Where("?TableName.? = ?", mi.ident, tenant)
	}
	return nil
}

// writeHook is the common start of the INSERT, UPDATE and DELETE hooks: it
// resolves the enforcer and model and the tenant the statement runs for.
// proceed is false when the hook must return err at once: a resolution error
// or a refused statement (no tenant, a top-level WhereOr on q), and also,
// with a nil err, when there is nothing to do (an explicit bypass, or no
// tenant in report-only mode, where the guard reports the statement).
func writeHook(ctx context.Context, db *bun.DB, model bun.Model, op string, q any) (e *Enforcer, mi *modelInfo, tenant string, proceed bool, err error) {
	e, mi, err = resolve(db, model)
	if err != nil {
		return nil, nil, "", false, err
	}
	if _, ok := scope.BypassFromContext(ctx); ok {
		return e, mi, "", false, nil
	}
	t, rerr := scope.Require(ctx)
	if rerr != nil {
		if e.reportOnly() {
			return e, mi, "", false, nil
		}
		return e, mi, "", false, e.record(ctx, nil, noTenant(modelOutcome(violated, op, mi, "", true), rerr))
	}
	if bunx.HasOr(q) && !e.reportOnly() {
		o := modelOutcome(violated, op, mi, t.String(), true)
		o.reason, o.fix, o.err = "a top-level WhereOr would let the statement reach rows of other tenants", fixWhereGroup, scope.ErrUnscopedQuery
		return e, mi, "", false, e.record(ctx, nil, &o)
	}
	return e, mi, t.String(), true, nil
}

// BeforeCreateTable requires an explicit bypass: DDL on a tenant-owned table
// affects every tenant.
func (*TenantOwned) BeforeCreateTable(ctx context.Context, q *bun.CreateTableQuery) error {
	return ddlHook(ctx, q.DB(), q.GetModel(), "CREATE TABLE")
}

// BeforeDropTable requires an explicit bypass: DDL on a tenant-owned table
// affects every tenant.
func (*TenantOwned) BeforeDropTable(ctx context.Context, q *bun.DropTableQuery) error {
	return ddlHook(ctx, q.DB(), q.GetModel(), "DROP TABLE")
}

func ddlHook(ctx context.Context, db *bun.DB, model bun.Model, op string) error {
	e, mi, err := resolve(db, model)
	if err != nil {
		return err
	}
	if _, ok := scope.BypassFromContext(ctx); ok {
		return nil
	}
	t, _ := scope.FromContext(ctx)
	o := modelOutcome(violated, op, mi, t.String(), true)
	o.reason, o.fix, o.err = "DDL on a tenant-owned table affects every tenant", "run migrations under scope.WithBypass(ctx, \"migration\")", scope.ErrUnscopedQuery
	return e.record(ctx, nil, &o)
}

// stampRows fills an empty tenant column with tenant and rejects rows that
// carry another tenant. filled reports whether it filled one.
func (e *Enforcer) stampRows(ctx context.Context, op string, model bun.Model, mi *modelInfo, tenant string) (filled bool, err error) {
	eachRow(model, mi, func(row reflect.Value) bool {
		var f bool
		f, err = e.stampRow(ctx, op, row, mi, tenant)
		filled = filled || f
		return err == nil
	})
	return filled, err
}

// filledInserts marks the model INSERTs whose tenant column bunhook filled,
// from the model hook to the guard (which emits tenant.write.injected for
// them only). A mark is taken when the guard sees its statement; marks of
// statements that never reach it (bun failed to render them) are dropped
// when too many pile up.
type filledInserts struct {
	mu sync.Mutex
	m  map[*bun.InsertQuery]struct{}
}

const maxFilledMarks = 1024

func (f *filledInserts) mark(q *bun.InsertQuery) {
	f.mu.Lock()
	if f.m == nil || len(f.m) >= maxFilledMarks {
		f.m = make(map[*bun.InsertQuery]struct{})
	}
	f.m[q] = struct{}{}
	f.mu.Unlock()
}

func (f *filledInserts) take(q *bun.InsertQuery) bool {
	f.mu.Lock()
	_, ok := f.m[q]
	if ok {
		delete(f.m, q)
	}
	f.mu.Unlock()
	return ok
}

// stampRow stamps one struct row of mi's table (see eachRow).
func (e *Enforcer) stampRow(ctx context.Context, op string, row reflect.Value, mi *modelInfo, tenant string) (filled bool, err error) {
	fv := mi.field.Value(row)
	for fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			if !fv.CanSet() {
				return false, nil
			}
			fv.Set(reflect.New(fv.Type().Elem()))
		}
		fv = fv.Elem()
	}
	switch cur := fv.String(); cur {
	case tenant:
	case "":
		if fv.CanSet() {
			fv.SetString(tenant)
			return true, nil
		}
	default:
		o := modelOutcome(violated, op, mi, tenant, true)
		o.attempted, o.reason, o.err = cur, "the row belongs to another tenant", scope.ErrCrossTenant
		o.fix = "leave the tenant column empty (it is filled from the context) or bind the row's tenant"
		return false, e.record(ctx, nil, &o)
	}
	return false, nil
}
