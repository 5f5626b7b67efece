package bunhooktest

import (
	"reflect"

	"github.com/uptrace/bun"
)

func noTenantOps() []op {
	return []op{
		{name: "Scan with no tenant bound", noTenant: true, run: func(e *env) result {
			return e.scan(func(q *bun.SelectQuery) *bun.SelectQuery { return q })
		}},
		{name: "Count with no tenant bound", noTenant: true, run: func(e *env) result {
			n, err := e.db().NewSelect().Model(e.nilModel()).Count(e.ctx)
			return result{err: err, count: int64(n), hasCount: err == nil}
		}},
		{name: "Update Where(1 = 1) with no tenant bound", noTenant: true, run: func(e *env) result {
			if r, ok := e.needs(false, true); !ok {
				return r
			}
			return execResult(e.s.setMut(e.db().NewUpdate().Model(e.nilModel())).Where("1 = 1").Exec(e.ctx))
		}},
		{name: "Delete Where(1 = 1) with no tenant bound", noTenant: true, run: func(e *env) result {
			return execResult(e.db().NewDelete().Model(e.nilModel()).Where("1 = 1").Exec(e.ctx))
		}},
	}
}

func noWhereOps() []op {
	return []op{
		{name: "Scan without WHERE", seesBound: true, run: func(e *env) result {
			return e.scan(func(q *bun.SelectQuery) *bun.SelectQuery { return q })
		}},
		{name: "Scan WherePK of the other tenant's row", run: func(e *env) result {
			if r, ok := e.needs(true, false); !ok {
				return r
			}
			row := clone(e.b[0])
			err := e.db().NewSelect().Model(row.Interface()).WherePK().Scan(e.ctx)
			if err != nil {
				return result{err: err}
			}
			return result{rows: []reflect.Value{row}}
		}},
		{name: "Scan Where(pk = the other tenant's row)", run: func(e *env) result {
			if r, ok := e.needs(true, false); !ok {
				return r
			}
			w, args := e.pkWhere(e.b[0])
			return e.scan(func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where(w, args...) })
		}},
		{name: "Rows without WHERE", run: func(e *env) result {
			rows, err := e.db().NewSelect().Model(e.nilModel()).Rows(e.ctx)
			if err != nil {
				return result{err: err}
			}
			defer rows.Close()
			sp := e.newSlice()
			if err := e.db().ScanRows(e.ctx, rows, sp.Interface()); err != nil {
				return result{err: err}
			}
			return result{rows: elems(sp)}
		}},
		{name: "SelectQuery.Exec without WHERE into a slice", run: func(e *env) result {
			sp := e.newSlice()
			_, err := e.db().NewSelect().Model(e.nilModel()).Exec(e.ctx, sp.Interface())
			return result{err: err, rows: elems(sp)}
		}},
		{name: "Update Where(1 = 1)", run: func(e *env) result {
			if r, ok := e.needs(false, true); !ok {
				return r
			}
			return execResult(e.s.setMut(e.db().NewUpdate().Model(e.nilModel())).Where("1 = 1").Exec(e.ctx))
		}},
		{name: "Delete Where(1 = 1)", run: func(e *env) result {
			return execResult(e.db().NewDelete().Model(e.nilModel()).Where("1 = 1").Exec(e.ctx))
		}},
	}
}

func orOps() []op {
	return []op{
		{name: "Scan Where(pk = own row).WhereOr(pk = other tenant's row)", run: func(e *env) result {
			if r, ok := e.needs(true, false); !ok {
				return r
			}
			w, aa := e.pkWhere(e.a[0])
			_, ba := e.pkWhere(e.b[0])
			return e.scan(func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where(w, aa...).WhereOr(w, ba...) })
		}},
		{name: "Scan WhereOr(1 = 1)", run: func(e *env) result {
			return e.scan(func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("1 = 0").WhereOr("1 = 1") })
		}},
		{name: `Scan WhereGroup(" OR ", 1 = 1)`, run: func(e *env) result {
			return e.scan(func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("1 = 0").WhereGroup(" OR ", func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("1 = 1") })
			})
		}},
		{name: "Scan Where(\"1 = 0 OR 1 = 1\")", run: func(e *env) result {
			return e.scan(func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("1 = 0 OR 1 = 1") })
		}},
		{name: "Count WhereOr(1 = 1)", run: func(e *env) result {
			n, err := e.db().NewSelect().Model(e.nilModel()).Where("1 = 0").WhereOr("1 = 1").Count(e.ctx)
			return result{err: err, count: int64(n), hasCount: err == nil}
		}},
		{name: "Update Where(1 = 0).WhereOr(1 = 1)", run: func(e *env) result {
			if r, ok := e.needs(false, true); !ok {
				return r
			}
			return execResult(e.s.setMut(e.db().NewUpdate().Model(e.nilModel())).Where("1 = 0").WhereOr("1 = 1").Exec(e.ctx))
		}},
		{name: "Delete Where(1 = 0).WhereOr(pk = other tenant's row)", run: func(e *env) result {
			if r, ok := e.needs(true, false); !ok {
				return r
			}
			w, ba := e.pkWhere(e.b[0])
			return execResult(e.db().NewDelete().Model(e.nilModel()).Where("1 = 0").WhereOr(w, ba...).Exec(e.ctx))
		}},
	}
}

func countOps() []op {
	count := func(name string, build func(e *env, q *bun.SelectQuery) *bun.SelectQuery) op {
		return op{name: name, run: func(e *env) result {
			if r, ok := e.needs(true, false); !ok {
				return r
			}
			n, err := build(e, e.db().NewSelect().Model(e.nilModel())).Count(e.ctx)
			return result{err: err, count: int64(n), hasCount: err == nil}
		}}
	}
	return []op{
		count("Count", func(_ *env, q *bun.SelectQuery) *bun.SelectQuery { return q }),
		{name: "Count Where(pk = other tenant's row) is 0", run: func(e *env) result {
			if r, ok := e.needs(true, false); !ok {
				return r
			}
			w, ba := e.pkWhere(e.b[0])
			n, err := e.db().NewSelect().Model(e.nilModel()).Where(w, ba...).Count(e.ctx)
			return result{err: err, foreignCount: int64(n)}
		}},
		{name: "Exists Where(pk = other tenant's row)", run: func(e *env) result {
			if r, ok := e.needs(true, false); !ok {
				return r
			}
			w, ba := e.pkWhere(e.b[0])
			ok, err := e.db().NewSelect().Model(e.nilModel()).Where(w, ba...).Exists(e.ctx)
			return result{err: err, exists: ok && err == nil}
		}},
		{name: "ScanAndCount", run: func(e *env) result {
			sp := e.newSlice()
			n, err := e.db().NewSelect().Model(sp.Interface()).ScanAndCount(e.ctx)
			return result{err: err, rows: elems(sp), count: int64(n), hasCount: err == nil}
		}},
		{name: "ScanAndCount with Limit(1)", run: func(e *env) result {
			sp := e.newSlice()
			n, err := e.db().NewSelect().Model(sp.Interface()).Limit(1).ScanAndCount(e.ctx)
			return result{err: err, rows: elems(sp), count: int64(n), hasCount: err == nil}
		}},
	}
}
