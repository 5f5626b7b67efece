package bunhook_test

import (
	"context"
	"database/sql"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"
)

// Rows of catalogue() (catalogue_test.go): pools, connections, replicas.

// catalogueConns holds the rows of §10 #21-#24: a second *bun.DB over the
// same pool, the veto on bun.Conn, read replicas through a ConnResolver and
// app.tenant_id on pooled connections.
func catalogueConns() []catRow {
	var rows []catRow
	add := func(rs ...catRow) { rows = append(rows, rs...) }

	// §10 #21: a *bun.DB without the guard over the same pool.
	plainDB := func(r *rc) *bun.DB {
		var d schema.Dialect
		switch r.kind {
		case "pg", "pgx":
			d = pgdialect.New()
		case "mysql":
			d = mysqldialect.New()
		default:
			d = sqlitedialect.New()
		}
		return bun.NewDB(r.db.DB, d)
	}
	add(
		catRow{ref: "21", name: "second bun.NewDB: model Scan", exp: scoped(),
			run: func(r *rc) error {
				var invs []Invoice
				err := plainDB(r).NewSelect().Model(&invs).Scan(r.ctx)
				r.seeInvoices(invs)
				r.want(err != nil || len(invs) == 3, "got %d", len(invs))
				return err
			}},
		catRow{ref: "21", name: "second bun.NewDB: model Count", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				n, err := plainDB(r).NewSelect().Model((*Invoice)(nil)).Count(r.ctx)
				r.want(err != nil || n == 3, "count = %d", n)
				return err
			}},
		catRow{ref: "21", name: "ResetQueryHooks on the enforced DB, then raw ExecContext", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				r.db.ResetQueryHooks() //nolint:staticcheck // the deprecated in-place removal of the guard is the path under test
				_, err := r.db.ExecContext(r.ctx, rawUnscopedDelete(r))
				return err
			}},
		catRow{ref: "21", name: "second bun.NewDB: raw ExecContext", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := plainDB(r).ExecContext(r.ctx, rawUnscopedDelete(r))
				return err
			}},
	)

	// §10 #22: the veto on bun.Conn (pgdriver ignores a cancelled context).
	add(
		catRow{ref: "22", name: "bun.Conn: NewRaw DELETE", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				_, err = conn.NewRaw(rawUnscopedDelete(r)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "22", name: "bun.Conn: Table(invoices) update", exp: unscoped("UPDATE", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				_, err = conn.NewUpdate().Table("invoices").Set("number = 'x'").Where("id = ?", r.b(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "22", name: "bun.Conn: model Scan, Count and update", exp: scopedWrite(),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				var invs []Invoice
				if err := conn.NewSelect().Model(&invs).Scan(r.ctx); err != nil {
					return err
				}
				r.seeInvoices(invs)
				n, err := conn.NewSelect().Model((*Invoice)(nil)).Count(r.ctx)
				r.want(err != nil || n == 3, "count = %d", n)
				if err != nil {
					return err
				}
				_, err = conn.NewUpdate().Model((*Invoice)(nil)).Set("number = number || ?", "!").Where("1 = 1").Exec(r.ctx)
				if r.kind == "mysql" && err != nil {
					_, err = conn.NewUpdate().Model((*Invoice)(nil)).Set("number = CONCAT(number, ?)", "!").Where("1 = 1").Exec(r.ctx)
				}
				return err
			}},
		catRow{ref: "22", name: "bun.Tx: model Scan, Exists and delete", exp: scopedWrite(),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					var invs []Invoice
					q := tx.NewSelect().Model(&invs)
					if r.kind != "sqlite" { // SQLite has no FOR UPDATE
						q = q.For("UPDATE")
					}
					if err := q.Scan(ctx); err != nil {
						return err
					}
					r.seeInvoices(invs)
					ok, err := tx.NewSelect().Model((*Invoice)(nil)).Where("number = ?", "B-2").Exists(ctx)
					if err != nil {
						return err
					}
					r.want(!ok, "Exists(B-2) in tx = true")
					_, err = tx.NewDelete().Model((*Invoice)(nil)).Where("1 = 1").Exec(ctx)
					return err
				})
			}},
		catRow{ref: "22", name: "bun.Tx: nested savepoint tx", exp: scopedWrite(),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					return tx.RunInTx(ctx, nil, func(ctx context.Context, sp bun.Tx) error {
						_, err := sp.NewDelete().Model((*Invoice)(nil)).Where("number LIKE ?", "%-1").Exec(ctx)
						return err
					})
				})
			}},
	)

	// §10 #23: read replicas through a ConnResolver.
	add(
		catRow{ref: "23", name: "ConnResolver routing reads to an unenforced pool", exp: unscoped("SELECT", "invoices"), replica: "raw",
			run: func(r *rc) error {
				// runCatalogueRow opened r.db with the resolver (bunhook.WithBunOptions).
				n, err := r.db.NewSelect().Model((*Invoice)(nil)).Count(r.ctx)
				r.want(err != nil || n == 3, "count via replica = %d, want 3", n)
				return err
			}},
	)

	add(
		catRow{ref: "23", name: "ConnResolver: Table(invoices) Count on an unenforced pool", exp: unscoped("SELECT", "invoices"), replica: "raw",
			run: func(r *rc) error {
				_, err := r.db.NewSelect().Table("invoices").Count(r.ctx)
				return err
			}},
		catRow{ref: "23", name: "ConnResolver: non-tenant table on an unenforced pool", exp: scoped(), replica: "raw",
			run: func(r *rc) error {
				var cur []Currency
				err := r.db.NewSelect().Model(&cur).Scan(r.ctx)
				r.want(err != nil || len(cur) == 1, "currencies: %v", cur)
				return err
			}},
		catRow{ref: "23", name: "ConnResolver routing reads to an enforced pool", exp: scoped(), replica: "enforced",
			run: func(r *rc) error {
				var invs []Invoice
				if err := r.db.NewSelect().Model(&invs).Scan(r.ctx); err != nil {
					return err
				}
				r.seeInvoices(invs)
				n, err := r.db.NewSelect().Model((*Invoice)(nil)).Count(r.ctx)
				r.want(err != nil || n == 3, "count = %d", n)
				return err
			}},
	)

	// §10 #24: app.tenant_id per statement and transaction on pooled connections.
	add(
		catRow{ref: "24", name: "one pooled connection used by A, B, no tenant and in a tx", exp: scoped(),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				ctxB := tenantCtx(r.t, "B")
				for _, step := range []struct {
					ctx    context.Context
					tenant string
				}{{r.ctx, "A"}, {ctxB, "B"}, {context.Background(), ""}, {r.ctx, "A"}} {
					if step.tenant != "" {
						var invs []Invoice
						if err := conn.NewSelect().Model(&invs).Scan(step.ctx); err != nil {
							return err
						}
						for _, in := range invs {
							r.want(in.TenantID == step.tenant, "conn under %q read a row of %q", step.tenant, in.TenantID)
						}
					}
					if r.kind == "pg" || r.kind == "pgx" {
						var got sql.NullString
						if err := conn.QueryRowContext(step.ctx, "SELECT current_setting('app.tenant_id', true)").Scan(&got); err != nil {
							return err
						}
						r.want(got.String == step.tenant, "app.tenant_id = %q under %q", got.String, step.tenant)
					}
				}
				if r.kind == "pg" || r.kind == "pgx" {
					err := conn.RunInTx(ctxB, nil, func(ctx context.Context, tx bun.Tx) error {
						var got sql.NullString
						if err := tx.QueryRowContext(ctx, "SELECT current_setting('app.tenant_id', true)").Scan(&got); err != nil {
							return err
						}
						r.want(got.String == "B", "app.tenant_id in B's tx = %q", got.String)
						return nil
					})
					if err != nil {
						return err
					}
					var got sql.NullString
					if err := conn.QueryRowContext(context.Background(), "SELECT current_setting('app.tenant_id', true)").Scan(&got); err != nil {
						return err
					}
					r.want(got.String == "", "app.tenant_id after B's tx, no tenant = %q", got.String)
				}
				return nil
			}},
	)
	return rows
}
