package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
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

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// sqliteFile makes a SQLite file with bun's default schema for two tenant
// tables (rowid keys, a unique number, a foreign key without the tenant).
func sqliteFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sql.Open(sqliteshim.ShimName, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{
		`CREATE TABLE invoices (id INTEGER PRIMARY KEY, tenant_id VARCHAR NOT NULL, number VARCHAR NOT NULL UNIQUE)`,
		`CREATE TABLE items (id INTEGER PRIMARY KEY, tenant_id VARCHAR NOT NULL, invoice_id INTEGER REFERENCES invoices (id) ON DELETE CASCADE)`,
		`CREATE TABLE currencies (code TEXT PRIMARY KEY)`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestPostureSQLite(t *testing.T) {
	path := sqliteFile(t)
	code, out, stderr := runCmd(t, "posture", path)
	if code != 1 || !strings.Contains(out, "CRITICAL key.foreign items") || !strings.Contains(out, "2 tenant tables") || stderr != "" {
		t.Fatalf("exit %d, stderr %q, out:\n%s", code, stderr, out)
	}
	if strings.Contains(out, "currencies") {
		t.Fatalf("a table without the tenant column was discovered:\n%s", out)
	}
	var r posture.Report
	code, out, _ = runCmd(t, "posture", "-json", "-tables", "invoices,items:tenant_id", path)
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 || len(r.Tables) != 2 || len(r.Findings) == 0 {
		t.Fatalf("-json: exit %d, %v, %+v", code, err, r)
	}
	if worst, _ := r.Worst(); worst != posture.Critical {
		t.Fatalf("worst severity %s, want critical (the JSON severities read back)", worst)
	}
	code, out, _ = runCmd(t, "posture", "-fix", path)
	if code != 1 || !strings.Contains(out, `CREATE INDEX "items_tenant_id_idx" ON "items" ("tenant_id");`) {
		t.Fatalf("-fix: exit %d:\n%s", code, out)
	}
	if code, _, _ = runCmd(t, "posture", "-fail-at", "critical", "-tables", "invoices", path); code != 0 {
		t.Fatalf("invoices alone has no critical finding, exit %d", code)
	}
}

func TestPostureUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"verify"},
		{"posture"},
		{"posture", "-fail-at", "severe", "x.db"},
		{"posture", "-collation", "nocase", "x.db"},
		{"posture", filepath.Join(t.TempDir(), "missing.db")},
		{"posture", "-tables", ":tenant_id", "x.db"},
		{"posture", "postgres://postgres@127.0.0.1:1/test?sslmode=disable"},
	} {
		if code, _, stderr := runCmd(t, args...); code != 2 || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
}

func randName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func need(t *testing.T, name string) string {
	t.Helper()
	dsn := os.Getenv(name)
	if dsn == "" {
		if os.Getenv("TS_REQUIRE_DBS") != "" {
			t.Fatalf("%s is not set but TS_REQUIRE_DBS is", name)
		}
		t.Skipf("%s not set", name)
	}
	return dsn
}

// TestPosturePostgres runs the command on a schema of its own, as the
// superuser the suite connects as.
func TestPosturePostgres(t *testing.T) {
	base := need(t, "TS_PG_DSN")
	schema := randName("ts_cmd_")
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(base)))
	defer admin.Close()
	for _, s := range []string{"CREATE SCHEMA " + schema,
		"CREATE TABLE " + schema + ".invoices (id bigserial PRIMARY KEY, tenant_id text NOT NULL, number text UNIQUE)"} {
		if _, err := admin.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	defer admin.Exec("DROP SCHEMA " + schema + " CASCADE") //nolint:errcheck // cleanup
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	code, out, stderr := runCmd(t, "posture", u.String())
	for _, want := range []string{"CRITICAL role.superuser", "HIGH     key.primary invoices", "HIGH     rls.disabled invoices", "fix: ALTER TABLE \"invoices\" ENABLE ROW LEVEL SECURITY;"} {
		if !strings.Contains(out, want) {
			t.Fatalf("exit %d, stderr %q: no %q in:\n%s", code, stderr, want, out)
		}
	}
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
}

// TestPostureMySQL runs the command on a MariaDB database of its own.
func TestPostureMySQL(t *testing.T) {
	base := need(t, "TS_MYSQL_DSN")
	name := randName("ts_cmd_")
	admin, err := sql.Open("mysql", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name + " COLLATE utf8mb4_general_ci"); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec("DROP DATABASE " + name) //nolint:errcheck // cleanup
	if _, err := admin.Exec("CREATE TABLE " + name + ".invoices (id BIGINT AUTO_INCREMENT PRIMARY KEY, tenant_id VARCHAR(64) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	code, out, stderr := runCmd(t, "posture", "-collation", "exact", cfg.FormatDSN())
	for _, want := range []string{"CRITICAL role.file", "CRITICAL collation.folding invoices", "HIGH     key.primary invoices", "MEDIUM   index.tenant invoices"} {
		if !strings.Contains(out, want) {
			t.Fatalf("exit %d, stderr %q: no %q in:\n%s", code, stderr, want, out)
		}
	}
}
