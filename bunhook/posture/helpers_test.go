package posture_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/tenantshield/tenantshield-go/bunhook/posture"
)

// env returns the DSN of a database tier, or skips (or, with TS_REQUIRE_DBS
// set, fails) when it is not configured.
func env(t testing.TB, name string) string {
	t.Helper()
	dsn := os.Getenv(name)
	if dsn == "" {
		if os.Getenv("TS_REQUIRE_DBS") != "" {
			t.Fatalf("%s is not set but TS_REQUIRE_DBS is: the PostgreSQL and MariaDB tiers must run", name)
		}
		t.Skipf("%s not set: skipping this database tier (make test sets it)", name)
	}
	return dsn
}

func unreachable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("TS_REQUIRE_DBS") != "" {
		t.Fatalf("%s is unreachable (TS_REQUIRE_DBS is set, so this tier must run): %v", what, err)
	}
	t.Skipf("%s is unreachable: skipping this tier: %v", what, err)
}

func randName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// testDB is a database of its own (a PostgreSQL schema, a MariaDB
// database, a SQLite file) reached through admin (a superuser) and the DSN
// to open it as another user.
type testDB struct {
	d     posture.Dialect
	admin *sql.DB
	name  string // schema or database name
	dsn   string
}

func (td *testDB) exec(t testing.TB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := td.admin.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func openPG(t testing.TB) *testDB {
	t.Helper()
	base := env(t, "TS_PG_DSN")
	schema := randName("ts_posture_")
	root := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(base)))
	if _, err := root.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		_ = root.Close()
		unreachable(t, "PostgreSQL at TS_PG_DSN", err)
	}
	dsn := withQuery(base, "search_path", schema)
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn)))
	t.Cleanup(func() {
		_ = admin.Close()
		_, _ = root.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = root.Close()
	})
	return &testDB{d: posture.Postgres, admin: admin, name: schema, dsn: dsn}
}

func openMySQL(t testing.TB) *testDB {
	t.Helper()
	base := env(t, "TS_MYSQL_DSN")
	name := randName("ts_posture_")
	root, err := sql.Open("mysql", base)
	if err == nil {
		_, err = root.ExecContext(context.Background(), "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
	}
	if err != nil {
		unreachable(t, "MariaDB at TS_MYSQL_DSN", err)
	}
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	cfg.MultiStatements = false
	dsn := cfg.FormatDSN()
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = admin.Close()
		_, _ = root.ExecContext(context.Background(), "DROP DATABASE "+name)
		_ = root.Close()
	})
	return &testDB{d: posture.MySQL, admin: admin, name: name, dsn: dsn}
}

func openSQLite(t testing.TB) *testDB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "posture.db") + "?_pragma=foreign_keys(1)"
	admin, err := sql.Open(sqliteshim.ShimName, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	return &testDB{d: posture.SQLite, admin: admin, name: "main", dsn: dsn}
}

func withQuery(dsn, k, v string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

func withUser(dsn, user string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.User = url.User(user)
	return u.String()
}

// check runs posture.Check on db and fails t if it cannot run.
func check(t testing.TB, db posture.Querier, d posture.Dialect, tables []posture.Table, opts ...posture.Option) *posture.Report {
	t.Helper()
	r, err := posture.Check(context.Background(), db, d, tables, opts...)
	if err != nil {
		t.Fatalf("posture.Check: %v", err)
	}
	return r
}

// find returns the findings of kind on table (any table when table is "").
func find(r *posture.Report, kind posture.Kind, table string) []posture.Finding {
	var out []posture.Finding
	for _, f := range r.Findings {
		if f.Kind == kind && (table == "" || strings.EqualFold(bareName(f.Table), table)) {
			out = append(out, f)
		}
	}
	return out
}

func bareName(s string) string {
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// text renders the report for failure messages.
func text(r *posture.Report) string {
	var b strings.Builder
	_ = r.WriteText(&b)
	return b.String()
}
