package bunhook_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/uptrace/bun"
)

// Lock attacks on the schemas of schema_attacks_test.go (MariaDB and
// PostgreSQL; SQLite locks the whole database).

// lockSession returns a connection of the enforced db with a lock wait of
// one second. The SET runs on the enforced connection: with no tenant bound
// the guard lets it through.
func lockSession(t *testing.T, td *testDB) bun.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := td.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	set := "SET lock_timeout = '1s'"
	if td.kind == "mysql" {
		set = "SET SESSION innodb_lock_wait_timeout = 1"
	}
	if _, err := conn.ExecContext(ctx, set); err != nil {
		t.Fatalf("%s on a connection of the enforced db: %v", set, err)
	}
	return conn
}

// lockTx begins a transaction of tenant on a new lock session.
func lockTx(t *testing.T, td *testDB, tenant string) (context.Context, bun.Tx) {
	t.Helper()
	ctx := tenantCtx(t, tenant)
	tx, err := lockSession(t, td).BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	return ctx, tx
}

// TestSchemaAttackLocks: session 1, a transaction of tenant A, holds
// UPDATE att_invoices SET status = 'paid' WHERE tenant_id = 'A' AND status =
// 'open'. Session 2, tenant B, updates its own invoice. On MariaDB's unsafe
// schema (no index leads with tenant_id, so the UPDATE scans and locks every
// row) B waits and times out (1205); on the safe schema it succeeds.
// PostgreSQL locks only the rows it updates: B succeeds on both schemas. A
// control, a second session of A updating A's invoice, must time out on
// every schema (session 1 does hold its locks).
func TestSchemaAttackLocks(t *testing.T) {
	for _, kind := range []string{"pg", "pgx", "mysql"} {
		for _, sch := range attackSchemas {
			t.Run(kind+"/"+sch.name, func(t *testing.T) {
				t.Parallel()
				e := openAttackDB(t, kind, sch.create)
				e.seed(t)
				beforeB := e.rows(t, "B")
				ctx1, tx1 := lockTx(t, e.td, "A")
				res, err := tx1.NewUpdate().Model((*AttInvoice)(nil)).Set("status = ?", "paid").Where("status = ?", "open").Exec(ctx1)
				if got := observed(res, err); got != "ok, 2 row(s)" {
					t.Fatalf("session 1 (A) update: %s", got)
				}

				ctxA, txA := lockTx(t, e.td, "A")
				res, err = txA.NewUpdate().Model((*AttInvoice)(nil)).Set("status = ?", "void").Where("id = ?", 101).Exec(ctxA)
				if got := observed(res, err); got != "error lock" {
					t.Fatalf("control: a second session of A updating A's invoice 101: got %q, want a lock wait timeout", got)
				}

				ctxB, txB := lockTx(t, e.td, "B")
				res, err = txB.NewUpdate().Model((*AttInvoice)(nil)).Set("status = ?", "void").Where("id = ?", 1001).Exec(ctxB)
				got := observed(res, err)
				want := "ok, 1 row(s)"
				if kind == "mysql" && !sch.safe {
					want = "error lock" // the leak: A's statement locks B's rows
				}
				if got != want {
					t.Fatalf("session 2 (B) updating B's invoice 1001: got %q, want %q", got, want)
				}
				if err := txB.Rollback(); err != nil {
					t.Fatal(err)
				}
				if err := tx1.Rollback(); err != nil {
					t.Fatal(err)
				}
				if afterB := e.rows(t, "B"); afterB != beforeB {
					t.Fatalf("B's rows changed\nbefore %s\nafter  %s", beforeB, afterB)
				}
			})
		}
	}
}

// TestSchemaAttackGapLocks: what the safe shape does not close on MariaDB.
// Under REPEATABLE READ (MariaDB's default) a locking range scan takes
// next-key locks, and the one on the first index record of tenant B's range
// also locks the gap before it, where tenant A's new rows go (PRIMARY KEY
// (tenant_id, id): ('A', next id) sorts between A's last row and B's
// first). So session 1, a transaction of B holding UPDATE ... WHERE
// tenant_id = 'B' AND status = 'open', makes tenant A's insert of a new
// invoice of its own wait: A can tell that its neighbour in the key order is
// inside such a transaction. With the locking transaction in READ COMMITTED
// (no gap locks) A's insert succeeds; PostgreSQL takes no gap locks.
func TestSchemaAttackGapLocks(t *testing.T) {
	for _, c := range []struct {
		kind string
		iso  sql.IsolationLevel
		want string
	}{
		{"mysql", sql.LevelDefault, "error lock"}, // the residual leak
		{"mysql", sql.LevelRepeatableRead, "error lock"},
		{"mysql", sql.LevelReadCommitted, inserted},
		{"pg", sql.LevelDefault, inserted},
		{"pgx", sql.LevelDefault, inserted},
		{"pg", sql.LevelRepeatableRead, inserted},
	} {
		t.Run(c.kind+"/"+c.iso.String(), func(t *testing.T) {
			t.Parallel()
			e := openAttackDB(t, c.kind, createSafeSchema)
			e.seed(t)
			beforeB := e.rows(t, "B")
			ctxB := tenantCtx(t, "B")
			txB, err := lockSession(t, e.td).BeginTx(ctxB, &sql.TxOptions{Isolation: c.iso})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = txB.Rollback() })
			res, err := txB.NewUpdate().Model((*AttInvoice)(nil)).Set("status = ?", "paid").Where("status = ?", "open").Exec(ctxB)
			if got := observed(res, err); got != "ok, 2 row(s)" {
				t.Fatalf("session 1 (B) update: %s", got)
			}
			ctxA, txA := lockTx(t, e.td, "A")
			res, err = txA.NewInsert().Model(&AttInvoice{Number: "A-new", Status: "open"}).Exec(ctxA)
			if got := observed(res, err); got != c.want {
				t.Fatalf("session 2 (A) inserting an invoice of its own: got %q, want %q", got, c.want)
			}
			if err := txA.Rollback(); err != nil {
				t.Fatal(err)
			}
			if err := txB.Rollback(); err != nil {
				t.Fatal(err)
			}
			if afterB := e.rows(t, "B"); afterB != beforeB {
				t.Fatalf("B's rows changed\nbefore %s\nafter  %s", beforeB, afterB)
			}
		})
	}
}
