package posture_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/tenantshield/tenantshield-go/bunhook/posture"
)

// pgUnsafe is the schema a bun application gets from CreateTable: keys,
// unique constraints and foreign keys without the tenant column, no RLS.
var pgUnsafe = []string{
	`CREATE TABLE customers (id bigserial PRIMARY KEY, tenant_id varchar(64) NOT NULL, name text NOT NULL)`,
	`CREATE TABLE invoices (id bigserial PRIMARY KEY, tenant_id varchar(64) NOT NULL, number text NOT NULL UNIQUE,
	  status text NOT NULL DEFAULT 'open', customer_id bigint REFERENCES customers (id))`,
	`CREATE TABLE items (id bigserial PRIMARY KEY, tenant_id varchar(64) NOT NULL,
	  invoice_id bigint NOT NULL REFERENCES invoices (id) ON DELETE CASCADE, name text NOT NULL)`,
}

var pgTables = []posture.Table{{Name: "customers", Column: "tenant_id"}, {Name: "invoices", Column: "tenant_id"}, {Name: "items", Column: "tenant_id"}}

// pgSafe is a PostgreSQL schema made safe by the package's own helpers: the
// unsafe schema, the fixes of its report applied by the superuser, and the
// owner and application roles of RoleSQL. It returns the schema and a
// handle connected as the application role.
func pgSafe(t *testing.T) (*testDB, *sql.DB, string) {
	t.Helper()
	td := openPG(t)
	td.exec(t, pgUnsafe...)
	r := check(t, td.admin, posture.Postgres, pgTables)
	for _, k := range []posture.Kind{posture.KeyPrimary, posture.KeyUnique, posture.KeyForeign, posture.RLSDisabled} {
		if len(find(r, k, "")) == 0 {
			t.Fatalf("the unsafe schema has no %s finding:\n%s", k, text(r))
		}
	}
	if err := r.Apply(context.Background(), td.admin); err != nil {
		t.Fatal(err)
	}
	owner, app := randName("ts_owner_"), randName("ts_app_")
	t.Cleanup(func() {
		// The schema first: views and functions of the superuser may
		// depend on the owner's tables.
		if _, err := td.admin.ExecContext(context.Background(), "DROP SCHEMA "+td.name+" CASCADE"); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, role := range []string{app + "_b", app, owner} {
			for _, s := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
				if _, err := td.admin.ExecContext(context.Background(), s); err != nil && !strings.Contains(err.Error(), "does not exist") {
					t.Errorf("cleanup: %s: %v", s, err)
				}
			}
		}
	})
	td.exec(t, posture.RoleSQL(posture.Postgres, posture.RoleSetup{Owner: owner, App: app, Schema: td.name,
		Tables: []string{"customers", "invoices", "items"}})...)
	appDB := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(withUser(td.dsn, app))))
	t.Cleanup(func() { _ = appDB.Close() })
	return td, appDB, app
}

// TestPostgresSafeSchemaHasNoFindings: the helpers' schema, checked as the
// application role, reports nothing.
func TestPostgresSafeSchemaHasNoFindings(t *testing.T) {
	t.Parallel()
	_, app, role := pgSafe(t)
	r := check(t, app, posture.Postgres, pgTables)
	if len(r.Findings) != 0 {
		t.Fatalf("the helpers' schema has findings:\n%s", text(r))
	}
	if len(r.TenantForeignKeys) != 2 {
		t.Fatalf("want the 2 composite foreign keys listed, got %+v", r.TenantForeignKeys)
	}
	if r.Role != role || r.Database == "" {
		t.Fatalf("report names role %q, database %q; want %q and the database", r.Role, r.Database, role)
	}
	if err := r.Err(posture.Info); err != nil {
		t.Fatal(err)
	}
}

// TestPostgresFunctionsThatReadTheSetting: functions and triggers that
// only read the tenant setting, or set another one, are not findings.
func TestPostgresFunctionsThatReadTheSetting(t *testing.T) {
	t.Parallel()
	td, app, _ := pgSafe(t)
	td.exec(t, `CREATE FUNCTION current_tenant() RETURNS text LANGUAGE sql STABLE AS $$ SELECT current_setting('app.tenant_id', true) $$`,
		`CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN NEW.tenant_id := current_setting('app.tenant_id', true); PERFORM set_config('app.request_id', 'x', true); RETURN NEW; END $$`)
	if r := check(t, app, posture.Postgres, pgTables); len(r.Findings) != 0 {
		t.Fatalf("readers of the setting reported:\n%s", text(r))
	}
}

// TestPostgresFindings breaks the safe schema one way per case and checks
// that the check, as the application role, names that weakness; for
// the weaknesses DDL can fix, applying the report's fixes makes the schema
// clean again.
func TestPostgresFindings(t *testing.T) {
	t.Parallel()
	type tc struct {
		name   string
		brk    func(app string) []string
		tables []posture.Table // registered besides pgTables
		kind   posture.Kind
		table  string
		sev    posture.Severity
		fixes  bool // the report's FixSQL removes every finding
		asRoot bool // check as the superuser instead of the application
		why    string
	}
	cases := []tc{
		{name: "superuser", asRoot: true, kind: posture.RoleSuperuser, sev: posture.Critical},
		{name: "bypassrls", brk: func(app string) []string { return []string{"ALTER ROLE " + app + " BYPASSRLS"} }, kind: posture.RoleBypassRLS, sev: posture.Critical},
		{name: "member of a bypassrls role", brk: func(app string) []string {
			return []string{"CREATE ROLE " + app + "_b NOLOGIN BYPASSRLS", "GRANT " + app + "_b TO " + app}
		}, kind: posture.RoleBypassRLS, sev: posture.Critical},
		{name: "createrole", brk: func(app string) []string { return []string{"ALTER ROLE " + app + " CREATEROLE"} }, kind: posture.RoleCreateRole, sev: posture.High},
		{name: "owner", brk: func(app string) []string { return []string{"ALTER TABLE items OWNER TO " + app} }, kind: posture.RoleOwner, table: "items", sev: posture.High},
		{name: "truncate", brk: func(app string) []string { return []string{"GRANT TRUNCATE ON items TO " + app} }, kind: posture.RoleTruncate, table: "items", sev: posture.High},
		{name: "rls disabled", brk: fixed("ALTER TABLE items DISABLE ROW LEVEL SECURITY"), kind: posture.RLSDisabled, table: "items", sev: posture.High, fixes: true},
		{name: "rls not forced", brk: fixed("ALTER TABLE items NO FORCE ROW LEVEL SECURITY"), kind: posture.RLSNotForced, table: "items", sev: posture.Medium, fixes: true},
		{name: "open policy", brk: fixed("CREATE POLICY open ON items USING (true)"), kind: posture.RLSPolicy, table: "items", sev: posture.High, fixes: true},
		{name: "insert policy without check", brk: fixed("CREATE POLICY ins ON items FOR INSERT WITH CHECK (true)"), kind: posture.RLSPolicy, table: "items", sev: posture.High, fixes: true},
		{name: "policy on another setting", brk: fixed("DROP POLICY tenantshield_items ON items",
			"CREATE POLICY other ON items USING (tenant_id = current_setting('app.user_id', true))"), kind: posture.RLSPolicy, table: "items", sev: posture.High, fixes: true},
		{name: "no policy", brk: fixed("DROP POLICY tenantshield_items ON items"), kind: posture.RLSNoPolicy, table: "items", sev: posture.Medium, fixes: true},
		{name: "unique constraint", brk: fixed("ALTER TABLE invoices ADD CONSTRAINT invoices_number_only UNIQUE (number)"), kind: posture.KeyUnique, table: "invoices", sev: posture.High, fixes: true, why: "reveals"},
		{name: "unique expression index", brk: fixed("CREATE UNIQUE INDEX items_lower_name ON items (lower(name))"), kind: posture.KeyUnique, table: "items", sev: posture.High, fixes: true},
		{name: "primary key", brk: fixed("CREATE TABLE notes (id bigint PRIMARY KEY, tenant_id text NOT NULL)"),
			tables: []posture.Table{{Name: "notes", Column: "tenant_id"}}, kind: posture.KeyPrimary, table: "notes", sev: posture.High, fixes: true},
		{name: "foreign key with cascade", brk: fixed("ALTER TABLE invoices ADD CONSTRAINT invoices_id_key UNIQUE (id)",
			"ALTER TABLE items ADD CONSTRAINT items_invoice_plain FOREIGN KEY (invoice_id) REFERENCES invoices (id) ON DELETE CASCADE"),
			kind: posture.KeyForeign, table: "items", sev: posture.Critical, fixes: true, why: "CASCADE"},
		{name: "no tenant-leading index", brk: fixed("CREATE TABLE notes (id bigint NOT NULL, tenant_id text NOT NULL, PRIMARY KEY (id, tenant_id))"),
			tables: []posture.Table{{Name: "notes", Column: "tenant_id"}}, kind: posture.IndexTenant, table: "notes", sev: posture.Medium, fixes: true},
		{name: "nondeterministic collation", brk: func(app string) []string {
			return []string{"CREATE COLLATION ci_" + app + " (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
				"CREATE TABLE tags (tenant_id text COLLATE ci_" + app + " NOT NULL PRIMARY KEY)"}
		}, tables: []posture.Table{{Name: "tags", Column: "tenant_id"}}, kind: posture.CollationFolding, table: "tags", sev: posture.High},
		{name: "char pads", brk: fixed("CREATE TABLE tags (tenant_id char(8) NOT NULL PRIMARY KEY)"),
			tables: []posture.Table{{Name: "tags", Column: "tenant_id"}}, kind: posture.CollationFolding, table: "tags", sev: posture.High},
		{name: "partition", brk: fixed("CREATE TABLE events (tenant_id text NOT NULL, at date NOT NULL) PARTITION BY RANGE (at)",
			"CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"),
			tables: []posture.Table{{Name: "events", Column: "tenant_id"}}, kind: posture.RelationPartition, table: "events", sev: posture.High},
		{name: "inheritance", brk: fixed("CREATE TABLE notes (tenant_id text NOT NULL)", "CREATE TABLE notes_archive () INHERITS (notes)"),
			tables: []posture.Table{{Name: "notes", Column: "tenant_id"}}, kind: posture.RelationInherits, table: "notes", sev: posture.High},
		{name: "definer view", brk: fixed("CREATE VIEW open_invoices AS SELECT * FROM invoices WHERE status = 'open'"),
			kind: posture.RelationView, table: "invoices", sev: posture.High, why: "bypasses row-level security"},
		{name: "materialized view", brk: fixed("CREATE MATERIALIZED VIEW invoice_counts AS SELECT tenant_id, count(*) FROM invoices GROUP BY tenant_id"),
			kind: posture.RelationView, table: "invoices", sev: posture.High, why: "no row-level security"},
		{name: "copy", brk: fixed("CREATE TABLE invoices_backup AS SELECT * FROM invoices"), kind: posture.RelationCopy, table: "invoices_backup", sev: posture.High},
		{name: "security definer", brk: fixed(`CREATE FUNCTION all_invoices() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM invoices'`),
			kind: posture.FunctionDefiner, sev: posture.High},
		{name: "trigger sets the setting", brk: fixed(`CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN PERFORM set_config('app.tenant_id', 'B', false); RETURN NULL; END $$`),
			kind: posture.FunctionSetsSetting, sev: posture.High},
		{name: "function sets the setting with SET", brk: fixed(`CREATE FUNCTION sw() RETURNS void LANGUAGE plpgsql AS $$
			BEGIN EXECUTE 'SET app.tenant_id = ''B'''; END $$`),
			kind: posture.FunctionSetsSetting, sev: posture.High},
		{name: "function calls set_config with a computed name", brk: fixed(`CREATE FUNCTION sw(n text) RETURNS void LANGUAGE sql AS 'SELECT set_config(n, ''B'', false)'`),
			kind: posture.FunctionSetsSetting, sev: posture.High},
		{name: "missing table", tables: []posture.Table{{Name: "nowhere", Column: "tenant_id"}}, kind: posture.TableMissing, table: "nowhere", sev: posture.Medium},
		{name: "missing column", tables: []posture.Table{{Name: "customers", Column: "org_id"}}, kind: posture.ColumnMissing, table: "customers", sev: posture.Medium},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			td, app, role := pgSafe(t)
			if c.brk != nil {
				td.exec(t, c.brk(role)...)
			}
			tables := append(append([]posture.Table{}, pgTables...), c.tables...)
			db := app
			if c.asRoot {
				db = td.admin
			}
			r := check(t, db, posture.Postgres, tables)
			got := find(r, c.kind, c.table)
			if len(got) == 0 {
				t.Fatalf("no %s finding on %q:\n%s", c.kind, c.table, text(r))
			}
			f := got[0]
			if f.Severity != c.sev || f.Message == "" || f.Why == "" || (len(f.Fix) == 0 && f.Advice == "") {
				t.Fatalf("finding %+v: want severity %s, a message, a why and a fix or advice", f, c.sev)
			}
			if c.why != "" && !strings.Contains(f.Why, c.why) {
				t.Fatalf("why %q does not say %q", f.Why, c.why)
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
			if again := check(t, app, posture.Postgres, tables); len(again.Findings) != 0 {
				t.Fatalf("after applying\n%s\nthe check still finds:\n%s", strings.Join(r.FixSQL(), ";\n"), text(again))
			}
		})
	}
}

func fixed(stmts ...string) func(string) []string { return func(string) []string { return stmts } }
