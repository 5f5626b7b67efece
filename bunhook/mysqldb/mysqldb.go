// Package mysqldb opens an enforced *bun.DB on MySQL or MariaDB with
// github.com/go-sql-driver/mysql.
//
// MySQL and MariaDB have no row-level security and no WHERE clause for ON
// DUPLICATE KEY UPDATE: bunhook rejects that clause on tenant-owned tables
// unless the DB is opened with bunhook.WithDuplicateKeyUpdate().
package mysqldb

import (
	"fmt"

	"github.com/go-sql-driver/mysql"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"

	"github.com/tenantshield/tenantshield-go/bunhook"
)

// Open opens dsn (user:password@tcp(host:port)/db?parseTime=true) and returns
// the enforced *bun.DB (see bunhook.Open).
func Open(dsn string, opts ...bunhook.Option) (*bun.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("mysqldb.Open: %w", err)
	}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysqldb.Open: %w", err)
	}
	return bunhook.Open(c, mysqldialect.New(), opts...)
}
