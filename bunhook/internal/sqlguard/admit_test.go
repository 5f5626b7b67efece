package sqlguard

import "testing"

func TestAdmit(t *testing.T) {
	cases := []struct {
		d   Dialect
		sql string
		ok  bool
	}{
		// Admitted: the kinds Check verifies, and transaction control.
		{Postgres, "SELECT * FROM currencies WHERE code = 'EUR'", true},
		{Postgres, "(SELECT 1) UNION (SELECT 2)", true},
		{Postgres, "VALUES (1), (2)", true},
		{Postgres, "WITH x AS (SELECT 1) SELECT * FROM x", true},
		{Postgres, "WITH x AS (SELECT 1 AS a) INSERT INTO currencies (code) SELECT a FROM x", true},
		{Postgres, "INSERT INTO currencies (code) VALUES ('EUR')", true},
		{Postgres, "UPDATE currencies SET name = 'x'", true},
		{Postgres, "DELETE FROM currencies", true},
		{MySQL, "REPLACE INTO currencies (code) VALUES ('EUR')", true},
		{Postgres, "BEGIN", true},
		{Postgres, "BEGIN ISOLATION LEVEL SERIALIZABLE", true},
		{MySQL, "START TRANSACTION", true},
		{Postgres, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", true},
		{Postgres, "SAVEPOINT s1", true},
		{Postgres, "ROLLBACK TO SAVEPOINT s1", true},
		{Postgres, "RELEASE SAVEPOINT s1", true},
		{Postgres, "COMMIT", true},
		{Postgres, "/* only a comment */", true},
		{SQLite, "SELECT 1", true},

		// Family 1: dynamic SQL.
		{Postgres, "DO $$ BEGIN EXECUTE 'UPDATE inv' || 'oices SET x = 1'; END $$", false},
		{Postgres, "PREPARE p AS SELECT 1", false},
		{Postgres, "EXECUTE p", false},
		{Postgres, "CALL purge()", false},
		{Postgres, "CREATE FUNCTION f() RETURNS SETOF record AS $$ SELECT 1 $$ LANGUAGE sql", false},
		{Postgres, "CREATE TEMP VIEW v AS SELECT 1", false},
		{MySQL, "EXECUTE IMMEDIATE CONCAT('SELECT * FROM inv', 'oices')", false},
		{MySQL, "SET @q = CONCAT('DELETE FROM inv', 'oices')", false},
		{MySQL, "PREPARE s FROM @q", false},
		{MySQL, "BEGIN NOT ATOMIC DECLARE x INT; END", false},
		{Postgres, "SELECT 1; DO $$ BEGIN NULL; END $$", false},
		{MySQL, "SELECT 1; DELETE FROM currencies", false},
		// Family 2: copies, files, server state read through functions.
		{Postgres, "CREATE TABLE backup AS SELECT 1", false},
		{Postgres, "SELECT 1 INTO backup", false},
		{MySQL, "SELECT 1 INTO OUTFILE '/tmp/x'", false},
		{MySQL, "SELECT 1 INTO @v", false},
		{Postgres, "SELECT pg_read_binary_file('/etc/passwd')", false},
		{Postgres, "SELECT lo_get(16400)", false},
		{Postgres, "COPY (SELECT 1) TO PROGRAM 'cat'", false},
		{MySQL, "LOAD DATA INFILE '/tmp/x' INTO TABLE currencies", false},
		{MySQL, "SELECT LOAD_FILE('/etc/passwd')", false},
		{SQLite, "SELECT load_extension('x')", false},
		{SQLite, "ATTACH DATABASE '/tmp/x.db' AS x", false},
		{SQLite, "VACUUM INTO '/tmp/copy.db'", false},
		// Family 3: statements that change the rules.
		{Postgres, "GRANT SELECT ON currencies TO PUBLIC", false},
		{Postgres, "CREATE ROLE r", false},
		{Postgres, "ALTER ROLE app BYPASSRLS", false},
		{Postgres, "SET app.tenant_id = 'B'", false},
		{Postgres, "SELECT set_config('app.tenant_id', 'B', false)", false},
		{Postgres, "RESET ALL", false},
		{MySQL, "SET GLOBAL general_log = 1", false},
		{Postgres, "LOCK TABLE currencies", false},
		{SQLite, "PRAGMA writable_schema = 1", false},
		{Postgres, "EXPLAIN ANALYZE DELETE FROM currencies", false},
		{MySQL, "SHOW PROCESSLIST", false},
		{Postgres, "'unterminated", false},
		// Quoting does not make a dangerous function safe.
		{Postgres, `SELECT "set_config"('app.tenant_id', 'B', false)`, false},
		{Postgres, `SELECT pg_catalog."set_config"('app.tenant_id', 'B', false)`, false},
		{Postgres, `SELECT U&"set\005fconfig"('app.tenant_id', 'B', false)`, false},
		{Postgres, `SELECT "query_to_xml"('SELECT * FROM inv' || 'oices', true, false, '')`, false},
		{MySQL, "SELECT `load_file`('/etc/hostname')", false},
		{SQLite, `SELECT "load_extension"('x')`, false},
		{SQLite, `SELECT [load_extension]('x')`, false},
		// SQL as text, other sessions, the server.
		{Postgres, "SELECT ts_rewrite('a'::tsquery, 'SELECT 1')", false},
		{Postgres, "SELECT pg_terminate_backend(42)", false},
		{Postgres, "SELECT pg_logical_slot_get_changes('s', NULL, NULL)", false},
		// Writes to catalogs are settings, roles and privileges.
		{Postgres, "UPDATE pg_settings SET setting = 'x' WHERE name = 'search_path'", false},
		{Postgres, `UPDATE "pg_authid" SET rolbypassrls = true`, false},
		{MySQL, "UPDATE mysql.user SET Super_priv = 'Y'", false},
		{MySQL, "INSERT INTO mysql.db (Host) VALUES ('%')", false},
		{Postgres, "WITH x AS (UPDATE pg_settings SET setting = 'x' RETURNING 1) SELECT * FROM x", false},
		// Reading catalogs is left to the closed world of relations.
		{Postgres, "SELECT name FROM pg_settings", true},
	}
	for _, tc := range cases {
		g := New(tc.d, map[string]string{"invoices": "tenant_id"})
		v := g.Admit(tc.sql)
		if v.OK() != tc.ok {
			t.Errorf("%s Admit(%q) = %v, want ok=%v", tc.d, tc.sql, v, tc.ok)
			continue
		}
		if !tc.ok && v.Finding.Code != NotAllowed {
			t.Errorf("%s Admit(%q): finding %v, want NotAllowed", tc.d, tc.sql, v.Finding)
		}
	}
}

func TestAdmitDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	g := New(Postgres, map[string]string{"invoices": "tenant_id"})
	q := "SELECT code, name FROM currencies WHERE code = 'EUR'"
	g.Admit(q)
	if n := testing.AllocsPerRun(100, func() { g.Admit(q) }); n != 0 {
		t.Fatalf("Admit of an admitted statement allocates %v times", n)
	}
}

// TestCheckRefusesQuotedDangerousFunctions: a quoted dangerous function in
// a statement that names a tenant table only in a string is refused, not
// verified as "no tenant table read".
func TestCheckRefusesQuotedDangerousFunctions(t *testing.T) {
	g := New(Postgres, map[string]string{"invoices": "tenant_id"})
	for _, q := range []string{
		`SELECT "query_to_xml"('SELECT * FROM invoices', true, false, '')`,
		`SELECT pg_catalog."query_to_xml"('SELECT * FROM invoices', true, false, '')`,
		`SELECT "set_config"('app.tenant_id', 'B', false) FROM invoices WHERE tenant_id = 'A'`,
	} {
		if !g.Mentions(q) {
			t.Errorf("Mentions(%q) = false", q)
		}
		if v := g.Check(q, "A"); v.OK() {
			t.Errorf("Check(%q) verified it", q)
		}
	}
}
