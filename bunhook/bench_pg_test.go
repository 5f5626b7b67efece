package bunhook_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/tenantshield/tenantshield-go/bunhook"
)

// pgBenchOp runs one benchmarked operation for tenant t on the invoice id.
type pgBenchOp func(ctx context.Context, db *bun.DB, t string, id int64) error

// BenchmarkPostgresPointSelect compares a point SELECT by primary key on
// PostgreSQL (TS_PG_DSN), with bun's pgdriver and with pgx:
// (a) plain bun with a hand-written tenant WHERE; (b) bunhook, reporting off,
// one tenant; (c) bunhook with the tenant alternating between A and B on
// every statement (a shared pool under mixed traffic); (d) bunhook without
// the app.tenant_id setting (WithoutRLSSetting: no RLS installed).
// Writes, tenant alternating: (e) plain bun, a single-row UPDATE with a
// hand-written tenant WHERE; (f) the same UPDATE through bunhook.
// Transactions, tenant alternating: (g) "RLS alone", what an application
// without bunhook does for its policies: plain bun, BEGIN, SELECT
// set_config('app.tenant_id', tenant, true), the point SELECT by id, COMMIT;
// (h) the point SELECT through bunhook in a transaction.
func BenchmarkPostgresPointSelect(b *testing.B) {
	for _, kind := range []string{"pg", "pgx"} {
		b.Run(kind, func(b *testing.B) {
			run := func(b *testing.B, extra []bunhook.Option, plain bool, op pgBenchOp, tenants ...string) {
				td := openTestDB(b, kind, extra...)
				ids := td.seed(b)
				db := td.db
				if plain && kind == "pgx" {
					// plain bun over pgx's database/sql driver
					db = bun.NewDB(stdlib.OpenDB(*mustPgxConfig(b, td.dsn)), pgdialect.New())
					b.Cleanup(func() { _ = db.Close() })
				} else if plain {
					db = td.raw // plain bun over pgdriver
				}
				db.SetMaxOpenConns(1)
				ctxs := make(map[string]context.Context, len(tenants))
				for _, t := range tenants {
					ctxs[t] = tenantCtx(b, t)
				}
				b.ReportAllocs()
				b.ResetTimer()
				i := 0
				for b.Loop() {
					t := tenants[i%len(tenants)]
					i++
					if err := op(ctxs[t], db, t, ids[t][0]); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.Run("a-handwritten", func(b *testing.B) { run(b, nil, true, plainSelect, "A") })
			b.Run("b-bunhook-off", func(b *testing.B) { run(b, nil, false, hookSelect, "A") })
			b.Run("c-bunhook-alternating", func(b *testing.B) { run(b, nil, false, hookSelect, "A", "B") })
			b.Run("d-bunhook-no-setting", func(b *testing.B) {
				run(b, []bunhook.Option{bunhook.WithoutRLSSetting()}, false, hookSelect, "A", "B")
			})
			b.Run("e-handwritten-update-alternating", func(b *testing.B) { run(b, nil, true, plainUpdate, "A", "B") })
			b.Run("f-bunhook-update-alternating", func(b *testing.B) { run(b, nil, false, hookUpdate, "A", "B") })
			b.Run("g-rls-alone-tx-alternating", func(b *testing.B) { run(b, nil, true, rlsAloneSelect, "A", "B") })
			b.Run("h-bunhook-tx-alternating", func(b *testing.B) { run(b, nil, false, hookTxSelect, "A", "B") })
		})
	}
}

func plainSelect(ctx context.Context, db *bun.DB, t string, id int64) error {
	var row PlainInvoice
	return db.NewSelect().Model(&row).Where("?TableAlias.id = ?", id).Where("?TableAlias.tenant_id = ?", t).Scan(ctx)
}

func hookSelect(ctx context.Context, db *bun.DB, _ string, id int64) error {
	var row Invoice
	return db.NewSelect().Model(&row).Where("?TableAlias.id = ?", id).Scan(ctx)
}

func plainUpdate(ctx context.Context, db *bun.DB, t string, id int64) error {
	res, err := db.NewUpdate().Model((*PlainInvoice)(nil)).Set("number = ?", t+"-1").
		Where("id = ?", id).Where("tenant_id = ?", t).Exec(ctx)
	return oneRow(res, err)
}

func hookUpdate(ctx context.Context, db *bun.DB, t string, id int64) error {
	res, err := db.NewUpdate().Model((*Invoice)(nil)).Set("number = ?", t+"-1").Where("id = ?", id).Exec(ctx)
	return oneRow(res, err)
}

func rlsAloneSelect(ctx context.Context, db *bun.DB, t string, id int64) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewRaw("SELECT set_config('app.tenant_id', ?, true)", t).Exec(ctx); err != nil {
			return err
		}
		var row PlainInvoice
		return tx.NewSelect().Model(&row).Where("?TableAlias.id = ?", id).Scan(ctx)
	})
}

func hookTxSelect(ctx context.Context, db *bun.DB, _ string, id int64) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var row Invoice
		return tx.NewSelect().Model(&row).Where("?TableAlias.id = ?", id).Scan(ctx)
	})
}

func oneRow(res interface{ RowsAffected() (int64, error) }, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n != 1 {
		err = fmt.Errorf("%d rows affected, want 1", n)
	}
	return err
}

func mustPgxConfig(b testing.TB, dsn string) *pgx.ConnConfig {
	b.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}
