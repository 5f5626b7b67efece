package bunhook_test

import (
	"strings"

	"github.com/uptrace/bun"
)

// Rows of catalogue() (catalogue_test.go): joins and WhereOr.

// catalogueJoins holds the rows of §10 #8-#10: relation joins (has-one,
// belongs-to, has-many, m2m), manual joins and top-level WhereOr.
func catalogueJoins() []catRow {
	var rows []catRow
	add := func(rs ...catRow) { rows = append(rows, rs...) }

	// §10 #8: has-one / belongs-to joins; has-many; m2m.
	add(
		catRow{ref: "8", name: "belongs-to join: A invoice references B's customer", exp: scoped(),
			setup: func(r *rc) { r.rawExec("UPDATE invoices SET customer_id = 3 WHERE id = 1") },
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Relation("Customer").Order("invoice.id").Scan(r.ctx)
				r.seeInvoices(invs)
				for _, in := range invs {
					switch {
					case in.ID == 1 && in.Customer != nil:
						r.errorf("invoice 1 loaded customer %+v of tenant %q; want nil", *in.Customer, in.Customer.TenantID)
					case in.ID != 1 && (in.Customer == nil || in.Customer.TenantID != "A"):
						r.errorf("invoice %d: customer %+v", in.ID, in.Customer)
					}
					if in.Customer != nil {
						r.see(in.Customer.TenantID)
					}
				}
				r.want(err != nil || len(invs) == 3, "got %d invoices", len(invs))
				return err
			}},
		catRow{ref: "8", name: "has-one join: B's item references an A invoice", exp: scoped(),
			setup: func(r *rc) {
				r.rawExec("UPDATE items SET invoice_id = 99 WHERE id = 1")
				r.rawExec("UPDATE items SET invoice_id = 1 WHERE id = 4")
			},
			run: func(r *rc) error {
				var invs []InvoiceWithItem
				err := r.db.NewSelect().Model(&invs).Relation("Item").Order("invoice.id").Scan(r.ctx)
				for _, in := range invs {
					r.see(in.TenantID)
					if in.Item != nil {
						r.see(in.Item.TenantID)
					}
					r.want(in.ID != 1 || in.Item == nil, "invoice 1 loaded item %+v; want nil", in.Item)
					r.want(in.ID == 1 || (in.Item != nil && in.Item.TenantID == "A"), "invoice %d: item %+v", in.ID, in.Item)
				}
				r.want(err != nil || len(invs) == 3, "got %d invoices", len(invs))
				return err
			}},
		catRow{ref: "8", name: "belongs-to join loaded by PK of the A invoice", exp: scoped(),
			setup: func(r *rc) { r.rawExec("UPDATE invoices SET customer_id = 3 WHERE id = 1") },
			run: func(r *rc) error {
				in := Invoice{ID: 1}
				err := r.db.NewSelect().Model(&in).Relation("Customer").WherePK().Scan(r.ctx)
				r.see(in.TenantID)
				r.want(err != nil || in.Customer == nil, "customer of B loaded: %+v", in.Customer)
				return err
			}},
		catRow{ref: "8", name: "has-many Relation(Items) with a B item on an A invoice", exp: scoped(),
			setup: func(r *rc) {
				r.rawExec("INSERT INTO items (id, tenant_id, invoice_id, name) VALUES (50, 'B', 1, 'item-B-on-A')")
			},
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Relation("Items").Order("invoice.id").Scan(r.ctx)
				r.seeInvoices(invs)
				for _, in := range invs {
					for _, it := range in.Items {
						r.see(it.TenantID)
					}
				}
				return err
			}},
		catRow{ref: "8", name: "m2m Relation(Tags) with cross-tenant links", exp: scoped(), m2m: true,
			run: func(r *rc) error {
				var invs []TaggedInvoice
				err := r.db.NewSelect().Model(&invs).Relation("Tags").Where("invoice.id = ?", 1).Scan(r.ctx)
				for _, in := range invs {
					r.see(in.TenantID)
					names := []string{}
					for _, tg := range in.Tags {
						r.see(tg.TenantID)
						names = append(names, tg.Name)
					}
					r.want(strings.Join(names, ",") == "tag-A", "invoice %d tags = %v, want [tag-A]", in.ID, names)
				}
				r.want(err != nil || len(invs) == 1, "got %d invoices", len(invs))
				return err
			}},
		catRow{ref: "8", name: "m2m join model select (InvoiceTag with belongs-to Tag)", exp: scoped(), m2m: true,
			run: func(r *rc) error {
				var links []InvoiceTag
				err := r.db.NewSelect().Model(&links).Relation("Tag").Scan(r.ctx)
				for _, l := range links {
					r.see(l.TenantID)
					if l.Tag != nil {
						r.see(l.Tag.TenantID)
					}
				}
				r.want(err != nil || len(links) == 2, "got %d links, want A's 2", len(links))
				return err
			}},
	)

	// §10 #9: manual joins.
	add(
		catRow{ref: "9", name: "manual Join without the tenant condition", exp: unscoped("SELECT", "customers"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Join("JOIN customers AS c ON c.id = invoice.customer_id").Scan(r.ctx)
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "9", name: "manual Join with the tenant condition", exp: scoped(),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Join("JOIN customers AS c ON c.id = invoice.customer_id AND c.tenant_id = ?", "A").Scan(r.ctx)
				r.seeInvoices(invs)
				r.want(err != nil || len(invs) == 3, "got %d invoices", len(invs))
				return err
			}},
		catRow{ref: "9", name: "extra TableExpr on a scoped model", exp: unscoped("SELECT", "customers"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).TableExpr("customers AS c").Where("c.id = invoice.customer_id").Scan(r.ctx)
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "9", name: "manual LEFT JOIN on Count", exp: unscoped("SELECT", "customers"),
			run: func(r *rc) error {
				_, err := r.db.NewSelect().Model((*Invoice)(nil)).Join("LEFT JOIN customers AS c ON c.id = invoice.customer_id").Count(r.ctx)
				return err
			}},
	)

	// §10 #10: top-level WhereOr.
	add(
		catRow{ref: "10", name: "select WhereOr", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Where("number = ?", "B-1").WhereOr("number = ?", "A-1").Scan(r.ctx)
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "10", name: "Count WhereOr", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewSelect().Model((*Invoice)(nil)).Where("number = ?", "B-1").WhereOr("number = ?", "A-1").Count(r.ctx)
				return err
			}},
		catRow{ref: "10", name: "update WhereOr", exp: unscoped("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model((*Invoice)(nil)).Set("number = ?", "x").Where("number = ?", "B-1").WhereOr("id = ?", -1).Exec(r.ctx)
				return err
			}},
		catRow{ref: "10", name: "delete WhereOr", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().Model((*Invoice)(nil)).Where("number = ?", "B-1").WhereOr("id = ?", -1).Exec(r.ctx)
				return err
			}},
		catRow{ref: "10", name: "soft-delete model select WhereOr", exp: unscoped("SELECT", "items"),
			run: func(r *rc) error {
				var its []Item
				err := r.db.NewSelect().Model(&its).Where("name = ?", "item-B-1").WhereOr("name = ?", "item-A-1").Scan(r.ctx)
				for _, it := range its {
					r.see(it.TenantID)
				}
				return err
			}},
		catRow{ref: "10", name: "soft delete WhereOr", exp: unscoped("DELETE", "items"),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().Model((*Item)(nil)).Where("name = ?", "item-B-1").WhereOr("id = ?", -1).Exec(r.ctx)
				return err
			}},
		catRow{ref: "10", name: "belongs-to Relation apply with WhereOr", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Relation("Customer", func(q *bun.SelectQuery) *bun.SelectQuery {
					return q.WhereOr("customer.name = ?", "cust-B-1")
				}).Scan(r.ctx)
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "10", name: "has-many Relation apply with WhereOr", exp: unscoped("SELECT", "items"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Relation("Items", func(q *bun.SelectQuery) *bun.SelectQuery {
					return q.WhereOr("item.name = ?", "item-B-1")
				}).Scan(r.ctx)
				for _, in := range invs {
					for _, it := range in.Items {
						r.see(it.TenantID)
					}
				}
				return err
			}},
		catRow{ref: "10", name: "WhereGroup OR", exp: scoped(),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
					return q.Where("number = ?", "B-1").WhereOr("number = ?", "A-1")
				}).Scan(r.ctx)
				r.seeInvoices(invs)
				r.want(err != nil || len(invs) == 1, "got %d invoices, want only A-1", len(invs))
				return err
			}},
		catRow{ref: "10", name: "raw SQL with OR around the predicate", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewRaw("SELECT * FROM invoices WHERE tenant_id = ? OR number = ?", "A", "B-1").Scan(r.ctx, &invs)
				r.seeInvoices(invs)
				return err
			}},
	)
	return rows
}
