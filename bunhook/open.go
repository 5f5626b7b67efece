package bunhook

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook/internal/driverwrap"
	"github.com/tenantshield/tenantshield-go/otelobs"
)

// Open returns a *bun.DB over connector with every enforcement layer
// installed: the guard query hook, the driver layer and the registry of the
// models given with [WithModels]. It is the only supported way to build the
// application's DB (see "What you lose by building the *bun.DB another way"
// in the package documentation). The driver helpers in the sqlitedb, pgdb
// and mysqldb subpackages call it.
//
// Add other query hooks (bunotel, bunslog) to the returned DB with
// db.WithQueryHook as usual, in any order.
func Open(connector driver.Connector, d schema.Dialect, opts ...Option) (*bun.DB, error) {
	if connector == nil || d == nil {
		return nil, errors.New("bunhook.Open needs a driver.Connector and a bun dialect")
	}
	c := &config{bus: auditlog.Default(), obs: otelobs.Default(), metrics: otelobs.DefaultMetrics(), rls: true}
	for _, o := range opts {
		o.apply(c)
	}
	e := newEnforcer(d, c)
	cfg := driverwrap.Config{Gate: (*gate)(e), Owner: e}
	if e.rls {
		cfg.Setting = RLSSetting
	}
	sqldb := sql.OpenDB(driverwrap.New(connector, cfg))
	db := bun.NewDB(sqldb, d, c.bunOpts...).WithQueryHook(&queryHook{e: e})
	guardResolver(db, e)
	if err := errors.Join(e.configErr, RegisterModels(db, c.models...),
		RegisterSharedModels(db, c.shared...), e.registerShared(c.sharedNames, "bunhook.WithSharedTables")); err != nil {
		_ = sqldb.Close()
		return nil, err
	}
	if c.posture != nil {
		if err := runPosture(db, c.posture); err != nil {
			_ = sqldb.Close()
			return nil, err
		}
	}
	return db, nil
}

// DSNConnector adapts a driver.Driver and a data source name to a
// driver.Connector, for drivers that offer no connector of their own.
func DSNConnector(d driver.Driver, dsn string) driver.Connector {
	if dc, ok := d.(driver.DriverContext); ok {
		if c, err := dc.OpenConnector(dsn); err == nil {
			return c
		}
	}
	return dsnConnector{d: d, dsn: dsn}
}

type dsnConnector struct {
	d   driver.Driver
	dsn string
}

func (c dsnConnector) Connect(_ context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                          { return c.d }
