package bunhook

import (
	"context"
	"database/sql"
	"errors"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/tenantshield/tenantshield-go/bunhook/internal/bunx"
	"github.com/tenantshield/tenantshield-go/bunhook/internal/driverwrap"
	"github.com/tenantshield/tenantshield-go/scope"
)

// A bun.ConnResolver (read replicas, bun.WithConnResolver given through
// WithBunOptions) sends builder queries to pools of its own. A pool that
// bunhook does not wrap ignores the pipeline's veto and its re-rendered
// statements, so Open wraps the resolver: a statement on a tenant table (one
// the pipeline decided on) that the resolver routes to such a pool fails
// with an error naming the fix. A statement that names no tenant table goes
// where the resolver says if a tenant scope may run it (the closed world:
// Guard.Admit on its text); if not, it goes to the enforced primary pool,
// whose driver layer refuses and reports it.

const fixResolver = "the bun.ConnResolver routed this statement to a pool that bunhook does not enforce: " +
	"open every replica with bunhook.Open (or sqlitedb/pgdb/mysqldb.Open) and give the resolver that DB"

var errRefused = errors.New("bunhook: " + fixResolver)

// guardResolver wraps the ConnResolver of db, if it has one.
func guardResolver(db *bun.DB, e *Enforcer) {
	inner, ok := bunx.Resolver(db)
	if !ok {
		return
	}
	if _, done := inner.(*guardedResolver); done {
		return
	}
	r := &guardedResolver{inner: inner, e: e, db: db}
	r.refuse = sql.OpenDB(driverwrap.Refusing(r.refusal, errRefused))
	bun.WithConnResolver(r)(db)
}

type guardedResolver struct {
	inner  bun.ConnResolver
	e      *Enforcer
	db     *bun.DB
	refuse *sql.DB // a pool whose connections fail with refusal's error
}

func (r *guardedResolver) ResolveConn(ctx context.Context, q bun.Query) bun.IConn {
	c := r.inner.ResolveConn(ctx, q)
	if c == nil || enforcedConn(c) {
		return c
	}
	d := decisionFrom(ctx)
	if d == nil { // the statement names no tenant table
		if !r.admitted(ctx, q) {
			return nil // the primary pool refuses it
		}
		return c
	}
	if d.veto == nil && r.e.reportOnly() {
		// Report, and run it on the enforced primary pool instead.
		_ = r.e.refused(ctx, d)
		return nil
	}
	return r.refuse
}

// admitted reports whether q, which names no tenant table, may run on an
// unenforced pool: with no tenant bound or under a bypass, or when the
// closed world admits its text.
func (r *guardedResolver) admitted(ctx context.Context, q bun.Query) bool {
	if _, ok := scope.BypassFromContext(ctx); ok {
		return true
	}
	if _, ok := scope.FromContext(ctx); !ok {
		return true
	}
	qa, ok := q.(schema.QueryAppender)
	if !ok {
		return false
	}
	b, err := qa.AppendQuery(r.db.QueryGen(), nil)
	if err != nil {
		return false
	}
	g := r.e.guard.Load()
	return !g.Mentions(string(b)) && g.Admit(string(b)).OK()
}

func (r *guardedResolver) Close() error {
	return errors.Join(r.refuse.Close(), r.inner.Close())
}

// refusal is the error of a connection attempt on the refusing pool: the
// pipeline's veto, or a violation (nil when the mode changed to report-only
// meanwhile).
func (r *guardedResolver) refusal(ctx context.Context) error {
	d := decisionFrom(ctx)
	if d == nil {
		return nil
	}
	if d.veto != nil {
		return d.veto
	}
	return r.e.refused(ctx, d)
}

func enforcedConn(c bun.IConn) bool {
	switch c := c.(type) {
	case *sql.DB:
		return enforcerOfSQL(c) != nil
	case *bun.DB:
		return enforcerOfSQL(c.DB) != nil
	}
	return false
}

// refused reports a statement routed to an unenforced pool.
func (e *Enforcer) refused(ctx context.Context, d *decision) error {
	t, _ := scope.FromContext(ctx)
	v := e.guard.Load().Check(d.query, t.String())
	o := verdictOutcome(violated, &v, t.String())
	o.reason, o.fix, o.err = "the statement was routed to a database pool without tenant enforcement", fixResolver, scope.ErrUnscopedQuery
	return e.record(ctx, nil, &o)
}
