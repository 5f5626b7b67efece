package bunhook

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"

	"github.com/tenantshield/tenantshield-go/scope"
)

// The connector wrapper is layer 3. It sees every statement that reaches the
// driver, on DB, Tx and Conn alike:
//   - it returns the guard's veto instead of running a statement (a cancelled
//     context is not a safe veto: pgdriver on a bun.Conn runs the statement
//     anyway);
//   - it runs the guard's re-rendered statement in place of the original;
//   - it checks the statements the guard never saw (SQL sent through the
//     embedded *sql.DB or *sql.Tx, prepared statements, sql.Conn.Raw, a
//     *bun.DB built without the hook) by their text, see checkUnhooked;
//   - on PostgreSQL it keeps app.tenant_id equal to the tenant of each
//     statement's context: set_config(..., true) right after BEGIN for the
//     transaction, and for statements outside a transaction a session value
//     that is re-checked before every statement and cleared when the pool
//     hands the connection to its next user.

type wrappedConnector struct {
	inner driver.Connector
	drv   *wrappedDriver
}

// wrappedDriver is what sql.DB.Driver() returns; it carries the enforcer so
// the model hooks find their configuration from any *bun.DB over this pool.
type wrappedDriver struct {
	inner driver.Driver
	e     *Enforcer
}

func newConnector(inner driver.Connector, e *Enforcer) *wrappedConnector {
	return &wrappedConnector{inner: inner, drv: &wrappedDriver{inner: inner.Driver(), e: e}}
}

func (c *wrappedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	ic, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{inner: ic, e: c.drv.e}, nil
}

func (c *wrappedConnector) Driver() driver.Driver { return c.drv }

// Open opens a connection with the inner driver, wrapped. database/sql uses
// the connector, not this method.
func (d *wrappedDriver) Open(name string) (driver.Conn, error) {
	ic, err := d.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &conn{inner: ic, e: d.e}, nil
}

type conn struct {
	inner driver.Conn
	e     *Enforcer

	inTx          bool
	txTenant      string // app.tenant_id inside the current transaction
	sessionTenant string // app.tenant_id at session level ("" = unset)
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

// Unwrap returns the driver's own connection, for driver-specific features
// reached through sql.Conn.Raw (such as COPY). Statements run on it are not
// guarded.
func (c *conn) Unwrap() driver.Conn { return c.inner }

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	run, err := c.e.statement(ctx, query)
	if err != nil {
		return nil, err
	}
	if err := c.syncTenant(ctx); err != nil {
		return nil, err
	}
	var st driver.Stmt
	if pc, ok := c.inner.(driver.ConnPrepareContext); ok {
		st, err = pc.PrepareContext(ctx, run)
	} else {
		st, err = c.inner.Prepare(run)
	}
	if err != nil {
		return nil, err
	}
	return &stmt{inner: st, c: c, query: query}, nil
}

func (c *conn) Close() error { return c.inner.Close() }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if d := decisionFrom(ctx); d != nil && d.veto != nil {
		return nil, d.veto
	}
	var tx driver.Tx
	var err error
	if bt, ok := c.inner.(driver.ConnBeginTx); ok {
		tx, err = bt.BeginTx(ctx, opts)
	} else {
		tx, err = c.inner.Begin() //nolint:staticcheck // fallback for drivers without BeginTx
	}
	if err != nil {
		return nil, err
	}
	c.inTx, c.txTenant = true, c.sessionTenant
	if c.e.rls {
		if err := c.syncTenant(ctx); err != nil {
			_ = tx.Rollback()
			c.inTx = false
			return nil, err
		}
	}
	return &wrappedTx{inner: tx, c: c}, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ec, ok := c.inner.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip // database/sql falls back to PrepareContext
	}
	query, err := c.e.statement(ctx, query)
	if err != nil {
		return nil, err
	}
	if err := c.syncTenant(ctx); err != nil {
		return nil, err
	}
	return ec.ExecContext(ctx, query, args)
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := c.inner.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	query, err := c.e.statement(ctx, query)
	if err != nil {
		return nil, err
	}
	if err := c.syncTenant(ctx); err != nil {
		return nil, err
	}
	return qc.QueryContext(ctx, query, args)
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// ResetSession clears a session-level app.tenant_id before the pool hands the
// connection to its next user.
func (c *conn) ResetSession(ctx context.Context) error {
	if sr, ok := c.inner.(driver.SessionResetter); ok {
		if err := sr.ResetSession(ctx); err != nil {
			return err
		}
	}
	if c.e.rls && c.sessionTenant != "" {
		if err := c.setTenant(ctx, "", false); err != nil {
			return driver.ErrBadConn // never hand out a connection with a stale tenant
		}
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if nc, ok := c.inner.(driver.NamedValueChecker); ok {
		return nc.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// syncTenant makes app.tenant_id on this connection equal to the tenant of
// ctx (PostgreSQL only): transaction-locally inside a transaction, otherwise
// at session level (cleared again by ResetSession).
func (c *conn) syncTenant(ctx context.Context) error {
	if !c.e.rls {
		return nil
	}
	want := ""
	if t, ok := scope.FromContext(ctx); ok {
		want = t.String()
	}
	if c.inTx {
		if c.txTenant == want {
			return nil
		}
		if err := c.setTenant(ctx, want, true); err != nil {
			return err
		}
		c.txTenant = want
		return nil
	}
	if c.sessionTenant == want {
		return nil
	}
	return c.setTenant(ctx, want, false)
}

// setTenant runs set_config on the inner connection. The tenant was
// validated by scope.Parse, and is quoted here all the same.
func (c *conn) setTenant(ctx context.Context, tenant string, local bool) error {
	q := "SELECT set_config('" + RLSSetting + "', " + quoteLiteral(tenant) + ", " + boolSQL(local) + ")"
	var err error
	switch ic := c.inner.(type) {
	case driver.ExecerContext:
		_, err = ic.ExecContext(ctx, q, nil)
	default:
		var st driver.Stmt
		st, err = c.inner.Prepare(q)
		if err == nil {
			_, err = st.Exec(nil) //nolint:staticcheck // fallback for drivers without ExecerContext
			_ = st.Close()
		}
	}
	if err != nil {
		return errors.Join(errors.New("bunhook: setting "+RLSSetting+" failed"), err)
	}
	if !local {
		c.sessionTenant = tenant
	}
	return nil
}

func boolSQL(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

type wrappedTx struct {
	inner driver.Tx
	c     *conn
}

func (t *wrappedTx) Commit() error {
	t.c.inTx = false
	return t.inner.Commit()
}

func (t *wrappedTx) Rollback() error {
	t.c.inTx = false
	return t.inner.Rollback()
}
