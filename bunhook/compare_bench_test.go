package bunhook_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/extra/bunotel"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/otelobs"
)

// BenchmarkCompare measures what enforcement costs next to correct
// hand-written code: for each database and workload, impl=plain is plain
// bun with the tenant predicate written by hand, impl=bunhook is the same
// statement through bunhook with tracing and audit off (the predicate added
// by bunhook). Both run against the same tables and rows, one after the
// other, so that `make bench-compare` (which runs the whole set COUNT times)
// interleaves them. op=point-traced compares bunhook with its spans on
// against plain bun with bunotel alone, both into a no-op exporter.
//
// Select one database with -bench 'Compare/db=pg/'. The PostgreSQL and
// MariaDB tiers need TS_PG_DSN and TS_MYSQL_DSN, as the tests do.
func BenchmarkCompare(b *testing.B) {
	for _, kind := range dbKinds {
		b.Run("db="+kind, func(b *testing.B) {
			e := newCmpEnv(b, kind)
			for _, w := range cmpWorkloads() {
				b.Run("op="+w.name, func(b *testing.B) {
					b.Run("impl=plain", func(b *testing.B) { w.run(b, e, false) })
					b.Run("impl=bunhook", func(b *testing.B) { w.run(b, e, true) })
				})
			}
		})
	}
}

// Rows of the comparison tables: tenant A has cmpRowsA invoices (the
// largest row count read), tenant B cmpRowsB, so that every statement has
// rows of another tenant to leave out.
const (
	cmpRowsA = 10000
	cmpRowsB = 2000
	cmpConns = 16 // pool size, and goroutines of op=parallel16
)

// cmpEnv is one database with a plain and an enforced handle on the same
// tables.
type cmpEnv struct {
	plain, lib             *bun.DB
	plainTraced, libTraced *bun.DB
	ids                    []int64 // invoices of tenant A, in id order
	cust                   int64   // a customer of tenant A
	ctx                    context.Context
}

func newCmpEnv(b *testing.B, kind string) *cmpEnv {
	b.Helper()
	td := openDB(b, &testDB{kind: kind, memory: kind == "sqlite"})
	e := &cmpEnv{lib: td.db, plain: td.raw, ctx: tenantCtx(b, "A")}
	if kind == "pgx" {
		// plain bun over pgx's database/sql driver, like the enforced handle
		e.plain = bun.NewDB(stdlib.OpenDB(*mustPgxConfig(b, td.dsn)), pgdialect.New())
		b.Cleanup(func() { _ = e.plain.Close() })
	}
	tp := noopTracing(b)
	e.libTraced = reopen(b, td, bunhook.WithObserver(otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(true))))
	e.plainTraced = bun.NewDB(e.plain.DB, e.plain.Dialect()).
		WithQueryHook(bunotel.NewQueryHook(bunotel.WithTracerProvider(tp)))
	for _, db := range []*bun.DB{e.plain, e.lib, e.libTraced} {
		db.SetMaxOpenConns(cmpConns)
		db.SetMaxIdleConns(cmpConns)
	}
	e.seed(b)
	return e
}

// seed inserts the customers and invoices through the plain handle.
func (e *cmpEnv) seed(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	custs := []PlainCustomer{{TenantID: "A", Name: "a"}, {TenantID: "B", Name: "b"}}
	if _, err := e.plain.NewInsert().Model(&custs).Exec(ctx); err != nil {
		b.Fatal(err)
	}
	if custs[0].ID == 0 {
		b.Fatal("seed: no customer id returned")
	}
	e.cust = custs[0].ID
	for _, part := range []struct {
		tenant string
		n      int
		cust   int64
	}{{"A", cmpRowsA, custs[0].ID}, {"B", cmpRowsB, custs[1].ID}} {
		const chunk = 1000
		for start := 0; start < part.n; start += chunk {
			rows := make([]PlainInvoice, min(chunk, part.n-start))
			for i := range rows {
				rows[i] = PlainInvoice{TenantID: part.tenant, Number: fmt.Sprintf("%s-%d", part.tenant, start+i), CustomerID: part.cust}
			}
			if _, err := e.plain.NewInsert().Model(&rows).Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := e.plain.NewSelect().Model((*PlainInvoice)(nil)).Column("id").
		Where("tenant_id = ?", "A").Order("id").Scan(ctx, &e.ids); err != nil {
		b.Fatal(err)
	}
	if len(e.ids) != cmpRowsA {
		b.Fatalf("seed: %d invoices of A, want %d", len(e.ids), cmpRowsA)
	}
}

// PlainCustomer maps customers without enforcement.
type PlainCustomer struct {
	bun.BaseModel `bun:"table:customers,alias:customer"`
	ID            int64  `bun:",pk,autoincrement"`
	TenantID      string `bun:",notnull"`
	Name          string `bun:",notnull"`
}

// db is the handle and context of one side; plain statements run without a
// tenant in the context.
func (e *cmpEnv) db(lib bool) (*bun.DB, context.Context) {
	if lib {
		return e.lib, e.ctx
	}
	return e.plain, context.Background()
}

// one and many return the model of one side: the enforced model for
// bunhook, the same table without the marker for plain bun.
func one(lib bool) any {
	if lib {
		return new(Invoice)
	}
	return new(PlainInvoice)
}

func many(lib bool, n int) any {
	if lib {
		s := make([]Invoice, 0, n)
		return &s
	}
	s := make([]PlainInvoice, 0, n)
	return &s
}

// sel starts a SELECT of invoices: plain bun writes the tenant predicate by
// hand, bunhook adds it.
func sel(db *bun.DB, lib bool, model any) *bun.SelectQuery {
	q := db.NewSelect().Model(model)
	if !lib {
		q = q.Where("?TableAlias.tenant_id = ?", "A")
	}
	return q
}

type cmpWorkload struct {
	name string
	run  func(b *testing.B, e *cmpEnv, lib bool)
}

func cmpWorkloads() []cmpWorkload {
	ws := []cmpWorkload{
		{"point", benchPoint},
		{"point-traced", benchPointTraced},
		{"parallel16", benchParallel},
		{"insert", func(b *testing.B, e *cmpEnv, lib bool) { benchInsert(b, e, lib, 0) }},
		{"insert-ref", func(b *testing.B, e *cmpEnv, lib bool) { benchInsert(b, e, lib, e.cust) }},
		{"update", benchUpdate},
		{"bulk10000", benchBulk},
	}
	for _, k := range []int{0, 1, 2, 4, 8} {
		ws = append(ws, cmpWorkload{fmt.Sprintf("joins=%d", k), func(b *testing.B, e *cmpEnv, lib bool) { benchJoins(b, e, lib, k) }})
	}
	for _, n := range []int{1, 10, 100, 1000} {
		ws = append(ws, cmpWorkload{fmt.Sprintf("in=%d", n), func(b *testing.B, e *cmpEnv, lib bool) { benchIn(b, e, lib, n) }})
	}
	for _, n := range []int{1, 100, 10000} {
		ws = append(ws, cmpWorkload{fmt.Sprintf("rows=%d", n), func(b *testing.B, e *cmpEnv, lib bool) { benchFirstRows(b, e, lib, n) }})
	}
	return ws
}

func must(b *testing.B, err error) {
	if err != nil {
		b.Fatal(err)
	}
}

// benchPoint: a SELECT by primary key, cycling through tenant A's rows.
func benchPoint(b *testing.B, e *cmpEnv, lib bool) {
	db, ctx := e.db(lib)
	pointLoop(b, db, ctx, e.ids, lib)
}

func pointLoop(b *testing.B, db *bun.DB, ctx context.Context, ids []int64, lib bool) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		must(b, sel(db, lib, one(lib)).Where("?TableAlias.id = ?", ids[i%len(ids)]).Scan(ctx))
	}
}

// benchPointTraced: bunhook with its spans against plain bun with bunotel.
func benchPointTraced(b *testing.B, e *cmpEnv, lib bool) {
	if lib {
		pointLoop(b, e.libTraced, e.ctx, e.ids, true)
		return
	}
	pointLoop(b, e.plainTraced, context.Background(), e.ids, false)
}

// benchParallel: point selects from cmpConns goroutines sharing the pool
// (q/s = 1e9 / ns/op).
func benchParallel(b *testing.B, e *cmpEnv, lib bool) {
	db, ctx := e.db(lib)
	b.ReportAllocs()
	b.SetParallelism(max(1, cmpConns/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i += 7
			if err := sel(db, lib, one(lib)).Where("?TableAlias.id = ?", e.ids[i%len(e.ids)]).Scan(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchInsert: a single-row model INSERT (bunhook fills the tenant), with
// or without a reference to a customer (which bunhook checks).
func benchInsert(b *testing.B, e *cmpEnv, lib bool, cust int64) {
	db, ctx := e.db(lib)
	b.ReportAllocs()
	for b.Loop() {
		var m any
		if lib {
			m = &Invoice{Number: "n", CustomerID: cust}
		} else {
			m = &PlainInvoice{TenantID: "A", Number: "n", CustomerID: cust}
		}
		_, err := db.NewInsert().Model(m).Exec(ctx)
		must(b, err)
	}
}

// benchUpdate: a single-row UPDATE of one column by primary key.
func benchUpdate(b *testing.B, e *cmpEnv, lib bool) {
	db, ctx := e.db(lib)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		id := e.ids[i%len(e.ids)]
		var q *bun.UpdateQuery
		if lib {
			q = db.NewUpdate().Model(&Invoice{ID: id, Number: "u"})
		} else {
			q = db.NewUpdate().Model(&PlainInvoice{ID: id, Number: "u"}).Where("?TableAlias.tenant_id = ?", "A")
		}
		res, err := q.Column("number").WherePK().Exec(ctx)
		must(b, err)
		if n, _ := res.RowsAffected(); n != 1 && !isMySQL(db) {
			b.Fatalf("updated %d rows, want 1", n)
		}
	}
}

// isMySQL: MariaDB reports rows changed, not rows matched, so a repeated
// update of the same value affects 0 rows.
func isMySQL(db *bun.DB) bool { return db.Dialect().Name().String() == "mysql" }

// benchBulk: one INSERT of 10 000 rows, all referencing one customer.
func benchBulk(b *testing.B, e *cmpEnv, lib bool) {
	const n = 10000
	db, ctx := e.db(lib)
	libRows := make([]Invoice, n)
	plainRows := make([]PlainInvoice, n)
	b.ReportAllocs()
	for b.Loop() {
		var m any
		if lib {
			for i := range libRows {
				libRows[i] = Invoice{Number: "bulk", CustomerID: e.cust}
			}
			m = &libRows
		} else {
			for i := range plainRows {
				plainRows[i] = PlainInvoice{TenantID: "A", Number: "bulk", CustomerID: e.cust}
			}
			m = &plainRows
		}
		_, err := db.NewInsert().Model(m).Exec(ctx)
		must(b, err)
	}
}

// benchJoins: a point select joined to k customers aliases, each joined on
// the same tenant (written once for both sides).
func benchJoins(b *testing.B, e *cmpEnv, lib bool, k int) {
	db, ctx := e.db(lib)
	joins := make([]string, k)
	for j := range joins {
		joins[j] = fmt.Sprintf("JOIN customers AS c%d ON c%d.id = invoice.customer_id AND c%d.tenant_id = invoice.tenant_id", j, j, j)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		q := sel(db, lib, one(lib)).Where("?TableAlias.id = ?", e.ids[i%len(e.ids)])
		for _, j := range joins {
			q = q.Join(j)
		}
		must(b, q.Scan(ctx))
	}
}

// benchIn: a SELECT of n rows by an IN list of primary keys.
func benchIn(b *testing.B, e *cmpEnv, lib bool, n int) {
	db, ctx := e.db(lib)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i += n
		start := i % (len(e.ids) - n)
		must(b, sel(db, lib, many(lib, n)).Where("?TableAlias.id IN (?)", bun.In(e.ids[start:start+n])).Scan(ctx))
	}
}

// benchFirstRows: a SELECT of the first n rows of the tenant.
func benchFirstRows(b *testing.B, e *cmpEnv, lib bool, n int) {
	db, ctx := e.db(lib)
	b.ReportAllocs()
	for b.Loop() {
		must(b, sel(db, lib, many(lib, n)).OrderExpr("?TableAlias.id").Limit(int64(n)).Scan(ctx))
	}
}
