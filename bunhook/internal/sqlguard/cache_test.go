package sqlguard

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// uncached returns a copy of g that parses every statement.
func uncached(g *Guard) *Guard {
	c := *g
	c.cache = nil
	return &c
}

// keyOf returns the cache key of sql under tenant, and whether it has one.
func keyOf(sql, tenant string) (string, bool) {
	c := checkerPool.Get().(*checker)
	defer func() { c.reset(); checkerPool.Put(c) }()
	if !c.cacheKey(sql, tenant) {
		return "", false
	}
	return string(c.key), true
}

// renumber replaces the integer literals the key masks (found by walking
// the key beside the text) with next(i) for the i-th one.
func renumber(t testing.TB, sql, tenant string, next func(i int) string) string {
	t.Helper()
	key, ok := keyOf(sql, tenant)
	if !ok {
		t.Fatalf("no key for %q", sql)
	}
	key = key[len(tenant)+1:]
	var b strings.Builder
	i, n := 0, 0
	for k := 0; k < len(key); k++ {
		if key[k] != numMark {
			if sql[i] != key[k] {
				t.Fatalf("key and text diverge at %d: %q / %q", i, sql, key)
			}
			b.WriteByte(sql[i])
			i++
			continue
		}
		j := i
		for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
			j++
		}
		if j == i {
			t.Fatalf("marker without digits at %d in %q", i, sql)
		}
		b.WriteString(next(n))
		n++
		i = j
	}
	if i != len(sql) {
		t.Fatalf("key ends before the text: %q / %q", sql, key)
	}
	return b.String()
}

// sameVerdict compares what a cached verdict carries.
func sameVerdict(a, b Verdict) bool {
	return a.OK() == b.OK() && a.Kind == b.Kind && a.Operation == b.Operation &&
		slices.Equal(a.Tables.Slice(), b.Tables.Slice())
}

func TestVerdictCacheKeys(t *testing.T) {
	same := [][2]string{
		{`SELECT * FROM invoices WHERE tenant_id = 'A' AND id = 1`, `SELECT * FROM invoices WHERE tenant_id = 'A' AND id = 987654321`},
		{`SELECT * FROM invoices WHERE tenant_id = 'A' AND id IN (1, 2, 3) LIMIT 10`, `SELECT * FROM invoices WHERE tenant_id = 'A' AND id IN (4, 5, 6) LIMIT 1`},
		{`UPDATE invoices SET n = -5 WHERE tenant_id = 'A'`, `UPDATE invoices SET n = -6 WHERE tenant_id = 'A'`},
	}
	for _, p := range same {
		k1, ok1 := keyOf(p[0], "A")
		k2, ok2 := keyOf(p[1], "A")
		if !ok1 || !ok2 || k1 != k2 {
			t.Errorf("want one key for\n  %s\n  %s", p[0], p[1])
		}
	}
	differ := [][2]string{
		// the tenant literal, names with digits, decimals, exponents, hex,
		// MySQL names that start with a digit, digits in strings and
		// quoted names, and the number of literals
		{`SELECT * FROM invoices WHERE tenant_id = 'A'`, `SELECT * FROM invoices WHERE tenant_id = 'B'`},
		{`SELECT * FROM t1 WHERE tenant_id = 'A'`, `SELECT * FROM t2 WHERE tenant_id = 'A'`},
		{`SELECT 1.5 FROM invoices WHERE tenant_id = 'A'`, `SELECT 1.6 FROM invoices WHERE tenant_id = 'A'`},
		{`SELECT 1e5 FROM invoices WHERE tenant_id = 'A'`, `SELECT 1e6 FROM invoices WHERE tenant_id = 'A'`},
		{`SELECT 0x1F FROM invoices WHERE tenant_id = 'A'`, `SELECT 0x2F FROM invoices WHERE tenant_id = 'A'`},
		{"SELECT * FROM 1a WHERE tenant_id = 'A'", "SELECT * FROM 2a WHERE tenant_id = 'A'"},
		{`SELECT * FROM invoices WHERE tenant_id = '1'`, `SELECT * FROM invoices WHERE tenant_id = '2'`},
		{`SELECT "1" FROM invoices WHERE tenant_id = 'A'`, `SELECT "2" FROM invoices WHERE tenant_id = 'A'`},
		{"SELECT `1` FROM invoices WHERE tenant_id = 'A'", "SELECT `2` FROM invoices WHERE tenant_id = 'A'"},
		{`SELECT * FROM invoices WHERE tenant_id = 'A' AND id IN (1, 2)`, `SELECT * FROM invoices WHERE tenant_id = 'A' AND id IN (1, 2, 3)`},
		{`SELECT * FROM t.1 WHERE tenant_id = 'A'`, `SELECT * FROM t.2 WHERE tenant_id = 'A'`},
	}
	for _, p := range differ {
		k1, ok1 := keyOf(p[0], "A")
		k2, ok2 := keyOf(p[1], "A")
		if ok1 && ok2 && k1 == k2 {
			t.Errorf("one key for\n  %s\n  %s", p[0], p[1])
		}
	}
	if k1, _ := keyOf(`SELECT * FROM invoices WHERE tenant_id = 'A'`, "A"); k1 == func() string { k, _ := keyOf(`SELECT * FROM invoices WHERE tenant_id = 'A'`, "B"); return k }() {
		t.Error("the key does not hold the tenant")
	}
	never := []string{
		"SELECT * FROM invoices WHERE tenant_id = 'A' -- 1",
		"SELECT * FROM invoices WHERE tenant_id = 'A' /* 1 */",
		"SELECT * FROM invoices WHERE tenant_id = 'A' # 1",
		`SELECT * FROM invoices WHERE tenant_id = 'A\' OR 1 = 1 -- '`,
		"SELECT * FROM invoices WHERE tenant_id = $$A$$",
		"SELECT * FROM invoices WHERE tenant_id = $1",
		"SELECT * FROM [1] WHERE tenant_id = 'A'",
		"SELECT * FROM invoicesÄ WHERE tenant_id = 'A'",
		"SELECT * FROM invoices WHERE tenant_id = 'A' AND \x01",
		"SELECT * FROM invoices WHERE tenant_id = 'A' AND x = 'b\x01'",
		"SELECT * FROM invoices WHERE tenant_id = 'A",
		"SELECT * FROM invoices WHERE tenant_id = 'A' AND x = '" + strings.Repeat("y", maxCachedLen) + "'",
	}
	for _, s := range never {
		if _, ok := keyOf(s, "A"); ok {
			t.Errorf("cached: %q", s)
		}
	}
}

// allRawCases are the raw SQL test cases of the package.
func allRawCases() []rawCase {
	return slices.Concat(rawPredicateCases, rawLexicalCases, rawQueryCases, rawWriteCases, rawRefusedCases)
}

// TestVerdictCacheSound checks the property the cache rests on, against the
// uncached checker: statements that differ only in the integer literals
// the key masks get the same verdict, from Check and from Admit. It runs
// every raw case of the package (and its renumbered copies) on every
// dialect, open and closed world.
func TestVerdictCacheSound(t *testing.T) {
	checked := 0
	for _, d := range []Dialect{Postgres, SQLite, MySQL} {
		for _, g := range []*Guard{New(d, corpusTables), New(d, corpusTables, ClosedWorld(), WithShared("currencies"))} {
			plain := uncached(g)
			for _, rc := range allRawCases() {
				tenant := rc.tenant
				if tenant == "" {
					tenant = tenantA
				}
				if _, ok := keyOf(rc.sql, tenant); !ok {
					continue
				}
				want := plain.Check(rc.sql, tenant)
				for _, next := range []func(int) string{
					func(int) string { return "0" },
					func(i int) string { return strconv.Itoa(987654321 + i) },
				} {
					other := renumber(t, rc.sql, tenant, next)
					k1, _ := keyOf(rc.sql, tenant)
					if k2, ok := keyOf(other, tenant); !ok || k1 != k2 {
						t.Fatalf("renumbered text has another key:\n  %s\n  %s", rc.sql, other)
					}
					got := plain.Check(other, tenant)
					if !sameVerdict(want, got) {
						t.Errorf("%v: verdicts differ with other numbers:\n  %s => %v\n  %s => %v", d, rc.sql, want, other, got)
					}
					// and the cache answers like the parser, in both orders
					if v := g.Check(rc.sql, tenant); !sameVerdict(v, want) || (!v.OK() && v.Finding.String() != want.Finding.String()) {
						t.Errorf("cached %v, parsed %v: %s", v, want, rc.sql)
					}
					if v := g.Check(other, tenant); !sameVerdict(v, got) {
						t.Errorf("cached %v, parsed %v: %s", v, got, other)
					}
					// Admit (cached under its own key) likewise
					if a, b := plain.Admit(rc.sql), plain.Admit(other); !sameVerdict(a, b) {
						t.Errorf("%v: Admit differs with other numbers:\n  %s => %v\n  %s => %v", d, rc.sql, a, other, b)
					} else if v := g.Admit(other); !sameVerdict(v, b) {
						t.Errorf("cached Admit %v, parsed %v: %s", v, b, other)
					}
				}
				checked++
			}
		}
	}
	if checked < 500 {
		t.Errorf("only %d cases had a key: the key scan refuses too much", checked)
	}
}

// TestVerdictCacheRefusedNotCached: a refused statement gets its full
// finding every time, and a verified one is verified for its tenant only.
func TestVerdictCacheRefusedNotCached(t *testing.T) {
	g := New(Postgres, corpusTables, ClosedWorld())
	bad := `SELECT * FROM invoices WHERE tenant_id = 'A' OR id = 1`
	for range 3 {
		v := g.Check(bad, "A")
		if v.OK() || v.Findings == 0 || v.Finding.Code != OrEscape {
			t.Fatalf("refused statement: %v", v)
		}
	}
	ok := `SELECT * FROM invoices WHERE tenant_id = 'A' AND id = 1`
	if v := g.Check(ok, "A"); !v.OK() {
		t.Fatal(v)
	}
	if v := g.Check(ok, "B"); v.OK() {
		t.Fatal("A's statement verified for B")
	}
	if v := g.Check(`SELECT * FROM invoices WHERE tenant_id = 'A' AND id = 2`, "B"); v.OK() {
		t.Fatal("A's statement verified for B with another id")
	}
}

// FuzzVerdictCache: for any text the key scan accepts, renumbering its
// masked literals keeps the key and the uncached verdict.
func FuzzVerdictCache(f *testing.F) {
	for _, rc := range allRawCases() {
		f.Add(rc.sql, uint64(7))
	}
	guards := []*Guard{uncached(New(Postgres, corpusTables, ClosedWorld())), uncached(New(SQLite, corpusTables)),
		uncached(New(MySQL, corpusTables, ClosedWorld()))}
	f.Fuzz(func(t *testing.T, sql string, seed uint64) {
		k1, ok := keyOf(sql, tenantA)
		if !ok {
			return
		}
		other := renumber(t, sql, tenantA, func(i int) string {
			return strconv.FormatUint(seed+uint64(i)*7919, 10)
		})
		if k2, ok := keyOf(other, tenantA); !ok || k1 != k2 {
			t.Fatalf("renumbered text has another key:\n  %q\n  %q", sql, other)
		}
		for _, g := range guards {
			if a, b := g.Check(sql, tenantA), g.Check(other, tenantA); !sameVerdict(a, b) {
				t.Fatalf("%v: verdicts differ with other numbers:\n  %q => %v\n  %q => %v", g.dialect, sql, a, other, b)
			}
			if a, b := g.Admit(sql), g.Admit(other); !sameVerdict(a, b) {
				t.Fatalf("%v: Admit differs with other numbers:\n  %q => %v\n  %q => %v", g.dialect, sql, a, other, b)
			}
		}
	})
}
