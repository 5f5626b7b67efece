package bunhook_test

import (
	"context"
	"database/sql"
	"slices"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/scope"
)

// ---------------------------------------------------------------------------
// Raw SQL.

func (r *isoRunner) rawIDs(rows *sql.Rows) ([]int64, []string) {
	var ids []int64
	var tenants []string
	for rows.Next() {
		var id int64
		var tn string
		if err := rows.Scan(&id, &tn); err != nil {
			r.failf("raw scan: %v", err)
		}
		ids, tenants = append(ids, id), append(tenants, tn)
	}
	if err := rows.Err(); err != nil {
		r.failf("raw rows: %v", err)
	}
	_ = rows.Close()
	return ids, tenants
}

// ownRaw returns the acting tenant's rows of tb as raw SQL sees them
// (soft-deleted items included).
func (r *isoRunner) ownRaw(tb isoTable, keep func(id int64, row mrow) bool) []int64 {
	return r.m.ids(tb, func(id int64, row mrow) bool { return row.tenant == r.tenant && (keep == nil || keep(id, row)) })
}

func (r *isoRunner) opRawOK() {
	tb := r.table()
	name, scol := isoTables[tb].name, isoTables[tb].scol
	tn := r.tenant
	switch r.rng.IntN(8) {
	case 0:
		x := r.pickID(tb) - 1
		r.note("raw SELECT %s WHERE tenant_id=%s AND id>%d", name, tn, x)
		rows, err := r.db.QueryContext(r.ctx, "SELECT id, tenant_id FROM "+name+" WHERE tenant_id = ? AND id > ? ORDER BY id", tn, x)
		if r.noTenant(err, "raw SELECT") {
			return
		}
		r.mustOK(err, "raw SELECT with the tenant predicate")
		ids, tenants := r.rawIDs(rows)
		r.checkIDs("raw SELECT", tb, ids, tenants, r.ownRaw(tb, func(id int64, _ mrow) bool { return id > x }))
	case 1:
		r.note("NewRaw(SELECT * FROM %s AS t WHERE t.tenant_id=%s).Scan(&[]%s)", name, tn, tb)
		dst := isoSlice(tb)
		err := r.db.NewRaw("SELECT * FROM ? AS t WHERE t.tenant_id = ? ORDER BY t.id", bun.Ident(name), tn).Scan(r.ctx, dst)
		if r.noTenant(err, "NewRaw Scan") {
			return
		}
		r.mustOK(err, "NewRaw Scan with the tenant predicate")
		r.checkRead("NewRaw Scan", tb, isoRows(dst), r.ownRaw(tb, nil), true)
	case 2:
		id := r.pickID(tb)
		v := r.fresh(tb)
		r.note("raw UPDATE %s SET %s=%s WHERE tenant_id=%s AND id=%d", name, scol, v, tn, id)
		r.touch(tb, id)
		res, err := r.db.ExecContext(r.ctx, "UPDATE "+name+" SET "+scol+" = ? WHERE tenant_id = ? AND id = ?", v, tn, id)
		if r.noTenant(err, "raw UPDATE") {
			return
		}
		r.mustOK(err, "raw UPDATE with the tenant predicate")
		n := 0
		if row, ok := r.m.rows[tb][id]; ok && row.tenant == tn {
			n = 1
			row.s = v
			r.set(tb, id, row)
		}
		r.mustAffect(res, "raw UPDATE", n)
	case 3:
		id := r.pickID(tb)
		r.note("raw DELETE FROM %s WHERE tenant_id=%s AND id=%d", name, tn, id)
		r.touch(tb, id)
		res, err := r.db.ExecContext(r.ctx, "DELETE FROM "+name+" WHERE tenant_id = ? AND id = ?", tn, id)
		if r.noTenant(err, "raw DELETE") {
			return
		}
		r.mustOK(err, "raw DELETE with the tenant predicate")
		n := 0
		if row, ok := r.m.rows[tb][id]; ok && row.tenant == tn {
			n = 1
			r.del(tb, id)
		}
		r.mustAffect(res, "raw DELETE", n)
	case 4:
		if r.full(tb) {
			r.opDelete()
			return
		}
		r.rawID++
		id := r.rawID
		if r.td.kind != "pg" && r.td.kind != "pgx" {
			// MySQL and SQLite continue their counters after the largest id;
			// PostgreSQL sequences do not, so there ids stay far above them.
			id = r.maxID[tb] + 1 + int64(r.rng.IntN(3))
		}
		row := mrow{tenant: tn, s: r.fresh(tb), ref: r.pickRef(tb)}
		r.note("raw INSERT INTO %s id=%d %v", name, id, row)
		r.touch(tb, id)
		var err error
		switch tb {
		case tCustomers:
			_, err = r.db.ExecContext(r.ctx, "INSERT INTO customers (id, tenant_id, name) VALUES (?, ?, ?)", id, tn, row.s)
		case tInvoices:
			var ref any = row.ref
			if row.ref == 0 {
				ref = nil
			}
			_, err = r.db.ExecContext(r.ctx, "INSERT INTO invoices (id, tenant_id, number, customer_id) VALUES (?, ?, ?, ?)", id, tn, row.s, ref)
		default:
			_, err = r.db.ExecContext(r.ctx, "INSERT INTO items (id, tenant_id, name, invoice_id) VALUES (?, ?, ?, ?)", id, tn, row.s, row.ref)
		}
		if r.noTenant(err, "raw INSERT") {
			return
		}
		r.mustOK(err, "raw INSERT of the bound tenant")
		r.set(tb, id, row)
	case 5:
		r.note("raw SELECT invoices JOIN customers, both restricted to %s", tn)
		rows, err := r.db.QueryContext(r.ctx, "SELECT inv.id, c.id FROM invoices AS inv JOIN customers AS c ON c.id = inv.customer_id AND c.tenant_id = ? "+
			"WHERE inv.tenant_id = ? ORDER BY inv.id", tn, tn)
		if r.noTenant(err, "raw JOIN") {
			return
		}
		r.mustOK(err, "raw JOIN with both tenant predicates")
		var got [][2]int64
		for rows.Next() {
			var p [2]int64
			if err := rows.Scan(&p[0], &p[1]); err != nil {
				r.failf("raw JOIN scan: %v", err)
			}
			got = append(got, p)
		}
		_ = rows.Close()
		var want [][2]int64
		for _, id := range r.ownRaw(tInvoices, nil) {
			ref := r.m.rows[tInvoices][id].ref
			if c, ok := r.m.rows[tCustomers][ref]; ok && ref != 0 && c.tenant == tn {
				want = append(want, [2]int64{id, ref})
			}
		}
		for _, p := range got {
			if inv := r.m.rows[tInvoices][p[0]]; inv.tenant != tn {
				r.failf("LEAK: raw JOIN returned invoice %d of tenant %q", p[0], inv.tenant)
			}
			if c := r.m.rows[tCustomers][p[1]]; c.tenant != tn {
				r.failf("LEAK: raw JOIN returned customer %d of tenant %q", p[1], c.tenant)
			}
		}
		if !slices.Equal(got, want) {
			r.failf("WRONG RESULT: raw JOIN returned %v, the model says %v", got, want)
		}
	case 6:
		r.note("raw SELECT items JOIN invoices, invoices restricted through the tenant columns' equality (%s)", tn)
		rows, err := r.db.QueryContext(r.ctx, "SELECT t.id, t.tenant_id FROM items AS t JOIN invoices AS i ON i.id = t.invoice_id "+
			"AND i.tenant_id = t.tenant_id WHERE t.tenant_id = ? ORDER BY t.id", tn)
		if r.noTenant(err, "raw transitive JOIN") {
			return
		}
		r.mustOK(err, "raw JOIN restricted through the tenant columns' equality")
		ids, tenants := r.rawIDs(rows)
		r.checkIDs("raw transitive JOIN", tItems, ids, tenants, r.ownRaw(tItems, func(_ int64, row mrow) bool {
			inv, ok := r.m.rows[tInvoices][row.ref]
			return ok && inv.tenant == tn
		}))
	default:
		r.note("raw SELECT COUNT(*) FROM %s WHERE tenant_id=%s", name, tn)
		var n int
		err := r.db.QueryRowContext(r.ctx, "SELECT COUNT(*) FROM "+name+" WHERE tenant_id = ?", tn).Scan(&n)
		if r.noTenant(err, "raw COUNT") {
			return
		}
		r.mustOK(err, "raw COUNT with the tenant predicate")
		if want := len(r.ownRaw(tb, nil)); n != want {
			r.failf("WRONG COUNT: raw COUNT of %s returned %d, the model says %d", name, n, want)
		}
	}
}

func (r *isoRunner) opRawBad() {
	tb := r.table()
	name, scol := isoTables[tb].name, isoTables[tb].scol
	tn := r.tenant
	foreign := "B"
	if tn != "" {
		foreign = r.other()
	}
	id := r.pickID(tb)
	r.touch(tb, id)
	query := func(what, q string, args ...any) {
		r.note("raw %s: %s %v", what, q, args)
		rows, err := r.db.QueryContext(r.ctx, q, args...)
		if err == nil {
			ids, tenants := r.rawIDs(rows)
			r.checkIDs("raw "+what+" (want blocked)", tb, ids, tenants, nil)
		}
		r.mustBlock(err, "raw "+what, scope.ErrUnscopedQuery, scope.ErrCrossTenant)
	}
	exec := func(what string, want error, q string, args ...any) {
		r.note("raw %s: %s %v", what, q, args)
		_, err := r.db.ExecContext(r.ctx, q, args...)
		r.mustBlock(err, "raw "+what, want)
	}
	k := r.rng.IntN(12)
	if k == 10 && tn == "" {
		// With no tenant bound, a statement that names no tenant table is
		// not checked (the closed world is a tenant scope's): only
		// registering the view as tenant-owned makes it fail closed.
		k = 11
	}
	switch k {
	case 10:
		query("SELECT through an unregistered view, with the tenant predicate",
			"SELECT id, tenant_id FROM "+name+"_all WHERE tenant_id = ?", tn)
	case 11:
		query("SELECT from an unregistered table joined to a scoped read",
			"SELECT v.id, v.tenant_id FROM "+name+" AS t JOIN "+name+"_all AS v ON v.id = t.id WHERE t.tenant_id = ?", tn)
	case 0:
		query("SELECT without predicate", "SELECT id, tenant_id FROM "+name)
	case 1:
		query("SELECT with OR", "SELECT id, tenant_id FROM "+name+" WHERE tenant_id = ? OR id > 0", tn)
	case 2:
		query("SELECT of another tenant", "SELECT id, tenant_id FROM "+name+" WHERE tenant_id = ?", foreign)
	case 3:
		exec("UPDATE without predicate", scope.ErrUnscopedQuery, "UPDATE "+name+" SET "+scol+" = ? WHERE id = ?", r.fresh(tb), id)
	case 4:
		exec("DELETE without predicate", scope.ErrUnscopedQuery, "DELETE FROM "+name+" WHERE id = ?", id)
	case 5:
		exec("UPDATE moving a row", scope.ErrCrossTenant, "UPDATE "+name+" SET tenant_id = ? WHERE tenant_id = ? AND id = ?", foreign, tn, id)
	case 6:
		exec("INSERT for another tenant", scope.ErrCrossTenant, "INSERT INTO customers (id, tenant_id, name) VALUES (?, ?, ?)",
			r.maxID[tCustomers]+1, foreign, r.fresh(tCustomers))
		r.touch(tCustomers, r.maxID[tCustomers]+1)
	case 7:
		query("JOIN with an unrestricted joined table",
			"SELECT inv.id, inv.tenant_id FROM invoices AS inv JOIN customers AS c ON c.id = inv.customer_id WHERE inv.tenant_id = ?", tn)
	case 8:
		query("unrestricted subquery",
			"SELECT id, tenant_id FROM invoices WHERE tenant_id = ? AND customer_id IN (SELECT id FROM customers)", tn)
	default:
		exec("UPDATE with OR", scope.ErrUnscopedQuery, "UPDATE "+name+" SET "+scol+" = ? WHERE tenant_id = ? AND id = ? OR id = ?",
			r.fresh(tb), tn, id, r.pickID(tb))
	}
}

// ---------------------------------------------------------------------------
// Cross-tenant foreign keys.

func (r *isoRunner) opCrossFK() {
	if r.tenant == "" {
		r.opInsertSingle()
		return
	}
	foreignCust := r.m.ids(tCustomers, func(_ int64, row mrow) bool { return row.tenant != r.tenant })
	if len(foreignCust) == 0 || r.full(tInvoices) {
		r.opRelCustomer()
		return
	}
	cust := r.pick(foreignCust)
	if own := r.m.ids(tInvoices, func(_ int64, row mrow) bool { return row.tenant == r.tenant }); len(own) > 0 && r.rng.IntN(2) == 0 {
		id := r.pick(own)
		v := r.fresh(tInvoices)
		r.note("Update((*Invoice)(nil)).Set(number=%s, customer_id=%d of %s).Where(id=%d)", v, cust, r.m.rows[tCustomers][cust].tenant, id)
		r.touch(tInvoices, id)
		_, err := r.db.NewUpdate().Model((*Invoice)(nil)).Set("number = ?", v).Set("customer_id = ?", cust).
			Where("id = ?", id).Exec(r.ctx)
		r.mustBlock(err, "Update to a cross-tenant customer", scope.ErrCrossTenant)
	} else {
		in := &Invoice{Number: r.fresh(tInvoices), CustomerID: cust}
		r.note("Insert(&Invoice{number=%s customer_id=%d of %s})", in.Number, cust, r.m.rows[tCustomers][cust].tenant)
		_, err := r.db.NewInsert().Model(in).Exec(r.ctx)
		r.mustBlock(err, "Insert with a cross-tenant customer", scope.ErrCrossTenant)
	}
	// An invoice that refers to another tenant's customer (the initial data
	// has them: the schema's foreign key cannot see tenants) joins it as nil.
	crossed := r.m.ids(tInvoices, func(_ int64, row mrow) bool {
		c, ok := r.m.rows[tCustomers][row.ref]
		return row.tenant == r.tenant && ok && c.tenant != r.tenant
	})
	if len(crossed) == 0 {
		return
	}
	id := r.pick(crossed)
	in := &Invoice{ID: id}
	err := r.db.NewSelect().Model(in).WherePK().Relation("Customer").Scan(r.ctx)
	r.mustOK(err, "Relation scan of the cross-tenant invoice")
	r.checkRead("Relation scan of the cross-tenant invoice", tInvoices, []isoGot{gotInvoice(in)}, []int64{id}, true)
	if in.Customer != nil {
		r.failf("LEAK: invoice %d of %s joined customer %d of tenant %q", id, r.tenant, r.m.rows[tInvoices][id].ref, in.Customer.TenantID)
	}
}

// ---------------------------------------------------------------------------
// Transactions, connections, no tenant.

// nestable returns the operations that can run inside a transaction, on a
// connection or with no tenant bound.
func (r *isoRunner) nestable() ([]isoOp, int) {
	for _, ops := range [][]isoOp{r.ops(), r.allOps()} {
		var sub []isoOp
		total := 0
		for _, o := range ops {
			if o.tx {
				sub = append(sub, o)
				total += o.w
			}
		}
		if total > 0 {
			return sub, total
		}
	}
	panic("no nestable operation")
}

func (r *isoRunner) subOps(n int) {
	sub, total := r.nestable()
	tenant, ctx := r.tenant, r.ctx
	defer func() { r.tenant, r.ctx = tenant, ctx }()
	for i := 0; i < n; i++ {
		o := pickOp(r.rng, sub, total)
		r.tenant, r.ctx = tenant, ctx
		switch r.rng.IntN(12) {
		case 0, 1:
			// The same transaction or connection, another tenant's context:
			// every statement is scoped by its own context.
			r.tenant = isoTenants[r.rng.IntN(len(isoTenants))]
			r.ctx = r.ctxs[r.tenant]
			r.note("[as %s]", r.tenant)
		case 2:
			r.tenant, r.ctx = "", context.Background()
			r.note("[no tenant]")
		}
		r.note("%s", o.name)
		r.count(o.name)
		o.fn()
	}
}

func (r *isoRunner) opTx() {
	tx, err := r.td.db.BeginTx(r.ctx, nil)
	r.mustOK(err, "BeginTx")
	committed := r.m
	r.m, r.db = committed.clone(), tx
	defer func() {
		r.db = r.td.db
		// After a failure (t.Fatalf) release the transaction's locks, or
		// MariaDB's DROP DATABASE in the cleanup would wait for them forever.
		_ = tx.Rollback()
	}()
	r.subOps(2 + r.rng.IntN(4))
	if r.rng.IntN(100) < 60 {
		r.note("COMMIT")
		r.mustOK(tx.Commit(), "Commit")
	} else {
		r.note("ROLLBACK")
		r.mustOK(tx.Rollback(), "Rollback")
		r.m = committed
	}
}

func (r *isoRunner) opConn() {
	conn, err := r.td.db.Conn(r.ctx)
	r.mustOK(err, "Conn")
	r.db = conn
	defer func() {
		r.db = r.td.db
		_ = conn.Close()
	}()
	r.subOps(1 + r.rng.IntN(3))
}

func (r *isoRunner) opNoTenant() {
	r.tenant, r.ctx = "", context.Background()
	sub, total := r.nestable()
	o := pickOp(r.rng, sub, total)
	r.note("%s", o.name)
	r.count(o.name)
	o.fn()
}
