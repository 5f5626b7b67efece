package bunhook_test

import (
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/scope"
)

// ---------------------------------------------------------------------------
// Inserts.

// newRow returns a new row for the acting tenant with the tenant column
// empty (filled by the hook) or set to the acting tenant.
func (r *isoRunner) newRow(tb isoTable) mrow {
	row := mrow{s: r.fresh(tb), ref: r.pickRef(tb)}
	if r.rng.IntN(2) == 0 {
		row.tenant = r.tenant
	}
	return row
}

func (r *isoRunner) full(tb isoTable) bool { return len(r.m.rows[tb]) >= isoMaxRows }

func (r *isoRunner) opInsertSingle() {
	tb := r.table()
	if r.full(tb) {
		r.opDelete()
		return
	}
	row := r.newRow(tb)
	obj := isoObj(tb, 0, row)
	r.note("Insert(&%s%v)", tb, row)
	_, err := r.db.NewInsert().Model(obj).Exec(r.ctx)
	if r.noTenant(err, "Insert") {
		return
	}
	if !r.refOK(tb, row.ref) {
		r.mustBlock(err, "Insert referring to a row of another tenant, or to none", scope.ErrCrossTenant)
		return
	}
	r.mustOK(err, "Insert")
	got := isoRows(obj)[0]
	if got.row.tenant != r.tenant || got.id == 0 {
		r.failf("Insert: the row came back as id=%d %v, want a new id with tenant %q", got.id, got.row, r.tenant)
	}
	row.tenant = r.tenant
	r.set(tb, got.id, row)
}

func (r *isoRunner) opInsertSlice() {
	tb := r.table()
	if r.full(tb) {
		r.opDelete()
		return
	}
	n := 1 + r.rng.IntN(4)
	rows := make([]mrow, n)
	for i := range rows {
		rows[i] = r.newRow(tb)
	}
	bad := -1
	if r.tenant != "" && r.rng.IntN(5) == 0 {
		bad = r.rng.IntN(n)
		rows[bad].tenant = r.other()
	}
	r.note("Insert(&[]%s%v)", tb, rows)
	dst := isoSliceOf(tb, make([]int64, n), rows)
	if r.rng.IntN(2) == 0 {
		dst = isoPtrSlice(dst)
		r.note("(as a slice of pointers)")
	}
	_, err := r.db.NewInsert().Model(dst).Exec(r.ctx)
	if bad >= 0 || r.tenant == "" {
		r.mustBlock(err, "Insert slice with a row of another tenant", scope.ErrCrossTenant)
		return
	}
	for _, row := range rows {
		if !r.refOK(tb, row.ref) {
			r.mustBlock(err, "Insert slice with a row referring to a row of another tenant, or to none", scope.ErrCrossTenant)
			return
		}
	}
	r.mustOK(err, "Insert slice")
	for i, g := range isoRows(dst) {
		if g.row.tenant != r.tenant || g.id == 0 {
			r.failf("Insert slice: row %d came back as id=%d %v, want a new id with tenant %q", i, g.id, g.row, r.tenant)
		}
		row := rows[i]
		row.tenant = r.tenant
		if _, dup := r.m.rows[tb][g.id]; dup {
			r.failf("Insert slice: id %d assigned twice", g.id)
		}
		r.set(tb, g.id, row)
	}
}

func (r *isoRunner) opInsertForeign() {
	tb := r.table()
	row := r.newRow(tb)
	foreign := r.other()
	q := r.db.NewInsert()
	if r.rng.IntN(4) == 0 {
		// Not cross-tenant, but unverifiable: the tenant column is dropped.
		cols := []string{isoTables[tb].scol}
		if tb != tCustomers {
			cols = append(cols, isoTables[tb].refcol)
		}
		r.note("Insert(&%s%v).Column(%v)", tb, row, cols)
		_, err := q.Model(isoObj(tb, 0, row)).Column(cols...).Exec(r.ctx)
		if !r.refOK(tb, row.ref) { // the model hook's reference check runs before the guard
			r.mustBlock(err, "Insert without the tenant column, referring to another tenant's row", scope.ErrCrossTenant)
			return
		}
		r.mustBlock(err, "Insert without the tenant column", scope.ErrUnscopedQuery)
		return
	}
	if r.rng.IntN(3) == 0 {
		row.tenant = ""
		q = q.Model(isoObj(tb, 0, row)).Value("tenant_id", "?", foreign)
		r.note("Insert(&%s%v).Value(tenant_id=%s)", tb, row, foreign)
	} else {
		row.tenant = foreign
		q = q.Model(isoObj(tb, 0, row))
		r.note("Insert(&%s%v)", tb, row)
	}
	_, err := q.Exec(r.ctx)
	r.mustBlock(err, "Insert of a row of another tenant", scope.ErrCrossTenant)
}

// ---------------------------------------------------------------------------
// Updates.

// updatable reports whether an UPDATE (or soft delete) under the acting
// tenant reaches row id of tb: bun adds "deleted_at IS NULL" on items.
func (r *isoRunner) updatable(tb isoTable, id int64) bool {
	row, ok := r.m.rows[tb][id]
	return ok && r.visible(tb, row)
}

func (r *isoRunner) opUpdateStruct() {
	tb := r.table()
	id := r.pickID(tb)
	cur, exists := r.m.rows[tb][id]
	row := mrow{s: r.fresh(tb), ref: cur.ref}
	if !exists {
		row.ref = r.pickRef(tb)
	}
	if tb == tInvoices && r.rng.IntN(2) == 0 {
		row.ref = r.pickRef(tb)
	}
	p := r.rng.IntN(100)
	foreign := false
	switch {
	case p < 55:
	case p < 80:
		row.tenant = r.tenant
	default:
		if r.tenant != "" {
			row.tenant = r.other()
			foreign = true
		}
	}
	obj := isoObj(tb, id, row)
	q := r.db.NewUpdate().Model(obj).WherePK()
	cols := "all"
	if r.rng.IntN(2) == 0 {
		c := []string{isoTables[tb].scol}
		if tb == tInvoices {
			c = append(c, "customer_id")
		}
		q = q.Column(c...)
		cols = strings.Join(c, ",")
	}
	r.note("Update(&%s{ID:%d %v}).Column(%s).WherePK()", tb, id, row, cols)
	r.touch(tb, id)
	res, err := q.Exec(r.ctx)
	if foreign {
		r.mustBlock(err, "Update of a struct carrying another tenant", scope.ErrCrossTenant)
		return
	}
	if r.noTenant(err, "Update struct") {
		return
	}
	// The model hook checks the references the update writes (every column,
	// or customer_id when it is listed).
	if refWritten := cols == "all" || strings.Contains(cols, "customer_id"); refWritten && !r.refOK(tb, row.ref) {
		r.mustBlock(err, "Update of a struct referring to a row of another tenant, or to none", scope.ErrCrossTenant)
		return
	}
	r.mustOK(err, "Update struct")
	if got := isoRows(obj)[0].row.tenant; got != r.tenant {
		r.failf("Update struct: tenant column left as %q, want it filled with %q", got, r.tenant)
	}
	if !r.updatable(tb, id) {
		r.mustAffect(res, "Update struct of a row the tenant cannot see", 0)
		return
	}
	r.mustAffect(res, "Update struct", 1)
	row.tenant = r.tenant
	r.set(tb, id, row)
}

func (r *isoRunner) opUpdateNilSet() {
	tb := r.table()
	ids := r.pickIDs(tb, 4)
	v := r.fresh(tb)
	q := r.db.NewUpdate().Model(isoNil(tb)).Set("? = ?", bun.Ident(isoTables[tb].scol), v)
	ref, setRef := int64(0), false
	if tb == tInvoices && r.rng.IntN(3) == 0 {
		ref, setRef = r.pickRef(tb), true
		var arg any = ref
		if ref == 0 {
			arg = nil
		}
		q = q.Set("customer_id = ?", arg)
	}
	if len(ids) == 1 && r.rng.IntN(2) == 0 {
		q = q.Where("?TableAlias.id = ?", ids[0])
	} else {
		q = q.Where("id IN (?)", bun.List(ids))
	}
	withDeleted := tb == tItems && r.rng.IntN(3) == 0
	if withDeleted {
		q = q.WhereAllWithDeleted()
		r.note("WhereAllWithDeleted")
	}
	returning := r.hasReturning() && r.rng.IntN(3) == 0
	r.note("Update((*%s)(nil)).Set(%s=%s ref=%v:%d).Where(id IN %v) returning=%v", tb, isoTables[tb].scol, v, setRef, ref, ids, returning)
	r.touch(tb, ids...)
	var res sql.Result
	var err error
	var retIDs []int64
	var retTenants []string
	if returning {
		res, err = q.Returning("id, tenant_id").Exec(r.ctx, &retIDs, &retTenants)
	} else {
		res, err = q.Exec(r.ctx)
	}
	if r.noTenant(err, "Update Set") {
		return
	}
	if setRef && !r.refOK(tb, ref) {
		r.mustBlock(err, "Update Set of a reference to a row of another tenant, or to none", scope.ErrCrossTenant)
		return
	}
	r.mustOK(err, "Update Set")
	var changed []int64
	for _, id := range ids {
		if !r.updatable(tb, id) && !(withDeleted && r.m.rows[tb][id].tenant == r.tenant && r.tenant != "") {
			continue
		}
		changed = append(changed, id)
		row := r.m.rows[tb][id]
		row.s = v
		if setRef {
			row.ref = ref
		}
		r.set(tb, id, row)
	}
	if returning {
		slices.Sort(retIDs)
		r.checkIDs("Update Set ... RETURNING", tb, retIDs, retTenants, changed)
		return
	}
	r.mustAffect(res, "Update Set", len(changed))
}

// hasReturning reports whether UPDATE/DELETE ... RETURNING is available.
func (r *isoRunner) hasReturning() bool { return r.td.kind != "mysql" }

// opUpsert inserts rows whose primary key exists already (the acting
// tenant's or another's): ON CONFLICT DO UPDATE may only update the acting
// tenant's row; MySQL's ON DUPLICATE KEY UPDATE is refused.
func (r *isoRunner) opUpsert() {
	tb := r.table()
	ids := r.m.ids(tb, nil)
	if len(ids) == 0 {
		r.opInsertSingle()
		return
	}
	id := r.pick(ids)
	if r.rng.IntN(2) == 0 { // prefer another tenant's row
		if f := r.m.ids(tb, func(_ int64, row mrow) bool { return row.tenant != r.tenant }); len(f) > 0 {
			id = r.pick(f)
		}
	}
	cur := r.m.rows[tb][id]
	row := mrow{s: r.fresh(tb), ref: cur.ref}
	if r.rng.IntN(2) == 0 {
		row.tenant = r.tenant
	}
	obj := isoObj(tb, id, row)
	scol := bun.Ident(isoTables[tb].scol)
	r.touch(tb, id)
	if r.td.kind == "mysql" {
		r.note("Insert(&%s{ID:%d %v}).On(DUPLICATE KEY UPDATE)", tb, id, row)
		_, err := r.db.NewInsert().Model(obj).On("DUPLICATE KEY UPDATE").Set("? = VALUES(?)", scol, scol).Exec(r.ctx)
		r.mustBlock(err, "ON DUPLICATE KEY UPDATE", scope.ErrUnscopedQuery)
		return
	}
	r.note("Insert(&%s{ID:%d %v}).On(CONFLICT (id) DO UPDATE).Set(%s = EXCLUDED.%s) over a row of %s", tb, id, row, scol, scol, cur.tenant)
	res, err := r.db.NewInsert().Model(obj).On("CONFLICT (id) DO UPDATE").Set("? = EXCLUDED.?", scol, scol).Exec(r.ctx)
	if r.noTenant(err, "Upsert") {
		return
	}
	if !r.refOK(tb, row.ref) {
		r.mustBlock(err, "Upsert referring to a row of another tenant, or to none", scope.ErrCrossTenant)
		return
	}
	if cur.tenant != r.tenant {
		// The conflicting row is another tenant's: nothing may change (bun
		// may report the empty RETURNING as sql.ErrNoRows).
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			r.failf("Upsert over a row of another tenant: unexpected error %v", err)
		}
		if err == nil {
			r.mustAffect(res, "Upsert over a row of another tenant", 0)
		}
		return
	}
	r.mustOK(err, "Upsert over an own row")
	r.mustAffect(res, "Upsert over an own row", 1)
	cur.s = row.s
	r.set(tb, id, cur)
}

func (r *isoRunner) opUpdateBulk() {
	tb := r.table()
	ids := r.pickIDs(tb, 3)
	rows := make([]mrow, len(ids))
	for i, id := range ids {
		cur, ok := r.m.rows[tb][id]
		rows[i] = mrow{s: r.fresh(tb), ref: cur.ref}
		if !ok {
			rows[i].ref = r.pickRef(tb)
		}
		if r.rng.IntN(3) == 0 {
			rows[i].tenant = r.tenant
		}
	}
	bad := -1
	// bun renders Bulk as VALUES ROW(...), which MariaDB does not parse: there
	// only the rejected form (checked before any SQL is rendered) runs.
	if r.tenant != "" && (r.rng.IntN(5) == 0 || r.td.kind == "mysql") {
		bad = r.rng.IntN(len(rows))
		rows[bad].tenant = r.other()
	}
	dst := isoSliceOf(tb, ids, rows)
	r.note("Update(&[]%s ids=%v %v).Column(%s).Bulk()", tb, ids, rows, isoTables[tb].scol)
	r.touch(tb, ids...)
	res, err := r.db.NewUpdate().Model(dst).Column(isoTables[tb].scol).Bulk().Exec(r.ctx)
	if bad >= 0 {
		r.mustBlock(err, "Bulk update with a row of another tenant", scope.ErrCrossTenant)
		return
	}
	if r.noTenant(err, "Bulk update") {
		return
	}
	r.mustOK(err, "Bulk update")
	n := 0
	for i, id := range ids {
		if !r.updatable(tb, id) {
			continue
		}
		n++
		row := r.m.rows[tb][id]
		row.s = rows[i].s
		r.set(tb, id, row)
	}
	r.mustAffect(res, "Bulk update", n)
}

func (r *isoRunner) opUpdateSetTenant() {
	tb := r.table()
	id := r.pickID(tb)
	foreign := r.other()
	r.touch(tb, id)
	var err error
	switch r.rng.IntN(4) {
	case 0:
		r.note("Update((*%s)(nil)).Set(tenant_id=%s).Where(id=%d)", tb, foreign, id)
		_, err = r.db.NewUpdate().Model(isoNil(tb)).Set("tenant_id = ?", foreign).Where("id = ?", id).Exec(r.ctx)
	case 1:
		r.note("Update((*%s)(nil)).Set(%s=..., tenant_id=%s).Where(id=%d)", tb, isoTables[tb].scol, foreign, id)
		_, err = r.db.NewUpdate().Model(isoNil(tb)).Set("? = ?", bun.Ident(isoTables[tb].scol), r.fresh(tb)).
			Set("tenant_id = ?", foreign).Where("id = ?", id).Exec(r.ctx)
	case 2:
		r.note("Update(&%s{ID:%d}).Value(tenant_id=%s).WherePK()", tb, id, foreign)
		row := r.m.rows[tb][id]
		row.tenant, row.s = "", r.fresh(tb)
		_, err = r.db.NewUpdate().Model(isoObj(tb, id, row)).Value("tenant_id", "?", foreign).WherePK().Exec(r.ctx)
	default:
		r.note("Update(&%s{ID:%d}).SetColumn(tenant_id=%s).WherePK()", tb, id, foreign)
		_, err = r.db.NewUpdate().Model(isoObj(tb, id, mrow{})).SetColumn("tenant_id", "?", foreign).WherePK().Exec(r.ctx)
	}
	r.mustBlock(err, "Update moving a row to another tenant", scope.ErrCrossTenant)
}

// ---------------------------------------------------------------------------
// Deletes.

func (r *isoRunner) opDelete() {
	tb := r.table()
	var ids []int64
	var res sql.Result
	var err error
	var returning bool
	var retIDs []int64
	var retTenants []string
	switch r.rng.IntN(3) {
	case 0:
		id := r.pickID(tb)
		ids = []int64{id}
		r.note("Delete(&%s{ID:%d}).WherePK()", tb, id)
		r.touch(tb, ids...)
		res, err = r.db.NewDelete().Model(isoObj(tb, id, mrow{})).WherePK().Exec(r.ctx)
	case 1:
		id := r.pickID(tb)
		ids = []int64{id}
		r.note("Delete((*%s)(nil)).Where(id=%d)", tb, id)
		r.touch(tb, ids...)
		res, err = r.db.NewDelete().Model(isoNil(tb)).Where("id = ?", id).Exec(r.ctx)
	default:
		ids = r.pickIDs(tb, 4)
		returning = r.hasReturning() && r.rng.IntN(3) == 0
		r.note("Delete((*%s)(nil)).Where(id IN %v) returning=%v", tb, ids, returning)
		r.touch(tb, ids...)
		q := r.db.NewDelete().Model(isoNil(tb)).Where("id IN (?)", bun.List(ids))
		if returning {
			res, err = q.Returning("id, tenant_id").Exec(r.ctx, &retIDs, &retTenants)
		} else {
			res, err = q.Exec(r.ctx)
		}
	}
	if r.noTenant(err, "Delete") {
		return
	}
	r.mustOK(err, "Delete")
	n := 0
	var gone []int64
	for _, id := range ids {
		if !r.updatable(tb, id) {
			continue
		}
		gone = append(gone, id)
		n++
		if tb == tItems {
			row := r.m.rows[tb][id]
			row.deleted = true
			r.set(tb, id, row)
		} else {
			r.del(tb, id)
		}
	}
	if returning {
		slices.Sort(retIDs)
		r.checkIDs("Delete ... RETURNING", tb, retIDs, retTenants, gone)
		return
	}
	r.mustAffect(res, "Delete", n)
}

func (r *isoRunner) opForceDelete() {
	tb := tItems
	ids := r.pickIDs(tb, 3)
	r.touch(tb, ids...)
	var res sql.Result
	var err error
	if len(ids) == 1 && r.rng.IntN(2) == 0 {
		r.note("Delete(&Item{ID:%d}).WherePK().ForceDelete()", ids[0])
		res, err = r.db.NewDelete().Model(&Item{ID: ids[0]}).WherePK().ForceDelete().Exec(r.ctx)
	} else {
		r.note("Delete((*Item)(nil)).Where(id IN %v).ForceDelete()", ids)
		res, err = r.db.NewDelete().Model((*Item)(nil)).Where("id IN (?)", bun.List(ids)).ForceDelete().Exec(r.ctx)
	}
	if r.noTenant(err, "ForceDelete") {
		return
	}
	r.mustOK(err, "ForceDelete")
	n := 0
	for _, id := range ids {
		if row, ok := r.m.rows[tb][id]; ok && row.tenant == r.tenant {
			n++
			r.del(tb, id)
		}
	}
	r.mustAffect(res, "ForceDelete", n)
}

// ---------------------------------------------------------------------------
// WhereOr escapes.

func (r *isoRunner) opWhereOr() {
	tb := r.table()
	a := r.pickID(tb)
	b := r.pickID(tb)
	if r.tenant != "" {
		// The classic escape: one of my rows OR one of someone else's.
		if f := r.m.ids(tb, func(_ int64, row mrow) bool { return row.tenant != r.tenant }); len(f) > 0 {
			b = r.pick(f)
		}
	}
	or := func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("?TableAlias.id = ?", a).WhereOr("?TableAlias.id = ?", b)
	}
	r.touch(tb, a, b)
	const what = "top-level WhereOr"
	switch r.rng.IntN(7) {
	case 0:
		r.note("Scan(&[]%s).Where(id=%d).WhereOr(id=%d)", tb, a, b)
		dst := isoSlice(tb)
		err := r.db.NewSelect().Model(dst).Apply(or).Scan(r.ctx)
		r.mustBlock(err, what+" Scan", scope.ErrUnscopedQuery)
		r.checkRead(what+" Scan (blocked)", tb, isoRows(dst), nil, true)
	case 1:
		r.note("Count(%s).Where(id=%d).WhereOr(id=%d)", tb, a, b)
		n, err := r.db.NewSelect().Model(isoNil(tb)).Apply(or).Count(r.ctx)
		r.mustBlock(err, what+" Count", scope.ErrUnscopedQuery)
		if n != 0 {
			r.failf("LEAK: blocked Count returned %d", n)
		}
	case 2:
		r.note("Exists(%s).Where(id=%d).WhereOr(id=%d)", tb, a, b)
		_, err := r.db.NewSelect().Model(isoNil(tb)).Apply(or).Exists(r.ctx)
		r.mustBlock(err, what+" Exists", scope.ErrUnscopedQuery)
	case 3:
		r.note("Update((*%s)(nil)).Set(...).Where(id=%d).WhereOr(id=%d)", tb, a, b)
		_, err := r.db.NewUpdate().Model(isoNil(tb)).Set("? = ?", bun.Ident(isoTables[tb].scol), r.fresh(tb)).
			Where("id = ?", a).WhereOr("id = ?", b).Exec(r.ctx)
		r.mustBlock(err, what+" Update", scope.ErrUnscopedQuery)
	case 4:
		r.note("Delete((*%s)(nil)).Where(id=%d).WhereOr(id=%d)", tb, a, b)
		_, err := r.db.NewDelete().Model(isoNil(tb)).Where("id = ?", a).WhereOr("id = ?", b).Exec(r.ctx)
		r.mustBlock(err, what+" Delete", scope.ErrUnscopedQuery)
	case 5:
		r.note("Rows(%s).Where(id=%d).WhereOr(id=%d)", tb, a, b)
		rows, err := r.db.NewSelect().Model(isoNil(tb)).Column("id", "tenant_id").Apply(or).Rows(r.ctx)
		if err == nil {
			var ids []int64
			var tenants []string
			for rows.Next() {
				var id int64
				var tn string
				_ = rows.Scan(&id, &tn)
				ids, tenants = append(ids, id), append(tenants, tn)
			}
			_ = rows.Close()
			r.checkIDs(what+" Rows (want blocked)", tb, ids, tenants, nil)
		}
		r.mustBlock(err, what+" Rows", scope.ErrUnscopedQuery)
	default:
		// WhereOr added by a belongs-to Relation apply function, at render time.
		r.note("Scan(&[]Invoice).Relation(Customer, WhereOr(invoice.id=%d))", b)
		if tb != tInvoices {
			b = r.pickID(tInvoices)
		}
		var invs []Invoice
		err := r.db.NewSelect().Model(&invs).Relation("Customer", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.WhereOr("invoice.id = ?", b)
		}).Scan(r.ctx)
		r.mustBlock(err, what+" in a Relation apply function", scope.ErrUnscopedQuery)
		r.checkRead(what+" Relation (blocked)", tInvoices, isoRows(&invs), nil, true)
	}
}
