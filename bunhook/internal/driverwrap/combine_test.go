package driverwrap

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"slices"
	"testing"
)

// openCombining is open with a driver marked as running how in the
// setting's round trip.
func openCombining(t *testing.T, how Combine) (*sql.DB, *fakeDriver) {
	t.Helper()
	fd := &fakeDriver{}
	db := sql.OpenDB(New(Combining(fd, how), Config{Gate: fakeGate{}, Setting: "app.tenant_id"}))
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return db, fd
}

func set(tenant string) string { return `SET "app"."tenant_id" TO '` + tenant + `'; ` }
func setLocal(tenant string) string {
	return `SET LOCAL "app"."tenant_id" TO '` + tenant + `'; `
}
func setConfig(tenant, local string) string {
	return "SELECT set_config('app.tenant_id', '" + tenant + "', " + local + ")"
}

// query runs q under ctx and reads its rows to the end, returning the
// error of the rows.
func query(ctx context.Context, t *testing.T, db *sql.DB, q string) error {
	t.Helper()
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

func wantLog(t *testing.T, fd *fakeDriver, want ...string) {
	t.Helper()
	if got := fd.take(); !slices.Equal(got, want) {
		t.Fatalf("driver log\n got  %q\n want %q", got, want)
	}
}

// TestCombinedSetting: a plain statement without arguments carries a change
// of the setting in its own text; anything else keeps the round trip of
// its own.
func TestCombinedSetting(t *testing.T) {
	db, fd := openCombining(t, CombineExec|CombineQuery)
	a, b := tenant("A"), tenant("B")
	exec := func(ctx context.Context, q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(a, "SELECT 1")
	exec(a, "SELECT 2") // recorded once the statement completed: nothing to send
	if err := query(b, t, db, "SELECT 3"); err != nil {
		t.Fatal(err)
	}
	if err := query(b, t, db, "SELECT 4"); err != nil {
		t.Fatal(err)
	}
	exec(context.Background(), "UPDATE t SET x = 1") // no tenant: cleared in the same text
	wantLog(t, fd, set("A")+"SELECT 1", "SELECT 2", set("B")+"SELECT 3", "SELECT 4", set("")+"UPDATE t SET x = 1")

	exec(a, "SELECT $1", 1)         // arguments
	exec(b, "SELECT 5; SELECT 6")   // several statements (or a ';' in a literal)
	exec(a, "SAVEPOINT s")          // not a plain query or DML
	exec(b, "SELECT set_config(1)") // calls set_config
	wantLog(t, fd, setConfig("A", "false"), "SELECT $1", setConfig("B", "false"), "SELECT 5; SELECT 6",
		setConfig("A", "false"), "SAVEPOINT s", setConfig("B", "false"), "SELECT set_config(1)")

	st, err := db.PrepareContext(a, "SELECT 7")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ExecContext(b); err != nil { // a prepared statement's text is fixed
		t.Fatal(err)
	}
	_ = st.Close()
	wantLog(t, fd, setConfig("A", "false"), "prepare SELECT 7", setConfig("B", "false"), "exec SELECT 7")

	tx, err := db.BeginTx(a, nil) // set eagerly, as before
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(b, "UPDATE t SET x = 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(b, "UPDATE t SET x = 3"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	exec(b, "SELECT 8") // the session value is still B
	wantLog(t, fd, "BEGIN", setConfig("A", "true"), setLocal("B")+"UPDATE t SET x = 2", "UPDATE t SET x = 3", "COMMIT", "SELECT 8")
}

// TestCombineExecOnly: a driver marked for Exec only (pgx) sets the value
// of a query in a round trip of its own.
func TestCombineExecOnly(t *testing.T) {
	db, fd := openCombining(t, CombineExec)
	if err := query(tenant("A"), t, db, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(tenant("B"), "SELECT 2"); err != nil {
		t.Fatal(err)
	}
	wantLog(t, fd, setConfig("A", "false"), "SELECT 1", set("B")+"SELECT 2")
}

// TestCombinedFailureLeavesSettingUnknown: when a combined statement fails
// (at once, or while its rows are read), the server may hold the old value
// (PostgreSQL undid the SET with the statement) or, had the failure come
// after the message completed, the new one: either way the next statement
// sets the value again, whatever its tenant. Removing the invalidation of
// the failure path (recording the new value at once, or keeping the old
// one) fails this test.
func TestCombinedFailureLeavesSettingUnknown(t *testing.T) {
	db, fd := openCombining(t, CombineExec|CombineQuery)
	a, b := tenant("A"), tenant("B")
	exec := func(ctx context.Context, q string) error {
		_, err := db.ExecContext(ctx, q)
		return err
	}
	failing := []struct {
		name string
		run  func(ctx context.Context) error
		q    string
	}{
		{"exec", func(ctx context.Context) error { return exec(ctx, "UPDATE "+failWord) }, "UPDATE " + failWord},
		{"query", func(ctx context.Context) error { return query(ctx, t, db, "SELECT "+failWord) }, "SELECT " + failWord},
		{"rows", func(ctx context.Context) error { return query(ctx, t, db, "SELECT "+rowFailWord) }, "SELECT " + rowFailWord},
		{"rows, wrapped io.EOF", func(ctx context.Context) error { return query(ctx, t, db, "SELECT "+eofFailWord) }, "SELECT " + eofFailWord},
	}
	for _, f := range failing {
		for _, next := range []struct {
			name string
			ctx  context.Context
			want string
		}{{"same tenant", b, "B"}, {"previous tenant", a, "A"}} {
			if err := exec(a, "SELECT 1"); err != nil {
				t.Fatal(err)
			}
			if err := f.run(b); !errors.Is(err, errStatement) && !errors.Is(err, io.EOF) {
				t.Fatalf("%s: the statement's own error, got %v", f.name, err)
			}
			if err := exec(next.ctx, "SELECT 2"); err != nil {
				t.Fatal(err)
			}
			log := fd.take()
			if want := set(next.want) + "SELECT 2"; log[len(log)-1] != want || log[len(log)-2] != set("B")+f.q {
				t.Fatalf("%s, then a statement of the %s: driver log %q, want it to end with %q, %q",
					f.name, next.name, log, set("B")+f.q, want)
			}
		}
	}
}

// TestCombinedRowsOutlived: rows of a combined query that end after the
// connection ran another statement record nothing (the other statement
// may have changed the value).
func TestCombinedRowsOutlived(t *testing.T) {
	fd := &fakeDriver{}
	cn, err := New(Combining(fd, CombineExec|CombineQuery), Config{Gate: fakeGate{}, Setting: "app.tenant_id"}).Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := cn.(*Conn)
	rows, err := c.QueryContext(tenant("A"), "SELECT 1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(tenant("B"), "SELECT 2", nil); err != nil {
		t.Fatal(err)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(tenant("A"), "SELECT 3", nil); err != nil {
		t.Fatal(err)
	}
	wantLog(t, fd, set("A")+"SELECT 1", set("B")+"SELECT 2", set("A")+"SELECT 3")
	// The rows of a combined query show the driver's driver.Rows only.
	rows, err = c.QueryContext(tenant("B"), "SELECT 4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if _, ok := rows.(driver.RowsNextResultSet); ok {
		t.Fatal("combined rows claim an interface of the driver's rows they do not implement")
	}
}

func TestQuoteSetting(t *testing.T) {
	for in, want := range map[string]string{
		"app.tenant_id": `"app"."tenant_id"`, `a"b.c`: `"a""b"."c"`, "x": `"x"`, "a..b": "", "": "",
	} {
		if got := quoteSetting(in); got != want {
			t.Errorf("quoteSetting(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRollbackNeedsNoTenant: a ROLLBACK TO SAVEPOINT after a failed
// statement that carried another tenant (the transaction is aborted, and
// its value unknown) is sent as it is: it needs no tenant, and an aborted
// transaction would refuse the setting. The next statement sets the value.
func TestRollbackNeedsNoTenant(t *testing.T) {
	db, fd := openCombining(t, CombineExec|CombineQuery)
	a, b := tenant("A"), tenant("B")
	tx, err := db.BeginTx(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(b, "UPDATE "+failWord); !errors.Is(err, errStatement) {
		t.Fatalf("the failing statement: %v", err)
	}
	for _, q := range []string{"ROLLBACK TO SAVEPOINT s", "SELECT 1"} {
		if _, err := tx.ExecContext(b, q); err != nil {
			t.Fatal(err)
		}
	}
	wantLog(t, fd, "BEGIN", setConfig("A", "true"), setLocal("B")+"UPDATE "+failWord,
		"ROLLBACK TO SAVEPOINT s", setLocal("B")+"SELECT 1")
	for q, want := range map[string]bool{
		"ROLLBACK": true, " rollback to s": true, "/* c */ ABORT": true, "ROLLBACK PREPARED 'x'": true,
		"ROLLBACK;": true, "ROLLBACK ; ": true,
		"COMMIT": false, "SELECT 1": false, "RELEASE s": false, "rollbacks": false,
		"ROLLBACK; SELECT * FROM invoices": false, "ABORT; DELETE FROM t": false,
	} {
		if got := rollsBack(q); got != want {
			t.Errorf("rollsBack(%q) = %v, want %v", q, got, want)
		}
	}
}
