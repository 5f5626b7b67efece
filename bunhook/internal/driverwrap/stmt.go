package driverwrap

import (
	"context"
	"database/sql/driver"
)

// Stmt is a prepared statement of a [Conn]. Its text was checked when it
// was prepared; it is checked again against the context of every execution,
// which may carry another tenant.
type Stmt struct {
	inner driver.Stmt
	c     *Conn
	query string // as the caller prepared it
}

var (
	_ driver.Stmt              = (*Stmt)(nil)
	_ driver.StmtExecContext   = (*Stmt)(nil)
	_ driver.StmtQueryContext  = (*Stmt)(nil)
	_ driver.NamedValueChecker = (*Stmt)(nil)
)

// Close closes the inner statement.
func (s *Stmt) Close() error { return s.inner.Close() }

// NumInput defers to the inner statement.
func (s *Stmt) NumInput() int { return s.inner.NumInput() }

func (s *Stmt) check(ctx context.Context) error {
	_, _, err := s.c.admit(ctx, s.query, 0, 0) // a prepared statement's text is fixed: never combined
	return err
}

// ExecContext executes the statement if the gate admits it under ctx.
func (s *Stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if ec, ok := s.inner.(driver.StmtExecContext); ok {
		return ec.ExecContext(ctx, args)
	}
	vals, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	return s.inner.Exec(vals) //nolint:staticcheck // fallback for drivers without StmtExecContext
}

// QueryContext executes the statement if the gate admits it under ctx.
func (s *Stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if qc, ok := s.inner.(driver.StmtQueryContext); ok {
		return qc.QueryContext(ctx, args)
	}
	vals, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	return s.inner.Query(vals) //nolint:staticcheck // fallback for drivers without StmtQueryContext
}

// Exec is never called by database/sql (the statement implements the
// context variants); without a context it runs with no tenant and fails
// closed on tenant tables.
func (s *Stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), valuesToNamed(args))
}

// Query is like Exec.
func (s *Stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), valuesToNamed(args))
}

// CheckNamedValue defers to the driver's statement, then to its connection,
// as database/sql would without the wrapper.
func (s *Stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if nc, ok := s.inner.(driver.NamedValueChecker); ok {
		return nc.CheckNamedValue(nv)
	}
	return s.c.CheckNamedValue(nv)
}

func namedToValues(args []driver.NamedValue) ([]driver.Value, error) {
	vals := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, driver.ErrSkip
		}
		vals[i] = a.Value
	}
	return vals, nil
}

func valuesToNamed(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}
