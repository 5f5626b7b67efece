package bunhook

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/feature"
	"github.com/uptrace/bun/schema"

	"github.com/tenantshield/tenantshield-go/scope"
)

// TenantOwned marks a model as tenant-owned. Embed it by value; its methods
// are bun model hooks that scope and check every query on the model (see the
// package documentation). It holds no data. The tenant column is "tenant_id"
// unless the embedded field carries a `tenant:"column"` tag.
type TenantOwned struct{}

var (
	_ bun.BeforeSelectHook      = (*TenantOwned)(nil)
	_ bun.BeforeInsertHook      = (*TenantOwned)(nil)
	_ bun.BeforeUpdateHook      = (*TenantOwned)(nil)
	_ bun.BeforeDeleteHook      = (*TenantOwned)(nil)
	_ bun.BeforeCreateTableHook = (*TenantOwned)(nil)
	_ bun.BeforeDropTableHook   = (*TenantOwned)(nil)
)

const fixWhereGroup = "put OR conditions inside q.WhereGroup(\" AND \", func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where(...).WhereOr(...) }) " +
	"so that the tenant predicate applies to all of them"

// resolve finds the enforcer and model of a hooked query.
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
		return nil, nil, mi.err
	}
	return e, mi, nil
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
		return e.block(ctx, noTenant("SELECT", mi, err, false))
	}
	if selectHasOr(q) && !e.reportOnly() {
		return e.block(ctx, violation{op: "SELECT", table: mi.table.Name, model: mi.table.TypeName, bound: t.String(),
			reason: "a top-level WhereOr would let rows of other tenants escape the tenant predicate",
			fix:    fixWhereGroup, err: scope.ErrUnscopedQuery})
	}
	addSelectPredicate(q, mi, t.String())
	if mi.inline {
		e.scopeJoins(q, t.String())
	}
	return nil
}

func addSelectPredicate(q *bun.SelectQuery, mi *modelInfo, tenant string) {
	q.Where("?TableAlias.? = ?", mi.ident, tenant)
}

func noTenant(op string, mi *modelInfo, err error, write bool) violation {
	v := noTenantViolation(op, mi.table.Name, err, write)
	v.model = mi.table.TypeName
	return v
}

// noTenantViolation is the violation of a statement on table run with no
// tenant bound, or with conflicting bindings (err is scope.Require's).
func noTenantViolation(op, table string, err error, write bool) violation {
	v := violation{op: op, table: table, err: scope.ErrNoTenant, write: write,
		reason: "no tenant is bound in the context",
		fix:    "bind one with scope.Bind/scope.Run (the scopehttp middleware does it per request), or run the work under scope.WithBypass(ctx, reason)"}
	var ce *scope.ConflictError
	if errors.As(err, &ce) {
		v.err = scope.ErrTenantConflict
		v.bound, v.attempted = ce.Bound, ce.Requested
		v.reason = "the context carries conflicting tenant bindings"
		v.fix = "bind one tenant per context; use scope.Switch with a reason to change tenant"
	}
	return v
}

// BeforeInsert fills an empty tenant column with the bound tenant and rejects
// rows of another tenant; on PostgreSQL and SQLite it restricts ON CONFLICT DO
// UPDATE to the bound tenant's rows, and on MySQL/MariaDB it rejects ON
// DUPLICATE KEY UPDATE unless WithDuplicateKeyUpdate was given.
func (*TenantOwned) BeforeInsert(ctx context.Context, q *bun.InsertQuery) error {
	e, mi, tenant, proceed, err := writeHook(ctx, q.DB(), q.GetModel(), "INSERT", nil)
	if !proceed {
		return err
	}
	if err := e.stampRows(ctx, "INSERT", q.GetModel(), mi, tenant); err != nil {
		return err
	}
	on := strings.ToUpper(insertOn(q))
	switch {
	case strings.Contains(on, "DUPLICATE KEY"):
		if !e.allowDupKey {
			return e.block(ctx, violation{op: "INSERT", table: mi.table.Name, model: mi.table.TypeName, bound: tenant, write: true,
				reason: "ON DUPLICATE KEY UPDATE has no WHERE clause, so a key collision would overwrite another tenant's row",
				fix:    "make every unique key include the tenant column and open the DB with bunhook.WithDuplicateKeyUpdate(), or use a plain INSERT/UPDATE",
				err:    scope.ErrUnscopedQuery})
		}
	case strings.Contains(on, "DO UPDATE"):
		q.Where("?TableAlias.? = ?", mi.ident, tenant)
	}
	return nil
}

// BeforeUpdate restricts UPDATE to the bound tenant's rows and fills or checks
// the tenant of the rows it writes.
func (*TenantOwned) BeforeUpdate(ctx context.Context, q *bun.UpdateQuery) error {
	e, mi, tenant, proceed, err := writeHook(ctx, q.DB(), q.GetModel(), "UPDATE", q)
	if !proceed {
		return err
	}
	if err := e.stampRows(ctx, "UPDATE", q.GetModel(), mi, tenant); err != nil {
		return err
	}
	q.Where("? = ?", q.FQN(mi.column), tenant)
	return nil
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
	if softDelete(q, mi) || q.DB().HasFeature(feature.DeleteTableAlias) || q.DB().Dialect().Name() != dialect.MySQL {
		q.Where("?TableAlias.? = ?", mi.ident, tenant)
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
		return e, mi, "", false, e.block(ctx, noTenant(op, mi, rerr, true))
	}
	if q != nil && hasOr(q) && !e.reportOnly() {
		return e, mi, "", false, e.block(ctx, violation{op: op, table: mi.table.Name, model: mi.table.TypeName, bound: t.String(), write: true,
			reason: "a top-level WhereOr would let the statement reach rows of other tenants", fix: fixWhereGroup, err: scope.ErrUnscopedQuery})
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
	return e.block(ctx, violation{op: op, table: mi.table.Name, model: mi.table.TypeName, bound: t.String(), write: true,
		reason: "DDL on a tenant-owned table affects every tenant",
		fix:    "run migrations under scope.WithBypass(ctx, \"migration\")", err: scope.ErrUnscopedQuery})
}

// stampRows fills an empty tenant column with tenant and rejects rows that
// carry another tenant.
func (e *Enforcer) stampRows(ctx context.Context, op string, model bun.Model, mi *modelInfo, tenant string) error {
	if model == nil {
		return nil
	}
	v := reflect.ValueOf(model.Value())
	if !v.IsValid() || (v.Kind() == reflect.Pointer && v.IsNil()) {
		return nil
	}
	v = reflect.Indirect(v)
	check := func(row reflect.Value) error {
		for row.Kind() == reflect.Pointer {
			if row.IsNil() {
				return nil
			}
			row = row.Elem()
		}
		if row.Kind() != reflect.Struct || row.Type() != mi.table.Type {
			return nil
		}
		fv := mi.field.Value(row)
		for fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				if !fv.CanSet() {
					return nil
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
			}
		default:
			return e.block(ctx, violation{op: op, table: mi.table.Name, model: mi.table.TypeName, bound: tenant, attempted: cur, write: true,
				reason: "the row belongs to another tenant", err: scope.ErrCrossTenant,
				fix: "leave the tenant column empty (it is filled from the context) or bind the row's tenant"})
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		return check(v)
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if err := check(v.Index(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Field access to bun internals that have no public accessor. They are read
// by reflection against the pinned bun version (a test fails if they move);
// when a field cannot be found the hooks stay conservative and the guard
// decides.
var (
	selectWhereHasOr = fieldIndex(reflect.TypeOf(bun.SelectQuery{}), "whereHasOr")
	updateWhereHasOr = fieldIndex(reflect.TypeOf(bun.UpdateQuery{}), "whereHasOr")
	deleteWhereHasOr = fieldIndex(reflect.TypeOf(bun.DeleteQuery{}), "whereHasOr")
	insertOnField    = fieldIndex(reflect.TypeOf(bun.InsertQuery{}), "on")
	deleteFlags      = fieldIndex(reflect.TypeOf(bun.DeleteQuery{}), "flags")
	forceDeleteBit   = probeForceDeleteBit()
)

// probeForceDeleteBit learns which bit of bun's unexported query flags
// ForceDelete sets (0 if the field cannot be read).
func probeForceDeleteBit() uint64 {
	if deleteFlags == nil {
		return 0
	}
	f := reflect.ValueOf(new(bun.DeleteQuery).ForceDelete()).Elem().FieldByIndex(deleteFlags)
	if f.Kind() != reflect.Uint64 {
		return 0
	}
	return f.Uint()
}

// softDelete reports whether bun renders q as a soft delete (an UPDATE of
// the model's soft_delete column). When bun's flags cannot be read it
// answers false: on MariaDB the predicate then misses the UPDATE's alias and
// the guard blocks the statement (fail closed).
func softDelete(q *bun.DeleteQuery, mi *modelInfo) bool {
	if mi.table.SoftDeleteField == nil || forceDeleteBit == 0 {
		return false
	}
	return reflect.ValueOf(q).Elem().FieldByIndex(deleteFlags).Uint()&forceDeleteBit == 0
}

func fieldIndex(t reflect.Type, name string) []int {
	f, ok := t.FieldByName(name)
	if !ok {
		return nil
	}
	return f.Index
}

func selectHasOr(q *bun.SelectQuery) bool { return readBool(reflect.ValueOf(q), selectWhereHasOr) }

func hasOr(q any) bool {
	switch q := q.(type) {
	case *bun.UpdateQuery:
		return readBool(reflect.ValueOf(q), updateWhereHasOr)
	case *bun.DeleteQuery:
		return readBool(reflect.ValueOf(q), deleteWhereHasOr)
	}
	return false
}

func readBool(v reflect.Value, idx []int) bool {
	if idx == nil {
		return false
	}
	f := v.Elem().FieldByIndex(idx)
	return f.Kind() == reflect.Bool && f.Bool()
}

func insertOn(q *bun.InsertQuery) string {
	if insertOnField == nil {
		return ""
	}
	f := reflect.ValueOf(q).Elem().FieldByIndex(insertOnField)
	if f.Type() != reflect.TypeOf(schema.QueryWithArgs{}) {
		return ""
	}
	return f.FieldByName("Query").String()
}
