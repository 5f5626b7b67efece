// Package pgdb opens an enforced *bun.DB on PostgreSQL, with bun's pgdriver
// ([Open]) or pgx's database/sql driver ([OpenPgx]).
//
// On PostgreSQL the connector also keeps the app.tenant_id setting equal to
// the tenant bound in each statement's context (transaction-locally inside
// transactions), for row-level security policies; see bunhook.RLSPolicySQL.
package pgdb

import (
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/tenantshield/tenantshield-go/bunhook"
)

// Open opens dsn (postgres://user@host:port/db?sslmode=disable) with pgdriver
// and returns the enforced *bun.DB (see bunhook.Open).
func Open(dsn string, opts ...bunhook.Option) (*bun.DB, error) {
	return bunhook.Open(pgdriver.NewConnector(pgdriver.WithDSN(dsn)), pgdialect.New(), opts...)
}

// OpenPgx opens dsn with pgx's database/sql driver and returns the enforced
// *bun.DB (see bunhook.Open).
func OpenPgx(dsn string, opts ...bunhook.Option) (*bun.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgdb.OpenPgx: %w", err)
	}
	return bunhook.Open(stdlib.GetConnector(*cfg), pgdialect.New(), opts...)
}
