package bunhook_test

// The closed world, second part: relations that are not registered tenant
// tables but hold or show their rows (views, partitions, inheritance
// children, copies, set-returning functions, statistics, other sessions'
// statements, catalogs). Each attack runs under tenant A against what a
// migration left behind (set up through the raw handle); each must fail with
// ErrUnscopedQuery before it reaches the database, leave the tenant tables
// as they were, and be audited exactly once. The same objects registered for
// what they are (a view or partition as tenant-owned, a table as shared)
// work under the scope.

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/sqlitedb"
	"github.com/tenantshield/tenantshield-go/scope"
)

type relAttack struct {
	name  string
	setup []string // through the raw handle
	sql   string   // run under tenant A: a query, or a write when write is set
	write bool
}

func relAttacks(kind string) []relAttack {
	common := []relAttack{
		{name: "SELECT from a view over a tenant table",
			setup: []string{`CREATE VIEW inv_view AS SELECT * FROM invoices`},
			sql:   `SELECT number FROM inv_view`},
		{name: "UPDATE through the view", sql: `UPDATE inv_view SET number = 'pwned'`, write: true},
		{name: "DELETE through the view", sql: `DELETE FROM inv_view`, write: true},
		{name: "a view joined to a scoped read",
			sql: `SELECT v.number FROM invoices i JOIN inv_view v ON v.id = i.id WHERE i.tenant_id = 'A'`},
		{name: "a view in a subquery of a scoped read",
			sql: `SELECT number FROM invoices WHERE tenant_id = 'A' AND EXISTS (SELECT 1 FROM inv_view WHERE inv_view.tenant_id = 'B')`},
		{name: "a copy a migration made",
			setup: []string{`CREATE TABLE inv_backup AS SELECT * FROM invoices`},
			sql:   `SELECT number FROM inv_backup`},
		{name: "INSERT into the copy", sql: `INSERT INTO inv_backup (id, tenant_id, number, customer_id) VALUES (99, 'B', 'x', 1)`, write: true},
	}
	switch kind {
	case "pg", "pgx":
		return append(common,
			relAttack{name: "a partition read by its own name",
				setup: []string{`CREATE TABLE parted (tenant_id text NOT NULL, secret text) PARTITION BY LIST (tenant_id)`,
					`CREATE TABLE parted_b PARTITION OF parted FOR VALUES IN ('B')`,
					`CREATE TABLE parted_a PARTITION OF parted FOR VALUES IN ('A')`,
					`INSERT INTO parted VALUES ('B', 'b-secret'), ('A', 'a-secret')`},
				sql: `SELECT secret FROM parted_b`},
			relAttack{name: "an inheritance child read by its own name",
				setup: []string{`CREATE TABLE inv_child () INHERITS (invoices)`,
					`INSERT INTO inv_child (id, tenant_id, number, customer_id) VALUES (100, 'B', 'child-B', 3)`},
				sql: `SELECT number FROM inv_child`},
			relAttack{name: "a set-returning function",
				setup: []string{`CREATE FUNCTION all_invoices() RETURNS SETOF invoices LANGUAGE sql AS 'SELECT * FROM invoices'`},
				sql:   `SELECT number FROM all_invoices()`},
			relAttack{name: "the same function in the select list", sql: `SELECT (all_invoices()).number`},
			relAttack{name: "a function in the WHERE of a scoped read",
				sql: `SELECT number FROM invoices WHERE tenant_id = 'A' AND EXISTS (SELECT 1 FROM all_invoices() f WHERE f.tenant_id = 'B')`},
			relAttack{name: "planner statistics", sql: `SELECT most_common_vals::text FROM pg_stats WHERE tablename = 'invoices'`},
			relAttack{name: "other sessions' statements", sql: `SELECT query FROM pg_stat_activity`},
			relAttack{name: "a TOAST table", sql: `SELECT chunk_data FROM pg_toast.pg_toast_2619`},
			relAttack{name: "a catalog", sql: `SELECT relname, reltuples FROM pg_class`},
			relAttack{name: "information_schema", sql: `SELECT table_name FROM information_schema.tables`},
			relAttack{name: "a CTE named like the view, as the UPDATE's target (the view is written)",
				sql: `WITH inv_view AS (SELECT 1) UPDATE inv_view SET number = 'pwned-cte'`, write: true},
			relAttack{name: "a function named like a keyword",
				setup: []string{`CREATE FUNCTION comment(text) RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM invoices'`},
				sql:   `SELECT comment('x')`},
			relAttack{name: "a function named like another dialect's built-in",
				setup: []string{`CREATE FUNCTION hex(text) RETURNS SETOF text LANGUAGE sql AS 'SELECT number FROM invoices'`},
				sql:   `SELECT hex('x')`},
			relAttack{name: "a quoted name of a grammar word",
				setup: []string{`CREATE FUNCTION "coalesce"(int) RETURNS SETOF text LANGUAGE sql AS 'SELECT number FROM invoices'`},
				sql:   `SELECT "coalesce"(1)`},
			relAttack{name: "a function named like a grammar word (filter)",
				setup: []string{`CREATE FUNCTION filter(bigint) RETURNS SETOF text LANGUAGE sql AS 'SELECT number FROM invoices'`},
				sql:   `SELECT filter(id) FROM invoices WHERE tenant_id = 'A'`},
			relAttack{name: "a function named like a keyword PostgreSQL does not reserve (xor)",
				setup: []string{`CREATE FUNCTION xor(int) RETURNS SETOF text LANGUAGE sql AS 'SELECT number FROM invoices'`},
				sql:   `SELECT xor(1)`},
			relAttack{name: "a user-defined operator",
				setup: []string{`CREATE FUNCTION zz_op(int, int) RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM invoices'`,
					`CREATE OPERATOR ### (LEFTARG = int, RIGHTARG = int, FUNCTION = zz_op)`},
				sql: `SELECT 1 ### 2`},
		)
	case "mysql":
		return append(common,
			relAttack{name: "a stored function that counts every tenant",
				setup: []string{`CREATE FUNCTION count_all() RETURNS INT DETERMINISTIC READS SQL DATA RETURN (SELECT count(*) FROM invoices)`},
				sql:   `SELECT count_all()`},
			relAttack{name: "the stored function quoted like a built-in", sql: "SELECT `count_all`()"},
			relAttack{name: "column statistics", sql: `SELECT * FROM mysql.column_stats`},
			relAttack{name: "the general log", sql: `SELECT argument FROM mysql.general_log`},
			relAttack{name: "other sessions' statements", sql: `SELECT info FROM information_schema.PROCESSLIST`},
			relAttack{name: "information_schema", sql: `SELECT table_rows FROM information_schema.tables`},
			relAttack{name: "a stored function named like a keyword",
				setup: []string{`CREATE FUNCTION mode(x INT) RETURNS INT DETERMINISTIC READS SQL DATA RETURN (SELECT count(*) FROM invoices)`},
				sql:   `SELECT mode(1)`},
			relAttack{name: "a stored function named like another dialect's built-in",
				setup: []string{`CREATE FUNCTION printf(x TEXT) RETURNS INT DETERMINISTIC READS SQL DATA RETURN (SELECT count(*) FROM invoices)`},
				sql:   `SELECT printf('x')`},
			relAttack{name: "a built-in's name and a space: a stored function on MariaDB",
				setup: []string{"CREATE FUNCTION `substring`(x BIGINT) RETURNS INT DETERMINISTIC READS SQL DATA RETURN (SELECT count(*) FROM invoices)"},
				sql:   "SELECT id, substring (id) FROM invoices WHERE tenant_id = 'A'"},
			relAttack{name: "a keyword MariaDB does not reserve (lateral)",
				setup: []string{"CREATE FUNCTION lateral(x INT) RETURNS INT DETERMINISTIC READS SQL DATA RETURN (SELECT count(*) FROM invoices)"},
				sql:   "SELECT lateral(1)"},
			relAttack{name: "a grammar word quoted, which names a stored function",
				setup: []string{"CREATE FUNCTION `match`(x INT) RETURNS INT DETERMINISTIC READS SQL DATA RETURN (SELECT count(*) FROM invoices)"},
				sql:   "SELECT `match`(1)"},
		)
	default:
		return append(common,
			relAttack{name: "UPDATE through an INSTEAD OF trigger on the view",
				setup: []string{`CREATE TRIGGER inv_view_upd INSTEAD OF UPDATE ON inv_view BEGIN UPDATE invoices SET number = NEW.number WHERE id = OLD.id; END`},
				sql:   `UPDATE inv_view SET number = 'pwned-trigger'`, write: true},
			relAttack{name: "planner statistics",
				setup: []string{`ANALYZE`},
				sql:   `SELECT * FROM sqlite_stat1`},
			relAttack{name: "the schema table", sql: `SELECT sql FROM sqlite_master`},
			relAttack{name: "a table-valued pragma", sql: `SELECT name FROM pragma_table_info('invoices')`},
			relAttack{name: "a CTE named like the view, as the UPDATE's target (the trigger writes)",
				sql: `WITH inv_view AS (SELECT 1) UPDATE inv_view SET number = 'pwned-cte'`, write: true},
		)
	}
}

func TestClosedWorldRelations(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		td.seed(t)
		a := tenantCtx(t, "A")
		for _, at := range relAttacks(td.kind) {
			t.Run(at.name, func(t *testing.T) {
				td.rawExec(t, at.setup...)
				err := td.blockedOnce(t, scope.ErrUnscopedQuery, "", func() error {
					if at.write {
						_, err := td.db.ExecContext(a, at.sql)
						return err
					}
					var rows []map[string]any
					err := td.db.NewRaw(at.sql).Scan(a, &rows)
					if len(rows) != 0 {
						t.Fatalf("%d rows returned: %v", len(rows), rows)
					}
					return err
				})
				if !strings.Contains(err.Error(), "WithSharedModels") || !strings.Contains(err.Error(), "WithTenantTable") {
					t.Errorf("the error does not name the fix: %v", err)
				}
			})
		}
		// The view, under its own registration, is verified like a table:
		// A reads A's rows through it, and only with the predicate.
		td2 := reopen(t, td, bunhook.WithTenantTable("inv_view", "tenant_id"), bunhook.WithSharedTables("inv_backup"))
		var numbers []string
		if err := td2.NewRaw(`SELECT number FROM inv_view WHERE tenant_id = 'A' ORDER BY number`).Scan(a, &numbers); err != nil {
			t.Fatalf("registered view: %v", err)
		}
		if strings.Join(numbers, ",") != "A-1,A-2,A-3" {
			t.Fatalf("registered view returned %v", numbers)
		}
		if _, err := td2.NewRaw(`SELECT number FROM inv_view`).Exec(a); !errors.Is(err, scope.ErrUnscopedQuery) {
			t.Fatalf("registered view without the predicate: %v", err)
		}
		var n int
		if err := td2.NewRaw(`SELECT count(*) FROM inv_backup`).Scan(a, &n); err != nil {
			t.Fatalf("registered shared table: %v", err)
		}

		// A read replica that bunhook does not enforce (a ConnResolver) does
		// not skip the closed world: the unregistered view is refused.
		replica := reopen(t, td, bunhook.WithBunOptions(bun.WithConnResolver(&replicaResolver{replica: td.raw.DB})))
		err := td.blockedOnce(t, scope.ErrUnscopedQuery, "SELECT", func() error {
			var leaked []string
			err := replica.NewSelect().TableExpr("inv_view").Column("number").Scan(a, &leaked)
			if len(leaked) != 0 {
				t.Fatalf("read through the replica: %v", leaked)
			}
			return err
		})
		if !strings.Contains(err.Error(), "inv_view") {
			t.Errorf("the error does not name the view: %v", err)
		}
		var codes []string
		if err := replica.NewSelect().Model((*Currency)(nil)).Column("code").Scan(a, &codes); err != nil {
			t.Fatalf("a shared table through the replica: %v", err)
		}
	})
}

// TestClosedWorldRegistration: shared registration and its conflicts.
func TestClosedWorldRegistration(t *testing.T) {
	td := openTestDB(t, "sqlite")
	ctx := context.Background()
	td.rawExec(t, `CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT)`, `INSERT INTO plans VALUES (1, 'pro')`)
	a := tenantCtx(t, "A")
	var name string
	if err := td.db.NewRaw(`SELECT name FROM plans`).Scan(a, &name); !errors.Is(err, scope.ErrUnscopedQuery) {
		t.Fatalf("unregistered plans under a scope: %v", err)
	}
	if err := td.db.NewRaw(`SELECT name FROM plans`).Scan(ctx, &name); err != nil {
		t.Fatalf("no tenant bound: the closed world does not apply: %v", err)
	}
	if err := td.db.NewRaw(`SELECT name FROM plans`).Scan(bypassCtx(t), &name); err != nil {
		t.Fatalf("bypass: %v", err)
	}
	type Plan struct {
		ID   int64 `bun:",pk"`
		Name string
	}
	if err := bunhook.RegisterSharedModels(td.db, (*Plan)(nil)); err != nil {
		t.Fatal(err)
	}
	if err := td.db.NewSelect().Model((*Plan)(nil)).Column("name").Scan(a, &name); err != nil || name != "pro" {
		t.Fatalf("shared plans under a scope: %q, %v", name, err)
	}

	// A function is callable under a scope once the application names it.
	var version string
	if err := td.db.NewRaw("SELECT sqlite_version()").Scan(a, &version); !errors.Is(err, scope.ErrUnscopedQuery) {
		t.Fatalf("unregistered function under a scope: %v", err)
	}
	withFn := reopen(t, td, bunhook.WithFunctions("sqlite_version"))
	if err := withFn.NewRaw("SELECT sqlite_version()").Scan(a, &version); err != nil || version == "" {
		t.Fatalf("registered function under a scope: %q, %v", version, err)
	}

	// Conflicts name both declarations.
	err := bunhook.RegisterSharedModels(td.db, (*Invoice)(nil))
	if !errors.Is(err, bunhook.ErrModel) || !strings.Contains(err.Error(), "TenantOwned") {
		t.Errorf("a tenant-owned model registered as shared: %v", err)
	}
	type FakeInvoice struct {
		bun.BaseModel `bun:"table:invoices"`
		ID            int64 `bun:",pk"`
	}
	err = bunhook.RegisterSharedModels(td.db, (*FakeInvoice)(nil))
	if !errors.Is(err, bunhook.ErrModel) || !strings.Contains(err.Error(), "FakeInvoice") || !strings.Contains(err.Error(), "bunhook_test.Invoice") {
		t.Errorf("a shared model on a tenant table: %v", err)
	}
	_, err = sqlitedb.Open("file::memory:", bunhook.WithModels(allModels...), bunhook.WithSharedTables("customers"))
	if !errors.Is(err, bunhook.ErrModel) || !strings.Contains(err.Error(), "WithSharedTables") || !strings.Contains(err.Error(), "Customer") {
		t.Errorf("Open with a table both shared and tenant-owned: %v", err)
	}
	for _, opt := range []bunhook.Option{bunhook.WithSharedTables("public.plans"), bunhook.WithFunctions("f()"),
		bunhook.WithTenantTable("a b", "tenant_id")} {
		if _, err := sqlitedb.Open("file::memory:", opt); !errors.Is(err, bunhook.ErrModel) {
			t.Errorf("invalid name: %v", err)
		}
	}
}
