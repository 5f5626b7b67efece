package posture

import (
	"strings"
	"testing"
)

// TestRestrictsToSetting reads policy expressions as pg_get_expr prints
// them.
func TestRestrictsToSetting(t *testing.T) {
	cases := []struct {
		expr string
		want bool
	}{
		{"(tenant_id = current_setting('app.tenant_id'::text, true))", true},
		{"(current_setting('app.tenant_id'::text, true) = tenant_id)", true},
		{"((tenant_id)::text = current_setting('app.tenant_id'::text))", true},
		{"(tenant_id = ( SELECT current_setting('app.tenant_id'::text, true) AS current_setting))", true},
		{"((tenant_id = current_setting('app.tenant_id'::text, true)) AND (status <> 'deleted'::text))", true},
		{`("Tenant_Id" = current_setting('app.tenant_id'::text, true))`, true},
		{"(invoices.tenant_id = current_setting('app.tenant_id'::text, true))", true},
		{"true", false},
		{"", false},
		{"((tenant_id = current_setting('app.tenant_id'::text, true)) OR true)", false},
		{"(tenant_id = current_setting('app.user_id'::text, true))", false},
		{"(org_id = current_setting('app.tenant_id'::text, true))", false},
		{"(tenant_id <> current_setting('app.tenant_id'::text, true))", false},
		{"(tenant_id = 'A'::text)", false},
		{"(tenant_id = current_setting('app.tenant_id'' OR true OR ''x'::text, true))", false},
		{"(tenant_id = lower(current_setting('app.tenant_id'::text, true)))", false},
	}
	for _, c := range cases {
		if got := restrictsToSetting(c.expr, "tenant_id", "app.tenant_id"); got != c.want {
			t.Errorf("restrictsToSetting(%q) = %v, want %v", c.expr, got, c.want)
		}
	}
}

func TestMySQLFolds(t *testing.T) {
	cases := []struct {
		coll, dataType, want string
	}{
		{"utf8mb4_general_ci", "varchar", "case, accents, trailing spaces"},
		{"utf8mb4_uca1400_ai_ci", "varchar", "case, accents, trailing spaces"},
		{"utf8mb4_uca1400_as_ci", "varchar", "case, trailing spaces"},
		{"utf8mb4_bin", "varchar", "trailing spaces"},
		{"utf8mb4_nopad_bin", "varchar", ""},
		{"utf8mb4_nopad_bin", "char", "trailing spaces"},
		{"ascii_nopad_bin", "varchar", ""},
		{"utf8mb4_0900_bin", "varchar", ""},
		{"utf8mb4_0900_ai_ci", "varchar", "case, accents"},
		{"", "bigint", ""},
		{"binary", "varbinary", ""},
	}
	for _, c := range cases {
		if got := myFolds(myCol{collation: c.coll, dataType: c.dataType}); got != c.want {
			t.Errorf("myFolds(%s %s) = %q, want %q", c.dataType, c.coll, got, c.want)
		}
	}
}

func TestLiteCollation(t *testing.T) {
	cases := []struct {
		sql, want string
	}{
		{`CREATE TABLE t (tenant_id TEXT COLLATE NOCASE, id INT)`, "NOCASE"},
		{`CREATE TABLE t (id INT, "tenant_id" TEXT NOT NULL COLLATE rtrim)`, "RTRIM"},
		{"CREATE TABLE t (id INT, `tenant_id` TEXT, name TEXT COLLATE NOCASE)", ""},
		{`CREATE TABLE t (id INT CHECK (id IN (1, 2)), [tenant_id] TEXT DEFAULT ('a,b') COLLATE nocase)`, "NOCASE"},
		{`CREATE TABLE t (tenant TEXT COLLATE NOCASE, tenant_id TEXT) -- tenant_id COLLATE NOCASE`, ""},
		{`CREATE TABLE t (/* tenant_id COLLATE NOCASE */ tenant_id TEXT)`, ""},
		{`CREATE TABLE t (tenant_id TEXT, PRIMARY KEY (tenant_id COLLATE NOCASE))`, ""},
		{`CREATE TABLE t (tenant_id TEXT "COLLATE" NOCASE)`, ""},
	}
	for _, c := range cases {
		if got := liteCollation(c.sql, "tenant_id"); got != c.want {
			t.Errorf("liteCollation(%q) = %q, want %q", c.sql, got, c.want)
		}
	}
}

// FuzzRestrictsToSetting: the recognizer never panics, a recognised
// restriction stays one when AND-ed with anything, and never when OR-ed
// with true.
func FuzzRestrictsToSetting(f *testing.F) {
	f.Add("(tenant_id = current_setting('app.tenant_id'::text, true))")
	f.Add("((tenant_id)::text = ( SELECT current_setting('app.tenant_id'::text, true) AS current_setting))")
	f.Add("(a = 'x'' AND (')")
	f.Fuzz(func(t *testing.T, expr string) {
		if !restrictsToSetting(expr, "tenant_id", "app.tenant_id") {
			return
		}
		if strings.Count(expr, "'")%2 != 0 {
			return // an unbalanced quote swallows what follows
		}
		if !restrictsToSetting("("+expr+") AND (x = 1)", "tenant_id", "app.tenant_id") {
			t.Errorf("%q restricts, but not AND-ed with x = 1", expr)
		}
		if restrictsToSetting("(("+expr+") OR true)", "tenant_id", "app.tenant_id") {
			t.Errorf("%q OR true still counts as a restriction", expr)
		}
	})
}

// FuzzLiteCollation: the CREATE TABLE reader never panics, and what it
// returns is the (unquoted, upper-cased) name that follows a COLLATE of the
// statement.
func FuzzLiteCollation(f *testing.F) {
	f.Add(`CREATE TABLE t ("tenant_id" TEXT COLLATE NOCASE, id INT)`)
	f.Add("CREATE TABLE t (tenant_id TEXT /* x */ COLLATE [rtrim] , `a``b` INT)")
	f.Add("(tenAnt_id COLLATE`0``0`)")
	f.Fuzz(func(t *testing.T, sql string) {
		got := liteCollation(sql, "tenant_id")
		if got == "" {
			return
		}
		toks := liteTokens(sql)
		for j := 0; j+1 < len(toks); j++ {
			if !toks[j].quoted && strings.EqualFold(toks[j].text, "COLLATE") && strings.ToUpper(toks[j+1].text) == got {
				return
			}
		}
		t.Errorf("liteCollation(%q) = %q, which follows no COLLATE of it", sql, got)
	})
}
