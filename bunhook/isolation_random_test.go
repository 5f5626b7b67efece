package bunhook_test

import (
	"fmt"
	"slices"

	"github.com/uptrace/bun"
)

// ---------------------------------------------------------------------------
// Random choices.

func (r *isoRunner) table() isoTable { return isoTable(r.rng.IntN(3)) }

func (r *isoRunner) other() string {
	for {
		tn := isoTenants[r.rng.IntN(len(isoTenants))]
		if tn != r.tenant {
			return tn
		}
	}
}

func (r *isoRunner) pick(ids []int64) int64 { return ids[r.rng.IntN(len(ids))] }

// pickID returns an id of tb: mostly one of the acting tenant's rows, often
// one of another tenant's, sometimes one that does not exist.
func (r *isoRunner) pickID(tb isoTable) int64 {
	own := r.m.ids(tb, func(_ int64, row mrow) bool { return row.tenant == r.tenant })
	foreign := r.m.ids(tb, func(_ int64, row mrow) bool { return row.tenant != r.tenant })
	p := r.rng.IntN(100)
	switch {
	case p < 55 && len(own) > 0:
		return r.pick(own)
	case p < 92 && len(foreign) > 0:
		return r.pick(foreign)
	case len(own)+len(foreign) > 0 && p < 92:
		return r.pick(append(own, foreign...))
	}
	return r.maxID[tb] + 1 + int64(r.rng.IntN(5))
}

func (r *isoRunner) pickIDs(tb isoTable, maxN int) []int64 {
	n := 1 + r.rng.IntN(maxN)
	var out []int64
	for i := 0; i < n; i++ {
		id := r.pickID(tb)
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// refTarget returns the table a row of tb refers to, if any.
func refTarget(tb isoTable) (isoTable, bool) {
	switch tb {
	case tInvoices:
		return tCustomers, true
	case tItems:
		return tInvoices, true
	}
	return 0, false
}

// refOK reports whether ref, in a row of tb that the acting tenant inserts
// through a model, refers to a row of the acting tenant (or to none): the
// reference check of BeforeInsert refuses anything else with
// ErrCrossTenant.
func (r *isoRunner) refOK(tb isoTable, ref int64) bool {
	target, ok := refTarget(tb)
	if !ok || ref == 0 {
		return true
	}
	row, ok := r.m.rows[target][ref]
	return ok && row.tenant == r.tenant
}

// pickRef returns a reference for a new or updated row of tb: a row of the
// acting tenant mostly, of another tenant sometimes (a cross-tenant foreign
// key), none (invoices) or a dangling id rarely.
func (r *isoRunner) pickRef(tb isoTable) int64 {
	target, ok := refTarget(tb)
	if !ok {
		return 0
	}
	own := r.m.ids(target, func(_ int64, row mrow) bool { return row.tenant == r.tenant })
	foreign := r.m.ids(target, func(_ int64, row mrow) bool { return row.tenant != r.tenant })
	p := r.rng.IntN(100)
	switch {
	case p < 75 && len(own) > 0:
		return r.pick(own)
	case p < 88 && len(foreign) > 0:
		return r.pick(foreign)
	case p < 95 && tb == tInvoices:
		return 0
	}
	return r.maxID[target] + 1 + int64(r.rng.IntN(3))
}

// isoFilter is a WHERE the model can evaluate.
type isoFilter struct {
	desc  string
	apply func(q *bun.SelectQuery) *bun.SelectQuery
	match func(id int64, row mrow) bool
}

func noFilter(q *bun.SelectQuery) *bun.SelectQuery { return q }

func (r *isoRunner) genFilter(tb isoTable) isoFilter {
	switch r.rng.IntN(7) {
	case 1:
		x := r.pickID(tb) - 1
		return isoFilter{fmt.Sprintf("id>%d", x),
			func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("?TableAlias.id > ?", x) },
			func(id int64, _ mrow) bool { return id > x }}
	case 2:
		ids := r.pickIDs(tb, 5)
		return isoFilter{fmt.Sprintf("id IN %v", ids),
			func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("?TableAlias.id IN (?)", bun.List(ids)) },
			func(id int64, _ mrow) bool { return slices.Contains(ids, id) }}
	case 3:
		row := r.m.rows[tb][r.pickID(tb)]
		v := row.s
		if v == "" {
			v = "none"
		}
		col := isoTables[tb].scol
		return isoFilter{fmt.Sprintf("%s=%s", col, v),
			func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("?TableAlias.? = ?", bun.Ident(col), v) },
			func(_ int64, row mrow) bool { return row.s == v }}
	case 4:
		if tb == tCustomers {
			break
		}
		ref := r.pickRef(tb)
		col := isoTables[tb].refcol
		if ref == 0 { // invoices.customer_id is NULL in the model's 0
			return isoFilter{col + " IS NULL",
				func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("?TableAlias.? IS NULL", bun.Ident(col)) },
				func(_ int64, row mrow) bool { return row.ref == 0 }}
		}
		return isoFilter{fmt.Sprintf("%s=%d", col, ref),
			func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("?TableAlias.? = ?", bun.Ident(col), ref) },
			func(_ int64, row mrow) bool { return row.ref == ref }}
	case 5:
		a, b := r.pickID(tb), r.pickID(tb)
		return isoFilter{fmt.Sprintf("group(id=%d OR id=%d)", a, b),
			func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
					return q.Where("?TableAlias.id = ?", a).WhereOr("?TableAlias.id = ?", b)
				})
			},
			func(id int64, _ mrow) bool { return id == a || id == b }}
	}
	return isoFilter{"all", noFilter, func(int64, mrow) bool { return true }}
}

func (r *isoRunner) genLimit() (limit, offset int) {
	if r.rng.IntN(2) == 0 {
		return 0, 0
	}
	limit = 1 + r.rng.IntN(5)
	if r.rng.IntN(2) == 0 {
		offset = r.rng.IntN(4)
	}
	return limit, offset
}

// maybeJoin adds, sometimes, the belongs-to Relation("Customer") to a query
// on invoices, and sometimes a condition on the joined customer's name: only
// customers of the acting tenant may be joined, so an invoice whose customer
// belongs to another tenant never matches.
func (r *isoRunner) maybeJoin(tb isoTable, f isoFilter) (isoFilter, bool) {
	if tb != tInvoices || r.rng.IntN(3) != 0 {
		return f, false
	}
	if r.rng.IntN(2) == 0 {
		return f, true
	}
	v := r.m.rows[tCustomers][r.pickID(tCustomers)].s
	inner := f
	return isoFilter{
		desc: f.desc + " AND customer.name=" + v,
		apply: func(q *bun.SelectQuery) *bun.SelectQuery {
			return inner.apply(q).Where("customer.name = ?", v)
		},
		match: func(id int64, row mrow) bool {
			c, ok := r.m.rows[tCustomers][row.ref]
			return inner.match(id, row) && row.ref != 0 && ok && c.tenant == r.tenant && c.s == v
		},
	}, true
}

func withCustomer(join bool) func(*bun.SelectQuery) *bun.SelectQuery {
	return func(q *bun.SelectQuery) *bun.SelectQuery {
		if join {
			return q.Relation("Customer")
		}
		return q
	}
}

func orderByID(q *bun.SelectQuery) *bun.SelectQuery { return q.OrderExpr("?TableAlias.id ASC") }

func limitQ(q *bun.SelectQuery, limit, offset int) *bun.SelectQuery {
	if limit > 0 {
		q = q.Limit(int64(limit))
	}
	if offset > 0 {
		q = q.Offset(int64(offset))
	}
	return q
}

func (r *isoRunner) inTx() bool { _, ok := r.db.(bun.Tx); return ok }
