package bunhook_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/tenantshield/tenantshield-go/bunhook"
)

// BenchmarkPostgresPointSelect compares a point SELECT by primary key on
// PostgreSQL (TS_PG_DSN), with bun's pgdriver and with pgx:
// (a) plain bun with a hand-written tenant WHERE; (b) bunhook, reporting off,
// one tenant; (c) bunhook with the tenant alternating between A and B on
// every statement (a shared pool under mixed traffic); (d) bunhook without
// the app.tenant_id setting (WithoutRLSSetting: no RLS installed).
func BenchmarkPostgresPointSelect(b *testing.B) {
	for _, kind := range []string{"pg", "pgx"} {
		b.Run(kind, func(b *testing.B) {
			run := func(b *testing.B, extra []bunhook.Option, plain bool, tenants ...string) {
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
					var err error
					if plain {
						var row PlainInvoice
						err = db.NewSelect().Model(&row).Where("?TableAlias.id = ?", ids[t][0]).
							Where("?TableAlias.tenant_id = ?", t).Scan(ctxs[t])
					} else {
						var row Invoice
						err = db.NewSelect().Model(&row).Where("?TableAlias.id = ?", ids[t][0]).Scan(ctxs[t])
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.Run("a-handwritten", func(b *testing.B) { run(b, nil, true, "A") })
			b.Run("b-bunhook-off", func(b *testing.B) { run(b, nil, false, "A") })
			b.Run("c-bunhook-alternating", func(b *testing.B) { run(b, nil, false, "A", "B") })
			b.Run("d-bunhook-no-setting", func(b *testing.B) {
				run(b, []bunhook.Option{bunhook.WithoutRLSSetting()}, false, "A", "B")
			})
		})
	}
}

func mustPgxConfig(b *testing.B, dsn string) *pgx.ConnConfig {
	b.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}
