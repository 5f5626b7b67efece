package sqlguard

import (
	"fmt"
	"strings"
	"testing"
)

func closedGuard(d Dialect) *Guard {
	return New(d, map[string]string{"invoices": "tenant_id", "items": "tenant_id"},
		ClosedWorld(), WithShared("currencies", "Plans"), WithFunctions("app_slug"))
}

// TestClosedWorld checks, per statement, the verdict of a closed-world guard
// under tenant A: Check when the text names a tenant table, Admit when it
// does not (as the bunhook pipeline calls them). want is "" for verified,
// else the finding's code and a word its detail must contain.
func TestClosedWorld(t *testing.T) {
	cases := []struct {
		d    Dialect
		sql  string
		want string // "" or "Code:word"
	}{
		// Known relations.
		{Postgres, `SELECT * FROM "invoices" AS "i" WHERE "i"."tenant_id" = 'A'`, ""},
		{Postgres, `SELECT * FROM currencies`, ""},
		{Postgres, `SELECT * FROM "currencies" AS c JOIN invoices i ON i.tenant_id = 'A' AND i.cur = c.code WHERE i.tenant_id = 'A'`, ""},
		{Postgres, `SELECT * FROM public.currencies`, ""},
		{Postgres, `SELECT * FROM "Plans"`, ""},
		{Postgres, `UPDATE currencies SET name = upper(name) WHERE code = 'EUR'`, ""},
		{Postgres, `INSERT INTO currencies (code, name) VALUES ('EUR', lower('Euro'))`, ""},
		{Postgres, `DELETE FROM currencies WHERE code = 'EUR'`, ""},
		{MySQL, "SELECT 1 FROM DUAL", ""},
		{SQLite, `SELECT * FROM CURRENCIES`, ""},
		{SQLite, `SELECT * FROM plans`, ""},
		// CTEs and derived tables, in scope.
		{Postgres, `WITH x AS (SELECT code FROM currencies) SELECT * FROM x`, ""},
		{Postgres, `WITH x AS (SELECT 1 AS a), y AS (SELECT a FROM x) SELECT * FROM y`, ""},
		{Postgres, `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r`, ""},
		{Postgres, `SELECT * FROM (SELECT 1 AS a) AS d`, ""},
		{Postgres, `WITH _data (id, tenant_id) AS (VALUES (1, 'A')) UPDATE invoices AS i SET number = 'x' FROM _data WHERE i.id = _data.id AND i.tenant_id = 'A'`, ""},
		// Functions.
		{Postgres, `SELECT count(*), max(code), coalesce(name, 'x'), date_trunc('day', now()) FROM currencies`, ""},
		{Postgres, `SELECT row_number() OVER (PARTITION BY code ORDER BY name), EXISTS (SELECT 1) FROM currencies`, ""},
		{Postgres, `SELECT CAST(1 AS numeric(10, 2)), 1::numeric(10, 2), pg_catalog.lower('X')`, ""},
		{Postgres, `SELECT "lower"('X')`, "Unregistered:lower"},
		{Postgres, `SELECT app_slug(name) FROM currencies`, ""},
		{Postgres, `SELECT * FROM generate_series(1, 3) AS g(n)`, ""},
		{MySQL, "SELECT COUNT(*), IFNULL(name, 'x'), DATE_FORMAT(NOW(), '%Y'), CONVERT(1, DECIMAL(10, 2)) FROM currencies", ""},
		{MySQL, "SELECT LEFT(name, 2), REPLACE(name, 'a', 'b') FROM currencies", ""},
		{SQLite, `SELECT count(*), ifnull(name, 'x'), strftime('%Y', 'now'), "lower"('X') FROM currencies`, ""},
		{Postgres, `SELECT a->>'k', a #>> '{x}', b @> '{1}', c || 'x', d <> 1, e >= -1, f*-1, g ~* 'x' FROM currencies`, ""},
		{Postgres, `SELECT 1 ### 2`, "Unregistered:###"},
		{Postgres, `SELECT * FROM invoices WHERE tenant_id = 'A' AND id <<< 3`, "Unregistered:<<<"},
		{Postgres, `SELECT 1 ** 2`, "Unregistered:**"},
		// Keywords of the guard's table that name functions when '(' follows.
		{Postgres, `SELECT comment('x')`, "Unregistered:comment"},
		{MySQL, "SELECT mode(1)", "Unregistered:mode"},
		{MySQL, "SELECT skip(1), locked(1)", "Unregistered:skip"},
		{Postgres, `SELECT left(name, 2), right(name, 1), replace(name, 'a', 'b') FROM currencies`, ""},
		{Postgres, `WITH x AS MATERIALIZED (SELECT 1) SELECT * FROM x`, ""},
		// Names that are not built-ins of the dialect.
		{Postgres, `SELECT hex('x')`, "Unregistered:hex"},
		{Postgres, `SELECT match(1)`, "Unregistered:match"},
		{Postgres, `SELECT sets(1), cube(1)`, "Unregistered:sets"},
		{Postgres, `SELECT "coalesce"(1)`, "Unregistered:coalesce"},
		{MySQL, "SELECT printf('x')", "Unregistered:printf"},
		{MySQL, "SELECT `match`(1)", "Unregistered:match"},
		{MySQL, "SELECT sets (1)", "Unregistered:sets"},
		{MySQL, "SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (a INT PATH '$')) AS j", ""},
		{SQLite, `SELECT now()`, "Unregistered:now"},
		// A CTE never names the target of a write on PostgreSQL or SQLite.
		{Postgres, `WITH inv_view AS (SELECT 1) UPDATE inv_view SET number = 'x' RETURNING *`, "Unregistered:inv_view"},
		{Postgres, `WITH v AS (SELECT 1) DELETE FROM v`, "Unregistered:v"},
		{SQLite, `WITH v AS (SELECT 1) INSERT INTO v VALUES (1)`, "Unregistered:v"},
		{Postgres, `WITH v AS (SELECT 1 AS id) UPDATE currencies SET name = 'x' FROM v WHERE v.id = 1`, ""},

		// Unknown relations: views, partitions, copies, catalogs, statistics.
		{Postgres, `SELECT * FROM invoices_view`, "Unregistered:invoices_view"},
		{Postgres, `SELECT * FROM invoices_2026`, "Unregistered:invoices_2026"},
		{Postgres, `UPDATE invoices_view SET number = 'x'`, "Unregistered:invoices_view"},
		{Postgres, `DELETE FROM invoices_view`, "Unregistered:invoices_view"},
		{Postgres, `INSERT INTO backup (id) VALUES (1)`, "Unregistered:backup"},
		{Postgres, `SELECT * FROM pg_stats`, "Unregistered:pg_stats"},
		{Postgres, `SELECT query FROM pg_stat_activity`, "Unregistered:pg_stat_activity"},
		{Postgres, `SELECT * FROM pg_catalog.currencies`, "Unregistered:pg_catalog.currencies"},
		{Postgres, `SELECT * FROM pg_toast.pg_toast_16384`, "Unregistered:pg_toast"},
		{Postgres, `SELECT * FROM information_schema.tables`, "Unregistered:information_schema.tables"},
		{Postgres, `SELECT * FROM "Currencies"`, "Unregistered:Currencies"},
		{Postgres, `SELECT * FROM plans`, "Unregistered:plans"},
		{MySQL, "SELECT * FROM mysql.general_log", "Unregistered:mysql.general_log"},
		{MySQL, "SELECT * FROM mysql.column_stats", "Unregistered:mysql.column_stats"},
		{MySQL, "SELECT * FROM information_schema.PROCESSLIST", "Unregistered:PROCESSLIST"},
		{MySQL, "SELECT * FROM Currencies", "Unregistered:Currencies"},
		{SQLite, `SELECT * FROM sqlite_stat4`, "Unregistered:sqlite_stat4"},
		{SQLite, `SELECT * FROM sqlite_master`, "Unregistered:sqlite_master"},
		{SQLite, `SELECT * FROM pragma_table_info('invoices')`, "Unregistered:pragma_table_info"},
		// A tenant table's row read through an unknown relation in a join
		// or a subquery of a verified statement.
		{Postgres, `SELECT * FROM invoices i JOIN invoices_view v ON v.id = i.id WHERE i.tenant_id = 'A'`, "Unregistered:invoices_view"},
		{Postgres, `SELECT * FROM invoices i WHERE i.tenant_id = 'A' AND i.id IN (SELECT id FROM invoices_2026)`, "Unregistered:invoices_2026"},
		// A CTE name outside its scope is the real table.
		{Postgres, `SELECT * FROM secrets, (WITH secrets AS (SELECT 1) SELECT * FROM secrets) AS x`, "Unregistered:secrets"},
		{Postgres, `WITH x AS (SELECT * FROM x) SELECT * FROM x`, "Unregistered:x"},
		{Postgres, `WITH "X" AS (SELECT 1) SELECT * FROM x`, "Unregistered:x"},
		// Functions outside the allow-list.
		{Postgres, `SELECT leak_rows()`, "Unregistered:leak_rows"},
		{Postgres, `SELECT * FROM leak_rows() AS t(a int)`, "Unregistered:leak_rows"},
		{Postgres, `SELECT public.lower('x')`, "Unregistered:public.lower"},
		{Postgres, `SELECT "LOWER"('x')`, "Unregistered:LOWER"},
		{Postgres, `SELECT pg_stat_get_activity(NULL)`, "Unregistered:pg_stat_get_activity"},
		{Postgres, `SELECT current_setting('app.tenant_id')`, ""},
		{Postgres, `SELECT * FROM invoices i WHERE i.tenant_id = 'A' AND leak(i.id)`, "Unregistered:leak"},
		{MySQL, "SELECT `count`(*) FROM currencies", "Unregistered:count"},
		{MySQL, "SELECT count (*) FROM currencies", "Unregistered:count"},
		{MySQL, "SELECT test.leak() FROM currencies", "Unregistered:test.leak"},
		{MySQL, "SELECT SLEEP(5)", "Unregistered:SLEEP"},
		{SQLite, `SELECT sqlite_version()`, "Unregistered:sqlite_version"},
		{Postgres, `SELECT xor(1)`, "Unregistered:xor"},
		{Postgres, `SELECT minus(1)`, "Unregistered:minus"},
		{Postgres, `SELECT by(1)`, "Unregistered:by"},
		{Postgres, `SELECT of(1)`, "Unregistered:of"},
		{Postgres, `SELECT partition(1)`, "Unregistered:partition"},
		{Postgres, `SELECT recursive(1)`, "Unregistered:recursive"},
		{Postgres, `SELECT set(1)`, "Unregistered:set"},
		{Postgres, `SELECT inner(1)`, "Unregistered:inner"},
		{Postgres, `SELECT cross(1)`, "Unregistered:cross"},
		{Postgres, `SELECT natural(1)`, "Unregistered:natural"},
		{Postgres, `SELECT is(1)`, "Unregistered:is"},
		{Postgres, `SELECT only(1)`, "Unregistered:only"},
		{Postgres, `SELECT lateral(1)`, "Unregistered:lateral"},
		{MySQL, "SELECT minus(1)", "Unregistered:minus"},
		{MySQL, "SELECT of(1)", "Unregistered:of"},
		{MySQL, "SELECT only(1)", "Unregistered:only"},
		{MySQL, "SELECT lateral(1)", "Unregistered:lateral"},
		{MySQL, "SELECT materialized(1)", "Unregistered:materialized"},
		{MySQL, "SELECT conflict(1)", "Unregistered:conflict"},
		{Postgres, `SELECT NOT materialized(1)`, "Unregistered:materialized"},
		{Postgres, `SELECT 1 FROM currencies a JOIN currencies b ON conflict(a.code)`, "Unregistered:conflict"},
		{Postgres, `SELECT id, filter(id) FROM invoices WHERE tenant_id = 'A'`, "Unregistered:filter"},
		{Postgres, `SELECT over(1)`, "Unregistered:over"},
		{Postgres, `SELECT count(*) FILTER (WHERE code > 'A'), sum(1) OVER (PARTITION BY code ORDER BY name) FROM currencies`, ""},
		{SQLite, `SELECT count(*) FILTER (WHERE code > 'A') FROM currencies`, ""},
		{MySQL, "SELECT against(1)", "Unregistered:against"},
		{MySQL, "SELECT columns(1)", "Unregistered:columns"},
		{MySQL, "SELECT json_table(1)", "Unregistered:json_table"},
		{MySQL, "SELECT * FROM `json_table`('[1]', '$[*]' COLUMNS (a INT PATH '$')) AS j", "Unregistered:json_table"},
		{MySQL, "SELECT cast (1 AS CHAR)", "Unregistered:cast"},
		{MySQL, "SELECT id, substring (id) FROM invoices WHERE tenant_id = 'A'", "Unregistered:substring"},
		{MySQL, "SELECT MATCH (name) AGAINST ('x') FROM currencies", ""},
		{MySQL, "SELECT 1 XOR (2)", ""},
		{MySQL, "SELECT 1 FROM currencies WHERE code IN ('a') AND NOT (code = 'b') ORDER BY (code)", ""},
		// What the parser cannot read is not admitted in a closed world.
		{Postgres, `SELECT * FROM (currencies c JOIN plans p ON true)`, "Unverifiable:parenthesised"},
	}
	for _, tc := range cases {
		g := closedGuard(tc.d)
		var v Verdict
		if g.Mentions(tc.sql) {
			v = g.Check(tc.sql, "A")
		} else {
			v = g.Admit(tc.sql)
		}
		switch {
		case tc.want == "" && !v.OK():
			t.Errorf("%s %s: want verified, got %v", tc.d, tc.sql, v)
		case tc.want != "":
			code, word, _ := strings.Cut(tc.want, ":")
			if v.OK() || v.Finding.Code.String() != code || !strings.Contains(v.Finding.Detail, word) {
				t.Errorf("%s %s: want %s naming %q, got %v", tc.d, tc.sql, code, word, v)
			}
		}
	}
}

// TestClosedWorldOnlyUnderTenant: without a tenant (a bypass, or no scope)
// Check does not apply the closed world, and a guard without ClosedWorld
// never does.
func TestClosedWorldOnlyUnderTenant(t *testing.T) {
	const q = `SELECT * FROM invoices i JOIN invoices_view v ON v.id = i.id WHERE i.tenant_id = 'A'`
	if v := closedGuard(Postgres).Check(q, ""); v.Finding != nil && v.Finding.Code == Unregistered {
		t.Errorf("no tenant: %v", v)
	}
	open := New(Postgres, map[string]string{"invoices": "tenant_id"})
	if v := open.Check(q, "A"); !v.OK() {
		t.Errorf("open world: %v", v)
	}
	if v := open.Admit(`SELECT * FROM pg_stats`); !v.OK() {
		t.Errorf("open world Admit: %v", v)
	}
}

func TestClosedWorldConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"shared and tenant", func() { New(Postgres, map[string]string{"a": "t"}, WithShared("A")) }},
		{"invalid shared", func() { New(Postgres, nil, WithShared("a.b")) }},
		{"invalid function", func() { New(Postgres, nil, WithFunctions("f()")) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: New did not panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

// TestManyReferences: beyond the 64 references the transitive rule tracks,
// a reference restricted by its own predicate is verified, one without is
// not.
func TestManyReferences(t *testing.T) {
	g := closedGuard(Postgres)
	var b strings.Builder
	b.WriteString("SELECT 1 FROM invoices i0")
	for k := 1; k < 70; k++ {
		fmt.Fprintf(&b, " JOIN items t%d ON t%d.tenant_id = 'A'", k, k)
	}
	b.WriteString(" WHERE i0.tenant_id = 'A'")
	if v := g.Check(b.String(), "A"); !v.OK() {
		t.Fatalf("70 restricted references: %v", v)
	}
	if v := g.Check(b.String()+" AND i0.id IN (SELECT 1 FROM items x, items y WHERE x.tenant_id = 'A')", "A"); v.OK() {
		t.Fatal("an unrestricted reference was verified")
	}
	b.WriteString(" AND EXISTS (SELECT 1)")
	q := strings.Replace(b.String(), "JOIN items t69 ON t69.tenant_id = 'A'", "JOIN items t69 ON t69.id = 1", 1)
	if v := g.Check(q, "A"); v.OK() || v.Finding.Code != MissingPredicate {
		t.Fatalf("reference 70 without its predicate: %v", v)
	}
}
