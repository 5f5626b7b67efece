package posture_test

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/tenantshield/tenantshield-go/bunhook/posture"
)

// Check a schema, print what it finds and the migration that fixes what
// DDL can fix. (With bunhook, bunhook.Posture(ctx, db) passes the
// registered tables; `tenantshield posture DSN` does it from a shell.)
func ExampleCheck() {
	db, err := sql.Open(sqliteshim.ShimName, "file:example?mode=memory&cache=shared")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	for _, ddl := range []string{
		`CREATE TABLE invoices (tenant_id TEXT NOT NULL, id TEXT NOT NULL, number TEXT NOT NULL, PRIMARY KEY (tenant_id, id)) WITHOUT ROWID`,
		`CREATE UNIQUE INDEX invoices_number ON invoices (number)`,
		`CREATE TABLE invoices_2025 AS SELECT * FROM invoices`,
	} {
		if _, err := db.Exec(ddl); err != nil {
			panic(err)
		}
	}
	r, err := posture.Check(context.Background(), db, posture.SQLite,
		[]posture.Table{{Name: "invoices", Column: "tenant_id"}})
	if err != nil {
		panic(err)
	}
	for _, f := range r.Findings {
		fmt.Printf("%s %s %s\n", f.Severity, f.Kind, f.Table)
	}
	for _, s := range r.FixSQL() {
		fmt.Println(s + ";")
	}
	// Output:
	// high key.unique invoices
	// high relation.copy invoices_2025
	// DROP INDEX "invoices_number";
	// CREATE UNIQUE INDEX "invoices_number" ON "invoices" ("tenant_id", "number");
}

// The owner and application roles of the safe setup on PostgreSQL.
func ExampleRoleSQL() {
	for _, s := range posture.RoleSQL(posture.Postgres, posture.RoleSetup{
		Owner: "billing_owner", App: "billing_app", Schema: "billing", Tables: []string{"invoices"}}) {
		fmt.Println(s + ";")
	}
	// Output:
	// CREATE ROLE "billing_owner" NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE;
	// CREATE ROLE "billing_app" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB;
	// GRANT USAGE, CREATE ON SCHEMA "billing" TO "billing_owner";
	// GRANT USAGE ON SCHEMA "billing" TO "billing_app";
	// ALTER TABLE "invoices" OWNER TO "billing_owner";
	// GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "billing" TO "billing_app";
	// GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "billing" TO "billing_app";
	// ALTER DEFAULT PRIVILEGES FOR ROLE "billing_owner" IN SCHEMA "billing" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "billing_app";
	// ALTER DEFAULT PRIVILEGES FOR ROLE "billing_owner" IN SCHEMA "billing" GRANT USAGE, SELECT ON SEQUENCES TO "billing_app";
}
