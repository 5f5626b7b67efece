package driverwrap

import (
	"context"
	"database/sql"
	"database/sql/driver"
)

// Gate is asked about every statement and transaction that reaches the
// driver.
type Gate interface {
	// Statement returns the SQL to send for query under ctx (query itself,
	// or a re-rendered statement), or the error to return instead of
	// running it.
	Statement(ctx context.Context, query string) (string, error)
	// Begin returns the error that stops a transaction from starting under
	// ctx, or nil.
	Begin(ctx context.Context) error
	// Tenant returns the tenant that statements under ctx run for ("" when
	// none), for the session setting.
	Tenant(ctx context.Context) string
}

// Config configures a [Connector].
type Config struct {
	// Gate decides every statement. Required.
	Gate Gate
	// Owner is returned by [OwnerOf] for any *sql.DB over the connector.
	Owner any
	// Setting is the name of the session setting that carries the tenant
	// (PostgreSQL's app.tenant_id, read by row-level security policies), or
	// "" for none.
	Setting string
	// Combine names the statements whose connection may carry a change of
	// the setting in the statement's own round trip (see [Combine]); a
	// connector marked with [Combining] adds its own.
	Combine Combine

	setIdent string // Setting as a SET statement names it
}

// Connector wraps a driver.Connector; see the package documentation.
type Connector struct {
	inner driver.Connector
	drv   *Driver
}

// Driver is what sql.DB.Driver() returns for a pool over a [Connector].
type Driver struct {
	inner driver.Driver
	cfg   Config
}

// New wraps inner (unwrapping a connector marked with [Combining]).
func New(inner driver.Connector, cfg Config) *Connector {
	if m, ok := inner.(combining); ok {
		inner, cfg.Combine = m.Connector, cfg.Combine|m.how
	}
	cfg.setIdent = quoteSetting(cfg.Setting)
	return &Connector{inner: inner, drv: &Driver{inner: inner.Driver(), cfg: cfg}}
}

// OwnerOf returns the Owner of the Connector behind db, or nil when db is not
// a pool over one.
func OwnerOf(db *sql.DB) any {
	if db == nil {
		return nil
	}
	if d, ok := db.Driver().(*Driver); ok {
		return d.cfg.Owner
	}
	return nil
}

// Connect opens a connection with the inner connector, wrapped.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	ic, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newConn(ic, &c.drv.cfg), nil
}

// Driver returns the wrapping driver.
func (c *Connector) Driver() driver.Driver { return c.drv }

// Open opens a connection with the inner driver, wrapped. database/sql uses
// the connector, not this method.
func (d *Driver) Open(name string) (driver.Conn, error) {
	ic, err := d.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return newConn(ic, &d.cfg), nil
}
