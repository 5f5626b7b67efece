package bunhooktest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/uptrace/bun/driver/pgdriver"
)

// PostgresSchema creates a schema with a random name on the PostgreSQL
// server of dsn (a postgres:// URL), drops it (CASCADE) when the test ends,
// and returns dsn with search_path set to it: tests that run at the same
// time on the same server, and earlier runs, never see each other's tables.
func PostgresSchema(t testing.TB, dsn string) (string, error) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("bunhooktest.PostgresSchema: %w", err)
	}
	name := "kit_" + randHex(6)
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn)))
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+name); err != nil {
		_ = admin.Close()
		return "", fmt.Errorf("bunhooktest.PostgresSchema: CREATE SCHEMA: %w", err)
	}
	t.Cleanup(func() {
		_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+name+" CASCADE")
		_ = admin.Close()
	})
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// MySQLDatabase creates a database with a random name on the MySQL or
// MariaDB server of dsn (a go-sql-driver DSN), with the given CREATE
// DATABASE options (e.g. "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", or
// "" for the server's default), drops it when the test ends, and returns
// dsn naming it.
func MySQLDatabase(t testing.TB, dsn, options string) (string, error) {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("bunhooktest.MySQLDatabase: %w", err)
	}
	name := "kit_" + randHex(6)
	admin, err := sql.Open("mysql", dsn)
	if err == nil {
		_, err = admin.ExecContext(t.Context(), "CREATE DATABASE "+name+" "+options)
	}
	if err != nil {
		if admin != nil {
			_ = admin.Close()
		}
		return "", fmt.Errorf("bunhooktest.MySQLDatabase: CREATE DATABASE: %w", err)
	}
	t.Cleanup(func() {
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE "+name)
		_ = admin.Close()
	})
	cfg.DBName = name
	return cfg.FormatDSN(), nil
}
