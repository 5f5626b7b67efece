package bunhook_test

import (
	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/scope"
)

// Rows of catalogue() (catalogue_test.go): writes.

// catalogueWrites holds the rows of §10 #11-#16: Set/SetColumn and Value on
// the tenant column, VALUES CTEs and Bulk updates, upserts and MERGE.
func catalogueWrites() []catRow {
	var rows []catRow
	add := func(rs ...catRow) { rows = append(rows, rs...) }

	mergeQuery := func(r *rc, target int64) *bun.MergeQuery {
		src := []Invoice{{ID: target, TenantID: "A", Number: "merged"}}
		return r.db.NewMerge().Model(new(Invoice)).
			With("_src", r.db.NewValues(&src)).
			Using("_src").
			On("?TableAlias.id = _src.id").
			WhenUpdate("MATCHED", func(q *bun.UpdateQuery) *bun.UpdateQuery { return q.Set("number = _src.number") }).
			WhenInsert("NOT MATCHED", func(q *bun.InsertQuery) *bun.InsertQuery {
				return q.Value("id", "_src.id").Value("tenant_id", "_src.tenant_id").Value("number", "_src.number")
			})
	}
	onlyMySQL := func(e expect) map[string]expect { return map[string]expect{"mysql": e} }

	// §10 #11: Set / SetColumn on the tenant column.
	add(
		catRow{ref: "11", name: "update Set(tenant_id = B)", exp: cross("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model((*Invoice)(nil)).Set("tenant_id = ?", "B").Where("id = ?", r.a(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "11", name: "update SetColumn(tenant_id, B)", exp: cross("UPDATE", "invoices"),
			run: func(r *rc) error {
				in := &Invoice{ID: r.a(0), Number: "A-1"}
				_, err := r.db.NewUpdate().Model(in).SetColumn("tenant_id", "?", "B").WherePK().Exec(r.ctx)
				return err
			}},
		catRow{ref: "11", name: "update Set(tenant_id = other column)", exp: blocked(scope.ErrCrossTenant, "UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model((*Invoice)(nil)).Set("tenant_id = number").Where("id = ?", r.a(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "11", name: "raw UPDATE SET tenant_id = 'B'", exp: cross("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(r.ctx, "UPDATE invoices SET tenant_id = 'B' WHERE tenant_id = 'A'")
				return err
			}},
		catRow{ref: "11", name: "update struct by PK (Column number)", exp: scopedWrite(),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model(&Invoice{ID: r.a(0), Number: "A-1-renamed"}).Column("number").WherePK().Exec(r.ctx)
				return err
			}},
		catRow{ref: "11", name: "update struct by PK of B's row", exp: scoped(),
			run: func(r *rc) error {
				res, err := r.db.NewUpdate().Model(&Invoice{ID: r.b(0), Number: "hijacked"}).Column("number").WherePK().Exec(r.ctx)
				if err == nil {
					n, _ := res.RowsAffected()
					r.want(n == 0, "cross-tenant update affected %d rows", n)
				}
				return err
			}},
		catRow{ref: "11", name: "update whole struct carrying tenant B", exp: cross("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model(&Invoice{ID: r.b(0), TenantID: "B", Number: "hijacked"}).WherePK().Exec(r.ctx)
				return err
			}},
	)

	// §10 #12: Value() on the tenant column.
	add(
		catRow{ref: "12", name: "insert Value(tenant_id, B)", exp: cross("INSERT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{Number: "evil"}).Value("tenant_id", "?", "B").Exec(r.ctx)
				return err
			}},
		catRow{ref: "12", name: "update Value(tenant_id, B)", exp: cross("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model(&Invoice{ID: r.a(0), Number: "A-1"}).Value("tenant_id", "?", "B").WherePK().Exec(r.ctx)
				return err
			}},
		catRow{ref: "12", name: "insert Value(tenant_id, A)", exp: scopedWrite(),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{Number: "A-new"}).Value("tenant_id", "?", "A").Exec(r.ctx)
				return err
			}},
	)

	// §10 #13: VALUES CTE in UPDATE ... FROM; Bulk.
	add(
		catRow{ref: "13", name: "user VALUES CTE moving a row to B", exp: cross("UPDATE", "invoices"),
			run: func(r *rc) error {
				vals := []Invoice{{ID: r.a(0), TenantID: "B", Number: "moved"}}
				_, err := r.db.NewUpdate().With("_v", r.db.NewValues(&vals)).Model((*Invoice)(nil)).TableExpr("_v").
					Set("tenant_id = _v.tenant_id").Where("invoice.id = _v.id").Exec(r.ctx)
				return err
			}},
		catRow{ref: "13", name: "Bulk update of A's rows", exp: scopedWrite(),
			on: onlyMySQL(unsupported("Bulk() cannot run on mysql")), // MariaDB has no WITH ... VALUES: bunhook says so
			run: func(r *rc) error {
				invs := []*Invoice{{ID: r.a(0), Number: "A-1b"}, {ID: r.a(1), Number: "A-2b"}}
				_, err := r.db.NewUpdate().Model(&invs).Column("number").Bulk().Exec(r.ctx)
				return err
			}},
		catRow{ref: "13", name: "Bulk update carrying a B row", exp: cross("UPDATE", "invoices"),
			run: func(r *rc) error {
				invs := []*Invoice{{ID: r.a(0), Number: "A-1b"}, {ID: r.b(0), TenantID: "B", Number: "hijacked"}}
				_, err := r.db.NewUpdate().Model(&invs).Column("number").Bulk().Exec(r.ctx)
				return err
			}},
		catRow{ref: "13", name: "Bulk update targeting B's ids with empty tenant", exp: scoped(),
			on: onlyMySQL(unsupported("Bulk() cannot run on mysql")), // MariaDB has no WITH ... VALUES: bunhook says so
			run: func(r *rc) error {
				invs := []*Invoice{{ID: r.b(0), Number: "hijacked"}, {ID: r.b(1), Number: "hijacked"}}
				_, err := r.db.NewUpdate().Model(&invs).Column("number").Bulk().Exec(r.ctx)
				return err
			}},
	)

	// §10 #14 / #15: upserts.
	add(
		catRow{ref: "14", name: "insert ON CONFLICT (id) DO UPDATE colliding with B's row", exp: scoped(),
			on: onlyMySQL(unscoped("INSERT", "invoices")),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{ID: r.b(0), Number: "hijacked"}).On("CONFLICT (id) DO UPDATE").Exec(r.ctx)
				return err
			}},
		catRow{ref: "14", name: "insert ON CONFLICT (id) DO UPDATE on A's own row", exp: scopedWrite(),
			on: onlyMySQL(unscoped("INSERT", "invoices")),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{ID: r.a(0), Number: "A-1-upserted"}).On("CONFLICT (id) DO UPDATE").
					Set("number = EXCLUDED.number").Exec(r.ctx)
				return err
			}},
		catRow{ref: "14", name: "insert ON CONFLICT DO NOTHING colliding with B's row", exp: scoped(),
			on: onlyMySQL(unsupported("1064")), // MariaDB has no ON CONFLICT: a syntax error
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{ID: r.b(0), Number: "hijacked"}).On("CONFLICT DO NOTHING").Exec(r.ctx)
				return err
			}},
		catRow{ref: "15", name: "insert ON DUPLICATE KEY UPDATE colliding with B's row", exp: unscoped("INSERT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{ID: r.b(0), Number: "hijacked"}).On("DUPLICATE KEY UPDATE").Exec(r.ctx)
				return err
			}},
		catRow{ref: "15", name: "raw INSERT ... ON DUPLICATE KEY UPDATE", exp: unscoped("INSERT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(r.ctx, "INSERT INTO invoices (id, tenant_id, number) VALUES (?, 'A', 'x') ON DUPLICATE KEY UPDATE number = 'hijacked'", r.b(0))
				return err
			}},
	)

	// §10 #16: MERGE.
	add(
		catRow{ref: "16", name: "NewMerge updating B's row", exp: unscoped("MERGE", "invoices"),
			on: map[string]expect{"sqlite": unsupported("merge not supported"), "mysql": unsupported("merge not supported")},
			run: func(r *rc) error {
				_, err := mergeQuery(r, r.b(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "16", name: "NewMerge under bypass", exp: bypassed("MERGE", "invoices"),
			on: map[string]expect{"sqlite": unsupported("merge not supported"), "mysql": unsupported("merge not supported")},
			run: func(r *rc) error {
				_, err := mergeQuery(r, r.b(0)).Exec(r.ctx)
				return err
			}},
	)
	return rows
}
