package bunhook_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/extra/bunotel"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/posture"
	"github.com/tenantshield/tenantshield-go/otelobs"
)

// BenchmarkCompare measures what enforcement costs next to correct
// hand-written code: for each database and workload, impl=plain is plain
// bun with the tenant predicate written by hand, impl=bunhook is the same
// statement through bunhook with tracing and audit off (the predicate added
// by bunhook). Both run against the same tables and rows, one after the
// other, so that `make bench-compare` (which runs the whole set COUNT times)
// interleaves them. impl=paired runs the two statements alternately in one
// loop and reports the time of each side (plain-ns/op, bunhook-ns/op): a
// slow spell of the shared machine then weighs on both sides alike, which
// is what the ratio table of `make bench-compare` reads. op=point-traced
// compares bunhook with its spans on against plain bun with bunotel alone,
// both into a no-op exporter.
//
// Select one database with -bench 'Compare/db=pg/'. The PostgreSQL and
// MariaDB tiers need TS_PG_DSN and TS_MYSQL_DSN, as the tests do.
func BenchmarkCompare(b *testing.B) {
	for _, kind := range dbKinds {
		b.Run("db="+kind, func(b *testing.B) {
			e := newCmpEnv(b, kind)
			for _, w := range cmpWorkloads() {
				if w.name == "insert-ref-trusted" && e.libTrusted == nil {
					continue // SQLite: nothing is trusted
				}
				b.Run("op="+w.name, func(b *testing.B) {
					b.Run("impl=plain", func(b *testing.B) { w.bench(b, e, false) })
					b.Run("impl=bunhook", func(b *testing.B) { w.bench(b, e, true) })
					b.Run("impl=paired", func(b *testing.B) { w.paired(b, e) })
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
	// libTrusted relies on the composite foreign key invoices -> customers
	// (PostureCheck.TrustForeignKeys); nil on SQLite.
	libTrusted *bun.DB
	ids        []int64 // invoices of tenant A, in id order
	cust       int64   // a customer of tenant A
	ctx        context.Context
}

func newCmpEnv(b testing.TB, kind string) *cmpEnv {
	b.Helper()
	td := openDB(b, &testDB{kind: kind, memory: kind == "sqlite"})
	e := &cmpEnv{lib: td.db, plain: td.raw, ctx: tenantCtx(b, "A")}
	if kind == "pgx" {
		// plain bun over pgx's database/sql driver, like the enforced handle
		e.plain = bun.NewDB(stdlib.OpenDB(*mustPgxConfig(b, td.dsn)), pgdialect.New())
		b.Cleanup(func() { _ = e.plain.Close() })
	}
	if kind != "sqlite" {
		// The safe shape of the reference: both sides pay the database's
		// foreign-key check; bunhook adds its own query unless trusted.
		td.rawExec(b, "ALTER TABLE customers ADD CONSTRAINT customers_tenant_key UNIQUE (tenant_id, id)",
			"ALTER TABLE invoices ADD CONSTRAINT invoices_customer_fk FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)")
		e.libTrusted = reopen(b, td, bunhook.WithPostureCheck(bunhook.PostureCheck{
			FailAt: posture.Critical + 1, Warn: func(*posture.Report) {}, TrustForeignKeys: true}))
		e.libTrusted.SetMaxOpenConns(cmpConns)
		e.libTrusted.SetMaxIdleConns(cmpConns)
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
func (e *cmpEnv) seed(b testing.TB) {
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

// cmpWorkload is one row of the comparison: run executes one statement
// (the i-th of a sequence) on one side.
type cmpWorkload struct {
	name     string
	run      func(e *cmpEnv, lib bool, i int) error
	parallel bool // run from cmpConns goroutines at once (q/s = 1e9 / ns/op)
}

func (w cmpWorkload) bench(b *testing.B, e *cmpEnv, lib bool) {
	b.ReportAllocs()
	if w.parallel {
		b.SetParallelism(max(1, cmpConns/runtime.GOMAXPROCS(0)))
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := w.run(e, lib, int(next.Add(1))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		return
	}
	i := 0
	for b.Loop() {
		i++
		if err := w.run(e, lib, i); err != nil {
			b.Fatal(err)
		}
	}
}

// paired runs plain and bunhook alternately (in turn first), timing each
// statement, and reports each side's time per statement. In parallel,
// every goroutine alternates.
func (w cmpWorkload) paired(b *testing.B, e *cmpEnv) {
	var plain, lib atomic.Int64
	one := func(i int) error {
		first := i%2 == 0 // which side goes first alternates too
		for _, isLib := range [2]bool{!first, first} {
			start := time.Now()
			if err := w.run(e, isLib, i); err != nil {
				return err
			}
			if d := time.Since(start).Nanoseconds(); isLib {
				lib.Add(d)
			} else {
				plain.Add(d)
			}
		}
		return nil
	}
	if w.parallel {
		b.SetParallelism(max(1, cmpConns/runtime.GOMAXPROCS(0)))
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := one(int(next.Add(1))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		i := 0
		for b.Loop() {
			i++
			if err := one(i); err != nil {
				b.Fatal(err)
			}
		}
	}
	// In parallel the sums add up the goroutines' times: per statement
	// they are latencies, and their ratio is the throughput ratio.
	b.ReportMetric(float64(plain.Load())/float64(b.N), "plain-ns/op")
	b.ReportMetric(float64(lib.Load())/float64(b.N), "bunhook-ns/op")
}

func cmpWorkloads() []cmpWorkload {
	ws := []cmpWorkload{
		{name: "point", run: func(e *cmpEnv, lib bool, i int) error {
			db, ctx := e.db(lib)
			return pointSelect(ctx, db, lib, e.ids[i%len(e.ids)])
		}},
		{name: "point-traced", run: func(e *cmpEnv, lib bool, i int) error {
			// bunhook with its spans against plain bun with bunotel alone
			if lib {
				return pointSelect(e.ctx, e.libTraced, true, e.ids[i%len(e.ids)])
			}
			return pointSelect(context.Background(), e.plainTraced, false, e.ids[i%len(e.ids)])
		}},
		{name: "parallel16", parallel: true, run: func(e *cmpEnv, lib bool, i int) error {
			db, ctx := e.db(lib)
			return pointSelect(ctx, db, lib, e.ids[(i*7)%len(e.ids)])
		}},
		{name: "insert", run: func(e *cmpEnv, lib bool, _ int) error { return insertOne(e, lib, 0) }},
		{name: "insert-ref", run: func(e *cmpEnv, lib bool, _ int) error { return insertOne(e, lib, e.cust) }},
		{name: "insert-ref-trusted", run: func(e *cmpEnv, lib bool, _ int) error {
			if !lib {
				return insertOne(e, false, e.cust)
			}
			_, err := e.libTrusted.NewInsert().Model(&Invoice{Number: "n", CustomerID: e.cust}).Exec(e.ctx)
			return err
		}},
		{name: "update", run: updateOne},
		{name: "bulk10000", run: bulkInsert(10000)},
	}
	for _, k := range []int{0, 1, 2, 4, 8} {
		ws = append(ws, cmpWorkload{name: fmt.Sprintf("joins=%d", k), run: joinSelect(k)})
	}
	for _, n := range []int{1, 10, 100, 1000} {
		ws = append(ws, cmpWorkload{name: fmt.Sprintf("in=%d", n), run: func(e *cmpEnv, lib bool, i int) error {
			db, ctx := e.db(lib)
			start := (i * n) % (len(e.ids) - n)
			return sel(db, lib, many(lib, n)).Where("?TableAlias.id IN (?)", bun.List(e.ids[start:start+n])).Scan(ctx)
		}})
	}
	for _, n := range []int{1, 100, 10000} {
		ws = append(ws, cmpWorkload{name: fmt.Sprintf("rows=%d", n), run: func(e *cmpEnv, lib bool, _ int) error {
			db, ctx := e.db(lib)
			return sel(db, lib, many(lib, n)).OrderExpr("?TableAlias.id").Limit(int64(n)).Scan(ctx)
		}})
	}
	return ws
}

// pointSelect: a SELECT by primary key.
func pointSelect(ctx context.Context, db *bun.DB, lib bool, id int64) error {
	return sel(db, lib, one(lib)).Where("?TableAlias.id = ?", id).Scan(ctx)
}

// insertOne: a single-row model INSERT (bunhook fills the tenant), with or
// without a reference to a customer (which bunhook checks).
func insertOne(e *cmpEnv, lib bool, cust int64) error {
	db, ctx := e.db(lib)
	var m any
	if lib {
		m = &Invoice{Number: "n", CustomerID: cust}
	} else {
		m = &PlainInvoice{TenantID: "A", Number: "n", CustomerID: cust}
	}
	_, err := db.NewInsert().Model(m).Exec(ctx)
	return err
}

// updateOne: a single-row UPDATE of one column by primary key.
func updateOne(e *cmpEnv, lib bool, i int) error {
	db, ctx := e.db(lib)
	id := e.ids[i%len(e.ids)]
	var q *bun.UpdateQuery
	if lib {
		q = db.NewUpdate().Model(&Invoice{ID: id, Number: "u"})
	} else {
		q = db.NewUpdate().Model(&PlainInvoice{ID: id, Number: "u"}).Where("?TableAlias.tenant_id = ?", "A")
	}
	_, err := q.Column("number").WherePK().Exec(ctx)
	return err
}

// bulkInsert: one INSERT of n rows, all referencing one customer. The row
// slices are reused (not safe for parallel runs).
func bulkInsert(n int) func(e *cmpEnv, lib bool, _ int) error {
	libRows := make([]Invoice, n)
	plainRows := make([]PlainInvoice, n)
	return func(e *cmpEnv, lib bool, _ int) error {
		db, ctx := e.db(lib)
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
		return err
	}
}

// joinSelect: a point select joined to k customers aliases, each joined on
// the same tenant (written once for both sides).
func joinSelect(k int) func(e *cmpEnv, lib bool, i int) error {
	joins := make([]string, k)
	for j := range joins {
		joins[j] = fmt.Sprintf("JOIN customers AS c%d ON c%d.id = invoice.customer_id AND c%d.tenant_id = invoice.tenant_id", j, j, j)
	}
	return func(e *cmpEnv, lib bool, i int) error {
		db, ctx := e.db(lib)
		q := sel(db, lib, one(lib)).Where("?TableAlias.id = ?", e.ids[i%len(e.ids)])
		for _, j := range joins {
			q = q.Join(j)
		}
		return q.Scan(ctx)
	}
}
