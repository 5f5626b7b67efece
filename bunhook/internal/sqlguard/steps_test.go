package sqlguard

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// checkSteps is Check that also returns the steps the statement took (the
// work counter, checker.steps). Production code never reads the counter.
func (g *Guard) checkSteps(sql, tenant string) (Verdict, int) {
	c := checkerPool.Get().(*checker)
	c.g, c.sql, c.tenant = g, sql, tenant
	c.closed = g.closed && tenant != ""
	v := c.run()
	steps := c.steps
	c.reset()
	checkerPool.Put(c)
	return v, steps
}

// admitSteps is Admit that also returns the steps the statement took.
func (g *Guard) admitSteps(sql string) (Verdict, int) {
	c := checkerPool.Get().(*checker)
	c.g, c.sql = g, sql
	c.closed = g.closed
	v := c.admit()
	steps := c.steps
	c.reset()
	checkerPool.Put(c)
	return v, steps
}

// tokenCount returns the number of tokens the lexer makes of sql.
func tokenCount(g *Guard, sql string) int {
	c := &checker{g: g, sql: sql}
	c.lex()
	return len(c.toks)
}

// budget is the work budget of a statement of n tokens.
func budget(n int) int { return stepsBase + stepsPerToken*n }

// scalingSlack is the constant the linear-scaling checks allow on top of
// 2.2 times the steps at half the size.
const scalingSlack = 16

// withBudget sets the work budget for the rest of the test.
func withBudget(t *testing.T, base, perToken int) {
	t.Helper()
	b, k := stepsBase, stepsPerToken
	stepsBase, stepsPerToken = base, perToken
	t.Cleanup(func() { stepsBase, stepsPerToken = b, k })
}

// TestStepsOfOrdinaryStatements: the hand-written cases and bun's renders
// take at most a quarter of their budget, in Check (open and closed world)
// and in Admit.
func TestStepsOfOrdinaryStatements(t *testing.T) {
	check := func(what string, g *Guard, sql string) {
		t.Helper()
		toks := tokenCount(g, sql)
		_, cs := g.checkSteps(sql, tenantA)
		_, as := g.admitSteps(sql)
		if s := max(cs, as); 4*s > budget(toks) {
			t.Errorf("%s: %d steps for %d tokens, more than a quarter of the budget %d\nSQL: %s",
				what, s, toks, budget(toks), sql)
		}
	}
	for _, d := range []Dialect{Postgres, SQLite, MySQL} {
		g, cg := New(d, corpusTables), New(d, corpusTables, ClosedWorld(), WithShared("currencies"))
		for _, tc := range rawCases {
			if tc.on.has(d) {
				check(d.String(), g, tc.sql)
				check(d.String()+" closed", cg, tc.sql)
			}
		}
	}
	for _, d := range corpusDBs() {
		g := New(d.dialect, corpusTables)
		cg := New(d.dialect, corpusTables, ClosedWorld(), WithShared("currencies"))
		for _, tc := range corpusCases() {
			if len(tc.only) > 0 && !slices.Contains(tc.only, d.name) {
				continue
			}
			q := d.render(t, tc.run)
			check(d.name+"/"+tc.name, g, q)
			check(d.name+"/"+tc.name+" closed", cg, q)
		}
	}
}

// TestStepBudgetFailsClosed: a statement over its work budget is
// Unverifiable (Check) or not admitted (Admit in a closed world), never
// verified.
func TestStepBudgetFailsClosed(t *testing.T) {
	q := `SELECT * FROM invoices i JOIN items t ON t.tenant_id = i.tenant_id WHERE i.tenant_id = 'A' AND i.id IN (SELECT 1 FROM customers c WHERE c.tenant_id = 'A')`
	shared := `SELECT c.code FROM currencies c WHERE c.code IN (SELECT code FROM currencies WHERE name = 'x')`
	// Uncached: the budget is a constant outside tests, so the verdict
	// cache does not key on it.
	g := uncached(New(Postgres, corpusTables))
	cg := uncached(benchGuard()) // the closed world
	if !g.Check(q, tenantA).OK() || !cg.Check(q, tenantA).OK() || !cg.Admit(shared).OK() {
		t.Fatal("the statements are verified within the budget")
	}
	withBudget(t, 0, 2)
	for _, v := range []Verdict{g.Check(q, tenantA), cg.Check(q, tenantA), cg.Admit(shared)} {
		if v.OK() || v.Finding.Code != Unverifiable || v.Finding.Detail != tooMuchWork || v.Findings != 1 {
			t.Errorf("over the budget: %v", v)
		}
	}
	// Without the closed world a statement that names no tenant table is
	// not parsed, so it has nothing to refuse.
	if !g.Check(shared, tenantA).OK() {
		t.Error("a statement on shared tables is not verified")
	}
}

// TestStepBudgetCutsQuadraticWork: shapes whose work grows with the square
// of their size are refused once they outgrow the budget, and the work
// stops close to it.
func TestStepBudgetCutsQuadraticWork(t *testing.T) {
	g := New(Postgres, corpusTables)
	cases := []struct {
		name string
		sql  func(n int) string
	}{
		// Every tenant-column assignment reads the whole VALUES CTE.
		{"assignments x CTE rows", func(n int) string {
			return "WITH d (tenant_id) AS (VALUES ('A')" + strings.Repeat(", ('A')", n) + ") UPDATE invoices SET " +
				strings.Repeat("tenant_id = d.tenant_id, ", n) + "x = 1 FROM d WHERE invoices.tenant_id = 'A'"
		}},
		// Every unrestricted tenant reference scans the whole WHERE for
		// the predicate under an OR.
		{"references x WHERE", func(n int) string {
			var b strings.Builder
			b.WriteString("SELECT * FROM invoices a0")
			for k := 1; k < 64; k++ {
				fmt.Fprintf(&b, ", items a%d", k)
			}
			b.WriteString(" WHERE " + strings.Repeat("x = 1 OR ", n) + "a0.tenant_id = 'A'")
			return b.String()
		}},
	}
	for _, tc := range cases {
		small := tc.sql(10)
		if v, _ := g.checkSteps(small, tenantA); v.Finding != nil && v.Finding.Detail == tooMuchWork {
			t.Errorf("%s: the small shape is refused for its work", tc.name)
		}
		sql := tc.sql(2000)
		v, steps := g.checkSteps(sql, tenantA)
		if v.OK() || v.Finding.Code != Unverifiable || v.Finding.Detail != tooMuchWork {
			t.Errorf("%s: %v", tc.name, v)
		}
		if b := budget(tokenCount(g, sql)); 2*steps > 3*b {
			t.Errorf("%s: %d steps, budget %d: the work did not stop near the budget", tc.name, steps, b)
		}
	}
}

// lexScanned returns the bytes the lexer's searches examined in sql.
func lexScanned(g *Guard, sql string) int {
	c := &checker{g: g, sql: sql}
	c.lex()
	return c.scanned
}

// TestLexerSearchesLinear: the lexer's searches for closing quotes,
// backslashes and dollar tags never look past what they consume (a byte is
// examined at most twice: for the closing quote and, in MySQL strings, for
// a backslash), so lexing is linear in the text on every dialect. (A MySQL string once searched the whole rest
// of the text for a backslash: a 10 000-row INSERT took 60 ms more.)
func TestLexerSearchesLinear(t *testing.T) {
	rows := func(row string, n int) string {
		return "INSERT INTO invoices (id, tenant_id, number) VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	}
	shapes := []struct {
		name string
		on   []Dialect
		sql  string
	}{
		{"rows of strings", []Dialect{Postgres, SQLite, MySQL}, rows("(1, 'A', 'n-1')", 50000)},
		{"rows of doubled quotes", []Dialect{Postgres, SQLite, MySQL}, rows("(1, 'A', 'it''s')", 20000)},
		{"rows of escapes", []Dialect{MySQL}, rows(`(1, 'A', 'a\nb')`, 20000)},
		{"quoted names", []Dialect{Postgres, SQLite, MySQL}, "SELECT " + strings.Repeat(`"invoice"."id", `, 20000) + `1 FROM "invoices" AS "invoice" WHERE "invoice"."tenant_id" = 'A'`},
		{"backquoted names", []Dialect{MySQL, SQLite}, "SELECT " + strings.Repeat("`invoice`.`id`, ", 20000) + "1 FROM invoices AS invoice WHERE invoice.tenant_id = 'A'"},
		{"dollar quotes", []Dialect{Postgres}, rows("(1, 'A', $q$n$q$)", 20000)},
	}
	for _, sh := range shapes {
		for _, d := range sh.on {
			g := New(d, corpusTables)
			if got := lexScanned(g, sh.sql); got > 2*len(sh.sql) {
				t.Errorf("%v %s: the lexer's searches examined %d bytes of a %d-byte text", d, sh.name, got, len(sh.sql))
			}
			if v := g.Check(sh.sql, tenantA); v.Finding != nil && v.Finding.Code == ParseError {
				t.Errorf("%v %s: %v", d, sh.name, v)
			}
		}
	}
}
