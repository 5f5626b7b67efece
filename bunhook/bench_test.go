package bunhook_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
	"github.com/uptrace/bun/extra/bunotel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/sqlitedb"
	"github.com/tenantshield/tenantshield-go/otelobs"
)

// PlainInvoice maps the same table without enforcement: the floor for
// correct hand-written code.
type PlainInvoice struct {
	bun.BaseModel `bun:"table:invoices,alias:invoice"`
	ID            int64  `bun:",pk,autoincrement"`
	TenantID      string `bun:",notnull"`
	Number        string `bun:",notnull"`
	CustomerID    int64  `bun:",nullzero"`
}

const benchRows = 1000

func benchDSN(name string) string { return "file:" + name + "?mode=memory&cache=shared" }

func fillBench(b *testing.B, db *bun.DB) {
	b.Helper()
	ctx := bypassCtx(b)
	if _, err := db.NewCreateTable().Model((*PlainInvoice)(nil)).Exec(ctx); err != nil {
		b.Fatal(err)
	}
	rows := make([]PlainInvoice, benchRows)
	for i := range rows {
		tenant := "A"
		if i%2 == 1 {
			tenant = "B"
		}
		rows[i] = PlainInvoice{TenantID: tenant, Number: fmt.Sprintf("N-%d", i)}
	}
	if _, err := db.NewInsert().Model(&rows).Exec(ctx); err != nil {
		b.Fatal(err)
	}
}

func plainDB(b *testing.B, name string) *bun.DB {
	b.Helper()
	sqldb, err := sql.Open(sqliteshim.ShimName, benchDSN(name))
	if err != nil {
		b.Fatal(err)
	}
	sqldb.SetMaxOpenConns(1)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	b.Cleanup(func() { _ = db.Close() })
	return db
}

func noopTracing(b testing.TB) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

// BenchmarkPointSelect compares a point SELECT by primary key on SQLite in
// memory: (a) hand-written tenant WHERE, no hooks; (b) bunhook with both
// reporting paths off; (c) bunhook with tracing on into a no-op exporter;
// (d) bunotel alone (hand-written WHERE) into the same exporter.
func BenchmarkPointSelect(b *testing.B) {
	const id = 501 // an A row (odd ids are A: rows start at 1)
	b.Run("a-handwritten", func(b *testing.B) {
		db := plainDB(b, "bench_a")
		fillBench(b, db)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			var row PlainInvoice
			if err := db.NewSelect().Model(&row).Where("?TableAlias.id = ?", id).Where("?TableAlias.tenant_id = ?", "A").Scan(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	enforced := func(b *testing.B, name string, obs *otelobs.Observer) {
		db, err := sqlitedb.Open(benchDSN(name), bunhook.WithModels((*Invoice)(nil)),
			bunhook.WithAuditBus(auditlog.NewBus()), bunhook.WithObserver(obs))
		if err != nil {
			b.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		b.Cleanup(func() { _ = db.Close() })
		fillBench(b, db)
		ctx := tenantCtx(b, "A")
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			var row Invoice
			if err := db.NewSelect().Model(&row).Where("?TableAlias.id = ?", id).Scan(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("b-bunhook-off", func(b *testing.B) {
		enforced(b, "bench_b", otelobs.New())
	})
	b.Run("c-bunhook-tracing", func(b *testing.B) {
		enforced(b, "bench_c", otelobs.New(otelobs.WithTracerProvider(noopTracing(b)), otelobs.WithEnabled(true)))
	})
	b.Run("d-bunotel", func(b *testing.B) {
		db := plainDB(b, "bench_d").WithQueryHook(bunotel.NewQueryHook(bunotel.WithTracerProvider(noopTracing(b))))
		fillBench(b, db)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			var row PlainInvoice
			if err := db.NewSelect().Model(&row).Where("?TableAlias.id = ?", id).Where("?TableAlias.tenant_id = ?", "A").Scan(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
