package driverwrap

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeDriver records every statement its connections run.
type fakeDriver struct {
	mu      sync.Mutex
	log     []string
	opened  int  // connections opened
	failSet bool // setting statements fail
}

// failWord in a statement makes Exec and Query of it fail; rowFailWord makes
// the second Next of its rows fail, and eofFailWord makes it fail with an
// error that wraps io.EOF (a lost connection).
const failWord, rowFailWord, eofFailWord = "fail_now", "fail_in_rows", "fail_eof"

func (d *fakeDriver) add(s string) {
	d.mu.Lock()
	d.log = append(d.log, s)
	d.mu.Unlock()
}

func (d *fakeDriver) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.log
	d.log = nil
	return l
}

func (d *fakeDriver) Open(string) (driver.Conn, error) { return &fakeConn{d: d}, nil }
func (d *fakeDriver) Connect(context.Context) (driver.Conn, error) {
	d.mu.Lock()
	d.opened++
	d.mu.Unlock()
	return &fakeConn{d: d}, nil
}
func (d *fakeDriver) Driver() driver.Driver { return d }
func (c *fakeConn) Prepare(q string) (driver.Stmt, error) {
	c.d.add("prepare " + q)
	return &fakeStmt{c: c, q: q}, nil
}
func (c *fakeConn) Close() error                       { return nil }
func (c *fakeConn) Begin() (driver.Tx, error)          { c.d.add("BEGIN"); return fakeTx{c}, nil }
func (c *fakeConn) ResetSession(context.Context) error { return nil }
func (s *fakeStmt) Close() error                       { return nil }
func (s *fakeStmt) NumInput() int                      { return -1 }
func (s *fakeStmt) Exec([]driver.Value) (driver.Result, error) {
	s.c.d.add("exec " + s.q)
	return driver.RowsAffected(1), nil
}
func (s *fakeStmt) Query([]driver.Value) (driver.Rows, error) {
	s.c.d.add("query " + s.q)
	return fakeRows{}, nil
}
func (t fakeTx) Commit() error             { t.c.d.add("COMMIT"); return nil }
func (t fakeTx) Rollback() error           { t.c.d.add("ROLLBACK"); return nil }
func (fakeRows) Columns() []string         { return []string{"x"} }
func (fakeRows) Close() error              { return nil }
func (fakeRows) Next([]driver.Value) error { return io.EOF }
func (c *fakeConn) ExecContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Result, error) {
	c.d.mu.Lock()
	fail := c.d.failSet && strings.HasPrefix(q, "SELECT set_config")
	c.d.mu.Unlock()
	if fail {
		return nil, errors.New("setting failed")
	}
	c.d.add(q)
	if strings.Contains(q, failWord) {
		return nil, errStatement
	}
	return driver.RowsAffected(1), nil
}

func (c *fakeConn) QueryContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Rows, error) {
	c.d.add(q)
	switch {
	case strings.Contains(q, failWord):
		return nil, errStatement
	case strings.Contains(q, rowFailWord):
		return &failingRows{err: errStatement}, nil
	case strings.Contains(q, eofFailWord):
		return &failingRows{err: fmt.Errorf("connection lost: %w", io.EOF)}, nil
	}
	return fakeRows{}, nil
}

var errStatement = errors.New("the statement failed")

// failingRows return one row, then err.
type failingRows struct {
	n   int
	err error
}

func (*failingRows) Columns() []string { return []string{"x"} }
func (*failingRows) Close() error      { return nil }
func (r *failingRows) Next(dest []driver.Value) error {
	r.n++
	if r.n > 1 {
		return r.err
	}
	dest[0] = int64(1)
	return nil
}

type (
	fakeConn struct{ d *fakeDriver }
	fakeStmt struct {
		c *fakeConn
		q string
	}
	fakeTx   struct{ c *fakeConn }
	fakeRows struct{}
)

type tenantKey struct{}

// fakeGate vetoes statements containing "forbidden" and statements and
// transactions whose context says so, and rewrites "rewrite me".
type fakeGate struct{}

var errVeto = errors.New("vetoed")

type vetoStmtKey struct{}

func (fakeGate) Statement(ctx context.Context, q string) (string, error) {
	switch {
	case ctx.Value(vetoStmtKey{}) != nil:
		return "", errVeto
	case strings.Contains(q, "forbidden"):
		return "", errVeto
	case q == "rewrite me":
		return "rewritten", nil
	}
	return q, nil
}

type vetoTxKey struct{}

func (fakeGate) Begin(ctx context.Context) error {
	if ctx.Value(vetoTxKey{}) != nil {
		return errVeto
	}
	return nil
}

func (fakeGate) Tenant(ctx context.Context) string {
	s, _ := ctx.Value(tenantKey{}).(string)
	return s
}

func open(t *testing.T, setting string) (*sql.DB, *fakeDriver) {
	t.Helper()
	fd := &fakeDriver{}
	owner := new(int)
	db := sql.OpenDB(New(fd, Config{Gate: fakeGate{}, Owner: owner, Setting: setting}))
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	if OwnerOf(db) != owner {
		t.Fatal("OwnerOf does not lead back to the owner")
	}
	return db, fd
}

func tenant(id string) context.Context {
	return context.WithValue(context.Background(), tenantKey{}, id)
}

func TestGateDecidesEveryStatement(t *testing.T) {
	db, fd := open(t, "")
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "UPDATE forbidden"); !errors.Is(err, errVeto) {
		t.Fatalf("Exec of a vetoed statement: %v", err)
	}
	if _, err := db.QueryContext(ctx, "SELECT forbidden"); !errors.Is(err, errVeto) {
		t.Fatalf("Query of a vetoed statement: %v", err)
	}
	if _, err := db.PrepareContext(ctx, "SELECT forbidden"); !errors.Is(err, errVeto) {
		t.Fatalf("Prepare of a vetoed statement: %v", err)
	}
	if _, err := db.ExecContext(ctx, "rewrite me"); err != nil {
		t.Fatal(err)
	}
	if got := fd.take(); !slices.Equal(got, []string{"rewritten"}) {
		t.Fatalf("the driver ran %q; want only the rewritten statement", got)
	}
	if _, err := db.BeginTx(context.WithValue(ctx, vetoTxKey{}, true), nil); !errors.Is(err, errVeto) {
		t.Fatalf("BeginTx under a veto: %v", err)
	}
	if got := fd.take(); len(got) != 0 {
		t.Fatalf("a vetoed transaction reached the driver: %q", got)
	}
}

func TestPreparedStatementCheckedAtEveryExecution(t *testing.T) {
	db, fd := open(t, "app.tenant_id")
	st, err := db.PrepareContext(tenant("A"), "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The execution, under another tenant, is checked again and brings the
	// setting in step first.
	if _, err := st.ExecContext(tenant("B")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ExecContext(context.WithValue(tenant("B"), vetoStmtKey{}, 1)); !errors.Is(err, errVeto) {
		t.Fatalf("execution of a prepared statement under a vetoing context: %v", err)
	}
	want := []string{
		"SELECT set_config('app.tenant_id', 'A', false)", "prepare SELECT 1",
		"SELECT set_config('app.tenant_id', 'B', false)", "exec SELECT 1",
		// the vetoed execution sends nothing
	}
	if got := fd.take(); !slices.Equal(got, want) {
		t.Fatalf("driver log\n got  %q\n want %q", got, want)
	}
}

func TestTenantSetting(t *testing.T) {
	db, fd := open(t, "app.tenant_id")
	a := tenant("A")
	mustExec := func(ctx context.Context, q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(a, "SELECT 1")
	mustExec(a, "SELECT 2") // same tenant on the same connection: no round trip
	tx, err := db.BeginTx(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(tenant("B"), "SELECT 3"); err != nil { // another tenant inside the transaction
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	mustExec(context.Background(), "SELECT 4")
	want := []string{
		"SELECT set_config('app.tenant_id', 'A', false)", "SELECT 1",
		"SELECT 2",
		"BEGIN", // the session value is A already: nothing to set locally
		"SELECT set_config('app.tenant_id', 'B', true)", "SELECT 3", "COMMIT",
		"SELECT set_config('app.tenant_id', '', false)", "SELECT 4", // no tenant: cleared before it runs
	}
	if got := fd.take(); !slices.Equal(got, want) {
		t.Fatalf("driver log\n got  %q\n want %q", got, want)
	}
}

func TestSettingQuotesTenant(t *testing.T) {
	db, fd := open(t, "app.tenant_id")
	if _, err := db.ExecContext(tenant("o'brien"), "S"); err != nil {
		t.Fatal(err)
	}
	if got := fd.take(); got[0] != "SELECT set_config('app.tenant_id', 'o''brien', false)" {
		t.Fatalf("setting statement %q", got[0])
	}
	// A backslash (possible with a custom tenant pattern) is quoted in an
	// escape string, which means the same whatever
	// standard_conforming_strings says.
	if _, err := db.ExecContext(tenant(`a\'b`), "S"); err != nil {
		t.Fatal(err)
	}
	if got := fd.take(); got[0] != `SELECT set_config('app.tenant_id', E'a\\''b', false)` {
		t.Fatalf("setting statement %q", got[0])
	}
}

// TestFailedSettingIsSetAgain: when the round trip that sets the tenant
// fails, the value on the server is unknown, and the next statement sets
// it again even for the tenant recorded before.
func TestFailedSettingIsSetAgain(t *testing.T) {
	db, fd := open(t, "app.tenant_id")
	setFail := func(fail bool) {
		fd.mu.Lock()
		fd.failSet = fail
		fd.mu.Unlock()
	}
	if _, err := db.ExecContext(tenant("A"), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	setFail(true)
	if _, err := db.ExecContext(tenant("B"), "SELECT 2"); err == nil {
		t.Fatal("a statement ran although its tenant could not be set")
	}
	setFail(false)
	if _, err := db.ExecContext(tenant("A"), "SELECT 3"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"SELECT set_config('app.tenant_id', 'A', false)", "SELECT 1",
		"SELECT set_config('app.tenant_id', 'A', false)", "SELECT 3",
	}
	if got := fd.take(); !slices.Equal(got, want) {
		t.Fatalf("driver log\n got  %q\n want %q", got, want)
	}
}

func TestRefusing(t *testing.T) {
	fallback := errors.New("fallback")
	db := sql.OpenDB(Refusing(func(ctx context.Context) error {
		if ctx.Value(vetoTxKey{}) != nil {
			return errVeto
		}
		return nil
	}, fallback))
	defer db.Close()
	if _, err := db.ExecContext(context.WithValue(context.Background(), vetoTxKey{}, 1), "S"); !errors.Is(err, errVeto) {
		t.Fatalf("refusing pool with a veto: %v", err)
	}
	if _, err := db.ExecContext(context.Background(), "S"); !errors.Is(err, fallback) {
		t.Fatalf("refusing pool without a veto: %v", err)
	}
	if OwnerOf(db) != nil || OwnerOf(nil) != nil {
		t.Fatal("OwnerOf of a pool that is not a Connector's")
	}
}

func TestSettingAfterRollbackToSavepoint(t *testing.T) {
	db, fd := open(t, "app.tenant_id")
	a, b := tenant("A"), tenant("B")
	tx, err := db.BeginTx(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, st := range []struct {
		ctx context.Context
		q   string
	}{{a, "SAVEPOINT s1"}, {b, "SELECT 1"}, {b, " rollback\tTO s1"}, {b, "SELECT 2"}, {b, "ROLLBACK TOO_LATE"}, {b, "SELECT 3"}} {
		if _, err := tx.ExecContext(st.ctx, st.q); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"BEGIN", "SELECT set_config('app.tenant_id', 'A', true)", "SAVEPOINT s1",
		"SELECT set_config('app.tenant_id', 'B', true)", "SELECT 1", " rollback\tTO s1",
		// the rollback restored A: B is set again before S2
		"SELECT set_config('app.tenant_id', 'B', true)", "SELECT 2",
		// not a ROLLBACK TO: the transaction ended, the setting goes back
		// to session level
		"ROLLBACK TOO_LATE", "SELECT set_config('app.tenant_id', 'B', false)", "SELECT 3",
	}
	if got := fd.take(); !slices.Equal(got, want) {
		t.Fatalf("driver log\n got  %q\n want %q", got, want)
	}
}

func TestUnwrapClearsTheSessionSetting(t *testing.T) {
	db, fd := open(t, "app.tenant_id")
	if _, err := db.ExecContext(tenant("A"), "S1"); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		if _, ok := dc.(interface{ Unwrap() driver.Conn }).Unwrap().(*fakeConn); !ok {
			t.Error("Unwrap did not return the driver's connection")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"SELECT set_config('app.tenant_id', 'A', false)", "S1", "SELECT set_config('app.tenant_id', '', false)"}
	if got := fd.take(); !slices.Equal(got, want) {
		t.Fatalf("driver log\n got  %q\n want %q", got, want)
	}
}

func TestClassify(t *testing.T) {
	for q, want := range map[string]statementClass{
		"SELECT 1": plainStatement, "  (SELECT 1)": plainStatement, "/* c */ UPDATE t SET x = 1": plainStatement,
		"with x as (select 1) select * from x": plainStatement, "-- c\nINSERT INTO t VALUES (1)": plainStatement,
		"SELECT set_config('app.tenant_id', 'B', false)": otherStatement, `SELECT "SET_CONFIG"('a', 'b', true)`: otherStatement,
		"COMMIT": endsTransaction, "end": endsTransaction, "ABORT": endsTransaction, "ROLLBACK": endsTransaction,
		"ROLLBACK WORK": endsTransaction, "PREPARE TRANSACTION 'x'": endsTransaction, "COMMIT AND CHAIN": endsTransaction,
		"ROLLBACK TO s": otherStatement, "rollback work to savepoint s": otherStatement, "/*c*/ ROLLBACK TRANSACTION TO s": otherStatement,
		"/* a /* nested */ comment */ ROLLBACK TO s": otherStatement,
		"BEGIN": otherStatement, "SAVEPOINT s": otherStatement, "RELEASE s": otherStatement, "SET app.tenant_id = 'B'": otherStatement,
		"RESET ALL": otherStatement, "DISCARD ALL": otherStatement, "": otherStatement, "-- only a comment": otherStatement,
		"/* unterminated": otherStatement, "PREPARE p AS SELECT 1": otherStatement,
	} {
		if got := classify(q); got != want {
			t.Errorf("classify(%q) = %d, want %d", q, got, want)
		}
	}
}

// TestUnwrapThatCannotClearDiscardsTheConnection: when clearing the setting
// before Unwrap fails, the pool never hands the connection out again.
func TestUnwrapThatCannotClearDiscardsTheConnection(t *testing.T) {
	db, fd := open(t, "app.tenant_id")
	if _, err := db.ExecContext(tenant("A"), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	fd.mu.Lock()
	fd.failSet = true
	fd.mu.Unlock()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Raw(func(dc any) error { dc.(interface{ Unwrap() driver.Conn }).Unwrap(); return nil }); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	fd.mu.Lock()
	fd.failSet = false
	fd.mu.Unlock()
	if _, err := db.ExecContext(tenant("A"), "SELECT 2"); err != nil {
		t.Fatal(err)
	}
	fd.mu.Lock()
	opened := fd.opened
	fd.mu.Unlock()
	if opened != 2 {
		t.Fatalf("connections opened = %d, want 2: the connection that kept tenant A was reused", opened)
	}
}
