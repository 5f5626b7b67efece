package sqlguard

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/uptrace/bun"
)

// benchQueries renders the benchmark statements with bun (PostgreSQL).
func benchQueries(tb testing.TB) (point, join3, insert10, nonTenant string) {
	tb.Helper()
	var d *corpusDB
	for _, x := range corpusDBs() {
		if x.name == "pg" {
			d = x
		}
	}
	point = d.render(tb, func(ctx context.Context, db *bun.DB) error {
		return db.NewSelect().Model(&Invoice{ID: 42}).WherePK().Where("?TableAlias.tenant_id = ?", tenantA).Scan(ctx)
	})
	join3 = d.render(tb, func(ctx context.Context, db *bun.DB) error {
		var is []Invoice
		return db.NewSelect().Model(&is).
			Join("JOIN customers AS c").JoinOn("c.id = invoice.customer_id").JoinOn("c.tenant_id = ?", tenantA).
			Join("LEFT JOIN items AS it").JoinOn("it.invoice_id = invoice.id").JoinOn("it.tenant_id = ?", tenantA).
			Where("?TableAlias.tenant_id = ?", tenantA).Where("c.name LIKE ?", "Acme%").
			Order("invoice.id").Limit(50).Scan(ctx)
	})
	insert10 = d.render(tb, func(ctx context.Context, db *bun.DB) error {
		rows := make([]Invoice, 10)
		for i := range rows {
			rows[i] = Invoice{ID: int64(i + 1), TenantID: tenantA, Number: "INV-0001", CustomerID: 7}
		}
		_, err := db.NewInsert().Model(&rows).Exec(ctx)
		return err
	})
	nonTenant = d.render(tb, func(ctx context.Context, db *bun.DB) error {
		var cs []Currency
		return db.NewSelect().Model(&cs).Where("?TableAlias.code IN (?)", bun.List([]string{"EUR", "USD"})).Scan(ctx)
	})
	return
}

// benchGuard is the guard as bunhook builds it: a closed world with the
// corpus's shared table.
func benchGuard() *Guard {
	return New(Postgres, corpusTables, ClosedWorld(), WithShared("currencies"))
}

func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	g := benchGuard()
	point, join3, insert10, nonTenant := benchQueries(t)
	// a statement of more tokens than a pooled checker keeps (keepToks):
	// it lexes into the one kept large buffer
	long := "INSERT INTO invoices (id, tenant_id, number) VALUES " +
		strings.TrimSuffix(strings.Repeat("(1, 'A', 'n'), ", 2000), ", ")
	for name, q := range map[string]string{"point": point, "join3": join3, "insert10": insert10, "nonTenant": nonTenant, "long": long} {
		if v := g.Check(q, tenantA); !v.OK() {
			t.Fatalf("%s not verified: %v\n%s", name, v, q)
		}
		if n := testing.AllocsPerRun(200, func() { g.Check(q, tenantA) }); n != 0 {
			t.Errorf("Check(%s) allocates %v times per run", name, n)
		}
		if n := testing.AllocsPerRun(200, func() { g.Mentions(q) }); n != 0 {
			t.Errorf("Mentions(%s) allocates %v times per run", name, n)
		}
		if g.Mentions(q) {
			continue // Admit is for statements that name no tenant table
		}
		if !g.Admit(q).OK() {
			t.Fatalf("%s not admitted: %v", name, g.Admit(q))
		}
		if n := testing.AllocsPerRun(200, func() { g.Admit(q) }); n != 0 {
			t.Errorf("Admit(%s) allocates %v times per run", name, n)
		}
	}
}

func BenchmarkCheckPointSelect(b *testing.B) {
	g := uncached(benchGuard()) // the parser's cost; see BenchmarkCheckCached
	q, _, _, _ := benchQueries(b)
	b.SetBytes(int64(len(q)))
	b.ReportAllocs()
	for b.Loop() {
		if !g.Check(q, tenantA).OK() {
			b.Fatal("not verified")
		}
	}
}

func BenchmarkCheckJoin3(b *testing.B) {
	g := uncached(benchGuard()) // the parser's cost; see BenchmarkCheckCached
	_, q, _, _ := benchQueries(b)
	b.SetBytes(int64(len(q)))
	b.ReportAllocs()
	for b.Loop() {
		if !g.Check(q, tenantA).OK() {
			b.Fatal("not verified")
		}
	}
}

func BenchmarkCheckInsert10(b *testing.B) {
	g := uncached(benchGuard()) // the parser's cost; see BenchmarkCheckCached
	_, _, q, _ := benchQueries(b)
	b.SetBytes(int64(len(q)))
	b.ReportAllocs()
	for b.Loop() {
		if !g.Check(q, tenantA).OK() {
			b.Fatal("not verified")
		}
	}
}

func BenchmarkMentionsNonTenant(b *testing.B) {
	g := benchGuard()
	_, _, _, q := benchQueries(b)
	b.SetBytes(int64(len(q)))
	b.ReportAllocs()
	for b.Loop() {
		if g.Mentions(q) {
			b.Fatal("mentions")
		}
	}
}

func BenchmarkMentionsPointSelect(b *testing.B) {
	g := benchGuard()
	q, _, _, _ := benchQueries(b)
	b.SetBytes(int64(len(q)))
	b.ReportAllocs()
	for b.Loop() {
		if !g.Mentions(q) {
			b.Fatal("no mention")
		}
	}
}

func BenchmarkCheckNonTenant(b *testing.B) {
	g := uncached(benchGuard()) // the parser's cost; see BenchmarkCheckCached
	_, _, _, q := benchQueries(b)
	b.ReportAllocs()
	for b.Loop() {
		if !g.Check(q, tenantA).OK() {
			b.Fatal("not verified")
		}
	}
}

// BenchmarkAdmitNonTenant is what a statement on shared tables pays under a
// tenant scope for the statement allow-list (Mentions, then Admit).
func BenchmarkAdmitNonTenant(b *testing.B) {
	g := benchGuard()
	_, _, _, q := benchQueries(b)
	b.ReportAllocs()
	for b.Loop() {
		if g.Mentions(q) || !g.Admit(q).OK() {
			b.Fatal("not admitted")
		}
	}
}

func BenchmarkCheckParallel(b *testing.B) {
	g := uncached(benchGuard()) // the parser's cost; see BenchmarkCheckCached
	q, _, _, _ := benchQueries(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !g.Check(q, tenantA).OK() {
				b.Fatal("not verified")
			}
		}
	})
}

// BenchmarkCheckCached is what a statement costs whose shape the guard
// has verified before (the verdict cache, cache.go): bun's point select of
// 1024 different ids, in turn.
func BenchmarkCheckCached(b *testing.B) {
	g := benchGuard()
	point, join3, _, _ := benchQueries(b)
	for name, q := range map[string]string{"point": point, "join3": join3} {
		b.Run(name, func(b *testing.B) {
			qs := make([]string, 1024)
			for i := range qs {
				qs[i] = renumber(b, q, tenantA, func(int) string { return strconv.Itoa(1000 + i) })
			}
			b.SetBytes(int64(len(q)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if !g.Check(qs[i%len(qs)], tenantA).OK() {
					b.Fatal("not verified")
				}
			}
		})
	}
}
