package bunhook_test

import (
	"context"
	"errors"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/bunhook"
)

// Rows of catalogue() (catalogue_test.go): reads.

// catalogueReads holds the rows of §10 #1-#4: reads without a tenant-owned
// model (Table/TableExpr, map models), Rows and Exec, Count and Exists.
func catalogueReads() []catRow {
	var rows []catRow
	add := func(rs ...catRow) { rows = append(rows, rs...) }

	// §10 #1: Table() / TableExpr() without a model.
	add(
		catRow{ref: "1", name: "Table(invoices) select", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var dest []idTenant
				err := r.db.NewSelect().Table("invoices").Column("id", "tenant_id").Scan(r.ctx, &dest)
				r.seeIDs(dest)
				return err
			}},
		catRow{ref: "1", name: "TableExpr select with the tenant predicate", exp: scoped(),
			run: func(r *rc) error {
				var dest []idTenant
				err := r.db.NewSelect().TableExpr("invoices AS i").Column("i.id", "i.tenant_id").Where("i.tenant_id = ?", "A").Scan(r.ctx, &dest)
				r.seeIDs(dest)
				r.want(len(dest) == 3, "got %d rows, want 3", len(dest))
				return err
			}},
		catRow{ref: "1", name: "Table(invoices) Count", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewSelect().Table("invoices").Count(r.ctx)
				return err
			}},
		catRow{ref: "1", name: "Table(invoices) update", exp: unscoped("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Table("invoices").Set("number = ?", "x").Where("id = ?", r.b(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "1", name: "TableExpr(invoices) delete", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().TableExpr("invoices").Where("id = ?", r.b(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "1", name: "Table(invoices) Count under bypass", exp: bypassed("SELECT", "invoices"),
			run: func(r *rc) error {
				n, err := r.db.NewSelect().Table("invoices").Count(r.ctx)
				r.want(err != nil || n == 6, "bypassed count = %d, want 6", n)
				if n == 6 {
					r.see("A", "B")
				}
				return err
			}},
	)

	// §10 #2: map models.
	add(
		catRow{ref: "2", name: "map model select", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var ms []map[string]any
				err := r.db.NewSelect().Model(&ms).Table("invoices").Scan(r.ctx)
				for _, m := range ms {
					r.see(asString(m["tenant_id"]))
				}
				return err
			}},
		catRow{ref: "2", name: "map model insert with tenant B", exp: cross("INSERT", "invoices"),
			run: func(r *rc) error {
				m := map[string]any{"id": 90, "tenant_id": "B", "number": "evil"}
				_, err := r.db.NewInsert().Model(&m).TableExpr("invoices").Exec(r.ctx)
				return err
			}},
		catRow{ref: "2", name: "map model insert without tenant", exp: unscoped("INSERT", "invoices"),
			run: func(r *rc) error {
				m := map[string]any{"id": 90, "number": "orphan"}
				_, err := r.db.NewInsert().Model(&m).TableExpr("invoices").Exec(r.ctx)
				return err
			}},
		catRow{ref: "2", name: "map model insert with tenant A", exp: scopedWrite(),
			run: func(r *rc) error {
				m := map[string]any{"id": 90, "tenant_id": "A", "number": "mine"}
				_, err := r.db.NewInsert().Model(&m).TableExpr("invoices").Exec(r.ctx)
				return err
			}},
		catRow{ref: "2", name: "map model update", exp: unscoped("UPDATE", "invoices"),
			run: func(r *rc) error {
				m := map[string]any{"number": "hijacked"}
				_, err := r.db.NewUpdate().Model(&m).TableExpr("invoices").Where("id = ?", r.b(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "2", name: "map model update with the tenant predicate", exp: scopedWrite(),
			run: func(r *rc) error {
				m := map[string]any{"number": "renamed"}
				_, err := r.db.NewUpdate().Model(&m).TableExpr("invoices").Where("id = ?", r.a(0)).Where("tenant_id = ?", "A").Exec(r.ctx)
				return err
			}},
	)

	// §10 #3: Rows() and Exec() skip BeforeSelect.
	add(
		catRow{ref: "3", name: "SelectQuery.Rows", exp: scoped(),
			run: func(r *rc) error {
				rows, err := r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").Rows(r.ctx)
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "3", name: "SelectQuery.Exec with dest", exp: scoped(),
			run: func(r *rc) error {
				var dest []Invoice
				_, err := r.db.NewSelect().Model(&dest).Exec(r.ctx, &dest)
				r.seeInvoices(dest)
				r.want(err != nil || len(dest) == 3, "got %d rows, want 3", len(dest))
				return err
			}},
		catRow{ref: "3", name: "SelectQuery.Exec without dest", exp: scoped(),
			run: func(r *rc) error {
				_, err := r.db.NewSelect().Model((*Invoice)(nil)).Where("number = ?", "B-1").Exec(r.ctx)
				return err
			}},
		catRow{ref: "3", name: "Table(invoices).Rows", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				rows, err := r.db.NewSelect().Table("invoices").Column("id", "tenant_id").Rows(r.ctx)
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
	)

	// §10 #4: Count / Exists.
	add(
		catRow{ref: "4", name: "Count", exp: scoped(),
			run: func(r *rc) error {
				n, err := r.db.NewSelect().Model((*Invoice)(nil)).Count(r.ctx)
				r.want(err != nil || n == 3, "count = %d, want 3", n)
				return err
			}},
		catRow{ref: "4", name: "Exists of B's row", exp: scoped(),
			run: func(r *rc) error {
				ok, err := r.db.NewSelect().Model((*Invoice)(nil)).Where("number = ?", "B-1").Exists(r.ctx)
				r.want(err != nil || !ok, "Exists(B-1) = true under A")
				ok2, err2 := r.db.NewSelect().Model((*Invoice)(nil)).Where("number = ?", "A-1").Exists(r.ctx)
				r.want(err2 != nil || ok2, "Exists(A-1) = false under A")
				return errors.Join(err, err2)
			}},
		catRow{ref: "4", name: "Count with a belongs-to join on B's customer", exp: scoped(),
			setup: func(r *rc) { r.rawExec("UPDATE invoices SET customer_id = 3 WHERE id = 1") },
			run: func(r *rc) error {
				n, err := r.db.NewSelect().Model((*Invoice)(nil)).Relation("Customer").Where("customer.name = ?", "cust-B-1").Count(r.ctx)
				r.want(err != nil || n == 0, "count of A invoices joined to B's customer = %d, want 0", n)
				return err
			}},
	)

	add(
		catRow{ref: "4", name: "Exists with a belongs-to join on B's customer", exp: scoped(),
			setup: func(r *rc) { r.rawExec("UPDATE invoices SET customer_id = 3 WHERE id = 1") },
			run: func(r *rc) error {
				ok, err := r.db.NewSelect().Model((*Invoice)(nil)).Relation("Customer").Where("customer.name = ?", "cust-B-1").Exists(r.ctx)
				r.want(err != nil || !ok, "an A invoice joined to B's customer exists")
				return err
			}},
		catRow{ref: "3", name: "Rows with a belongs-to join", exp: scoped(),
			setup: func(r *rc) { r.rawExec("UPDATE invoices SET customer_id = 3 WHERE id = 1") },
			run: func(r *rc) error {
				rows, err := r.db.NewSelect().Model((*Invoice)(nil)).Relation("Customer").Rows(r.ctx)
				if err != nil {
					return err
				}
				defer rows.Close()
				cols, _ := rows.Columns()
				for rows.Next() {
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for i := range vals {
						ptrs[i] = &vals[i]
					}
					if err := rows.Scan(ptrs...); err != nil {
						return err
					}
					for i, c := range cols {
						if c == "tenant_id" || c == "customer__tenant_id" {
							if v := asString(vals[i]); v != "<nil>" {
								r.see(v)
							}
						}
					}
				}
				return rows.Err()
			}},
	)
	return rows
}

// catalogueComposedReads holds the rows of §10 #5-#7: ScanAndCount with a
// limit, unions, CTEs and subqueries.
func catalogueComposedReads() []catRow {
	var rows []catRow
	add := func(rs ...catRow) { rows = append(rows, rs...) }

	// §10 #5: ScanAndCount with a limit.
	scanAndCount := func(r *rc, idb bun.IDB, ctx context.Context) error {
		var page []Invoice
		total, err := idb.NewSelect().Model(&page).Order("invoice.id").Limit(2).ScanAndCount(ctx)
		r.seeInvoices(page)
		r.want(err != nil || (total == 3 && len(page) == 2), "ScanAndCount: %d rows, total %d; want 2, 3", len(page), total)
		return err
	}
	add(
		catRow{ref: "5", name: "ScanAndCount with Limit outside a tx", exp: scoped(),
			run: func(r *rc) error { return scanAndCount(r, r.db, r.ctx) }},
		catRow{ref: "5", name: "ScanAndCount with Limit inside a tx", exp: scoped(),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error { return scanAndCount(r, tx, ctx) })
			}},
		catRow{ref: "5", name: "ScanAndCount with Limit on a bun.Conn", exp: scoped(),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				return scanAndCount(r, conn, r.ctx)
			}},
		catRow{ref: "5", name: "ScanAndCount with Limit and Relation(Customer) outside a tx", exp: scoped(),
			setup: func(r *rc) { r.rawExec("UPDATE invoices SET customer_id = 3 WHERE id = 1") },
			run: func(r *rc) error {
				var page []Invoice
				total, err := r.db.NewSelect().Model(&page).Relation("Customer").Where("customer.id IS NULL OR customer.id > 0").
					Order("invoice.id").Limit(2).ScanAndCount(r.ctx)
				r.seeInvoices(page)
				for _, in := range page {
					if in.Customer != nil {
						r.see(in.Customer.TenantID)
					}
				}
				r.want(err != nil || (total == 3 && len(page) == 2), "ScanAndCount: %d rows, total %d; want 2, 3", len(page), total)
				return err
			}},
		catRow{ref: "5", name: "ScanAndCount without Limit", exp: scoped(),
			run: func(r *rc) error {
				var all []Invoice
				total, err := r.db.NewSelect().Model(&all).ScanAndCount(r.ctx)
				r.seeInvoices(all)
				r.want(err != nil || (total == 3 && len(all) == 3), "ScanAndCount: %d rows, total %d", len(all), total)
				return err
			}},
	)

	// §10 #6: unions.
	add(
		catRow{ref: "6", name: "Union with an unscoped arm", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var dest []idTenant
				err := r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").
					Union(r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id")).Scan(r.ctx, &dest)
				r.seeIDs(dest)
				return err
			}},
		catRow{ref: "6", name: "UnionAll with bunhook.Scope on the arm", exp: scoped(),
			run: func(r *rc) error {
				var dest []idTenant
				arm := bunhook.Scope(r.ctx, r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id"))
				err := r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").UnionAll(arm).Scan(r.ctx, &dest)
				r.seeIDs(dest)
				r.want(err != nil || len(dest) == 6, "got %d rows, want 6 (A's 3 twice)", len(dest))
				return err
			}},
		catRow{ref: "6", name: "Except with an unscoped arm", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var dest []idTenant
				err := r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").
					Except(r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").Where("number = ?", "A-1")).Scan(r.ctx, &dest)
				r.seeIDs(dest)
				return err
			}},
	)

	// §10 #7: CTEs and subqueries.
	add(
		catRow{ref: "7", name: "CTE With over an unscoped model query", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var dest []idTenant
				err := r.db.NewSelect().With("inv", r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id")).
					Table("inv").Column("id", "tenant_id").Scan(r.ctx, &dest)
				r.seeIDs(dest)
				return err
			}},
		catRow{ref: "7", name: "CTE With and bunhook.Scope", exp: scoped(),
			run: func(r *rc) error {
				var dest []idTenant
				err := r.db.NewSelect().With("inv", bunhook.Scope(r.ctx, r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id"))).
					Table("inv").Column("id", "tenant_id").Scan(r.ctx, &dest)
				r.seeIDs(dest)
				r.want(err != nil || len(dest) == 3, "got %d rows, want 3", len(dest))
				return err
			}},
		catRow{ref: "7", name: "subquery in Where IN (?) unscoped", exp: unscoped("SELECT", "customers"),
			run: func(r *rc) error {
				var invs []Invoice
				sub := r.db.NewSelect().Model((*Customer)(nil)).Column("id").Where("name = ?", "cust-B-1")
				err := r.db.NewSelect().Model(&invs).Where("invoice.customer_id IN (?)", sub).Scan(r.ctx)
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "7", name: "subquery in Where IN (?) with bunhook.Scope", exp: scoped(),
			run: func(r *rc) error {
				var invs []Invoice
				sub := bunhook.Scope(r.ctx, r.db.NewSelect().Model((*Customer)(nil)).Column("id").Where("name = ?", "cust-A-1"))
				err := r.db.NewSelect().Model(&invs).Where("invoice.customer_id IN (?)", sub).Scan(r.ctx)
				r.seeInvoices(invs)
				r.want(err != nil || len(invs) == 3, "got %d invoices, want 3", len(invs))
				return err
			}},
		catRow{ref: "7", name: "bunhook.Scope with no tenant bound", exp: noTenant("SELECT", "customers"),
			run: func(r *rc) error {
				var invs []Invoice
				// The outer query runs under tenant A; only Scope gets no tenant.
				sub := bunhook.Scope(r.ctx, r.db.NewSelect().Model((*Customer)(nil)).Column("id"))
				return r.db.NewSelect().Model(&invs).Where("invoice.customer_id IN (?)", sub).Scan(tenantCtx(r.t, "A"))
			}},
		catRow{ref: "7", name: "bunhook.Scope with no tenant bound, as a Union arm", exp: noTenant("SELECT", "invoices"),
			run: func(r *rc) error {
				var dest []idTenant
				arm := bunhook.Scope(r.ctx, r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id"))
				err := r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").Union(arm).Scan(tenantCtx(r.t, "A"), &dest)
				r.seeIDs(dest)
				return err
			}},
		catRow{ref: "7", name: "derived table TableExpr((?) AS sub) unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var dest []idTenant
				sub := r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id")
				err := r.db.NewSelect().TableExpr("(?) AS sub", sub).Column("sub.id", "sub.tenant_id").Scan(r.ctx, &dest)
				r.seeIDs(dest)
				return err
			}},
		catRow{ref: "7", name: "derived table TableExpr((?) AS sub) with bunhook.Scope", exp: scoped(),
			run: func(r *rc) error {
				var dest []idTenant
				sub := bunhook.Scope(r.ctx, r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id"))
				err := r.db.NewSelect().TableExpr("(?) AS sub", sub).Column("sub.id", "sub.tenant_id").Scan(r.ctx, &dest)
				r.seeIDs(dest)
				r.want(err != nil || len(dest) == 3, "got %d rows, want 3", len(dest))
				return err
			}},
		catRow{ref: "7", name: "scalar subquery in ColumnExpr unscoped", exp: unscoped("SELECT", "items"),
			run: func(r *rc) error {
				var n int
				err := r.db.NewSelect().ColumnExpr("(?)", r.db.NewSelect().Model((*Item)(nil)).ColumnExpr("count(*)")).Scan(r.ctx, &n)
				return err
			}},
		catRow{ref: "7", name: "Join on a subquery argument unscoped", exp: unscoped("SELECT", "customers"),
			run: func(r *rc) error {
				var invs []Invoice
				sub := r.db.NewSelect().Model((*Customer)(nil)).Column("id")
				err := r.db.NewSelect().Model(&invs).Join("JOIN (?) AS c ON c.id = invoice.customer_id", sub).Scan(r.ctx)
				r.seeInvoices(invs)
				return err
			}},
	)
	return rows
}
