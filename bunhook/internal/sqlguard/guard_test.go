package sqlguard

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

type dset uint8

const (
	pg dset = 1 << iota
	lite
	my
	all = pg | lite | my
)

func (s dset) has(d Dialect) bool {
	switch d {
	case Postgres:
		return s&pg != 0
	case SQLite:
		return s&lite != 0
	case MySQL:
		return s&my != 0
	}
	return false
}

type rawCase struct {
	on     dset
	sql    string
	tenant string // "A" when empty
	want   want
}

func w(kind Kind, op string, code Code, tables ...string) want {
	return want{kind: kind, op: op, code: code, tables: tables}
}

func S(code Code, tables ...string) want { return w(Select, "SELECT", code, tables...) }

const inv = "invoices"

// rawCases are hand-written statements with their verdicts, by family
// (rawcases_test.go, rawcases_write_test.go), in a fixed order: a case's
// index names its subtest.
var rawCases = slices.Concat(rawPredicateCases, rawLexicalCases, rawQueryCases, rawWriteCases, rawRefusedCases)

func TestRawCases(t *testing.T) {
	guards := map[Dialect]*Guard{}
	for _, d := range []Dialect{Postgres, SQLite, MySQL} {
		guards[d] = New(d, corpusTables)
	}
	for i, tc := range rawCases {
		for _, d := range []Dialect{Postgres, SQLite, MySQL} {
			if !tc.on.has(d) {
				continue
			}
			name := fmt.Sprintf("%03d/%s/%s", i, d, tc.sql)
			if len(name) > 90 {
				name = name[:90]
			}
			t.Run(name, func(t *testing.T) {
				tenant := tc.tenant
				switch tenant {
				case "":
					tenant = tenantA
				case "\x00empty":
					tenant = ""
				}
				g := guards[d]
				v := g.Check(tc.sql, tenant)
				assertVerdict(t, tc.sql, v, tc.want)
				if !g.Mentions(tc.sql) && !v.OK() {
					t.Errorf("Mentions=false but Check is not OK")
				}
			})
		}
	}
}

func TestMentions(t *testing.T) {
	g := New(Postgres, corpusTables)
	for _, tc := range []struct {
		sql  string
		want bool
	}{
		{`SELECT 1`, false},
		{`SELECT * FROM currencies`, false},
		{`SELECT * FROM invoices`, true},
		{`SELECT * FROM "INVOICES"`, true},
		{`SELECT 'invoices'`, true},
		{`-- invoices` + "\nSELECT 1", true},
		{`SELECT * FROM my_invoices`, false},
		{`SELECT * FROM invoices2`, false},
		{`SELECT * FROM public.invoices`, true},
		{`SELECT $$x$$ FROM invoices$x$`, true},
		{`SELECT * FROM U&"\0069nvoices"`, true},
		{`SELECT * FROM "invoicesé"`, false},
		{`SELECT database_to_xml(true, true, '')`, true},
	} {
		if got := g.Mentions(tc.sql); got != tc.want {
			t.Errorf("Mentions(%q) = %v, want %v", tc.sql, got, tc.want)
		}
	}
	if New(Postgres, nil).Mentions(`SELECT * FROM invoices`) {
		t.Error("a guard without tenant tables mentions nothing")
	}
}

func TestNewValidation(t *testing.T) {
	for _, m := range []map[string]string{
		{"": "tenant_id"},
		{"invoices": ""},
		{"in voices": "tenant_id"},
		{"invoices": "tenant-id"},
		{"1invoices": "tenant_id"},
		{"invoices": "tenant_id", "INVOICES": "owner_id"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%v) did not panic", m)
				}
			}()
			New(Postgres, m)
		}()
	}
	g := New(MySQL, map[string]string{"Invoices": "tenant_id", "invoices": "tenant_id"})
	if col, ok := g.TenantColumn("INVOICES"); !ok || col != "tenant_id" {
		t.Errorf("TenantColumn = %q, %v", col, ok)
	}
	if g.Dialect() != MySQL {
		t.Error("Dialect()")
	}
}

func TestTenantColumnName(t *testing.T) {
	g := New(Postgres, map[string]string{"invoices": "org_id"})
	if v := g.Check(`SELECT * FROM invoices WHERE org_id = 'A'`, "A"); !v.OK() {
		t.Errorf("org_id: %v", v)
	}
	if v := g.Check(`SELECT * FROM invoices WHERE tenant_id = 'A'`, "A"); v.OK() {
		t.Errorf("tenant_id is not the tenant column: %v", v)
	}
	g = New(Postgres, map[string]string{"invoices": "OrgID"})
	if v := g.Check(`SELECT * FROM invoices WHERE "OrgID" = 'A'`, "A"); !v.OK() {
		t.Errorf("quoted mixed-case column: %v", v)
	}
	if v := g.Check(`SELECT * FROM invoices WHERE OrgID = 'A'`, "A"); v.OK() {
		t.Errorf("unquoted OrgID folds to orgid on PostgreSQL: %v", v)
	}
}

func TestVerdictHelpers(t *testing.T) {
	g := New(Postgres, corpusTables)
	v := g.Check(`SELECT * FROM invoices i, customers c, items t, invoices i2, customers c2, items t2 WHERE x = 1`, "A")
	if v.OK() || v.Findings != 6 || v.Tables.Len() != 3 {
		t.Fatalf("verdict: %v findings=%d", v, v.Findings)
	}
	if !v.Tables.Contains("items") || v.Tables.Contains("currencies") {
		t.Error("Contains")
	}
	if s := v.String(); !strings.Contains(s, "MissingPredicate") {
		t.Errorf("String() = %q", s)
	}
	var tl TableList
	for i := 0; i < 10; i++ {
		tl.add(fmt.Sprint("t", i))
		tl.add("t0")
	}
	if tl.Len() != 10 || tl.At(9) != "t9" || !slices.Equal(tl.Slice()[:2], []string{"t0", "t1"}) {
		t.Errorf("TableList overflow: %v", tl)
	}
	for _, k := range []Kind{Select, Insert, Update, Delete, Merge, Truncate, DDL, TxControl, Other, 0} {
		_ = k.String()
	}
	for c := Code(0); c <= ParseError+1; c++ {
		_ = c.String()
	}
	for _, d := range []Dialect{Postgres, SQLite, MySQL, 0} {
		_ = d.String()
	}
	if (*Finding)(nil).String() != "<nil>" {
		t.Error("nil finding")
	}
}

// TestPosAndDetail checks that findings point into the text and explain
// themselves.
func TestPosAndDetail(t *testing.T) {
	g := New(Postgres, corpusTables)
	q := `SELECT * FROM customers c JOIN invoices i ON i.id = c.id WHERE c.tenant_id = 'A'`
	v := g.Check(q, "A")
	if v.OK() || v.Finding.Table != "invoices" || !strings.HasPrefix(q[v.Finding.Pos:], "invoices") ||
		!strings.Contains(v.Finding.Detail, "i.tenant_id") {
		t.Errorf("finding = %+v", v.Finding)
	}
}

func TestPostgresIdentifierTruncation(t *testing.T) {
	long := strings.Repeat("t", pgMaxIdent)
	g := New(Postgres, map[string]string{long: "tenant_id"})
	v := g.Check(`SELECT * FROM `+long+`_suffix_truncated_by_postgres`, "A")
	if v.OK() || v.Tables.Len() != 1 {
		t.Errorf("truncated identifier names the tenant table: %v", v)
	}
	if v := g.Check(`SELECT * FROM "`+long+`xyz" WHERE x = 1`, "A"); v.OK() {
		t.Errorf("truncated quoted identifier names the tenant table: %v", v)
	}
	if !g.Mentions(`SELECT * FROM "` + long + `xyz"`) {
		t.Error("Mentions must see the truncated name")
	}
	g = New(MySQL, map[string]string{long: "tenant_id"})
	if v := g.Check(`SELECT * FROM `+long+`x`, "A"); !v.OK() {
		t.Errorf("MySQL does not truncate identifiers: %v", v)
	}
}

// TestPathological checks that adversarial shapes are refused or verified
// sensibly, within the work budget, and with work linear in their size.
// Work is the checker's step counter (checkSteps), not time: a shape of
// size n is also built at n/2, and the steps may at most double (2.2x, a
// quadratic path would take 4x).
func TestPathological(t *testing.T) {
	g := New(Postgres, corpusTables)
	big := func(parts ...string) string { return strings.Join(parts, "") }
	cases := []struct {
		name string
		n    int
		sql  func(n int) string
		ok   bool
	}{
		{"deep parens", 200, func(n int) string {
			return big("SELECT * FROM invoices WHERE tenant_id = 'A' AND ", strings.Repeat("(", n), "1", strings.Repeat(")", n))
		}, true},
		{"too deep", 5000, func(n int) string {
			return big("SELECT * FROM invoices WHERE tenant_id = 'A' AND ", strings.Repeat("(", n), "1", strings.Repeat(")", n))
		}, false},
		{"deep subqueries", 100, func(n int) string {
			return big("SELECT * FROM invoices WHERE tenant_id = 'A' AND id IN ",
				strings.Repeat("(SELECT id FROM invoices WHERE tenant_id = 'A' AND id IN ", n), "(1)", strings.Repeat(")", n))
		}, true},
		{"many conjuncts", 20000, func(n int) string {
			return big("SELECT * FROM invoices WHERE ", strings.Repeat("x = 1 AND ", n), "tenant_id = 'A'")
		}, true},
		{"many tables", 2000, func(n int) string {
			return big("SELECT * FROM invoices i0", strings.Repeat(", currencies", n), " WHERE i0.tenant_id = 'A'")
		}, false},
		{"many joins", 300, func(n int) string {
			return big("SELECT * FROM invoices i", strings.Repeat(" JOIN items t ON t.tenant_id = 'A'", n), " WHERE i.tenant_id = 'A'")
		}, false},
		{"many rows", 50000, func(n int) string {
			return big("INSERT INTO invoices (id, tenant_id) VALUES (1, 'A')", strings.Repeat(", (1, 'A')", n))
		}, true},
		{"long identifier", 100000, func(n int) string {
			return big("SELECT * FROM invoices WHERE tenant_id = 'A' AND x", strings.Repeat("é", n), " = 1")
		}, true},
		{"long non-ASCII identifiers", 20000, func(n int) string {
			return big("SELECT * FROM invoices WHERE tenant_id = 'A' AND x = 1", strings.Repeat(" AND é", n))
		}, true},
		{"long string", 200000, func(n int) string {
			return big("SELECT * FROM invoices WHERE tenant_id = 'A' AND x = '", strings.Repeat("''", n), "'")
		}, true},
		{"long comment", 100000, func(n int) string {
			return big("SELECT * FROM invoices WHERE tenant_id = 'A' /*", strings.Repeat("/*", n), strings.Repeat("*/", n+1))
		}, true},
		{"many unions", 3000, func(n int) string {
			return big("SELECT 1 FROM invoices WHERE tenant_id = 'A'", strings.Repeat(" UNION SELECT 1 FROM invoices WHERE tenant_id = 'A'", n))
		}, true},
	}
	for _, tc := range cases {
		sql := tc.sql(tc.n)
		v, steps := g.checkSteps(sql, "A")
		if v.OK() != tc.ok {
			t.Errorf("%s: OK=%v, want %v (%v)", tc.name, v.OK(), tc.ok, v.Finding)
		}
		if got := g.Check(sql, "A"); got.String() != v.String() {
			t.Errorf("%s: checkSteps = %v, Check = %v", tc.name, v, got)
		}
		if v.Finding != nil && v.Finding.Detail == tooMuchWork {
			t.Errorf("%s: refused for its work: %d steps", tc.name, steps)
		}
		if toks := tokenCount(g, sql); steps > budget(toks) {
			t.Errorf("%s: %d steps for %d tokens, over the budget %d", tc.name, steps, toks, budget(toks))
		}
		_, half := g.checkSteps(tc.sql(tc.n/2), "A")
		if 10*steps > 22*half+10*scalingSlack {
			t.Errorf("%s: %d steps at size %d, %d at size %d: more than linear", tc.name, steps, tc.n, half, tc.n/2)
		}
	}
}

// TestConcurrent uses one Guard from many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	g := New(Postgres, corpusTables)
	queries := []string{
		`SELECT * FROM invoices WHERE tenant_id = 'A'`,
		`SELECT * FROM invoices WHERE tenant_id = 'A' OR 1=1`,
		`INSERT INTO invoices (id, tenant_id) VALUES (1, 'B')`,
		`UPDATE invoices SET tenant_id = 'C' WHERE tenant_id = 'A'`,
	}
	want := make([]string, len(queries))
	for i, q := range queries {
		want[i] = g.Check(q, "A").String()
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 500; n++ {
				i := (n + w) % len(queries)
				if got := g.Check(queries[i], "A").String(); got != want[i] {
					t.Errorf("concurrent Check(%q) = %s, want %s", queries[i], got, want[i])
					return
				}
				g.Mentions(queries[i])
			}
		}()
	}
	wg.Wait()
}
