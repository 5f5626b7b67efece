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

// wantSetting fails t unless a statement under ctx on q sees tenant.
func wantSetting(ctx context.Context, t *testing.T, q rowQuerier, tenant, when string) {
	t.Helper()
	if got := currentSetting(ctx, t, q); got != tenant {
		t.Fatalf("%s: app.tenant_id = %q, want %q", when, got, tenant)
	}
}

// savepointRoundTrip opens a transaction under A, switches to B inside a
// savepoint, rolls back to it with rollback (restoring A's value on the
// server) and checks that B's next statement sees B.
func savepointRoundTrip(t *testing.T, td *testDB, rollback string) {
	t.Helper()
	a, b := tenantCtx(t, "A"), tenantCtx(t, "B")
	tx, err := td.db.BeginTx(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(a, "SAVEPOINT s1"); err != nil {
		t.Fatal(err)
	}
	wantSetting(b, t, tx, "B", "in the savepoint under B")
	if _, err := tx.ExecContext(b, rollback); err != nil {
		t.Fatal(err)
	}
	wantSetting(b, t, tx, "B", "after "+rollback+" under B")
}

// TestPostgresSettingSavepointsAndRaw: the tenant setting is right after a
// ROLLBACK TO SAVEPOINT that restored another tenant's value, and the
// driver's bare connection never inherits a tenant, although the setting is
// no longer cleared every time a connection goes back to the pool.
func TestPostgresSettingSavepointsAndRaw(t *testing.T) {
	eachPostgres(t, func(t *testing.T, td *testDB) {
		td.db.SetMaxOpenConns(1)
		savepointRoundTrip(t, td, "ROLLBACK TO SAVEPOINT s1")
		savepointRoundTrip(t, td, "/* c */ ROLLBACK WORK TO SAVEPOINT s1")

		wantSetting(tenantCtx(t, "A"), t, td.db, "A", "autocommit under A")
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

// TestPostgresSettingAfterTextTransactionControl: transaction control sent
// as statement text, which the driver layer does not manage, never leaves
// a statement running with another tenant's app.tenant_id. (ROLLBACK TO
// spellings: TestPostgresSettingSavepointsAndRaw.)
func TestPostgresSettingAfterTextTransactionControl(t *testing.T) {
	eachPostgres(t, func(t *testing.T, td *testDB) {
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
		wantSetting(a, t, td.db, "A", "under A")
		conn, err := td.db.Conn(bg)
		must(err)
		_, err = conn.ExecContext(a, "BEGIN")
		must(err)
		wantSetting(b, t, conn, "B", "under B after a text BEGIN")
		_, err = conn.ExecContext(b, "ROLLBACK")
		must(err)
		wantSetting(b, t, conn, "B", "under B after a text ROLLBACK")
		must(conn.Close())
		wantSetting(b, t, td.db, "B", "the next user of the pooled connection, under B")

		// COMMIT as text inside a driver transaction ends it.
		tx, err := td.db.BeginTx(a, nil)
		must(err)
		_, err = tx.ExecContext(a, "COMMIT")
		must(err)
		wantSetting(b, t, tx, "B", "under B after a text COMMIT in a transaction")
		_ = tx.Rollback() // the transaction already ended
	})
}
