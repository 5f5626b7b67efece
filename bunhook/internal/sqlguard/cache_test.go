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

// TestVerdictCacheSound checks, against the uncached checker, a stronger
// form of the property the cache rests on (which needs it only where every
// masked literal is a number token, see marksAreNumbers): statements that
// differ only in the integer literals the key masks get the same verdict, from Check and from Admit. It runs
// every raw case of the package (and its renumbered copies) on every
// dialect, open and closed world.
func TestVerdictCacheSound(t *testing.T) {
	checked, hits := 0, 0
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
					if _, hit := g.Cached(other, tenant); hit {
						hits++
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
	// The cache must also be used: a renumbered verified statement is
	// answered from it (marksAreNumbers must not refuse ordinary numbers).
	t.Logf("%d cases with a key, %d cache hits", checked, hits)
	if hits < 400 {
		t.Errorf("only %d cache hits for %d cases with a key: verified statements are not cached", hits, checked)
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

// FuzzVerdictCache: for any text the key scan accepts, a statement with the
// same key (its masked literals renumbered) gets from the cached guard, after
// the original was checked, exactly what the parser says of it, from Check,
// Cached and Admit, on every dialect, open and closed world.
func FuzzVerdictCache(f *testing.F) {
	for _, rc := range allRawCases() {
		f.Add(rc.sql, uint64(7))
	}
	for _, ce := range cacheCounterexamples {
		f.Add(ce.a, uint64(1))
	}
	var guards []*Guard
	for _, d := range []Dialect{Postgres, SQLite, MySQL} {
		guards = append(guards, New(d, corpusTables), New(d, corpusTables, ClosedWorld(), WithShared("currencies")))
	}
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
			plain := uncached(g)
			g.Check(sql, tenantA) // may fill the cache
			want := plain.Check(other, tenantA)
			if got := g.Check(other, tenantA); !sameVerdict(got, want) || got.Findings != want.Findings {
				t.Fatalf("%v: after %q, Check(%q) = %v, the parser says %v", g.dialect, sql, other, got, want)
			}
			if v, hit := g.Cached(other, tenantA); hit && (!want.OK() || !sameVerdict(v, want)) {
				t.Fatalf("%v: Cached(%q) = %v, the parser says %v", g.dialect, other, v, want)
			}
			g.Admit(sql)
			if got, want := g.Admit(other), plain.Admit(other); !sameVerdict(got, want) {
				t.Fatalf("%v: after %q, Admit(%q) = %v, the parser says %v", g.dialect, sql, other, got, want)
			}
		}
	})
}

// cacheCounterexamples are pairs with one key where the parser verifies a
// and refuses b (found by a review of the cache): the key's scan masked
// digits that the lexer reads as part of a name. They must not be cached.
var cacheCounterexamples = []struct {
	name  string
	a, b  string
	on    []Dialect
	world []Option
}{
	{"digits after e+ in a name", // 0ae+1 was one identifier token
		`SELECT * FROM invoices AS 0ae+1 WHERE 0ae+1 .tenant_id = 'A'`,
		`SELECT * FROM invoices AS 0ae+2 WHERE 0ae+1 .tenant_id = 'A'`,
		[]Dialect{Postgres, SQLite, MySQL}, nil},
	{"a backtick the scan takes for a quote (PostgreSQL)", // an operator there
		"SELECT 0 ` 0 AS z, * FROM invoices AS \"`1\" -- \"`\n, (SELECT 'A' AS tenant_id) AS \"`2\" -- \"\nWHERE \"`1\".tenant_id = 'A'",
		"SELECT 0 ` 0 AS z, * FROM invoices AS \"`2\" -- \"`\n, (SELECT 'A' AS tenant_id) AS \"`1\" -- \"\nWHERE \"`1\".tenant_id = 'A'",
		[]Dialect{Postgres}, nil},
}

func TestVerdictCacheCounterexamples(t *testing.T) {
	for _, ce := range cacheCounterexamples {
		for _, d := range ce.on {
			for _, world := range [][]Option{nil, {ClosedWorld(), WithShared("currencies")}} {
				g := New(d, corpusTables, world...)
				plain := uncached(g)
				ka, okA := keyOf(ce.a, tenantA)
				kb, okB := keyOf(ce.b, tenantA)
				if okA && okB && ka != kb {
					t.Logf("%s: the keys differ now", ce.name)
				}
				g.Check(ce.a, tenantA)
				want := plain.Check(ce.b, tenantA)
				if got := g.Check(ce.b, tenantA); !sameVerdict(got, want) {
					t.Errorf("%s, %v: Check(b) after Check(a) = %v, the parser says %v", ce.name, d, got, want)
				}
				if v, hit := g.Cached(ce.b, tenantA); hit && !want.OK() {
					t.Errorf("%s, %v: Cached(b) = %v, the parser refuses it: %v", ce.name, d, v, want)
				}
			}
		}
	}
}
