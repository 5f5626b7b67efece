package bunhook_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/mysqldb"
	"github.com/tenantshield/tenantshield-go/bunhook/pgdb"
	"github.com/tenantshield/tenantshield-go/bunhook/sqlitedb"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

// Test models: three related tenant-owned tables and one shared table.

type Customer struct {
	bun.BaseModel `bun:"table:customers,alias:customer"`
	bunhook.TenantOwned
	ID       int64  `bun:",pk,autoincrement"`
	TenantID string `bun:",notnull"`
	Name     string `bun:",notnull"`
}

type Invoice struct {
	bun.BaseModel `bun:"table:invoices,alias:invoice"`
	bunhook.TenantOwned
	ID         int64     `bun:",pk,autoincrement"`
	TenantID   string    `bun:",notnull"`
	Number     string    `bun:",notnull"`
	CustomerID int64     `bun:",nullzero"`
	Customer   *Customer `bun:"rel:belongs-to,join:customer_id=id"`
	Items      []*Item   `bun:"rel:has-many,join:id=invoice_id"`
}

type Item struct {
	bun.BaseModel `bun:"table:items,alias:item"`
	bunhook.TenantOwned
	ID        int64     `bun:",pk,autoincrement"`
	TenantID  string    `bun:",notnull"`
	InvoiceID int64     `bun:",notnull"`
	Name      string    `bun:",notnull"`
	DeletedAt time.Time `bun:",soft_delete,nullzero"`
}

type Currency struct {
	bun.BaseModel `bun:"table:currencies,alias:currency"`
	Code          string `bun:",pk"`
	Name          string `bun:",notnull"`
}

var allModels = []any{(*Customer)(nil), (*Invoice)(nil), (*Item)(nil)}

// sharedModels hold no tenant rows.
var sharedModels = []any{(*Currency)(nil)}

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

// unreachable stops a test whose database tier cannot be used: it fails when
// TS_REQUIRE_DBS is set (CI), and skips with the reason otherwise.
func unreachable(t testing.TB, what, stmt string, err error) {
	t.Helper()
	if os.Getenv("TS_REQUIRE_DBS") != "" {
		t.Fatalf("%s is unreachable or refused %s (TS_REQUIRE_DBS is set, so this tier must run): %v", what, stmt, err)
	}
	t.Skipf("%s is unreachable or refused %s: skipping this database tier (set TS_REQUIRE_DBS=1 to fail instead): %v", what, stmt, err)
}

// testDB is one isolated database (a SQLite file, a PostgreSQL schema or a
// MariaDB database) with an enforced handle and a separate raw handle for
// checking the true state.
type testDB struct {
	kind string  // sqlite, pg, pgx, mysql
	db   *bun.DB // enforced
	raw  *bun.DB // no hooks, no connector: the truth
	bus  *auditlog.Bus
	sink *auditlog.MemorySink
	obs  *otelobs.Observer
	sr   *tracetest.SpanRecorder
	dsn  string // the DSN of the test database (schema or database of its own)
	// defaultCollation: a MariaDB database with the server's default
	// collation (see openTestDBCollation).
	defaultCollation bool
	// memory: a SQLite database in memory (shared cache) instead of a file.
	memory bool
}

var dbKinds = []string{"sqlite", "pg", "pgx", "mysql"}

func randName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// openTestDB opens an isolated database of the given kind.
func openTestDB(t testing.TB, kind string, extra ...bunhook.Option) *testDB {
	t.Helper()
	return openDB(t, &testDB{kind: kind}, extra...)
}

// openDefaultCollationDB opens a MariaDB test database with the server's
// default collation (case- and accent-insensitive), declared to bunhook as
// nothing: bunhook's default for MariaDB applies.
func openDefaultCollationDB(t testing.TB, extra ...bunhook.Option) *testDB {
	t.Helper()
	return openDB(t, &testDB{kind: "mysql", defaultCollation: true}, extra...)
}

func openDB(t testing.TB, td *testDB, extra ...bunhook.Option) *testDB {
	t.Helper()
	ctx := context.Background()
	kind := td.kind
	sink := auditlog.NewMemorySink()
	bus := auditlog.NewBus()
	bus.Register(sink)
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	obs := otelobs.New(otelobs.WithTracerProvider(tp))
	opts := append([]bunhook.Option{bunhook.WithAuditBus(bus), bunhook.WithObserver(obs), bunhook.WithModels(allModels...), bunhook.WithSharedModels(sharedModels...)}, extra...)
	td.bus, td.sink, td.obs, td.sr = bus, sink, obs, sr
	var err error
	switch kind {
	case "sqlite":
		path := filepath.Join(t.TempDir(), "test.db")
		dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
		if td.memory {
			dsn = "file:" + randName("mem") + "?mode=memory&cache=shared&_pragma=busy_timeout(10000)"
		}
		td.dsn = dsn
		td.db, err = sqlitedb.Open(dsn, opts...)
		if err == nil {
			var sqldb *sql.DB
			sqldb, err = sql.Open(sqliteshim.ShimName, dsn)
			td.raw = bun.NewDB(sqldb, sqlitedialect.New())
		}
	case "pg", "pgx":
		base := env(t, "TS_PG_DSN")
		schema := randName("ts_")
		admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(base)))
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			_ = admin.Close()
			unreachable(t, "PostgreSQL at TS_PG_DSN", "CREATE SCHEMA", err)
		}
		t.Cleanup(func() {
			_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			_ = admin.Close()
		})
		dsn := withQuery(base, "search_path", schema)
		td.dsn = dsn
		if kind == "pg" {
			td.db, err = pgdb.Open(dsn, opts...)
		} else {
			td.db, err = pgdb.OpenPgx(dsn, opts...)
		}
		td.raw = bun.NewDB(sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn))), pgdialect.New())
	case "mysql":
		base := env(t, "TS_MYSQL_DSN")
		name := randName("ts_")
		admin, aerr := sql.Open("mysql", base)
		if aerr == nil {
			// Tenant ids of the suite are upper-case ("A", "B"): its
			// databases compare them exactly (TestCollationFolding runs on
			// the server's default collation).
			_, aerr = admin.ExecContext(ctx, "CREATE DATABASE "+name+td.collation())
		}
		if aerr != nil {
			unreachable(t, "MariaDB at TS_MYSQL_DSN", "CREATE DATABASE", aerr)
		}
		t.Cleanup(func() {
			_, _ = admin.ExecContext(context.Background(), "DROP DATABASE "+name)
			_ = admin.Close()
		})
		cfg, perr := mysql.ParseDSN(base)
		if perr != nil {
			t.Fatal(perr)
		}
		cfg.DBName = name
		cfg.ParseTime = true
		dsn := cfg.FormatDSN()
		td.dsn = dsn
		td.db, err = mysqldb.Open(dsn, td.collationOption(opts)...)
		var sqldb *sql.DB
		sqldb, _ = sql.Open("mysql", dsn)
		td.raw = bun.NewDB(sqldb, mysqldialect.New())
	default:
		t.Fatalf("unknown db kind %q", kind)
	}
	if err != nil {
		t.Fatalf("open %s: %v", kind, err)
	}
	t.Cleanup(func() {
		_ = td.db.Close()
		_ = td.raw.Close()
	})
	td.createSchema(t)
	return td
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

// collation is the collation clause of a MariaDB test database: exact
// unless the test asked for the server's default.
func (td *testDB) collation() string {
	if td.defaultCollation {
		return ""
	}
	return " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
}

// collationOption declares the test database's collation to bunhook before
// opts (which may override it).
func (td *testDB) collationOption(opts []bunhook.Option) []bunhook.Option {
	if td.defaultCollation {
		return opts
	}
	return append([]bunhook.Option{bunhook.WithTenantCollation(bunhook.CollationExact)}, opts...)
}

// rawExec runs statements through the raw handle (what a migration left
// behind), failing the test on the first error.
func (td *testDB) rawExec(t testing.TB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := td.raw.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("raw %q: %v", s, err)
		}
	}
}

// blockedOnce runs an attack of tenant A and checks that it failed with
// want, changed no row of the tenant tables (read through the raw handle)
// and was audited as exactly one blocked ENFORCEMENT_VIOLATION of A, of
// operation op unless op is "". It returns the error.
func (td *testDB) blockedOnce(t *testing.T, want error, op string, run func() error) error {
	t.Helper()
	before := td.snapshot(t, snapTables)
	td.sink.Reset()
	err := run()
	if !errors.Is(err, want) {
		t.Fatalf("want %v, got %v", want, err)
	}
	if changes := diff(before, td.snapshot(t, snapTables)); len(changes) != 0 {
		t.Fatalf("tenant tables changed: %v", changes)
	}
	v := td.events(auditlog.EnforcementViolation)
	if len(v) != 1 || v[0].Tenant != "A" || v[0].Outcome != auditlog.OutcomeBlocked || (op != "" && v[0].Operation != op) {
		t.Fatalf("want one blocked ENFORCEMENT_VIOLATION of tenant A (operation %q), got %+v", op, v)
	}
	return err
}

// reopen opens another enforced handle on td's database, with td's bus,
// observer and models and the extra options.
func reopen(t testing.TB, td *testDB, extra ...bunhook.Option) *bun.DB {
	t.Helper()
	db, err := openKind(t, td, append([]bunhook.Option{bunhook.WithAuditBus(td.bus), bunhook.WithObserver(td.obs)}, extra...)...)
	if err != nil {
		t.Fatalf("reopen %s: %v", td.kind, err)
	}
	return db
}

// openKind opens td's database again with td's models and opts, and
// returns what Open returned (the DB is closed at cleanup when there is
// one).
func openKind(t testing.TB, td *testDB, opts ...bunhook.Option) (*bun.DB, error) {
	t.Helper()
	opts = append([]bunhook.Option{bunhook.WithModels(allModels...), bunhook.WithSharedModels(sharedModels...)}, opts...)
	var db *bun.DB
	var err error
	switch td.kind {
	case "sqlite":
		db, err = sqlitedb.Open(td.dsn, opts...)
	case "pg":
		db, err = pgdb.Open(td.dsn, opts...)
	case "pgx":
		db, err = pgdb.OpenPgx(td.dsn, opts...)
	default:
		db, err = mysqldb.Open(td.dsn, td.collationOption(opts)...)
	}
	if db != nil {
		t.Cleanup(func() { _ = db.Close() })
	}
	return db, err
}

// eachDB runs fn on every database kind, in parallel subtests.
func eachDB(t *testing.T, fn func(t *testing.T, td *testDB)) {
	t.Helper()
	for _, kind := range dbKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, openTestDB(t, kind))
		})
	}
}

// eachPostgres runs fn on PostgreSQL through pgdriver and through pgx, in
// parallel subtests.
func eachPostgres(t *testing.T, fn func(t *testing.T, td *testDB)) {
	t.Helper()
	for _, kind := range []string{"pg", "pgx"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, openTestDB(t, kind))
		})
	}
}

func bypassCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, err := scope.WithBypass(context.Background(), "test fixture")
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

func (td *testDB) createSchema(t testing.TB) {
	t.Helper()
	ctx := bypassCtx(t)
	for _, m := range []any{(*Customer)(nil), (*Invoice)(nil), (*Item)(nil), (*Currency)(nil)} {
		if _, err := td.db.NewCreateTable().Model(m).Exec(ctx); err != nil {
			t.Fatalf("create table for %T: %v", m, err)
		}
	}
	td.sink.Reset()
}

func tenantCtx(t testing.TB, id string) context.Context {
	t.Helper()
	return scope.NewContext(context.Background(), scope.MustParse(id))
}

// seed inserts, through the raw handle, customers, invoices and items for
// tenants A and B and returns the invoice ids per tenant.
func (td *testDB) seed(t testing.TB) map[string][]int64 {
	t.Helper()
	ctx := context.Background()
	ids := map[string][]int64{}
	exec := func(q string, args ...any) {
		if _, err := td.raw.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("seed %q: %v", q, err)
		}
	}
	id := int64(0)
	for _, tenant := range []string{"A", "B"} {
		for c := 1; c <= 2; c++ {
			id++
			exec("INSERT INTO customers (id, tenant_id, name) VALUES (?, ?, ?)", id, tenant, fmt.Sprintf("cust-%s-%d", tenant, c))
		}
	}
	inv := int64(0)
	for _, tenant := range []string{"A", "B"} {
		for n := 1; n <= 3; n++ {
			inv++
			cust := int64(1)
			if tenant == "B" {
				cust = 3
			}
			exec("INSERT INTO invoices (id, tenant_id, number, customer_id) VALUES (?, ?, ?, ?)", inv, tenant, fmt.Sprintf("%s-%d", tenant, n), cust)
			ids[tenant] = append(ids[tenant], inv)
			exec("INSERT INTO items (id, tenant_id, invoice_id, name) VALUES (?, ?, ?, ?)", inv, tenant, inv, fmt.Sprintf("item-%s-%d", tenant, n))
		}
	}
	if td.kind == "pg" || td.kind == "pgx" {
		for _, tbl := range []string{"customers", "invoices", "items"} {
			exec("SELECT setval(pg_get_serial_sequence('" + tbl + "', 'id'), 100)")
		}
	}
	exec("INSERT INTO currencies (code, name) VALUES ('EUR', 'Euro')")
	return ids
}

// tenantsOf returns the tenant of every row of table, by id, read through
// the raw handle.
func (td *testDB) tenantsOf(t testing.TB, table string) map[int64]string {
	t.Helper()
	return tenantsIn(t, td.raw, table)
}

// tenantsIn returns the tenant of every row of table, by id, read through q.
func tenantsIn(t testing.TB, q bun.IDB, table string) map[int64]string {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), "SELECT id, tenant_id FROM "+table)
	if err != nil {
		t.Fatalf("raw read %s: %v", table, err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var tenant string
		if err := rows.Scan(&id, &tenant); err != nil {
			t.Fatal(err)
		}
		out[id] = tenant
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// rawString reads one string column of one row through the raw handle.
func (td *testDB) rawString(t testing.TB, query string, args ...any) string {
	t.Helper()
	var s sql.NullString
	if err := td.raw.QueryRowContext(context.Background(), query, args...).Scan(&s); err != nil {
		t.Fatalf("raw %q: %v", query, err)
	}
	return s.String
}

func (td *testDB) events(types ...auditlog.Type) []auditlog.Event { return td.sink.Events(types...) }

func withUser(dsn, user string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.User = url.User(user)
	return u.String()
}

var (
	pgdbOpen    = pgdb.Open
	pgdbOpenPgx = pgdb.OpenPgx
)
