// Package sqlitedb opens an enforced *bun.DB on SQLite through bun's
// sqliteshim (pure Go modernc.org/sqlite on the common platforms; no cgo).
//
//	db, err := sqlitedb.Open("file:app.db", bunhook.WithModels((*Invoice)(nil)))
//
// Each connection to a plain ":memory:" database is a separate database; use
// "file::memory:?cache=shared" (or a file) to share one, or limit the pool to
// a single connection.
package sqlitedb

import (
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/tenantshield/tenantshield-go/bunhook"
)

// Open opens dsn with sqliteshim and returns the enforced *bun.DB (see
// bunhook.Open).
func Open(dsn string, opts ...bunhook.Option) (*bun.DB, error) {
	return bunhook.Open(bunhook.DSNConnector(sqliteshim.Driver(), dsn), sqlitedialect.New(), opts...)
}
