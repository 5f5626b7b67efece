package bunhook_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/scope"
)

// ---------------------------------------------------------------------------
// Reads.

func (r *isoRunner) opScanStruct() {
	tb := r.table()
	if r.rng.IntN(4) == 0 {
		r.scanSlicePK(tb)
		return
	}
	id := r.pickID(tb)
	obj := isoObj(tb, id, mrow{})
	q := r.db.NewSelect().Model(obj)
	if r.rng.IntN(2) == 0 {
		q = q.WherePK()
		r.note("Scan(&%s{ID:%d}).WherePK()", tb, id)
	} else {
		q = q.Where("?TableAlias.id = ?", id)
		r.note("Scan(&%s).Where(id=%d)", tb, id)
	}
	err := q.Scan(r.ctx)
	if r.noTenant(err, "Scan struct") {
		return
	}
	row, ok := r.m.rows[tb][id]
	if ok && r.visible(tb, row) {
		r.mustOK(err, "Scan struct")
		r.checkRead("Scan struct", tb, isoRows(obj), []int64{id}, true)
		return
	}
	if err == nil {
		r.checkRead("Scan struct (want sql.ErrNoRows)", tb, isoRows(obj), nil, true)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		r.failf("Scan struct of %s id=%d (not visible to %s): got %v, want sql.ErrNoRows", tb, id, r.tenant, err)
	}
}

// scanSlicePK selects a slice of primary keys (of several tenants) with
// WherePK: only the acting tenant's rows come back.
func (r *isoRunner) scanSlicePK(tb isoTable) {
	ids := r.pickIDs(tb, 4)
	dst := isoSliceOf(tb, ids, make([]mrow, len(ids)))
	r.note("Scan(&[]%s{IDs:%v}).WherePK()", tb, ids)
	err := orderByID(r.db.NewSelect().Model(dst).WherePK()).Scan(r.ctx)
	if r.noTenant(err, "Scan slice WherePK") {
		return
	}
	r.mustOK(err, "Scan slice WherePK")
	want := r.m.ids(tb, func(id int64, row mrow) bool { return r.visible(tb, row) && slices.Contains(ids, id) })
	r.checkRead("Scan slice WherePK", tb, isoRows(dst), want, true)
}

func (r *isoRunner) opScanSlice() {
	tb := r.table()
	f := r.genFilter(tb)
	limit, offset := r.genLimit()
	f, join := r.maybeJoin(tb, f)
	r.note("Scan(&[]%s) %s join=%v limit=%d offset=%d", tb, f.desc, join, limit, offset)
	dst := isoSlice(tb)
	err := limitQ(orderByID(r.db.NewSelect().Model(dst).Apply(withCustomer(join), f.apply)), limit, offset).Scan(r.ctx)
	if r.noTenant(err, "Scan slice") {
		r.checkRead("Scan slice (blocked)", tb, isoRows(dst), nil, true)
		return
	}
	r.mustOK(err, "Scan slice")
	r.checkRead("Scan slice", tb, isoRows(dst), window(r.expect(tb, f), limit, offset), true)
	if join {
		for i := range *dst.(*[]Invoice) {
			r.checkCustomer(&(*dst.(*[]Invoice))[i])
		}
	}
}

func (r *isoRunner) opScanDeleted() {
	tb := tItems
	f := r.genFilter(tb)
	all := r.rng.IntN(2) == 0
	dst := &[]Item{}
	q := r.db.NewSelect().Model(dst).Apply(f.apply)
	if all {
		q = q.WhereAllWithDeleted()
		r.note("Scan(&[]items).WhereAllWithDeleted() %s", f.desc)
	} else {
		q = q.WhereDeleted()
		r.note("Scan(&[]items).WhereDeleted() %s", f.desc)
	}
	err := orderByID(q).Scan(r.ctx)
	if r.noTenant(err, "Scan deleted") {
		return
	}
	r.mustOK(err, "Scan deleted")
	want := r.m.ids(tb, func(id int64, row mrow) bool {
		return row.tenant == r.tenant && (all || row.deleted) && f.match(id, row)
	})
	r.checkRead("Scan deleted items", tb, isoRows(dst), want, true)
}

func (r *isoRunner) opScanNilDest() {
	tb := r.table()
	f := r.genFilter(tb)
	if r.rng.IntN(4) == 0 {
		r.note("Model((*%s)(nil)).ColumnExpr(COUNT(*)).Scan(ctx, &n) %s", tb, f.desc)
		var n int64
		err := r.db.NewSelect().Model(isoNil(tb)).ColumnExpr("COUNT(*)").Apply(f.apply).Scan(r.ctx, &n)
		if r.noTenant(err, "Scan COUNT(*)") {
			return
		}
		r.mustOK(err, "Scan COUNT(*)")
		if want := int64(len(r.expect(tb, f))); n != want {
			r.failf("WRONG COUNT: Scan(COUNT(*)) on %s returned %d, the model says %d", tb, n, want)
		}
		return
	}
	q := orderByID(r.db.NewSelect().Model(isoNil(tb)).Apply(f.apply))
	if r.rng.IntN(2) == 0 {
		r.note("Model((*%s)(nil)).Column(id, tenant_id).Scan(ctx, &ids, &tenants) %s", tb, f.desc)
		var ids []int64
		var tenants []string
		err := q.Column("id", "tenant_id").Scan(r.ctx, &ids, &tenants)
		if r.noTenant(err, "Scan nil model") {
			r.checkIDs("Scan nil model (blocked)", tb, ids, tenants, nil)
			return
		}
		r.mustOK(err, "Scan nil model")
		r.checkIDs("Scan nil model into slices", tb, ids, tenants, r.expect(tb, f))
		return
	}
	r.note("Model((*%s)(nil)).Scan(ctx, &[]%s) %s", tb, tb, f.desc)
	dst := isoSlice(tb)
	err := q.Scan(r.ctx, dst)
	if r.noTenant(err, "Scan nil model") {
		r.checkRead("Scan nil model (blocked)", tb, isoRows(dst), nil, true)
		return
	}
	r.mustOK(err, "Scan nil model")
	r.checkRead("Scan nil model into a slice", tb, isoRows(dst), r.expect(tb, f), true)
}

func (r *isoRunner) opScanAndCount() {
	tb := r.table()
	f := r.genFilter(tb)
	limit, offset := r.genLimit()
	f, join := r.maybeJoin(tb, f)
	dst := isoSlice(tb)
	var n int64
	var err error
	run := func(ctx context.Context, db bun.IDB) error {
		n, err = limitQ(orderByID(db.NewSelect().Model(dst).Apply(withCustomer(join), f.apply)), limit, offset).ScanAndCount(ctx)
		return err
	}
	if !r.inTx() && r.rng.IntN(3) == 0 {
		r.note("RunInTx{ ScanAndCount(&[]%s) %s join=%v limit=%d offset=%d }", tb, f.desc, join, limit, offset)
		txErr := r.td.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error { return run(ctx, tx) })
		if err == nil {
			err = txErr
		}
	} else {
		r.note("ScanAndCount(&[]%s) %s join=%v limit=%d offset=%d", tb, f.desc, join, limit, offset)
		_ = run(r.ctx, r.db)
	}
	if r.noTenant(err, "ScanAndCount") {
		r.checkRead("ScanAndCount (blocked)", tb, isoRows(dst), nil, true)
		return
	}
	r.mustOK(err, "ScanAndCount")
	all := r.expect(tb, f)
	r.checkRead("ScanAndCount", tb, isoRows(dst), window(all, limit, offset), true)
	if n != int64(len(all)) {
		r.failf("WRONG COUNT: ScanAndCount on %s counted %d, the model says %d (rows of other tenants counted?)", tb, n, len(all))
	}
	if join {
		for i := range *dst.(*[]Invoice) {
			r.checkCustomer(&(*dst.(*[]Invoice))[i])
		}
	}
}

func (r *isoRunner) opCount() {
	tb := r.table()
	f := r.genFilter(tb)
	model := isoNil(tb)
	if r.rng.IntN(2) == 0 {
		model = isoSlice(tb)
	}
	f, join := r.maybeJoin(tb, f)
	r.note("Model(%T).Count() %s join=%v", model, f.desc, join)
	n, err := r.db.NewSelect().Model(model).Apply(withCustomer(join), f.apply).Count(r.ctx)
	if r.noTenant(err, "Count") {
		return
	}
	r.mustOK(err, "Count")
	if want := int64(len(r.expect(tb, f))); n != want {
		r.failf("WRONG COUNT: Count on %s returned %d, the model says %d", tb, n, want)
	}
}

func (r *isoRunner) opExists() {
	tb := r.table()
	f := r.genFilter(tb)
	if r.rng.IntN(2) == 0 {
		id := r.pickID(tb)
		f = isoFilter{fmt.Sprintf("id=%d", id),
			func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("?TableAlias.id = ?", id) },
			func(x int64, _ mrow) bool { return x == id }}
	}
	f, join := r.maybeJoin(tb, f)
	r.note("Exists(%s) %s join=%v", tb, f.desc, join)
	ok, err := r.db.NewSelect().Model(isoNil(tb)).Apply(withCustomer(join), f.apply).Exists(r.ctx)
	if r.noTenant(err, "Exists") {
		return
	}
	r.mustOK(err, "Exists")
	if want := len(r.expect(tb, f)) > 0; ok != want {
		r.failf("WRONG RESULT: Exists on %s %s returned %v, the model says %v", tb, f.desc, ok, want)
	}
}

func (r *isoRunner) opRows() {
	tb := r.table()
	f := r.genFilter(tb)
	r.note("Rows(%s) %s", tb, f.desc)
	rows, err := orderByID(r.db.NewSelect().Model(isoNil(tb)).Column("id", "tenant_id").Apply(f.apply)).Rows(r.ctx)
	if r.noTenant(err, "Rows") {
		return
	}
	r.mustOK(err, "Rows")
	var ids []int64
	var tenants []string
	for rows.Next() {
		var id int64
		var tn string
		if err := rows.Scan(&id, &tn); err != nil {
			r.failf("Rows scan: %v", err)
		}
		ids, tenants = append(ids, id), append(tenants, tn)
	}
	err = rows.Err()
	_ = rows.Close()
	r.mustOK(err, "Rows")
	r.checkIDs("Rows", tb, ids, tenants, r.expect(tb, f))
}

func (r *isoRunner) opSelectExec() {
	tb := r.table()
	f := r.genFilter(tb)
	dst := isoSlice(tb)
	var err error
	if r.rng.IntN(2) == 0 {
		r.note("Model(&[]%s).Exec(ctx, dst) %s", tb, f.desc)
		_, err = orderByID(r.db.NewSelect().Model(dst).Apply(f.apply)).Exec(r.ctx, dst)
	} else {
		r.note("Model((*%s)(nil)).Exec(ctx, dst) %s", tb, f.desc)
		_, err = orderByID(r.db.NewSelect().Model(isoNil(tb)).Apply(f.apply)).Exec(r.ctx, dst)
	}
	if r.noTenant(err, "SelectQuery.Exec") {
		r.checkRead("SelectQuery.Exec (blocked)", tb, isoRows(dst), nil, true)
		return
	}
	r.mustOK(err, "SelectQuery.Exec")
	r.checkRead("SelectQuery.Exec with dest", tb, isoRows(dst), r.expect(tb, f), true)
}

// checkCustomer checks the belongs-to customer joined to an invoice.
func (r *isoRunner) checkCustomer(in *Invoice) {
	r.t.Helper()
	cust, ok := r.m.rows[tCustomers][in.CustomerID]
	wantJoined := in.CustomerID != 0 && ok && cust.tenant == r.tenant
	switch {
	case in.Customer != nil && in.Customer.TenantID != r.tenant:
		r.failf("LEAK: Relation(\"Customer\") of invoice %d loaded customer %d of tenant %q under tenant %q",
			in.ID, in.Customer.ID, in.Customer.TenantID, r.tenant)
	case !wantJoined && in.Customer != nil:
		r.failf("WRONG RESULT: invoice %d (customer_id=%d) joined customer %+v, the model says nil", in.ID, in.CustomerID, *in.Customer)
	case wantJoined && in.Customer == nil:
		r.failf("WRONG RESULT: invoice %d lost its customer %d %v", in.ID, in.CustomerID, cust)
	case wantJoined:
		r.checkRead("Relation(\"Customer\")", tCustomers, []isoGot{gotCustomer(in.Customer)}, []int64{in.CustomerID}, true)
	}
}

// checkItems checks the has-many items loaded for an invoice.
func (r *isoRunner) checkItems(in *Invoice) {
	r.t.Helper()
	got := make([]isoGot, len(in.Items))
	for i, it := range in.Items {
		got[i] = gotItem(it)
	}
	want := r.m.ids(tItems, func(_ int64, row mrow) bool { return r.visible(tItems, row) && row.ref == in.ID })
	r.checkRead(fmt.Sprintf("Relation(\"Items\") of invoice %d", in.ID), tItems, got, want, false)
}

func (r *isoRunner) relationScan(rels ...string) {
	tb := tInvoices
	if r.rng.IntN(4) == 0 {
		id := r.pickID(tb)
		in := &Invoice{ID: id}
		q := r.db.NewSelect().Model(in).WherePK()
		for _, rel := range rels {
			q = q.Relation(rel)
		}
		r.note("Scan(&Invoice{ID:%d}).WherePK().Relation(%v)", id, rels)
		err := q.Scan(r.ctx)
		if r.noTenant(err, "Relation scan") {
			return
		}
		row, ok := r.m.rows[tb][id]
		if !ok || !r.visible(tb, row) {
			if err == nil {
				r.checkRead("Relation scan (want sql.ErrNoRows)", tb, []isoGot{gotInvoice(in)}, nil, true)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				r.failf("Relation scan of invoice %d (not visible): got %v, want sql.ErrNoRows", id, err)
			}
			return
		}
		r.mustOK(err, "Relation scan")
		r.checkRead("Relation scan", tb, []isoGot{gotInvoice(in)}, []int64{id}, true)
		r.checkRels(in, rels)
		return
	}
	f := r.genFilter(tb)
	if slices.Contains(rels, "Customer") {
		for join := false; !join; {
			f, join = r.maybeJoin(tb, f)
		}
	}
	limit, offset := r.genLimit()
	var invs []Invoice
	q := r.db.NewSelect().Model(&invs).Apply(f.apply)
	for _, rel := range rels {
		q = q.Relation(rel)
	}
	r.note("Scan(&[]Invoice).Relation(%v) %s limit=%d offset=%d", rels, f.desc, limit, offset)
	err := limitQ(orderByID(q), limit, offset).Scan(r.ctx)
	if r.noTenant(err, "Relation scan") {
		r.checkRead("Relation scan (blocked)", tb, isoRows(&invs), nil, true)
		return
	}
	r.mustOK(err, "Relation scan")
	r.checkRead("Relation scan", tb, isoRows(&invs), window(r.expect(tb, f), limit, offset), true)
	for i := range invs {
		r.checkRels(&invs[i], rels)
	}
}

func (r *isoRunner) checkRels(in *Invoice, rels []string) {
	for _, rel := range rels {
		switch rel {
		case "Customer":
			r.checkCustomer(in)
		case "Items":
			r.checkItems(in)
		}
	}
}

func (r *isoRunner) opRelCustomer() {
	if r.rng.IntN(3) == 0 {
		r.relationScan("Customer", "Items")
		return
	}
	r.relationScan("Customer")
}

func (r *isoRunner) opRelItems() { r.relationScan("Items") }

// opSubquery selects invoices whose customer is in a subquery on customers:
// unscoped, the guard refuses it; scoped with bunhook.Scope, only the acting
// tenant's customers are in it.
func (r *isoRunner) opSubquery() {
	var x int64
	if c := r.m.ids(tCustomers, nil); len(c) > 0 {
		x = r.pick(c) - 1
	}
	scoped := r.rng.IntN(3) != 0
	sub := r.db.NewSelect().Model((*Customer)(nil)).Column("id").Where("customer.id > ?", x)
	if scoped {
		sub = bunhook.Scope(r.ctx, sub)
	}
	r.note("Scan(&[]Invoice).Where(customer_id IN (customers id>%d)) scoped=%v", x, scoped)
	var invs []Invoice
	err := r.db.NewSelect().Model(&invs).Where("invoice.customer_id IN (?)", sub).OrderExpr("invoice.id").Scan(r.ctx)
	if !scoped {
		r.mustBlock(err, "unscoped subquery", scope.ErrUnscopedQuery)
		r.checkRead("unscoped subquery (blocked)", tInvoices, isoRows(&invs), nil, true)
		return
	}
	if r.noTenant(err, "scoped subquery") {
		return
	}
	r.mustOK(err, "scoped subquery")
	want := r.m.ids(tInvoices, func(_ int64, row mrow) bool {
		c, ok := r.m.rows[tCustomers][row.ref]
		return r.visible(tInvoices, row) && ok && row.ref > x && c.tenant == r.tenant
	})
	r.checkRead("scoped subquery", tInvoices, isoRows(&invs), want, true)
}
