package bunhook_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Rows of catalogue() (catalogue_test.go): model paths and plain CRUD.

// catalogueModelPaths holds the rows of §10 #25-#27 (Column/ExcludeColumn
// dropping the tenant column, soft delete, no tenant bound) and the plain
// model CRUD that the other rows rely on.
func catalogueModelPaths() []catRow {
	var rows []catRow
	add := func(rs ...catRow) { rows = append(rows, rs...) }

	// §10 #25: Column()/ExcludeColumn() dropping the tenant column.
	add(
		catRow{ref: "25", name: "insert Column(number) omits tenant_id", exp: unscoped("INSERT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{ID: 90, Number: "x"}).Column("id", "number").Exec(r.ctx)
				return err
			}},
		catRow{ref: "25", name: "insert ExcludeColumn(tenant_id)", exp: unscoped("INSERT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{ID: 90, Number: "x"}).ExcludeColumn("tenant_id").Exec(r.ctx)
				return err
			}},
		catRow{ref: "25", name: "select Column(id, number) without tenant_id", exp: scoped(),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Column("id", "number").Scan(r.ctx)
				for _, in := range invs {
					r.want(strings.HasPrefix(in.Number, "A-"), "read %s under A", in.Number)
					r.see("A")
				}
				r.want(err != nil || len(invs) == 3, "got %d", len(invs))
				return err
			}},
		catRow{ref: "25", name: "update Column(number) of B's row by PK", exp: scoped(),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model(&Invoice{ID: r.b(0), Number: "hijack"}).Column("number").WherePK().Exec(r.ctx)
				return err
			}},
	)

	// §10 #26: soft delete.
	add(
		catRow{ref: "26", name: "soft delete of every item", exp: scopedWrite(),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().Model((*Item)(nil)).Where("1 = 1").Exec(r.ctx)
				return err
			}},
		catRow{ref: "26", name: "soft delete of B's item by PK", exp: scoped(),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().Model(&Item{ID: r.b(0)}).WherePK().Exec(r.ctx)
				return err
			}},
		catRow{ref: "26", name: "ForceDelete of B's item by PK", exp: scoped(),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().Model(&Item{ID: r.b(0)}).WherePK().ForceDelete().Exec(r.ctx)
				return err
			}},
		catRow{ref: "26", name: "WhereDeleted select", exp: scoped(),
			setup: func(r *rc) { r.rawExec("UPDATE items SET deleted_at = ? WHERE id IN (1, 4)", time.Now().UTC()) },
			run: func(r *rc) error {
				var its []Item
				err := r.db.NewSelect().Model(&its).WhereDeleted().Scan(r.ctx)
				for _, it := range its {
					r.see(it.TenantID)
				}
				r.want(err != nil || len(its) == 1, "deleted items visible: %d, want 1", len(its))
				return err
			}},
	)

	// §10 #27: no tenant bound.
	bg := func(r *rc) context.Context { return context.Background() }
	add(
		catRow{ref: "27", name: "no tenant: Scan", exp: noTenant("SELECT", "invoices"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Scan(bg(r))
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "27", name: "no tenant: Count", exp: noTenant("SELECT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewSelect().Model((*Invoice)(nil)).Count(bg(r))
				return err
			}},
		catRow{ref: "27", name: "no tenant: insert", exp: noTenant("INSERT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{Number: "x"}).Exec(bg(r))
				return err
			}},
		catRow{ref: "27", name: "no tenant: update", exp: noTenant("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model((*Invoice)(nil)).Set("number = 'x'").Where("1 = 1").Exec(bg(r))
				return err
			}},
		catRow{ref: "27", name: "no tenant: raw DELETE", exp: noTenant("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(bg(r), "DELETE FROM invoices")
				return err
			}},
		catRow{ref: "27", name: "no tenant: bun.Conn raw DELETE", exp: noTenant("DELETE", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(bg(r))
				if err != nil {
					return err
				}
				defer conn.Close()
				_, err = conn.ExecContext(bg(r), "DELETE FROM invoices")
				return err
			}},
		catRow{ref: "27", name: "no tenant: db.DB.ExecContext", exp: noTenant("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.DB.ExecContext(bg(r), "DELETE FROM invoices")
				return err
			}},
		catRow{ref: "27", name: "bypass: model Scan and Count", exp: bypassed("SELECT", "invoices"),
			run: func(r *rc) error {
				var invs []Invoice
				if err := r.db.NewSelect().Model(&invs).Scan(r.ctx); err != nil {
					return err
				}
				r.seeInvoices(invs)
				n, err := r.db.NewSelect().Model((*Invoice)(nil)).Count(r.ctx)
				r.want(err != nil || n == 6, "bypassed count = %d", n)
				return err
			}},
		catRow{ref: "27", name: "bypass: update of B's row", exp: bypassed("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model((*Invoice)(nil)).Set("number = 'fixed'").Where("id = ?", r.b(0)).Exec(r.ctx)
				return err
			}},
	)

	// Further paths: plain model CRUD, which the other rows rely on.
	add(
		catRow{ref: "+", name: "model Scan of B's row by PK", exp: scoped(),
			run: func(r *rc) error {
				in := Invoice{ID: r.b(0)}
				err := r.db.NewSelect().Model(&in).WherePK().Scan(r.ctx)
				if errors.Is(err, sql.ErrNoRows) {
					return nil
				}
				r.see(in.TenantID)
				r.errorf("read B's row by PK: %+v, %v", in, err)
				return err
			}},
		catRow{ref: "+", name: "insert struct with empty tenant", exp: scopedWrite(),
			run: func(r *rc) error {
				in := &Invoice{Number: "A-new"}
				_, err := r.db.NewInsert().Model(in).Exec(r.ctx)
				r.want(err != nil || in.TenantID == "A", "tenant not filled: %q", in.TenantID)
				return err
			}},
		catRow{ref: "+", name: "insert slice with a B row", exp: cross("INSERT", "invoices"),
			run: func(r *rc) error {
				invs := []Invoice{{Number: "A-new"}, {Number: "B-new", TenantID: "B"}}
				_, err := r.db.NewInsert().Model(&invs).Exec(r.ctx)
				return err
			}},
		catRow{ref: "+", name: "delete of B's row by PK", exp: scoped(),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().Model(&Invoice{ID: r.b(0)}).WherePK().Exec(r.ctx)
				return err
			}},
		catRow{ref: "+", name: "delete every invoice", exp: scopedWrite(),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().Model((*Invoice)(nil)).Where("1 = 1").Exec(r.ctx)
				return err
			}},
		catRow{ref: "+", name: "model query with Comment", exp: scoped(),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Comment("catalogue").Scan(r.ctx)
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "+", name: "non-tenant table is untouched", exp: scoped(),
			run: func(r *rc) error {
				var cur []Currency
				err := r.db.NewSelect().Model(&cur).Scan(r.ctx)
				r.want(err != nil || len(cur) == 1, "currencies: %v", cur)
				return err
			}},
	)
	return rows
}
