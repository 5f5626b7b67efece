package bunhook_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"
	"github.com/uptrace/bun/extra/bunotel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/scope"
)

// plainDB opens td's database as an application would before adopting the
// module: its own *bun.DB over its own pool, without bunhook.
func plainDB(t *testing.T, td *testDB) *bun.DB {
	t.Helper()
	var db *bun.DB
	switch td.kind {
	case "sqlite":
		sqldb, err := sql.Open(sqliteshim.ShimName, td.dsn)
		if err != nil {
			t.Fatal(err)
		}
		db = bun.NewDB(sqldb, sqlitedialect.New())
	case "pg":
		db = bun.NewDB(sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(td.dsn))), pgdialect.New())
	case "pgx":
		cfg, err := pgx.ParseConfig(td.dsn)
		if err != nil {
			t.Fatal(err)
		}
		db = bun.NewDB(stdlib.OpenDB(*cfg), pgdialect.New())
	default:
		sqldb, err := sql.Open("mysql", td.dsn)
		if err != nil {
			t.Fatal(err)
		}
		db = bun.NewDB(sqldb, mysqldialect.New())
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// attach attaches enforcement to a plain DB of td, auditing on td's bus.
func attach(t *testing.T, td *testDB, opts ...bunhook.Option) *bun.DB {
	t.Helper()
	db, err := bunhook.Attach(plainDB(t, td), append([]bunhook.Option{bunhook.WithAuditBus(td.bus),
		bunhook.WithModels(allModels...), bunhook.WithSharedModels(sharedModels...)}, td.collationOption(opts)...)...)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestAttachEnforces: a DB the application built itself, given to Attach,
// scopes model reads, refuses unscoped raw SQL on the DB and in a
// transaction before it reaches the database, and refuses what it would
// have to rescope, each with an ENFORCEMENT_VIOLATION; the raw handle shows
// the other tenant's rows untouched.
func TestAttachEnforces(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		ids := td.seed(t)
		db := attach(t, td)
		ctx := tenantCtx(t, "A")

		var invs []Invoice
		if err := db.NewSelect().Model(&invs).Order("invoice.id").Scan(ctx); err != nil {
			t.Fatal(err)
		}
		if len(invs) != len(ids["A"]) {
			t.Fatalf("tenant A reads %d invoices through the attached DB, want %d", len(invs), len(ids["A"]))
		}
		for _, inv := range invs {
			if inv.TenantID != "A" {
				t.Fatalf("tenant A reads an invoice of %s", inv.TenantID)
			}
		}

		td.sink.Reset()
		_, err := db.ExecContext(ctx, "UPDATE invoices SET number = 'hijacked'")
		if !errors.Is(err, scope.ErrUnscopedQuery) {
			t.Fatalf("an unscoped raw UPDATE: %v, want ErrUnscopedQuery", err)
		}
		if n := len(td.events(auditlog.EnforcementViolation)); n != 1 {
			t.Fatalf("%d ENFORCEMENT_VIOLATION records for the raw UPDATE, want 1", n)
		}
		var n int
		if err := db.NewRaw("SELECT count(*) FROM invoices").Scan(ctx, &n); !errors.Is(err, scope.ErrUnscopedQuery) {
			t.Fatalf("an unscoped raw SELECT: %v (%d rows), want ErrUnscopedQuery", err, n)
		}
		err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.ExecContext(ctx, "UPDATE invoices SET number = 'hijacked'")
			return err
		})
		if !errors.Is(err, scope.ErrUnscopedQuery) {
			t.Fatalf("an unscoped raw UPDATE in a transaction: %v, want ErrUnscopedQuery", err)
		}
		if _, err := db.NewSelect().Model((*Invoice)(nil)).Count(ctx); !errors.Is(err, bunhook.ErrAttached) || !errors.Is(err, scope.ErrUnscopedQuery) {
			t.Fatalf("Count, which Open's driver layer would rescope: %v, want ErrAttached", err)
		}
		// A scoped write through a model runs, a cross-tenant one changes nothing.
		if _, err := db.NewUpdate().Model((*Invoice)(nil)).Set("number = ?", "A-renamed").Where("id = ?", ids["A"][0]).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.NewUpdate().Model((*Invoice)(nil)).Set("number = ?", "stolen").Where("id = ?", ids["B"][0]).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[int64]string{ids["A"][0]: "A-renamed", ids["B"][0]: "B-1"} {
			if got := td.rawString(t, "SELECT number FROM invoices WHERE id = ?", id); got != want {
				t.Fatalf("invoice %d is %q, want %q", id, got, want)
			}
		}
		if got := td.rawString(t, "SELECT count(*) FROM invoices WHERE number = 'hijacked'"); got != "0" {
			t.Fatalf("%s invoices hijacked", got)
		}
	})
}

// TestAttachReportOnly: attached in report-only mode, the service goes on
// as before (the unscoped statement runs) and the trail says what would be
// blocked: the first step of adopting the module on a live service.
func TestAttachReportOnly(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		td.seed(t)
		db := attach(t, td, bunhook.WithMode(bunhook.ModeReport))
		td.sink.Reset()
		var n int
		if err := db.NewRaw("SELECT count(*) FROM invoices").Scan(tenantCtx(t, "A"), &n); err != nil || n != 6 {
			t.Fatalf("report-only: %d rows, %v; want all 6, unblocked", n, err)
		}
		ev := td.events(auditlog.EnforcementViolation)
		if len(ev) != 1 || ev[0].Outcome != auditlog.OutcomeReported {
			t.Fatalf("report-only violation records: %+v", ev)
		}
	})
}

// TestAttachSaysWhatItLacks: Coverage of an attached DB lists the driver
// layer's guarantees it does not have, and the first of them is real: SQL
// sent through the *sql.DB that bun embeds is not seen. A DB opened with
// Open lacks nothing. Attach refuses a DB that has every layer, and a
// second Attach of the same pool.
func TestAttachSaysWhatItLacks(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		td.seed(t)
		plain := plainDB(t, td)
		db, err := bunhook.Attach(plain, td.collationOption([]bunhook.Option{bunhook.WithAuditBus(td.bus),
			bunhook.WithModels(allModels...), bunhook.WithSharedModels(sharedModels...)})...)
		if err != nil {
			t.Fatal(err)
		}
		e, ok := bunhook.EnforcerOf(db)
		if !ok {
			t.Fatal("EnforcerOf an attached DB: not found")
		}
		cov := e.Coverage()
		if cov.DriverLayer || cov.RLSSetting || !cov.ModelHooks || !cov.GuardHook || len(cov.Lost) < 4 {
			t.Fatalf("attached coverage %+v", cov)
		}
		if !strings.Contains(strings.Join(cov.Lost, "\n"), "db.DB") {
			t.Fatalf("the lost guarantees do not name the embedded *sql.DB: %q", cov.Lost)
		}
		if _, err := db.DB.ExecContext(tenantCtx(t, "A"), "UPDATE invoices SET number = 'unseen' WHERE tenant_id = 'B'"); err != nil {
			t.Fatalf("the embedded *sql.DB, which Coverage says is not guarded: %v", err)
		}
		if got := td.rawString(t, "SELECT count(*) FROM invoices WHERE number = 'unseen'"); got != "3" {
			t.Fatalf("%s rows changed through db.DB, want the 3 of B (the documented gap)", got)
		}
		// A reserved connection: database/sql does not check the context
		// there, so the refusal is the driver's: SQLite and MySQL return it,
		// pgdriver and pgx fail the connection (the veto's past deadline).
		// Either way nothing reaches the database.
		conn, err := db.Conn(tenantCtx(t, "A"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.ExecContext(tenantCtx(t, "A"), "UPDATE invoices SET number = 'via-conn'")
		_ = conn.Close()
		changed := td.rawString(t, "SELECT count(*) FROM invoices WHERE number = 'via-conn'")
		refused := errors.Is(err, scope.ErrUnscopedQuery) || (td.kind == "pg" || td.kind == "pgx") && errors.Is(err, driver.ErrBadConn)
		if changed != "0" || !refused {
			t.Fatalf("%s on a bun.Conn: %v, %s rows changed; want the refusal", td.kind, err, changed)
		}
		if _, err := bunhook.Attach(plain); err == nil {
			t.Fatal("a second Attach of the same pool is accepted")
		}
		if _, err := bunhook.Attach(td.db); err == nil {
			t.Fatal("Attach of a DB opened with Open is accepted")
		}
		full, _ := bunhook.EnforcerOf(td.db)
		if c := full.Coverage(); !c.DriverLayer || len(c.Lost) != 0 {
			t.Fatalf("Open's coverage %+v", c)
		}
	})
}

// TestAttachBesideBunotel: the adoption case of a service that already has
// bunotel and its own TracerProvider: attached after bunotel, a refused
// statement still ends bunotel's span, with the refusal as its error, and
// a scoped one runs under it; no span is left open.
func TestAttachBesideBunotel(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		td.seed(t)
		sr := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		existing := plainDB(t, td).WithQueryHook(bunotel.NewQueryHook(bunotel.WithTracerProvider(tp)))
		db, err := bunhook.Attach(existing, td.collationOption([]bunhook.Option{bunhook.WithAuditBus(td.bus),
			bunhook.WithModels(allModels...), bunhook.WithSharedModels(sharedModels...)})...)
		if err != nil {
			t.Fatal(err)
		}
		ctx := tenantCtx(t, "A")
		if _, err := db.ExecContext(ctx, "UPDATE invoices SET number = 'x'"); !errors.Is(err, scope.ErrUnscopedQuery) {
			t.Fatalf("refused UPDATE: %v", err)
		}
		var invs []Invoice
		if err := db.NewSelect().Model(&invs).Scan(ctx); err != nil || len(invs) != 3 {
			t.Fatalf("scoped select: %d rows, %v", len(invs), err)
		}
		if started, ended := len(sr.Started()), len(sr.Ended()); started != 2 || ended != 2 {
			t.Fatalf("bunotel spans: %d started, %d ended; want 2 and 2", started, ended)
		}
		refused := sr.Ended()[0]
		if refused.Status().Code != codes.Error || !strings.Contains(refused.Status().Description, "blocked") {
			t.Fatalf("the refused statement's bunotel span: status %v %q", refused.Status().Code, refused.Status().Description)
		}
	})
}
