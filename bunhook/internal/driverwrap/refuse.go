package driverwrap

import (
	"context"
	"database/sql/driver"
)

// Refusing returns a connector whose every connection attempt fails with
// the error refuse returns for the attempt's context (or fallback when it
// returns nil). It backs a pool that stands in for one the Gate does not
// control, so that a statement routed there never runs.
func Refusing(refuse func(ctx context.Context) error, fallback error) driver.Connector {
	return refusing{refuse: refuse, fallback: fallback}
}

type refusing struct {
	refuse   func(context.Context) error
	fallback error
}

func (r refusing) Connect(ctx context.Context) (driver.Conn, error) {
	if err := r.refuse(ctx); err != nil {
		return nil, err
	}
	return nil, r.fallback
}

func (r refusing) Driver() driver.Driver { return refusingDriver{r.fallback} }

type refusingDriver struct{ err error }

func (d refusingDriver) Open(string) (driver.Conn, error) { return nil, d.err }
