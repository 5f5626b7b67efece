package posture_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/tenantshield/tenantshield-go/bunhook/posture"
)

// myUnsafe is what a bun application gets from CreateTable on MariaDB with
// the server's default collation.
var myUnsafe = []string{
	"CREATE TABLE customers (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, tenant_id VARCHAR(64) NOT NULL, name VARCHAR(100) NOT NULL)",
	`CREATE TABLE invoices (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, tenant_id VARCHAR(64) NOT NULL, number VARCHAR(64) NOT NULL UNIQUE,
	  status VARCHAR(16) NOT NULL DEFAULT 'open', customer_id BIGINT NULL, FOREIGN KEY (customer_id) REFERENCES customers (id))`,
	`CREATE TABLE items (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, tenant_id VARCHAR(64) NOT NULL, invoice_id BIGINT NOT NULL,
	  name VARCHAR(100) NOT NULL, FOREIGN KEY (invoice_id) REFERENCES invoices (id) ON DELETE CASCADE)`,
}

// mySafe is a MariaDB database made safe by the package's helpers: the
// unsafe schema, its report's fixes applied by root, and the users of
// RoleSQL. It returns the database, a handle as the application user and
// that user's name.
func mySafe(t *testing.T) (*testDB, *sql.DB, string) {
	t.Helper()
	td := openMySQL(t)
	td.exec(t, myUnsafe...)
	r := check(t, td.admin, posture.MySQL, pgTables)
	for _, k := range []posture.Kind{posture.KeyPrimary, posture.KeyUnique, posture.KeyForeign, posture.CollationFolding, posture.RoleFile} {
		if len(find(r, k, "")) == 0 {
			t.Fatalf("the unsafe schema has no %s finding:\n%s", k, text(r))
		}
	}
	if err := r.Apply(context.Background(), td.admin); err != nil {
		t.Fatal(err)
	}
	owner, app := randName("ts_owner_"), randName("ts_app_")
	t.Cleanup(func() {
		for _, u := range []string{app, owner} {
			if _, err := td.admin.ExecContext(context.Background(), "DROP USER IF EXISTS '"+u+"'@'%'"); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	td.exec(t, posture.RoleSQL(posture.MySQL, posture.RoleSetup{Owner: owner, App: app, Database: td.name})...)
	cfg, err := mysql.ParseDSN(td.dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Passwd = app, ""
	appDB, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = appDB.Close() })
	return td, appDB, app
}

// TestMySQLSafeSchemaHasNoFindings: the helpers' schema, checked as the
// application user, reports nothing.
func TestMySQLSafeSchemaHasNoFindings(t *testing.T) {
	t.Parallel()
	td, app, user := mySafe(t)
	r := check(t, app, posture.MySQL, pgTables)
	if len(r.Findings) != 0 {
		t.Fatalf("the helpers' schema has findings:\n%s", text(r))
	}
	if !strings.HasPrefix(r.Role, user+"@") || r.Database != td.name {
		t.Fatalf("report names %q in %q; want %s@… in %s", r.Role, r.Database, user, td.name)
	}
}

// TestMySQLFindings breaks the safe schema one way per case and checks that
// the check, as the application user, names that weakness; where DDL fixes
// it, applying the report's fixes (as root) makes the schema clean again.
func TestMySQLFindings(t *testing.T) {
	t.Parallel()
	type tc struct {
		name   string
		brk    func(db, app string) []string
		tables []posture.Table
		kind   posture.Kind
		table  string
		sev    posture.Severity
		fixes  bool
		asRoot bool
		why    string
	}
	grant := func(what string) func(db, app string) []string {
		return func(db, app string) []string {
			return []string{strings.NewReplacer("DB", db, "APP", "'"+app+"'@'%'").Replace(what)}
		}
	}
	ddl := func(stmts ...string) func(string, string) []string {
		return func(string, string) []string { return stmts }
	}
	notes := []posture.Table{{Name: "notes", Column: "tenant_id"}}
	cases := []tc{
		{name: "root", asRoot: true, kind: posture.RoleFile, sev: posture.Critical},
		{name: "file", brk: grant("GRANT FILE ON *.* TO APP"), kind: posture.RoleFile, sev: posture.Critical},
		{name: "super", brk: grant("GRANT SUPER ON *.* TO APP"), kind: posture.RoleSuper, sev: posture.High},
		{name: "grant option", brk: grant("GRANT SELECT ON DB.* TO APP WITH GRANT OPTION"), kind: posture.RoleGrantOption, sev: posture.High},
		{name: "ddl", brk: grant("GRANT ALTER, DROP ON DB.* TO APP"), kind: posture.RoleDDL, sev: posture.Medium},
		{name: "unique key", brk: ddl("ALTER TABLE invoices ADD UNIQUE KEY invoices_number_only (number)"), kind: posture.KeyUnique, table: "invoices", sev: posture.High, fixes: true, why: "reveals"},
		{name: "primary key", brk: ddl("CREATE TABLE notes (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, tenant_id VARCHAR(64) COLLATE utf8mb4_nopad_bin NOT NULL)"),
			tables: notes, kind: posture.KeyPrimary, table: "notes", sev: posture.High, fixes: true},
		{name: "foreign key with cascade", brk: ddl("ALTER TABLE invoices ADD UNIQUE KEY invoices_id_only (id)",
			"ALTER TABLE items ADD CONSTRAINT items_invoice_plain FOREIGN KEY (invoice_id) REFERENCES invoices (id) ON DELETE CASCADE"),
			kind: posture.KeyForeign, table: "items", sev: posture.Critical, fixes: true, why: "CASCADE"},
		{name: "no tenant-leading index", brk: ddl("CREATE TABLE notes (id BIGINT NOT NULL, tenant_id VARCHAR(64) COLLATE utf8mb4_nopad_bin NOT NULL, PRIMARY KEY (id, tenant_id))"),
			tables: notes, kind: posture.IndexTenant, table: "notes", sev: posture.Medium, fixes: true, why: "locks"},
		{name: "case-insensitive collation", brk: ddl("CREATE TABLE notes (tenant_id VARCHAR(64) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY)"),
			tables: notes, kind: posture.CollationFolding, table: "notes", sev: posture.High, fixes: true, why: "case"},
		{name: "padding binary collation", brk: ddl("CREATE TABLE notes (tenant_id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY)"),
			tables: notes, kind: posture.CollationFolding, table: "notes", sev: posture.High, fixes: true, why: "trailing spaces"},
		{name: "view", brk: ddl("CREATE VIEW open_invoices AS SELECT * FROM invoices WHERE status = 'open'"),
			kind: posture.RelationView, table: "open_invoices", sev: posture.High},
		{name: "view seen by root", asRoot: true, brk: ddl("CREATE VIEW open_invoices AS SELECT * FROM invoices WHERE status = 'open'"),
			kind: posture.RelationView, table: "invoices", sev: posture.High},
		{name: "copy", brk: ddl("CREATE TABLE invoices_backup AS SELECT * FROM invoices"), kind: posture.RelationCopy, table: "invoices_backup", sev: posture.High},
		{name: "missing table", tables: []posture.Table{{Name: "nowhere", Column: "tenant_id"}}, kind: posture.TableMissing, table: "nowhere", sev: posture.Medium},
		{name: "missing column", tables: []posture.Table{{Name: "customers", Column: "org_id"}}, kind: posture.ColumnMissing, table: "customers", sev: posture.Medium},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			td, app, user := mySafe(t)
			if c.brk != nil {
				td.exec(t, c.brk(td.name, user)...)
			}
			tables := append(append([]posture.Table{}, pgTables...), c.tables...)
			db := app
			if c.asRoot {
				db = td.admin
			}
			r := check(t, db, posture.MySQL, tables)
			got := find(r, c.kind, c.table)
			if len(got) == 0 {
				t.Fatalf("no %s finding on %q:\n%s", c.kind, c.table, text(r))
			}
			f := got[0]
			if f.Severity != c.sev || f.Message == "" || f.Why == "" || (len(f.Fix) == 0 && f.Advice == "") {
				t.Fatalf("finding %+v: want severity %s, a message, a why and a fix or advice", f, c.sev)
			}
			if c.why != "" && !strings.Contains(f.Why+f.Message, c.why) {
				t.Fatalf("finding %q / %q does not say %q", f.Message, f.Why, c.why)
			}
			if err := r.Err(c.sev); !errors.Is(err, posture.ErrUnsafe) {
				t.Fatalf("Err(%s) = %v, want ErrUnsafe", c.sev, err)
			}
			if !c.fixes {
				return
			}
			if err := r.Apply(context.Background(), td.admin); err != nil {
				t.Fatal(err)
			}
			if again := check(t, app, posture.MySQL, tables); len(again.Findings) != 0 {
				t.Fatalf("after applying\n%s\nthe check still finds:\n%s", strings.Join(r.FixSQL(), ";\n"), text(again))
			}
		})
	}
}

// TestMySQLTenantForeignKeys: the safe schema's composite foreign keys are
// listed for bunhook to rely on, unless foreign_key_checks is off, which
// is itself a critical finding.
func TestMySQLTenantForeignKeys(t *testing.T) {
	t.Parallel()
	td, app, user := mySafe(t)
	r := check(t, app, posture.MySQL, pgTables)
	if len(r.TenantForeignKeys) != 2 {
		t.Fatalf("want the 2 composite foreign keys, got %+v", r.TenantForeignKeys)
	}
	cfg, err := mysql.ParseDSN(td.dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Passwd = user, ""
	cfg.Params = map[string]string{"foreign_key_checks": "0"}
	off, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	r = check(t, off, posture.MySQL, pgTables)
	if len(find(r, posture.KeyUnchecked, "")) != 1 || len(r.TenantForeignKeys) != 0 {
		t.Fatalf("foreign_key_checks=0: want key.unchecked and no trusted keys:\n%s", text(r))
	}
}
