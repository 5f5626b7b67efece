package bunhooktest_test

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

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/bunhooktest"
	"github.com/tenantshield/tenantshield-go/bunhook/mysqldb"
	"github.com/tenantshield/tenantshield-go/bunhook/pgdb"
	"github.com/tenantshield/tenantshield-go/bunhook/sqlitedb"
	"github.com/tenantshield/tenantshield-go/scope"
)

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
	Amount     int64     `bun:",notnull"`
	CustomerID int64     `bun:",notnull"`
	Customer   *Customer `bun:"rel:belongs-to,join:customer_id=id"`
	Lines      []*Line   `bun:"rel:has-many,join:id=invoice_id"`
}

type Line struct {
	bun.BaseModel `bun:"table:lines,alias:line"`
	bunhook.TenantOwned
	ID        int64  `bun:",pk,autoincrement"`
	TenantID  string `bun:",notnull"`
	InvoiceID int64  `bun:",notnull"`
	Text      string `bun:",notnull"`
}

var models = []any{(*Customer)(nil), (*Invoice)(nil), (*Line)(nil)}

func kitModels() []bunhooktest.Model {
	return []bunhooktest.Model{
		bunhooktest.For[Customer](nil),
		bunhooktest.For[Invoice](nil),
		bunhooktest.For[Line](nil),
	}
}

// database is one test database: the enforced handle and a raw one.
type database struct{ db, raw *bun.DB }

func createTables(t testing.TB, db *bun.DB, ms ...any) {
	t.Helper()
	ctx, err := scope.WithBypass(t.Context(), "test schema")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if _, err := db.NewCreateTable().Model(m).IfNotExists().Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// tierDSN returns the DSN of a database tier, or skips (fails with
// TS_REQUIRE_DBS set) when it is not configured.
func tierDSN(t testing.TB, name string) string {
	t.Helper()
	dsn := os.Getenv(name)
	if dsn == "" {
		if os.Getenv("TS_REQUIRE_DBS") != "" {
			t.Fatalf("%s is not set but TS_REQUIRE_DBS is: this tier must run", name)
		}
		t.Skipf("%s not set: skipping this database tier", name)
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

// open opens a database of kind with the test models, tables created.
func open(t testing.TB, kind string, opts ...bunhook.Option) database {
	t.Helper()
	opts = append([]bunhook.Option{bunhook.WithModels(models...), bunhook.WithAuditBus(auditlog.NewBus())}, opts...)
	var d database
	var err error
	switch kind {
	case "sqlite":
		dsn := "file:" + filepath.Join(t.TempDir(), "kit.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
		d.db, err = sqlitedb.Open(dsn, opts...)
		d.raw = bunhooktest.OpenRaw(t, sqliteshim.ShimName, dsn, sqlitedialect.New())
	case "pg":
		dsn, serr := bunhooktest.PostgresSchema(t, tierDSN(t, "TS_PG_DSN"))
		if serr != nil {
			unreachable(t, "PostgreSQL at TS_PG_DSN", serr)
		}
		d.db, err = pgdb.Open(dsn, opts...)
		d.raw = bun.NewDB(sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn))), pgdialect.New())
		t.Cleanup(func() { _ = d.raw.Close() })
	case "mysql":
		dsn, serr := bunhooktest.MySQLDatabase(t, tierDSN(t, "TS_MYSQL_DSN"), "")
		if serr != nil {
			unreachable(t, "MariaDB at TS_MYSQL_DSN", serr)
		}
		d.db, err = mysqldb.Open(dsn, opts...)
		d.raw = bunhooktest.OpenRaw(t, "mysql", dsn, mysqldialect.New())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.db.Close() })
	createTables(t, d.db, models...)
	return d
}

// TestRunEnforced: on every database, bunhook's default setup passes every
// class for three related models (belongs-to and has-many relations).
func TestRunEnforced(t *testing.T) {
	for _, kind := range []string{"sqlite", "pg", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			d := open(t, kind)
			r := bunhooktest.Run(t, d.db, d.raw, kitModels())
			if r.Operations() < 100 {
				t.Errorf("only %d operations ran", r.Operations())
			}
		})
	}
}
