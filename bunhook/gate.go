package bunhook

import (
	"context"

	"github.com/tenantshield/tenantshield-go/bunhook/internal/driverwrap"
	"github.com/tenantshield/tenantshield-go/scope"
)

// gate is the Enforcer seen by the driver layer (layer 3, package driverwrap):
// every statement that reaches the driver, on DB, Tx and Conn alike, is
// admitted here.
//   - A statement the guard hook decided carries the decision on its
//     context: its veto is returned instead of running it (a cancelled
//     context is not a safe veto: pgdriver on a bun.Conn runs the statement
//     anyway), and a re-rendered statement runs in its place.
//   - A statement the guard never saw (SQL sent through the embedded
//     *sql.DB or *sql.Tx, prepared statements, sql.Conn.Raw, a *bun.DB
//     built without the hook) goes through the same pipeline by its text,
//     with no builder query to re-render: an unscoped SELECT is blocked,
//     not rewritten.
//   - A statement that names no tenant table runs only if its kind is one
//     the guard verifies (admit), when a tenant is bound.
//   - On PostgreSQL the driver layer keeps app.tenant_id equal to the
//     tenant of each statement's context (Tenant).
type gate Enforcer

var _ driverwrap.Gate = (*gate)(nil)

// Statement implements driverwrap.Gate.
func (gt *gate) Statement(ctx context.Context, query string) (string, error) {
	e := (*Enforcer)(gt)
	if d := decisionFrom(ctx); d != nil {
		if d.veto != nil {
			return "", d.veto
		}
		if query == d.query {
			if d.to != "" {
				return d.to, nil
			}
			return query, nil
		}
	}
	g := e.guard.Load()
	if !g.Mentions(query) {
		return query, e.admit(ctx, g, query)
	}
	timer := e.metrics.StartGuard()
	d := e.decide(ctx, nil, g, statement{query: query})
	timer.Stop(ctx, e.system, d.op)
	if d.veto != nil {
		return "", d.veto
	}
	return query, nil
}

// Begin implements driverwrap.Gate: a transaction started under a vetoed
// statement's context does not start.
func (*gate) Begin(ctx context.Context) error {
	if d := decisionFrom(ctx); d != nil {
		return d.veto
	}
	return nil
}

// Tenant implements driverwrap.Gate.
func (*gate) Tenant(ctx context.Context) string {
	t, _ := scope.FromContext(ctx)
	return t.String()
}
