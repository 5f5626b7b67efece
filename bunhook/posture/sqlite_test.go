package posture_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tenantshield/tenantshield-go/bunhook/posture"
)

// liteSafe is the safe shape on SQLite: keys and foreign keys that lead
// with the tenant column, in tables without a shared rowid.
var liteSafe = []string{
	`CREATE TABLE invoices (id TEXT NOT NULL, tenant_id TEXT NOT NULL, number TEXT NOT NULL,
	  PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, number)) WITHOUT ROWID`,
	`CREATE TABLE items (id TEXT NOT NULL, tenant_id TEXT NOT NULL, invoice_id TEXT NOT NULL, name TEXT,
	  PRIMARY KEY (tenant_id, id), FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id) ON DELETE CASCADE) WITHOUT ROWID`,
}

var liteTables = []posture.Table{{Name: "invoices", Column: "tenant_id"}, {Name: "items", Column: "tenant_id"}}

// liteUnsafe is what bun's CreateTable makes on SQLite.
var liteUnsafe = []string{
	`CREATE TABLE "invoices" ("id" INTEGER NOT NULL, "tenant_id" VARCHAR NOT NULL, "number" VARCHAR NOT NULL, PRIMARY KEY ("id"), UNIQUE ("number"))`,
	`CREATE TABLE "items" ("id" INTEGER NOT NULL, "tenant_id" VARCHAR NOT NULL, "invoice_id" INTEGER NOT NULL, "name" VARCHAR,
	  PRIMARY KEY ("id"), FOREIGN KEY ("invoice_id") REFERENCES "invoices" ("id") ON DELETE CASCADE)`,
}

func TestSQLiteSafeSchemaHasNoFindings(t *testing.T) {
	t.Parallel()
	td := openSQLite(t)
	td.exec(t, liteSafe...)
	if r := check(t, td.admin, posture.SQLite, liteTables); len(r.Findings) != 0 {
		t.Fatalf("the safe SQLite schema has findings:\n%s", text(r))
	}
}

// TestSQLiteBunSchema: bun's default SQLite schema has the rowid keys, the
// unique constraint and the foreign key without the tenant column; the
// report's DDL adds the tenant-leading indexes, and the rest needs a
// rebuild, which the advice says.
func TestSQLiteBunSchema(t *testing.T) {
	t.Parallel()
	td := openSQLite(t)
	td.exec(t, liteUnsafe...)
	r := check(t, td.admin, posture.SQLite, liteTables)
	for _, want := range []struct {
		kind  posture.Kind
		table string
	}{{posture.KeyPrimary, "invoices"}, {posture.KeyPrimary, "items"}, {posture.KeyUnique, "invoices"}, {posture.KeyForeign, "items"}, {posture.IndexTenant, "items"}} {
		if len(find(r, want.kind, want.table)) != 1 {
			t.Fatalf("want one %s on %s:\n%s", want.kind, want.table, text(r))
		}
	}
	if f := find(r, posture.KeyForeign, "items")[0]; !strings.Contains(f.Why, "CASCADE") || !strings.Contains(f.Advice, "REFERENCES invoices (tenant_id, id)") {
		t.Fatalf("foreign key finding %+v: want the cascade named and the composite key advised", f)
	}
	if err := r.Apply(context.Background(), td.admin); err != nil {
		t.Fatal(err)
	}
	again := check(t, td.admin, posture.SQLite, liteTables)
	if len(find(again, posture.IndexTenant, "")) != 0 || len(again.Findings) != len(r.Findings)-2 {
		t.Fatalf("after the fixes, want only the tenant-leading index findings gone:\n%s", text(again))
	}
}

func TestSQLiteFindings(t *testing.T) {
	t.Parallel()
	notes := []posture.Table{{Name: "notes", Column: "tenant_id"}}
	cases := []struct {
		name   string
		ddl    []string
		tables []posture.Table
		kind   posture.Kind
		table  string
		sev    posture.Severity
		fixes  bool
	}{
		{name: "rowid key", ddl: []string{"CREATE TABLE notes (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL)", "CREATE INDEX notes_t ON notes (tenant_id)"},
			tables: notes, kind: posture.KeyPrimary, table: "notes", sev: posture.High},
		{name: "primary key without tenant", ddl: []string{"CREATE TABLE notes (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL)", "CREATE INDEX notes_t ON notes (tenant_id)"},
			tables: notes, kind: posture.KeyPrimary, table: "notes", sev: posture.High},
		{name: "unique constraint", ddl: []string{"CREATE TABLE notes (tenant_id TEXT NOT NULL, code TEXT UNIQUE, PRIMARY KEY (tenant_id, code)) WITHOUT ROWID"},
			tables: notes, kind: posture.KeyUnique, table: "notes", sev: posture.High},
		{name: "unique index", ddl: []string{"CREATE UNIQUE INDEX items_name ON items (name)"}, kind: posture.KeyUnique, table: "items", sev: posture.High, fixes: true},
		{name: "foreign key", ddl: []string{"CREATE TABLE notes (tenant_id TEXT NOT NULL, id TEXT NOT NULL, invoice_id TEXT REFERENCES invoices (id), PRIMARY KEY (tenant_id, id)) WITHOUT ROWID"},
			tables: notes, kind: posture.KeyForeign, table: "notes", sev: posture.Critical},
		{name: "no tenant-leading index", ddl: []string{"CREATE TABLE notes (id TEXT NOT NULL, tenant_id TEXT NOT NULL, PRIMARY KEY (id, tenant_id)) WITHOUT ROWID"},
			tables: notes, kind: posture.IndexTenant, table: "notes", sev: posture.Medium, fixes: true},
		{name: "nocase", ddl: []string{`CREATE TABLE notes ("tenant_id" TEXT COLLATE NOCASE NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tenant_id, id)) WITHOUT ROWID`},
			tables: notes, kind: posture.CollationFolding, table: "notes", sev: posture.High},
		{name: "rtrim", ddl: []string{`CREATE TABLE notes (id TEXT NOT NULL, [tenant_id] TEXT NOT NULL COLLATE rtrim, PRIMARY KEY (tenant_id, id)) WITHOUT ROWID`},
			tables: notes, kind: posture.CollationFolding, table: "notes", sev: posture.High},
		{name: "view", ddl: []string{"CREATE VIEW recent AS SELECT * FROM items"}, kind: posture.RelationView, table: "items", sev: posture.High},
		{name: "copy", ddl: []string{"CREATE TABLE items_old AS SELECT * FROM items"}, kind: posture.RelationCopy, table: "items_old", sev: posture.High},
		{name: "missing table", tables: []posture.Table{{Name: "nowhere", Column: "tenant_id"}}, kind: posture.TableMissing, table: "nowhere", sev: posture.Medium},
		{name: "missing column", tables: []posture.Table{{Name: "items", Column: "org_id"}}, kind: posture.ColumnMissing, table: "items", sev: posture.Medium},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			td := openSQLite(t)
			td.exec(t, liteSafe...)
			td.exec(t, c.ddl...)
			tables := append(append([]posture.Table{}, liteTables...), c.tables...)
			r := check(t, td.admin, posture.SQLite, tables)
			got := find(r, c.kind, c.table)
			if len(got) == 0 {
				t.Fatalf("no %s finding on %q:\n%s", c.kind, c.table, text(r))
			}
			if f := got[0]; f.Severity != c.sev || f.Message == "" || f.Why == "" || (len(f.Fix) == 0 && f.Advice == "") {
				t.Fatalf("finding %+v: want severity %s, a message, a why and a fix or advice", f, c.sev)
			}
			if !c.fixes {
				return
			}
			if err := r.Apply(context.Background(), td.admin); err != nil {
				t.Fatal(err)
			}
			if again := check(t, td.admin, posture.SQLite, tables); len(again.Findings) != 0 {
				t.Fatalf("after the fixes the check still finds:\n%s", text(again))
			}
		})
	}
}
