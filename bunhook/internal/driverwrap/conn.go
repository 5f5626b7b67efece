package driverwrap

import (
	"context"
	"database/sql/driver"
)

// Conn is a connection of a [Connector].
type Conn struct {
	inner driver.Conn
	cfg   *Config

	inTx          bool
	txTenant      string // the setting inside the current transaction (unknownTenant: re-set it)
	sessionTenant string // the setting at session level ("" = unset, unknownTenant: re-set it)
	bad           bool   // the setting could not be cleared: never reuse
	gen           uint64 // counts the uses of the connection (see combined)
}

var (
	_ driver.Conn               = (*Conn)(nil)
	_ driver.ConnBeginTx        = (*Conn)(nil)
	_ driver.ConnPrepareContext = (*Conn)(nil)
	_ driver.ExecerContext      = (*Conn)(nil)
	_ driver.QueryerContext     = (*Conn)(nil)
	_ driver.Pinger             = (*Conn)(nil)
	_ driver.SessionResetter    = (*Conn)(nil)
	_ driver.Validator          = (*Conn)(nil)
	_ driver.NamedValueChecker  = (*Conn)(nil)
)

func newConn(inner driver.Conn, cfg *Config) *Conn { return &Conn{inner: inner, cfg: cfg} }

// Unwrap returns the driver's own connection, for driver-specific features
// reached through sql.Conn.Raw (such as COPY). Statements run on it are not
// guarded. Outside a transaction a session-level tenant setting is cleared
// first, so that nothing run on the bare connection inherits a tenant (in a
// transaction the setting is the transaction's own tenant). If clearing
// fails the connection is marked bad and the pool discards it after this
// use; the caller's use of the bare connection is not stopped (Unwrap
// cannot return an error).
func (c *Conn) Unwrap() driver.Conn {
	c.gen++
	if !c.inTx && c.sessionTenant != "" {
		if err := c.setTenant(context.Background(), "", false); err != nil {
			c.bad = true
		}
	}
	return c.inner
}

// admit asks the gate about query and brings the tenant setting in step; it
// returns the SQL to send. When the setting must change and the statement
// can carry the change (how, nargs: see [Combine]), the SQL sets it in
// front of the statement, and the returned combined records it once the
// statement has completed; otherwise the setting is brought in step by a
// round trip of its own first. A ROLLBACK (to a savepoint or not) reads no
// row and runs no trigger: it needs no tenant, and is the one statement an
// aborted transaction accepts.
func (c *Conn) admit(ctx context.Context, query string, how Combine, nargs int) (string, combined, error) {
	run, err := c.cfg.Gate.Statement(ctx, query)
	if err != nil {
		return "", combined{}, err
	}
	c.gen++
	if c.cfg.Setting == "" {
		return run, combined{}, nil
	}
	if want, local, change := c.wantTenant(ctx); change && !rollsBack(run) {
		if sql, p := c.combine(run, want, local, how, nargs); p.c != nil {
			return sql, p, nil // a plain statement: afterStatement has nothing to forget
		}
		if err := c.setTenant(ctx, want, local); err != nil {
			return "", combined{}, err
		}
	}
	c.afterStatement(run)
	return run, combined{}, nil
}

// Prepare prepares query without a context.
func (c *Conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext checks query under ctx, then prepares what the gate says
// to run. The statement is checked again at every execution.
func (c *Conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	run, _, err := c.admit(ctx, query, 0, 0)
	if err != nil {
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
	return &Stmt{inner: st, c: c, query: query}, nil
}

// Close closes the inner connection.
func (c *Conn) Close() error { return c.inner.Close() }

// Begin starts a transaction without a context.
func (c *Conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx starts a transaction unless the gate vetoes it, and sets the
// tenant setting transaction-locally.
func (c *Conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.cfg.Gate.Begin(ctx); err != nil {
		return nil, err
	}
	c.gen++
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
	if err := c.syncTenant(ctx); err != nil {
		_ = tx.Rollback()
		c.inTx = false
		return nil, err
	}
	return &Tx{inner: tx, c: c}, nil
}

// ExecContext runs what the gate admits.
func (c *Conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ec, ok := c.inner.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip // database/sql falls back to PrepareContext
	}
	run, p, err := c.admit(ctx, query, CombineExec, len(args))
	if err != nil {
		return nil, err
	}
	res, err := ec.ExecContext(ctx, run, args)
	p.done(err == nil)
	return res, err
}

// QueryContext runs what the gate admits.
func (c *Conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := c.inner.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	run, p, err := c.admit(ctx, query, CombineQuery, len(args))
	if err != nil {
		return nil, err
	}
	rows, err := qc.QueryContext(ctx, run, args)
	if p.c == nil || err != nil {
		return rows, err // after an error a combined value stays unknown
	}
	return &settlingRows{Rows: rows, p: p}, nil
}

// Ping pings the inner connection.
func (c *Conn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// ResetSession defers to the inner connection. A session-level tenant
// setting is left in place: every statement of the next user passes
// admit, which sets the setting to that statement's tenant (or clears it)
// before the statement runs, in front of it or in a round trip of its own
// (a ROLLBACK, which reads nothing, excepted), so nothing inherits it, and
// a user that stays with one tenant pays nothing for it.
func (c *Conn) ResetSession(ctx context.Context) error {
	if c.bad {
		return driver.ErrBadConn
	}
	if sr, ok := c.inner.(driver.SessionResetter); ok {
		return sr.ResetSession(ctx)
	}
	return nil
}

// IsValid defers to the inner connection.
func (c *Conn) IsValid() bool {
	if c.bad {
		return false
	}
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// CheckNamedValue defers to the inner connection.
func (c *Conn) CheckNamedValue(nv *driver.NamedValue) error {
	if nc, ok := c.inner.(driver.NamedValueChecker); ok {
		return nc.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
