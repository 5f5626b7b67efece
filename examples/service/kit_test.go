package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/bunhooktest"
	"github.com/tenantshield/tenantshield-go/bunhook/mysqldb"
)

// tier returns the DSN of a database tier, or skips the test (fails it
// when TS_REQUIRE_DBS is set) when it is not configured or unreachable.
func tier(t *testing.T, name string, open func(string) (string, error)) string {
	t.Helper()
	dsn := os.Getenv(name)
	if dsn == "" {
		if os.Getenv("TS_REQUIRE_DBS") != "" {
			t.Fatalf("%s is not set but TS_REQUIRE_DBS is: this tier must run", name)
		}
		t.Skipf("%s not set: skipping this database tier", name)
	}
	dsn, err := open(dsn)
	if err != nil {
		if os.Getenv("TS_REQUIRE_DBS") != "" {
			t.Fatalf("%s is unreachable (TS_REQUIRE_DBS is set, so this tier must run): %v", name, err)
		}
		t.Skipf("%s is unreachable: skipping this tier: %v", name, err)
	}
	return dsn
}

// TestIsolationKit proves the isolation of the service's Invoice model with
// the adopter test kit, on the service's own openDB and migrate: SQLite
// always, PostgreSQL and MariaDB when TS_PG_DSN / TS_MYSQL_DSN are set (each
// in a schema or database of its own, dropped at the end).
func TestIsolationKit(t *testing.T) {
	models := []bunhooktest.Model{bunhooktest.For[Invoice](nil)}
	t.Run("sqlite", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "kit.db")
		db, err := openDB("sqlite:" + file)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if err := migrate(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		raw := bunhooktest.OpenRaw(t, sqliteshim.ShimName, "file:"+file+"?_pragma=busy_timeout(5000)", sqlitedialect.New())
		bunhooktest.Run(t, db, raw, models)
	})
	t.Run("pg", func(t *testing.T) {
		dsn := tier(t, "TS_PG_DSN", func(dsn string) (string, error) { return bunhooktest.PostgresSchema(t, dsn) })
		db, err := openDB(dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if err := migrate(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		raw := bun.NewDB(sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn))), pgdialect.New())
		t.Cleanup(func() { _ = raw.Close() })
		bunhooktest.Run(t, db, raw, models)
	})
	t.Run("mysql", func(t *testing.T) {
		dsn := tier(t, "TS_MYSQL_DSN", func(dsn string) (string, error) { return bunhooktest.MySQLDatabase(t, dsn, "") })
		// The service opens SQLite and PostgreSQL only; MariaDB through
		// bunhook's helper with the same models.
		db, err := mysqldb.Open(dsn, bunhook.WithModels((*Invoice)(nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if err := migrate(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		bunhooktest.Run(t, db, bunhooktest.OpenRaw(t, "mysql", dsn, mysqldialect.New()), models)
	})
}
