package bunhooktest

import (
	"fmt"
	"reflect"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/schema"
)

// allPKs returns the keys of both tenants' rows.
func (e *env) allPKs() []any {
	var out []any
	for _, r := range append(append([]reflect.Value(nil), e.a...), e.b...) {
		out = append(out, e.s.pkValue(r))
	}
	return out
}

// sliceOf returns a *[]*T holding rows.
func (e *env) sliceOf(rows ...reflect.Value) reflect.Value {
	sp := e.newSlice()
	for _, r := range rows {
		sp.Elem().Set(reflect.Append(sp.Elem(), r))
	}
	return sp
}

// fresh returns a new row for the bound tenant, with tenant set to tenant.
func (e *env) fresh(tenant string) (reflect.Value, error) {
	row, err := e.k.newRow(e.k.bind(e.ctx, e.bound), e.s, e.bound)
	if err != nil {
		return row, err
	}
	e.s.setTenant(row, tenant)
	return row, nil
}

func bulkOps() []op {
	return []op{
		{name: "Update many: Where(pk IN both tenants' rows)", run: func(e *env) result {
			if r, ok := e.needs(true, true); !ok {
				return r
			}
			return execResult(e.s.setMut(e.db().NewUpdate().Model(e.nilModel())).
				Where("?TableAlias.? IN (?)", bun.Ident(e.s.pk.Name), bun.List(e.allPKs())).Exec(e.ctx))
		}},
		{name: "Delete many: Where(pk IN both tenants' rows)", run: func(e *env) result {
			if r, ok := e.needs(true, false); !ok {
				return r
			}
			return execResult(e.db().NewDelete().Model(e.nilModel()).
				Where("?TableAlias.? IN (?)", bun.Ident(e.s.pk.Name), bun.List(e.allPKs())).Exec(e.ctx))
		}},
		{name: "Insert Model(&slice) with a row of the other tenant", run: func(e *env) result {
			own, err := e.fresh("")
			if err != nil {
				return result{skip: err.Error()}
			}
			foreign, err := e.fresh(e.other)
			if err != nil {
				return result{skip: err.Error()}
			}
			return execResult(e.db().NewInsert().Model(e.sliceOf(own, foreign).Interface()).Exec(e.ctx))
		}},
		{name: "Update Model(&slice).Bulk() of the other tenant's rows", run: func(e *env) result {
			if r, ok := e.needs(true, true); !ok {
				return r
			}
			var rows []reflect.Value
			for _, r := range e.b {
				c := clone(r)
				e.s.mutate(c)
				rows = append(rows, c)
			}
			return execResult(e.db().NewUpdate().Model(e.sliceOf(rows...).Interface()).Column(e.s.mut.Name).Bulk().Exec(e.ctx))
		}},
		{name: "Update Model(&slice).Bulk() of the other tenant's rows relabelled as the bound tenant's", run: func(e *env) result {
			if r, ok := e.needs(true, true); !ok {
				return r
			}
			var rows []reflect.Value
			for _, r := range e.b {
				c := clone(r)
				e.s.mutate(c)
				e.s.setTenant(c, e.bound)
				rows = append(rows, c)
			}
			return execResult(e.db().NewUpdate().Model(e.sliceOf(rows...).Interface()).Column(e.s.mut.Name).Bulk().Exec(e.ctx))
		}},
		{name: "Delete Model(&slice).WherePK() of the other tenant's rows", run: func(e *env) result {
			if r, ok := e.needs(true, false); !ok {
				return r
			}
			return execResult(e.db().NewDelete().Model(e.sliceOf(e.b...).Interface()).WherePK().Exec(e.ctx))
		}},
	}
}

func upsertOps() []op {
	// upsert inserts a copy of the other tenant's first row (same key) with
	// its tenant set to tenant and its mutable column changed, colliding
	// on the primary key, and sets the mutable column, and the tenant
	// column when moveTenant, from the proposed row.
	upsert := func(e *env, tenant string, moveTenant bool) result {
		if r, ok := e.needs(true, true); !ok {
			return r
		}
		row := clone(e.b[0])
		e.s.setTenant(row, tenant)
		e.s.mutate(row)
		e.s.copyFKs(row, e.a[0]) // refer to own rows: the collision is the attack
		q := e.db().NewInsert().Model(row.Interface())
		cols := []string{e.s.mut.Name}
		if moveTenant {
			cols = append(cols, e.s.tenantCol)
		}
		if e.db().Dialect().Name() == dialect.MySQL {
			q = q.On("DUPLICATE KEY UPDATE")
			for _, c := range cols {
				q = q.Set("? = VALUES(?)", bun.Ident(c), bun.Ident(c))
			}
		} else {
			q = q.On("CONFLICT (?) DO UPDATE", bun.Ident(e.s.pk.Name))
			for _, c := range cols {
				q = q.Set("? = EXCLUDED.?", bun.Ident(c), bun.Ident(c))
			}
		}
		return execResult(q.Exec(e.ctx))
	}
	return []op{
		{name: "Upsert colliding with the other tenant's row, empty tenant, updating a column", run: func(e *env) result {
			return upsert(e, "", false)
		}},
		{name: "Upsert colliding with the other tenant's row, bound tenant, updating a column and the tenant (re-homing)", run: func(e *env) result {
			return upsert(e, e.bound, true)
		}},
		{name: "Upsert of the other tenant's row carrying its tenant", run: func(e *env) result {
			return upsert(e, e.other, false)
		}},
	}
}

func crossOps() []op {
	return []op{
		{name: "Update the other tenant's row as a struct, WherePK", run: func(e *env) result {
			if r, ok := e.needs(true, true); !ok {
				return r
			}
			row := clone(e.b[0])
			e.s.mutate(row)
			return execResult(e.db().NewUpdate().Model(row.Interface()).WherePK().Exec(e.ctx))
		}},
		{name: "Update the other tenant's row as a struct with its tenant cleared, Column(mutable), WherePK", run: func(e *env) result {
			if r, ok := e.needs(true, true); !ok {
				return r
			}
			row := clone(e.b[0])
			e.s.mutate(row)
			e.s.setTenant(row, "")
			return execResult(e.db().NewUpdate().Model(row.Interface()).Column(e.s.mut.Name).WherePK().Exec(e.ctx))
		}},
		{name: "Update (*T)(nil) Set(mutable) Where(pk = other tenant's row)", run: func(e *env) result {
			if r, ok := e.needs(true, true); !ok {
				return r
			}
			w, ba := e.pkWhere(e.b[0])
			return execResult(e.s.setMut(e.db().NewUpdate().Model(e.nilModel())).Where(w, ba...).Exec(e.ctx))
		}},
		{name: "Move an own row: Set(tenant = other)", run: func(e *env) result {
			if r, ok := e.needs(true, false); !ok {
				return r
			}
			w, aa := e.pkWhere(e.a[0])
			return execResult(e.db().NewUpdate().Model(e.nilModel()).Set("? = ?", bun.Ident(e.s.tenantCol), e.other).Where(w, aa...).Exec(e.ctx))
		}},
		{name: "Move an own row: struct with tenant = other, WherePK", run: func(e *env) result {
			if r, ok := e.needs(true, false); !ok {
				return r
			}
			row := clone(e.a[0])
			e.s.setTenant(row, e.other)
			return execResult(e.db().NewUpdate().Model(row.Interface()).WherePK().Exec(e.ctx))
		}},
		{name: "Move an own row: SetColumn(tenant, other)", run: func(e *env) result {
			if r, ok := e.needs(true, false); !ok {
				return r
			}
			row := clone(e.a[0])
			return execResult(e.db().NewUpdate().Model(row.Interface()).SetColumn(e.s.tenantCol, "?", e.other).WherePK().Exec(e.ctx))
		}},
		{name: "Insert a row carrying the other tenant", run: func(e *env) result {
			row, err := e.fresh(e.other)
			if err != nil {
				return result{skip: err.Error()}
			}
			return execResult(e.db().NewInsert().Model(row.Interface()).Exec(e.ctx))
		}},
		{name: "Insert with Value(tenant, other)", run: func(e *env) result {
			row, err := e.fresh("")
			if err != nil {
				return result{skip: err.Error()}
			}
			return execResult(e.db().NewInsert().Model(row.Interface()).Value(e.s.tenantCol, "?", e.other).Exec(e.ctx))
		}},
		{name: "Delete the other tenant's row as a struct, WherePK", run: func(e *env) result {
			if r, ok := e.needs(true, false); !ok {
				return r
			}
			return execResult(e.db().NewDelete().Model(clone(e.b[0]).Interface()).WherePK().Exec(e.ctx))
		}},
	}
}

// relationOps loads every belongs-to, has-one and has-many relation of s to
// another model given to Run over a planted cross-tenant reference.
func relationOps(k *kit, s *subject) []op {
	var ops []op
	for name, r := range s.table.Relations {
		u := k.subjectOf(r.JoinTable)
		if u == nil || len(r.BasePKs) != 1 || r.Type == schema.ManyToManyRelation || s.pk == nil || u.pk == nil {
			continue
		}
		plant := func(e *env) string { return e.plant(r, u) }
		ops = append(ops,
			op{name: fmt.Sprintf("Scan Relation(%q) over a cross-tenant reference", name), setup: plant, run: func(e *env) result {
				return e.relation(name, r, u, nil)
			}},
			op{name: fmt.Sprintf("Scan Relation(%q) with WhereOr(1 = 1) in its apply function", name), setup: plant, run: func(e *env) result {
				return e.relation(name, r, u, func(q *bun.SelectQuery) *bun.SelectQuery { return q.WhereOr("1 = 1") })
			}},
		)
	}
	return ops
}

// plant makes, through the raw handle, a reference between a row of the
// bound tenant and a row of the other tenant that loading r would follow:
// belongs-to, an own row of s refers to the other tenant's row of u; has-one
// and has-many, the other tenant's row of u refers to an own row of s.
func (e *env) plant(r *schema.Relation, u *subject) string {
	ctx, err := scopeBypass(e.ctx)
	if err != nil {
		return err.Error()
	}
	var tbl *subject
	var set, key any
	var col string
	if r.Type == schema.BelongsToRelation {
		others, err := e.k.load(e.base, u, e.other)
		if err != nil || len(others) == 0 {
			return fmt.Sprintf("no row of %s of the other tenant to refer to: %v", u.name, err)
		}
		tbl, col = e.s, r.BasePKs[0].Name
		set, key = r.JoinPKs[0].Value(others[0].Elem()).Interface(), e.s.pkValue(e.a[0])
	} else {
		others, err := e.k.load(e.base, u, e.other)
		if err != nil || len(others) == 0 {
			return fmt.Sprintf("no row of %s of the other tenant to plant: %v", u.name, err)
		}
		tbl, col = u, r.JoinPKs[0].Name
		set, key = r.BasePKs[0].Value(e.a[0].Elem()).Interface(), u.pkValue(others[0])
	}
	_, err = e.k.raw.ExecContext(ctx, "UPDATE ? SET ? = ? WHERE ? = ?", bun.Safe(string(tbl.table.SQLName)), bun.Ident(col), set, bun.Ident(tbl.pk.Name), key)
	if err != nil {
		return "the database refused a cross-tenant reference (a tenant-composite foreign key?): " + firstLine(err.Error())
	}
	return ""
}

// relation scans the bound tenant's rows with Relation(name) and returns
// the related rows loaded as tenants.
func (e *env) relation(name string, r *schema.Relation, u *subject, apply func(*bun.SelectQuery) *bun.SelectQuery) result {
	sp := e.newSlice()
	q := e.db().NewSelect().Model(sp.Interface())
	if apply != nil {
		q = q.Relation(name, apply)
	} else {
		q = q.Relation(name)
	}
	if err := q.Scan(e.ctx); err != nil {
		return result{err: err}
	}
	res := result{rows: elems(sp)}
	for _, row := range res.rows {
		fv := r.Field.Value(row.Elem())
		var related []reflect.Value
		switch fv.Kind() {
		case reflect.Pointer:
			if !fv.IsNil() {
				related = append(related, fv)
			}
		case reflect.Slice:
			for i := range fv.Len() {
				v := fv.Index(i)
				if v.Kind() != reflect.Pointer {
					v = v.Addr()
				}
				related = append(related, v)
			}
		case reflect.Struct:
			related = append(related, fv.Addr())
		}
		for _, rel := range related {
			if tn := u.tenantOf(rel); tn != "" || fv.Kind() != reflect.Struct {
				res.tenants = append(res.tenants, tn)
			}
		}
	}
	return res
}
