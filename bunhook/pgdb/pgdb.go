// Package pgdb opens an enforced *bun.DB on PostgreSQL, with bun's pgdriver
// ([Open]) or pgx's database/sql driver ([OpenPgx]).
//
// On PostgreSQL the connector also keeps the app.tenant_id setting equal to
// the tenant bound in each statement's context (transaction-locally inside
// transactions), for row-level security policies; see bunhook.RLSPolicySQL.
// When the tenant changes, the new value travels in the statement's own
// round trip where the driver allows it: with pgdriver for statements
// without arguments (bun interpolates them, so nearly all); with pgx only
// for Exec (a query through pgx's database/sql driver cannot carry it, and
// pays a round trip of its own). See the driverwrap package documentation.
package pgdb

import (
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/internal/driverwrap"
)

// Open opens dsn (postgres://user@host:port/db?sslmode=disable) with pgdriver
// and returns the enforced *bun.DB (see bunhook.Open).
func Open(dsn string, opts ...bunhook.Option) (*bun.DB, error) {
	// pgdriver sends a statement without arguments as one simple-protocol
	// Query message, for Exec and Query alike (Conn.exec, Conn.query).
	c := driverwrap.Combining(pgdriver.NewConnector(pgdriver.WithDSN(dsn)), driverwrap.CombineExec|driverwrap.CombineQuery)
	return bunhook.Open(c, pgdialect.New(), opts...)
}

// OpenPgx opens dsn with pgx's database/sql driver and returns the enforced
// *bun.DB (see bunhook.Open).
func OpenPgx(dsn string, opts ...bunhook.Option) (*bun.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgdb.OpenPgx: %w", err)
	}
	// pgx runs an Exec without arguments in the simple protocol
	// (Conn.exec, execSimpleProtocol); a Query reads only the first result
	// set, and in the default mode prepares the text, which must then be a
	// single statement.
	c := driverwrap.Combining(stdlib.GetConnector(*cfg), driverwrap.CombineExec)
	return bunhook.Open(c, pgdialect.New(), opts...)
}
