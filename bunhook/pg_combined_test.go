package bunhook_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"
)

// The tests of this file cover the statements that carry a change of
// app.tenant_id in their own round trip ("SET ...; statement": every
// statement without arguments on pgdriver, Exec on pgx). Each switches the
// tenant before the statement it checks, so that the statement carries the
// change.

// sqlState returns the SQLSTATE of a PostgreSQL error of either driver, or
// "" when err is not one.
func sqlState(err error) string {
	var pe pgdriver.Error
	if errors.As(err, &pe) {
		return pe.Field('C')
	}
	var xe *pgconn.PgError
	if errors.As(err, &xe) {
		return xe.Code
	}
	return ""
}

// wantDivisionByZero fails t unless err is the user's statement's own
// division by zero, as the driver reports it, not wrapped by bunhook.
func wantDivisionByZero(t *testing.T, err error, what string) {
	t.Helper()
	if sqlState(err) != "22012" || strings.Contains(err.Error(), "bunhook") {
		t.Fatalf("%s: got %v, want the statement's own division by zero", what, err)
	}
}

// TestPostgresSettingAfterFailedStatement: a statement that fails after its
// SET ran in the same message (PostgreSQL then undoes the SET with it)
// leaves app.tenant_id to be set again: the next statement, of the same
// tenant, sees its tenant. The failure comes at once (UPDATE), or while the
// rows are read (the second row of a SELECT), outside and inside a
// transaction.
func TestPostgresSettingAfterFailedStatement(t *testing.T) {
	eachPostgres(t, func(t *testing.T, td *testDB) {
		td.seed(t)
		td.db.SetMaxOpenConns(1)
		a, b := tenantCtx(t, "A"), tenantCtx(t, "B")
		failUpdate := func(db bun.IDB, ctx context.Context) error {
			_, err := db.NewUpdate().Model((*Invoice)(nil)).Set("number = 'x'").Where("1 / (id - id) = 0").Exec(ctx)
			return err
		}

		wantSetting(a, t, td.db, "A", "under A")
		wantDivisionByZero(t, failUpdate(td.db, b), "B's failing UPDATE")
		wantSetting(b, t, td.db, "B", "under B after B's failed UPDATE")

		// A's ids are 1, 2, 3: the first row is sent, the second fails.
		rows, err := td.db.QueryContext(a, "SELECT 10 / (id - 2) FROM invoices WHERE tenant_id = 'A'")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		wantDivisionByZero(t, rows.Err(), "A's SELECT")
		if n != 1 {
			t.Fatalf("A's SELECT returned %d rows before failing, want 1", n)
		}
		_ = rows.Close()
		wantSetting(a, t, td.db, "A", "under A after A's SELECT failed in its rows")

		tx, err := td.db.BeginTx(a, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		if _, err := tx.ExecContext(a, "SAVEPOINT s"); err != nil {
			t.Fatal(err)
		}
		wantDivisionByZero(t, failUpdate(tx, b), "B's failing UPDATE in the transaction")
		if _, err := tx.ExecContext(b, "ROLLBACK TO SAVEPOINT s"); err != nil {
			t.Fatal(err)
		}
		wantSetting(b, t, tx, "B", "under B in the transaction after the failure")
		wantSetting(a, t, tx, "A", "under A in the transaction after the failure")
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		wantSetting(b, t, td.db, "B", "under B after the transaction")
	})
}

// TestPostgresSettingAfterCancel: a statement cancelled by its context
// (here while it waits for a row lock) after the tenant changed leaves no
// wrong value for the next statements, whatever becomes of the connection.
func TestPostgresSettingAfterCancel(t *testing.T) {
	eachPostgres(t, func(t *testing.T, td *testDB) {
		ids := td.seed(t)
		td.db.SetMaxOpenConns(1)
		a, b := tenantCtx(t, "A"), tenantCtx(t, "B")
		bg := context.Background()

		wantSetting(a, t, td.db, "A", "under A")
		lock, err := td.raw.BeginTx(bg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = lock.Rollback() }()
		if _, err := lock.ExecContext(bg, "SELECT 1 FROM invoices WHERE id = ? FOR UPDATE", ids["B"][0]); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(b, 300*time.Millisecond)
		_, err = td.db.NewUpdate().Model((*Invoice)(nil)).Set("number = 'x'").Where("id = ?", ids["B"][0]).Exec(ctx)
		cancel()
		if err == nil {
			t.Fatal("the UPDATE ran through a row lock")
		}
		if err := lock.Rollback(); err != nil {
			t.Fatal(err)
		}
		wantSetting(b, t, td.db, "B", "under B after B's cancelled UPDATE")
		wantSetting(a, t, td.db, "A", "under A after B's cancelled UPDATE")
	})
}

// TestPostgresCombinedSendResults: what the application gets from a
// statement that carries the tenant change is what it gets from the same
// statement when the setting already holds its tenant: rows, column types,
// RowsAffected, LastInsertId, RETURNING, no rows. A statement with
// arguments (its own round trip for the setting) sees its tenant.
func TestPostgresCombinedSendResults(t *testing.T) {
	eachPostgres(t, func(t *testing.T, td *testDB) {
		ids := td.seed(t)
		td.db.SetMaxOpenConns(1)
		a, b := tenantCtx(t, "A"), tenantCtx(t, "B")
		// twice runs op under B after a statement under A (op carries
		// the change), then again (it carries nothing), and compares.
		twice := func(what string, op func() any) {
			t.Helper()
			wantSetting(a, t, td.db, "A", "under A before "+what)
			first := op()
			if again := op(); !reflect.DeepEqual(first, again) {
				t.Fatalf("%s: with the tenant change %#v, without %#v", what, first, again)
			}
		}
		type result struct {
			Affected  int64
			LastIDErr bool
			Err       error
		}
		twice("UPDATE", func() any {
			res, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("number = number").Where("1 = 1").Exec(b)
			if err != nil {
				t.Fatal(err)
			}
			n, err := res.RowsAffected()
			_, idErr := res.LastInsertId()
			if n != 3 {
				t.Fatalf("UPDATE affected %d rows, want B's 3", n)
			}
			return result{Affected: n, LastIDErr: idErr != nil, Err: err}
		})
		twice("INSERT ... RETURNING", func() any {
			inv := Invoice{Number: "B-new"}
			if _, err := td.db.NewInsert().Model(&inv).Exec(b); err != nil {
				t.Fatal(err)
			}
			if inv.ID == 0 || td.tenantsOf(t, "invoices")[inv.ID] != "B" {
				t.Fatalf("RETURNING gave id %d, not a new invoice of B", inv.ID)
			}
			return inv.TenantID
		})
		twice("SELECT", func() any {
			var invs []Invoice
			if err := td.db.NewSelect().Model(&invs).Order("id").Scan(b); err != nil {
				t.Fatal(err)
			}
			onlyTenant(t, invs, "B")
			for i := range invs {
				invs[i].ID = 0 // the ids of the inserted rows differ
			}
			return invs
		})
		twice("SELECT of another tenant's row", func() any {
			var inv Invoice
			err := td.db.NewSelect().Model(&inv).Where("?TableAlias.id = ?", ids["A"][0]).Scan(b)
			if !errors.Is(err, sql.ErrNoRows) {
				t.Fatalf("B reading A's invoice: %v, want sql.ErrNoRows", err)
			}
			return err
		})
		twice("column types", func() any {
			rows, err := td.db.QueryContext(b, "SELECT id, number, customer_id FROM invoices WHERE tenant_id = 'B'")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			cts, err := rows.ColumnTypes()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ct := range cts {
				n, nok := ct.Nullable()
				l, lok := ct.Length()
				p, sc, pok := ct.DecimalSize()
				got = append(got, fmt.Sprint(ct.Name(), ct.DatabaseTypeName(), ct.ScanType(), n, nok, l, lok, p, sc, pok))
			}
			return got
		})
		wantSetting(a, t, td.db, "A", "under A before a statement with arguments")
		var got string
		if err := td.db.DB.QueryRowContext(b, "SELECT current_setting('app.tenant_id', true) || $1::text", "!").Scan(&got); err != nil || got != "B!" {
			t.Fatalf("a statement with arguments under B sees %q (%v)", got, err)
		}
	})
}

// TestPostgresRLSWithCombinedSends: row-level security sees each
// statement's tenant when the tenant alternates on one connection, outside
// and inside a transaction (where the tenant changes between statements).
func TestPostgresRLSWithCombinedSends(t *testing.T) {
	eachPostgres(t, func(t *testing.T, td *testDB) {
		td.seed(t)
		app := openAsAppRole(t, td)
		app.SetMaxOpenConns(1)
		// visible returns the invoices RLS shows under ctx, and how many
		// of them belong to another tenant than tenant.
		visible := func(ctx context.Context, db bun.IDB, tenant string) (n, foreign int) {
			t.Helper()
			err := db.NewRaw("SELECT count(*), count(*) FILTER (WHERE tenant_id <> ?) FROM invoices", tenant).Scan(ctx, &n, &foreign)
			if err != nil {
				t.Fatal(err)
			}
			return n, foreign
		}
		for i := 0; i < 6; i++ {
			tenant := []string{"A", "B", ""}[i%3]
			ctx := context.Background()
			want := 0
			if tenant != "" {
				ctx, want = tenantCtx(t, tenant), 3
			}
			if n, foreign := visible(ctx, app, tenant); n != want || foreign != 0 {
				t.Fatalf("under %q RLS shows %d invoices, %d of another tenant; want %d, 0", tenant, n, foreign, want)
			}
		}
		a, b := tenantCtx(t, "A"), tenantCtx(t, "B")
		err := app.RunInTx(a, nil, func(ctx context.Context, tx bun.Tx) error {
			for _, step := range []struct {
				ctx    context.Context
				tenant string
			}{{a, "A"}, {b, "B"}, {a, "A"}, {b, "B"}} {
				if n, foreign := visible(step.ctx, tx, step.tenant); n != 3 || foreign != 0 {
					return errors.New("in the transaction under " + step.tenant + " RLS shows another set of invoices")
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := app.NewRaw("SELECT count(*) FROM invoices").Scan(context.Background(), &n); err != nil || n != 0 {
			t.Fatalf("no tenant bound after the transaction: RLS shows %d invoices (%v), want 0", n, err)
		}
	})
}
