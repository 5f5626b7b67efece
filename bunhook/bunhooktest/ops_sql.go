package bunhooktest

import (
	"database/sql"
	"fmt"
	"reflect"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

func safeTable(s *subject) bun.Safe { return bun.Safe(string(s.table.SQLName)) }

// onClause is the join condition of s with u from a bun relation of either
// (kit_j is u's alias), or "1 = 1".
func onClause(s, u *subject) string {
	for _, r := range s.table.Relations {
		if r.JoinTable.Name == u.table.Name && r.Type != schema.ManyToManyRelation && len(r.BasePKs) == 1 {
			return fmt.Sprintf("kit_j.%s = ?TableAlias.%s", r.JoinPKs[0].SQLName, r.BasePKs[0].SQLName)
		}
	}
	for _, r := range u.table.Relations {
		if r.JoinTable.Name == s.table.Name && r.Type != schema.ManyToManyRelation && len(r.BasePKs) == 1 {
			return fmt.Sprintf("kit_j.%s = ?TableAlias.%s", r.BasePKs[0].SQLName, r.JoinPKs[0].SQLName)
		}
	}
	return "1 = 1"
}

func joinOps(k *kit, s *subject) []op {
	var ops []op
	for _, u := range k.subjects {
		on := onClause(s, u)
		if u == s {
			on = "1 = 1"
		}
		ops = append(ops, op{name: fmt.Sprintf("Join %s AS kit_j ON %s, reading both tenants", u.table.Name, on), run: func(e *env) result {
			rows, err := e.db().NewSelect().Model(e.nilModel()).
				ColumnExpr("?TableAlias.? AS kit_t", bun.Ident(e.s.tenantCol)).
				ColumnExpr("kit_j.? AS kit_jt", bun.Ident(u.tenantCol)).
				Join("JOIN ? AS kit_j ON "+on, safeTable(u)).Rows(e.ctx)
			return scanStrings(rows, err, 2)
		}})
	}
	return ops
}

// scanStrings reads every column of rows as a tenant.
func scanStrings(rows *sql.Rows, err error, ncol int) result {
	if err != nil {
		return result{err: err}
	}
	defer rows.Close()
	var r result
	vals := make([]sql.NullString, ncol)
	ptrs := make([]any, ncol)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return result{err: err}
		}
		for _, v := range vals {
			r.tenants = append(r.tenants, v.String)
		}
	}
	r.err = rows.Err()
	return r
}

func subqueryOps() []op {
	return []op{
		{name: "SELECT (subquery counting the model's rows)", run: func(e *env) result {
			var n int64
			sub := e.db().NewSelect().Model(e.nilModel()).ColumnExpr("count(*)")
			err := e.db().NewSelect().ColumnExpr("(?) AS kit_n", sub).Scan(e.ctx, &n)
			return result{err: err, count: n, hasCount: err == nil}
		}},
		{name: "SELECT tenant FROM (model subquery) AS kit_sub", run: func(e *env) result {
			sub := e.db().NewSelect().Model(e.nilModel()).Column(e.s.tenantCol)
			rows, err := e.db().NewSelect().TableExpr("(?) AS kit_sub", sub).ColumnExpr("kit_sub.?", bun.Ident(e.s.tenantCol)).Rows(e.ctx)
			return scanStrings(rows, err, 1)
		}},
		{name: "WITH kit_cte AS (model query) SELECT tenant FROM kit_cte", run: func(e *env) result {
			rows, err := e.db().NewSelect().With("kit_cte", e.db().NewSelect().Model(e.nilModel())).
				Table("kit_cte").ColumnExpr("kit_cte.?", bun.Ident(e.s.tenantCol)).Rows(e.ctx)
			return scanStrings(rows, err, 1)
		}},
		{name: "Scan Where(EXISTS (the other tenant's rows)) (an oracle)", run: func(e *env) result {
			sub := e.db().NewSelect().Model(e.nilModel()).Where("?TableAlias.? = ?", bun.Ident(e.s.tenantCol), e.other)
			r := e.scan(func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("EXISTS (?)", sub) })
			if r.err == nil && len(r.rows) > 0 {
				r.oracle = "the EXISTS subquery saw rows of the other tenant"
			}
			return r
		}},
	}
}

// rawMutSQL is "col = 'kit-touched'" or "col = col + 1".
func rawMutSQL(s *subject) string {
	if s.mut.IndirectType.Kind() == reflect.String {
		return fmt.Sprintf("%s = 'kit-touched-raw'", s.mut.SQLName)
	}
	return fmt.Sprintf("%s = %s + 1", s.mut.SQLName, s.mut.SQLName)
}

func rawOps() []op {
	sel := func(s *subject, cond string) string {
		q := fmt.Sprintf("SELECT %s FROM %s", s.tenant.SQLName, s.table.SQLName)
		if cond != "" {
			q += " WHERE " + cond
		}
		return q
	}
	return []op{
		{name: "NewRaw SELECT tenant FROM table", run: func(e *env) result {
			var ts []string
			//tenantshield:ignore rawsql the kit sends this unscoped SQL on purpose: enforcement must refuse it
			err := e.db().NewRaw(sel(e.s, "")).Scan(e.ctx, &ts)
			return result{err: err, tenants: ts}
		}},
		{name: "NewRaw SELECT ... WHERE tenant = bound OR 1 = 1", run: func(e *env) result {
			var ts []string
			//tenantshield:ignore rawsql the kit sends this unscoped SQL on purpose: enforcement must refuse it
			err := e.db().NewRaw(sel(e.s, fmt.Sprintf("%s = ? OR 1 = 1", e.s.tenant.SQLName)), e.bound).Scan(e.ctx, &ts)
			return result{err: err, tenants: ts}
		}},
		{name: "DB.QueryContext SELECT tenant FROM table", run: func(e *env) result {
			//tenantshield:ignore rawsql the kit sends this unscoped SQL on purpose: enforcement must refuse it
			rows, err := e.db().QueryContext(e.ctx, sel(e.s, ""))
			return scanStrings(rows, err, 1)
		}},
		{name: "the embedded *sql.DB: db.DB.QueryContext SELECT tenant FROM table", run: func(e *env) result {
			q := sel(e.s, "")
			rows, err := e.db().DB.QueryContext(e.ctx, q)
			r := scanStrings(rows, err, 1)
			r.sent = []string{q}
			return r
		}},
		{name: "DB.ExecContext UPDATE without WHERE", run: func(e *env) result {
			if r, ok := e.needs(false, true); !ok {
				return r
			}
			//tenantshield:ignore rawsql the kit sends this unscoped SQL on purpose: enforcement must refuse it
			return execResult(e.db().ExecContext(e.ctx, fmt.Sprintf("UPDATE %s SET %s", e.s.table.SQLName, rawMutSQL(e.s))))
		}},
		{name: "DB.ExecContext DELETE WHERE pk = other tenant's row", run: func(e *env) result {
			if r, ok := e.needs(true, false); !ok {
				return r
			}
			//tenantshield:ignore rawsql the kit sends this unscoped SQL on purpose: enforcement must refuse it
			return execResult(e.db().ExecContext(e.ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = ?", e.s.table.SQLName, e.s.pk.SQLName), e.s.pkValue(e.b[0])))
		}},
		{name: "NewRaw UPDATE SET tenant = other WHERE tenant = bound", run: func(e *env) result {
			//tenantshield:ignore rawsql the kit sends this unscoped SQL on purpose: enforcement must refuse it
			return execResult(e.db().NewRaw(fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s = ?", e.s.table.SQLName, e.s.tenant.SQLName, e.s.tenant.SQLName), e.other, e.bound).Exec(e.ctx))
		}},
	}
}
