package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/bunhooktest"
	"github.com/tenantshield/tenantshield-go/bunhook/mysqldb"
	"github.com/tenantshield/tenantshield-go/bunhook/pgdb"
	"github.com/tenantshield/tenantshield-go/bunhook/sqlitedb"
	"github.com/tenantshield/tenantshield-go/scope"
)

// TestIsolationKit proves the isolation of the quickstart's Invoice model
// with the adopter test kit and a factory of the application's own: SQLite
// always, PostgreSQL and MariaDB when TS_PG_DSN / TS_MYSQL_DSN are set
// (TS_REQUIRE_DBS=1: they must be reachable).
func TestIsolationKit(t *testing.T) {
	factory := func(_ context.Context, n int) (*Invoice, error) {
		return &Invoice{Number: fmt.Sprintf("KIT-%d", n), Amount: int64(100 * n)}, nil
	}
	models := []bunhooktest.Model{bunhooktest.For(factory)}
	opts := []bunhook.Option{bunhook.WithModels((*Invoice)(nil))}
	for _, tc := range []struct {
		name, env string
		open      func(t *testing.T, dsn string) (db, raw *bun.DB)
	}{
		{"sqlite", "", func(t *testing.T, _ string) (*bun.DB, *bun.DB) {
			dsn := "file:" + filepath.Join(t.TempDir(), "kit.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
			db, err := sqlitedb.Open(dsn, opts...)
			must(t, err)
			return db, bunhooktest.OpenRaw(t, sqliteshim.ShimName, dsn, sqlitedialect.New())
		}},
		{"pg", "TS_PG_DSN", func(t *testing.T, dsn string) (*bun.DB, *bun.DB) {
			dsn, err := bunhooktest.PostgresSchema(t, dsn)
			unreachable(t, "TS_PG_DSN", err)
			db, err := pgdb.Open(dsn, opts...)
			must(t, err)
			return db, bunhooktest.OpenRaw(t, "pg", dsn, pgdialect.New())
		}},
		{"mysql", "TS_MYSQL_DSN", func(t *testing.T, dsn string) (*bun.DB, *bun.DB) {
			dsn, err := bunhooktest.MySQLDatabase(t, dsn, "")
			unreachable(t, "TS_MYSQL_DSN", err)
			db, err := mysqldb.Open(dsn, opts...)
			must(t, err)
			return db, bunhooktest.OpenRaw(t, "mysql", dsn, mysqldialect.New())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := ""
			if tc.env != "" {
				if dsn = os.Getenv(tc.env); dsn == "" {
					if os.Getenv("TS_REQUIRE_DBS") != "" {
						t.Fatalf("%s is not set but TS_REQUIRE_DBS is: this tier must run", tc.env)
					}
					t.Skipf("%s not set: skipping this database tier", tc.env)
				}
			}
			db, raw := tc.open(t, dsn)
			t.Cleanup(func() { _ = db.Close() })
			admin, err := scope.WithBypass(t.Context(), "test schema")
			must(t, err)
			_, err = db.NewCreateTable().Model((*Invoice)(nil)).Exec(admin)
			must(t, err)
			bunhooktest.Run(t, db, raw, models)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// unreachable fails (TS_REQUIRE_DBS set) or skips a tier whose server
// refused to make the test's schema or database.
func unreachable(t *testing.T, name string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("TS_REQUIRE_DBS") != "" {
		t.Fatalf("%s is unreachable (TS_REQUIRE_DBS is set, so this tier must run): %v", name, err)
	}
	t.Skipf("%s is unreachable: skipping this tier: %v", name, err)
}
