package bunhook_test

// The closed world, first part: under a tenant scope a statement that names
// no tenant table runs only if its kind is one the guard verifies. Each
// attack below comes from the leak families of dynamic SQL and of
// statements that change the rules; each is proven by data through the raw
// connection (tenant tables unchanged, no side effect) and audited once.

import (
	"context"
	"strings"
	"testing"

	"github.com/tenantshield/tenantshield-go/scope"
)

type stmtAttack struct {
	name string
	sql  string
	// setup runs through the raw handle first (what a previous migration
	// left behind); effect, through the raw handle afterwards, reports a
	// side effect that the statement must not have had.
	setup  []string
	effect func(t *testing.T, td *testDB) string
}

func stmtAttacks(kind string) []stmtAttack {
	switch kind {
	case "pg", "pgx":
		return []stmtAttack{
			{name: "DO with EXECUTE of a concatenated UPDATE",
				sql: `DO $$ BEGIN EXECUTE 'UPDATE inv' || 'oices SET number = ''pwned'''; END $$`},
			{name: "DO building and running a PREPARE",
				sql: `DO $$ BEGIN EXECUTE 'PREPARE p AS DELETE FROM inv' || 'oices'; EXECUTE 'EXECUTE p'; END $$`},
			{name: "CALL of a procedure that deletes",
				setup: []string{`CREATE PROCEDURE ts_purge() LANGUAGE sql AS $$ DELETE FROM invoices $$`},
				sql:   `CALL ts_purge()`},
			{name: "CREATE FUNCTION returning a dynamic query",
				sql: `CREATE FUNCTION leak() RETURNS SETOF record LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY EXECUTE 'SELECT * FROM inv' || 'oices'; END $$`,
				effect: func(t *testing.T, td *testDB) string {
					return td.rawString(t, "SELECT coalesce(string_agg(proname, ','), '') FROM pg_proc WHERE proname = 'leak'")
				}},
			{name: "set_config of the RLS tenant", sql: `SELECT set_config('app.tenant_id', 'B', false)`},
			{name: "SET of the RLS tenant", sql: `SET app.tenant_id = 'B'`},
			{name: "ALTER ROLE BYPASSRLS", sql: `ALTER ROLE CURRENT_USER BYPASSRLS`},
			{name: "CREATE ROLE", sql: `CREATE ROLE ts_attacker_role`,
				effect: func(t *testing.T, td *testDB) string {
					return td.rawString(t, "SELECT coalesce(string_agg(rolname, ','), '') FROM pg_roles WHERE rolname = 'ts_attacker_role'")
				}},
			{name: "GRANT on every table", sql: `GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC`},
			{name: "LOCK TABLE", sql: `LOCK TABLE currencies IN ACCESS EXCLUSIVE MODE`},
			{name: "server file read", sql: `SELECT pg_read_binary_file('/etc/hostname')`},
			{name: "SELECT INTO a copy", sql: `SELECT 1 AS x INTO backup_copy`,
				effect: func(t *testing.T, td *testDB) string {
					return td.rawString(t, "SELECT coalesce(string_agg(relname, ','), '') FROM pg_class WHERE relname = 'backup_copy'")
				}},
			{name: "a second statement after a harmless one",
				sql: `SELECT 1; DO $$ BEGIN EXECUTE 'DELETE FROM inv' || 'oices'; END $$`},
		}
	case "mysql":
		return []stmtAttack{
			{name: "EXECUTE IMMEDIATE of a concatenated DELETE",
				sql: `EXECUTE IMMEDIATE CONCAT('DELETE FROM inv', 'oices')`},
			{name: "user variable that feeds PREPARE", sql: `SET @q = CONCAT('DELETE FROM inv', 'oices')`},
			{name: "PREPARE from a variable", sql: `PREPARE s FROM @q`},
			{name: "CALL of a procedure that deletes",
				setup: []string{`CREATE PROCEDURE ts_purge() DELETE FROM invoices`},
				sql:   `CALL ts_purge()`},
			{name: "BEGIN NOT ATOMIC with dynamic SQL",
				sql: `BEGIN NOT ATOMIC EXECUTE IMMEDIATE CONCAT('DELETE FROM inv', 'oices'); END`},
			{name: "SET GLOBAL general_log", sql: `SET GLOBAL general_log = 1`},
			{name: "SELECT INTO OUTFILE", sql: `SELECT 1 INTO OUTFILE '/tmp/ts_attack_outfile'`},
			{name: "LOAD_FILE", sql: `SELECT LOAD_FILE('/etc/hostname')`},
			{name: "CREATE TABLE AS a copy", sql: `CREATE TABLE backup_copy AS SELECT 1 AS x`,
				effect: func(t *testing.T, td *testDB) string {
					return td.rawString(t, "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'backup_copy'")
				}},
			{name: "GRANT", sql: `GRANT SELECT ON *.* TO CURRENT_USER`},
		}
	default: // sqlite
		return []stmtAttack{
			{name: "PRAGMA writable_schema", sql: `PRAGMA writable_schema = 1`},
			{name: "VACUUM INTO a copy", sql: `VACUUM INTO '/tmp/ts_attack_copy.db'`},
			{name: "ATTACH", sql: `ATTACH DATABASE ':memory:' AS other`},
			{name: "CREATE TABLE AS a copy", sql: `CREATE TABLE backup_copy AS SELECT 1 AS x`,
				effect: func(t *testing.T, td *testDB) string {
					return td.rawString(t, "SELECT count(*) FROM sqlite_master WHERE name = 'backup_copy'")
				}},
			{name: "load_extension", sql: `SELECT load_extension('/tmp/nothing')`},
		}
	}
}

func TestStatementAllowList(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		td.seed(t)
		a := tenantCtx(t, "A")
		for _, at := range stmtAttacks(td.kind) {
			t.Run(at.name, func(t *testing.T) {
				td.rawExec(t, at.setup...)
				var effectBefore string
				if at.effect != nil {
					effectBefore = at.effect(t, td)
				}
				err := td.blockedOnce(t, scope.ErrUnscopedQuery, "", func() error {
					_, err := td.db.ExecContext(a, at.sql)
					return err
				})
				if !strings.Contains(err.Error(), "scope.WithBypass") {
					t.Errorf("the error does not name the fix: %v", err)
				}
				if at.effect != nil {
					if got := at.effect(t, td); got != effectBefore {
						t.Fatalf("side effect: %q, before %q", got, effectBefore)
					}
				}
			})
		}

		// Migrations keep working under a bypass, and unscoped code is not
		// affected.
		if _, err := td.db.ExecContext(bypassCtx(t), "CREATE TABLE scratch_allow (id INT)"); err != nil {
			t.Fatalf("DDL under a bypass: %v", err)
		}
		if _, err := td.db.ExecContext(context.Background(), "DROP TABLE scratch_allow"); err != nil {
			t.Fatalf("DDL with no tenant bound: %v", err)
		}
		// What a tenant's request legitimately sends on shared tables runs.
		var n int
		if err := td.db.QueryRowContext(a, "SELECT count(*) FROM currencies").Scan(&n); err != nil {
			t.Fatalf("SELECT on a shared table under A: %v", err)
		}
	})
}
