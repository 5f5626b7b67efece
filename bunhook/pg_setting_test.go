package bunhook_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/bunhook"
)

// rawSetting reads app.tenant_id on the driver's own connection, reached
// the way COPY users reach it: sql.Conn.Raw and Unwrap.
func rawSetting(t *testing.T, conn bun.Conn) string {
	t.Helper()
	var got string
	err := conn.Raw(func(dc any) error {
		inner := dc.(interface{ Unwrap() driver.Conn }).Unwrap()
		qc, ok := inner.(driver.QueryerContext)
		if !ok {
			return errors.New("the driver's connection has no QueryContext")
		}
		rows, err := qc.QueryContext(context.Background(), "SELECT coalesce(current_setting('"+bunhook.RLSSetting+"', true), '')", nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, 1)
		if err := rows.Next(dest); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		switch v := dest[0].(type) {
		case string:
			got = v
		case []byte:
			got = string(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestPostgresSettingSavepointsAndRaw: the tenant setting is right after a
// ROLLBACK TO SAVEPOINT that restored another tenant's value, and the
// driver's bare connection never inherits a tenant, although the setting is
// no longer cleared every time a connection goes back to the pool.
func TestPostgresSettingSavepointsAndRaw(t *testing.T) {
	for _, kind := range []string{"pg", "pgx"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			td := openTestDB(t, kind)
			td.db.SetMaxOpenConns(1)
			a, b := tenantCtx(t, "A"), tenantCtx(t, "B")
			tx, err := td.db.BeginTx(a, nil)
			if err != nil {
				t.Fatal(err)
			}
			exec := func(ctx context.Context, q string) {
				t.Helper()
				if _, err := tx.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			exec(a, "SAVEPOINT s1")
			if got := currentSetting(b, t, tx); got != "B" {
				t.Fatalf("in the savepoint under B: %q", got)
			}
			exec(b, "ROLLBACK TO SAVEPOINT s1") // restores the savepoint's A
			if got := currentSetting(b, t, tx); got != "B" {
				t.Fatalf("after ROLLBACK TO under B: %q", got)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}

			if got := currentSetting(a, t, td.db); got != "A" {
				t.Fatalf("autocommit under A: %q", got)
			}
			conn, err := td.db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if got := rawSetting(t, conn); got != "" {
				t.Fatalf("the bare driver connection inherited tenant %q", got)
			}
		})
	}
}

// TestPostgresSettingAfterTextTransactionControl: transaction control sent
// as statement text, which the driver layer does not manage, never leaves
// a statement running with another tenant's app.tenant_id.
func TestPostgresSettingAfterTextTransactionControl(t *testing.T) {
	for _, kind := range []string{"pg", "pgx"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			td := openTestDB(t, kind)
			td.db.SetMaxOpenConns(1)
			a, b := tenantCtx(t, "A"), tenantCtx(t, "B")
			bg := context.Background()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}

			// BEGIN and ROLLBACK as text on a pinned connection restore A's
			// value under the session-level B.
			if got := currentSetting(a, t, td.db); got != "A" {
				t.Fatalf("under A: %q", got)
			}
			conn, err := td.db.Conn(bg)
			must(err)
			_, err = conn.ExecContext(a, "BEGIN")
			must(err)
			if got := currentSetting(b, t, conn); got != "B" {
				t.Fatalf("under B after a text BEGIN: %q", got)
			}
			_, err = conn.ExecContext(b, "ROLLBACK")
			must(err)
			if got := currentSetting(b, t, conn); got != "B" {
				t.Fatalf("under B after a text ROLLBACK: %q", got)
			}
			must(conn.Close())
			if got := currentSetting(b, t, td.db); got != "B" {
				t.Fatalf("the next user of the pooled connection, under B: %q", got)
			}

			// COMMIT as text inside a driver transaction ends it.
			tx, err := td.db.BeginTx(a, nil)
			must(err)
			_, err = tx.ExecContext(a, "COMMIT")
			must(err)
			if got := currentSetting(b, t, tx); got != "B" {
				t.Fatalf("under B after a text COMMIT in a transaction: %q", got)
			}
			_ = tx.Rollback()

			// ROLLBACK WORK TO SAVEPOINT, spelled the long way.
			tx, err = td.db.BeginTx(a, nil)
			must(err)
			_, err = tx.ExecContext(a, "SAVEPOINT s1")
			must(err)
			if got := currentSetting(b, t, tx); got != "B" {
				t.Fatalf("in the savepoint under B: %q", got)
			}
			_, err = tx.ExecContext(b, "/* c */ ROLLBACK WORK TO SAVEPOINT s1")
			must(err)
			if got := currentSetting(b, t, tx); got != "B" {
				t.Fatalf("after ROLLBACK WORK TO under B: %q", got)
			}
			must(tx.Rollback())
		})
	}
}
