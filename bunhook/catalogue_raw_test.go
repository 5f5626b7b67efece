package bunhook_test

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/uptrace/bun"
)

// Rows of catalogue() (catalogue_test.go): raw SQL, DDL and the paths below
// bun's hooks.

// rawUnscopedDelete is raw SQL that deletes B's first invoice with no tenant
// predicate (§10 #17, #20-#22).
func rawUnscopedDelete(r *rc) string {
	return fmt.Sprintf("DELETE FROM invoices WHERE id = %d", r.b(0))
}

// catalogueRaw holds the rows of §10 #17-#19: raw SQL on DB, Tx and Conn,
// TRUNCATE and DDL.
func catalogueRaw() []catRow {
	var rows []catRow
	add := func(rs ...catRow) { rows = append(rows, rs...) }

	// §10 #17: raw SQL on DB, Tx and Conn.
	add(
		catRow{ref: "17", name: "NewRaw select unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewRaw("SELECT * FROM invoices").Scan(r.ctx, &invs)
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "17", name: "NewRaw select with the predicate", exp: scoped(),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewRaw("SELECT * FROM invoices WHERE tenant_id = ?", "A").Scan(r.ctx, &invs)
				r.seeInvoices(invs)
				r.want(err != nil || len(invs) == 3, "got %d rows", len(invs))
				return err
			}},
		catRow{ref: "17", name: "NewRaw DELETE (reported as SELECT by bun)", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewRaw("DELETE FROM invoices WHERE id = ?", r.b(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "17", name: "NewRaw DELETE with a leading comment", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewRaw("/* cleanup */ DELETE FROM invoices WHERE id = ?", r.b(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "17", name: "db.ExecContext UPDATE unscoped", exp: unscoped("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(r.ctx, "UPDATE invoices SET number = 'x' WHERE id = ?", r.b(0))
				return err
			}},
		catRow{ref: "17", name: "db.ExecContext UPDATE with the predicate", exp: scopedWrite(),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(r.ctx, "UPDATE invoices SET number = 'x' WHERE tenant_id = ? AND id = ?", "A", r.a(0))
				return err
			}},
		catRow{ref: "17", name: "db.ExecContext INSERT tenant B", exp: cross("INSERT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(r.ctx, "INSERT INTO invoices (id, tenant_id, number) VALUES (90, ?, 'x')", "B")
				return err
			}},
		catRow{ref: "17", name: "db.ExecContext INSERT tenant A", exp: scopedWrite(),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(r.ctx, "INSERT INTO invoices (id, tenant_id, number) VALUES (90, ?, 'x')", "A")
				return err
			}},
		catRow{ref: "17", name: "db.QueryContext unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				rows, err := r.db.QueryContext(r.ctx, "SELECT id, tenant_id FROM invoices")
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "17", name: "db.QueryContext with the predicate", exp: scoped(),
			run: func(r *rc) error {
				rows, err := r.db.QueryContext(r.ctx, "SELECT id, tenant_id FROM invoices WHERE tenant_id = ?", "A")
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "17", name: "db.QueryRowContext unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var n int
				return r.db.QueryRowContext(r.ctx, "SELECT count(*) FROM invoices").Scan(&n)
			}},
		catRow{ref: "17", name: "tx.ExecContext unscoped", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					_, err := tx.ExecContext(ctx, rawUnscopedDelete(r))
					return err
				})
			}},
		catRow{ref: "17", name: "tx.QueryContext unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					rows, err := tx.QueryContext(ctx, "SELECT id, tenant_id FROM invoices")
					if err != nil {
						return err
					}
					return r.seeRows(rows)
				})
			}},
		catRow{ref: "17", name: "tx.QueryRowContext unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					var n int
					return tx.QueryRowContext(ctx, "SELECT count(*) FROM invoices").Scan(&n)
				})
			}},
		catRow{ref: "17", name: "tx.QueryContext with the predicate", exp: scoped(),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					rows, err := tx.QueryContext(ctx, "SELECT id, tenant_id FROM invoices WHERE tenant_id = ?", "A")
					if err != nil {
						return err
					}
					return r.seeRows(rows)
				})
			}},
		catRow{ref: "17", name: "conn.ExecContext unscoped", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				_, err = conn.ExecContext(r.ctx, rawUnscopedDelete(r))
				return err
			}},
		catRow{ref: "17", name: "conn.QueryContext unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				rows, err := conn.QueryContext(r.ctx, "SELECT id, tenant_id FROM invoices")
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "17", name: "conn.QueryRowContext unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				var n int
				return conn.QueryRowContext(r.ctx, "SELECT count(*) FROM invoices").Scan(&n)
			}},
		catRow{ref: "17", name: "conn.QueryContext with the predicate", exp: scoped(),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				rows, err := conn.QueryContext(r.ctx, "SELECT id, tenant_id FROM invoices WHERE tenant_id = ?", "A")
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "17", name: "db.ExecContext DELETE under bypass", exp: bypassed("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(r.ctx, rawUnscopedDelete(r))
				return err
			}},
	)

	// §10 #18: TRUNCATE.
	add(
		catRow{ref: "18", name: "NewTruncateTable", exp: unscoped("TRUNCATE", "invoices"),
			on: map[string]expect{"sqlite": unscoped("DELETE", "invoices")}, // bun renders DELETE FROM on SQLite
			run: func(r *rc) error {
				_, err := r.db.NewTruncateTable().Model((*Invoice)(nil)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "18", name: "NewTruncateTable under bypass", exp: bypassed("TRUNCATE", "invoices"),
			on: map[string]expect{"sqlite": bypassed("DELETE", "invoices")},
			run: func(r *rc) error {
				_, err := r.db.NewTruncateTable().Model((*Invoice)(nil)).Exec(r.ctx)
				return err
			}},
	)

	// §10 #19: DDL.
	add(
		catRow{ref: "19", name: "NewDropTable", exp: unscoped("DROP TABLE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewDropTable().Model((*Invoice)(nil)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "19", name: "NewCreateTable (IfNotExists)", exp: unscoped("CREATE TABLE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewCreateTable().Model((*Invoice)(nil)).IfNotExists().Exec(r.ctx)
				return err
			}},
		catRow{ref: "19", name: "NewCreateIndex", exp: unscoped("CREATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewCreateIndex().Model((*Invoice)(nil)).Index("invoices_number_idx").Column("number").Exec(r.ctx)
				return err
			}},
		catRow{ref: "19", name: "NewAddColumn", exp: unscoped("ALTER", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewAddColumn().Model((*Invoice)(nil)).ColumnExpr("note VARCHAR(20)").Exec(r.ctx)
				return err
			}},
		catRow{ref: "19", name: "NewDropColumn", exp: unscoped("ALTER", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewDropColumn().Model((*Invoice)(nil)).Column("number").Exec(r.ctx)
				return err
			}},
		catRow{ref: "19", name: "NewDropTable under bypass", exp: bypassed("DROP", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewDropTable().Model((*Invoice)(nil)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "19", name: "NewAddColumn under bypass", exp: bypassed("ALTER", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewAddColumn().Model((*Invoice)(nil)).ColumnExpr("note VARCHAR(20)").Exec(r.ctx)
				return err
			}},
	)
	return rows
}

// catalogueBelowHooks holds the rows of §10 #20: the paths below bun's
// hooks (the embedded *sql.DB, database/sql transactions and connections).
func catalogueBelowHooks() []catRow {
	var rows []catRow
	add := func(rs ...catRow) { rows = append(rows, rs...) }

	// §10 #20: the paths below bun's hooks.
	add(
		catRow{ref: "20", name: "db.DB.ExecContext (embedded *sql.DB) unscoped", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.DB.ExecContext(r.ctx, "DELETE FROM invoices WHERE id = "+r.ph(1), r.b(0))
				return err
			}},
		catRow{ref: "20", name: "db.DB.QueryContext (embedded *sql.DB) unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				rows, err := r.db.DB.QueryContext(r.ctx, "SELECT id, tenant_id FROM invoices")
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "20", name: "db.DB.QueryContext with a placeholder tenant", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				rows, err := r.db.DB.QueryContext(r.ctx, "SELECT id, tenant_id FROM invoices WHERE tenant_id = "+r.ph(1), "B")
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "20", name: "db.DB.QueryContext with the literal predicate", exp: scoped(),
			run: func(r *rc) error {
				rows, err := r.db.DB.QueryContext(r.ctx, "SELECT id, tenant_id FROM invoices WHERE tenant_id = 'A'")
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "20", name: "db.DB.ExecContext under bypass", exp: bypassed("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.DB.ExecContext(r.ctx, "DELETE FROM invoices WHERE id = "+r.ph(1), r.b(0))
				return err
			}},
		catRow{ref: "20", name: "db.PrepareContext + Stmt.QueryContext", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				st, err := r.db.PrepareContext(r.ctx, "SELECT id, tenant_id FROM invoices")
				if err != nil {
					return err
				}
				defer st.Close()
				rows, err := st.QueryContext(r.ctx)
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "20", name: "db.PrepareContext verified for A, executed under B", exp: func() expect {
			e := unscoped("SELECT", "invoices")
			e.bound = "B"
			return e
		}(),
			run: func(r *rc) error {
				st, err := r.db.PrepareContext(r.ctx, "SELECT id, tenant_id FROM invoices WHERE tenant_id = 'A'")
				if err != nil {
					return err
				}
				defer st.Close()
				rows, err := st.QueryContext(tenantCtx(r.t, "B"))
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "20", name: "db.PrepareContext with the literal predicate", exp: scoped(),
			run: func(r *rc) error {
				st, err := r.db.PrepareContext(r.ctx, "SELECT id, tenant_id FROM invoices WHERE tenant_id = 'A'")
				if err != nil {
					return err
				}
				defer st.Close()
				for i := 0; i < 2; i++ {
					rows, err := st.QueryContext(r.ctx)
					if err != nil {
						return err
					}
					if err := r.seeRows(rows); err != nil {
						return err
					}
				}
				return nil
			}},
		catRow{ref: "20", name: "tx.Tx.ExecContext (embedded *sql.Tx) unscoped", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					_, err := tx.Tx.ExecContext(ctx, rawUnscopedDelete(r))
					return err
				})
			}},
		catRow{ref: "20", name: "tx.PrepareContext (promoted from *sql.Tx)", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					st, err := tx.PrepareContext(ctx, rawUnscopedDelete(r))
					if err != nil {
						return err
					}
					defer st.Close()
					_, err = st.ExecContext(ctx)
					return err
				})
			}},
		catRow{ref: "20", name: "conn.Raw: ExecContext on the driver connection", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				return conn.Raw(func(dc any) error {
					ec, ok := dc.(driver.ExecerContext)
					if !ok {
						return fmt.Errorf("driver conn %T has no ExecContext", dc)
					}
					_, err := ec.ExecContext(r.ctx, rawUnscopedDelete(r), nil)
					return err
				})
			}},
		catRow{ref: "20", name: "conn.Raw + Unwrap: the driver's own connection", exp: expect{outcome: oUnguarded},
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				return conn.Raw(func(dc any) error {
					u, ok := dc.(interface{ Unwrap() driver.Conn })
					if !ok {
						return fmt.Errorf("driver conn %T has no Unwrap", dc)
					}
					ec, ok := u.Unwrap().(driver.ExecerContext)
					if !ok {
						return fmt.Errorf("inner driver conn %T has no ExecContext", u.Unwrap())
					}
					_, err := ec.ExecContext(r.ctx, rawUnscopedDelete(r), nil)
					return err
				})
			}},
		catRow{ref: "20", name: "conn.PrepareContext (promoted from *sql.Conn)", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				st, err := conn.PrepareContext(r.ctx, "SELECT id, tenant_id FROM invoices")
				if err != nil {
					return err
				}
				defer st.Close()
				rows, err := st.QueryContext(r.ctx)
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
	)
	return rows
}
