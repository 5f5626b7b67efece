package bunhook

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook/internal/driverwrap"
	"github.com/tenantshield/tenantshield-go/bunhook/internal/sqlguard"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

// ErrAttached matches the refusal of a statement that an attached DB
// ([Attach]) cannot scope: one that bunhook would rescope in the driver
// layer (Count, Exists, Rows, SelectQuery.Exec of a tenant model), which an
// attached DB does not have.
var ErrAttached = errors.New("bunhook: this statement needs the driver layer, which an attached DB does not have")

// Coverage says which enforcement layers a DB has. A DB made by [Open] has
// them all; one given to [Attach] lacks the driver layer, and Lost says
// what that costs, one sentence per gap.
type Coverage struct {
	ModelHooks  bool     // layer 1: the TenantOwned model hooks
	GuardHook   bool     // layer 2: the guard query hook over bun's statements
	DriverLayer bool     // layer 3: the connector wrapper
	RLSSetting  bool     // PostgreSQL: app.tenant_id kept for row-level security (layer 4's input)
	Lost        []string // what is not enforced, and why
}

// Coverage returns the enforcement layers of e's DB.
func (e *Enforcer) Coverage() Coverage {
	if !e.attached {
		return Coverage{ModelHooks: true, GuardHook: true, DriverLayer: true, RLSSetting: e.rls}
	}
	lost := []string{
		"SQL sent through the *sql.DB or *sql.Tx that bun embeds (db.DB, tx.Tx), prepared statements, sql.Conn.Raw, " +
			"and any *bun.DB built over the same pool without the hook, are not guarded: they never reach bun's hooks",
		"statements bun runs without a model hook that need the tenant predicate added (Count, Exists, Rows, " +
			"SelectQuery.Exec of a tenant model) are refused (ErrAttached) instead of rescoped",
		"a vetoed statement is stopped by a context that is already done (and has a past deadline): database/sql " +
			"checks it before it takes a connection from the pool or runs in a transaction, but not on a bun.Conn (a " +
			"reserved connection), where the driver stops it: SQLite (sqliteshim) and the MySQL driver return the " +
			"refusal, pgdriver and pgx return driver.ErrBadConn and the reserved connection is spent",
		"a bun.ConnResolver (read replicas) is not checked",
	}
	if e.dialect == sqlguard.Postgres {
		lost = append(lost, "PostgreSQL: app.tenant_id is not set, so row-level security policies see no tenant "+
			"(the RLS backstop does not hold)")
	}
	return Coverage{ModelHooks: true, GuardHook: true, Lost: lost}
}

// attachedDBs maps the *sql.DB of each attached *bun.DB to its enforcer
// (a DB opened with Open finds it through its driver instead).
var attachedDBs sync.Map // *sql.DB -> *Enforcer

// Attach adds enforcement to a *bun.DB the application built itself (its
// own connector and options, bunotel and other hooks already added) and
// returns the DB to use from then on: a clone of db with the guard hook
// (db itself stays unguarded). It installs what bun lets a library add
// after the fact, the model hooks (layer 1) and the guard query hook
// (layer 2), with the same options as [Open]. It cannot add the driver
// layer (layer 3), which wraps the connector the DB was built on, and says
// so: [Enforcer.Coverage] lists every gap, and an attached DB never
// reports a statement as blocked or scoped that it could not block or
// scope.
//
//   - A statement the guard blocks is stopped before it reaches the
//     database: the hook gives bun a context that is already done, whose
//     error is the violation (database/sql checks it before it takes a
//     connection or runs in a transaction).
//   - A statement the driver layer would rescope is refused with
//     [ErrAttached] instead.
//   - SQL that does not go through bun's hooks (db.DB, prepared statements,
//     Conn.Raw) is not seen at all, and on PostgreSQL app.tenant_id is not
//     set for row-level security.
//
// Attach is the first step of adopting the module on a running service:
// attach with [WithMode](ModeReport) to see what would be blocked without
// blocking anything, fix it, then open the DB with [Open] over the same
// connector (every layer) and switch to ModeEnforce. README, "Adopting it in
// an existing service", has the steps. Attach refuses a DB already opened
// with Open or already attached (ErrModel).
func Attach(db *bun.DB, opts ...Option) (*bun.DB, error) {
	if db == nil {
		return nil, errors.New("bunhook.Attach needs a *bun.DB")
	}
	if driverwrap.OwnerOf(db.DB) != nil {
		return nil, errors.New("bunhook.Attach: this DB was opened with bunhook.Open and has every layer already")
	}
	c := &config{bus: auditlog.Default(), obs: otelobs.Default(), metrics: otelobs.DefaultMetrics(), rls: true}
	for _, o := range opts {
		o.apply(c)
	}
	if len(c.bunOpts) > 0 {
		return nil, errors.New("bunhook.Attach: WithBunOptions applies to Open only; configure the DB you attach to directly")
	}
	e := newEnforcer(db.Dialect(), c)
	e.attached, e.rls = true, false
	if _, loaded := attachedDBs.LoadOrStore(db.DB, e); loaded {
		return nil, errors.New("bunhook.Attach: this DB is attached already; use the DB the first Attach returned")
	}
	out := db.WithQueryHook(&queryHook{e: e})
	err := errors.Join(e.configErr, RegisterModels(out, c.models...), RegisterSharedModels(out, c.shared...),
		e.registerShared(c.sharedNames, "bunhook.WithSharedTables"))
	if err == nil && c.posture != nil {
		err = runPosture(out, c.posture)
	}
	if err != nil {
		attachedDBs.Delete(db.DB)
		return nil, err
	}
	return out, nil
}

// attachedEnforcer returns the enforcer of an attached *sql.DB.
func attachedEnforcer(sqldb *sql.DB) *Enforcer {
	if e, ok := attachedDBs.Load(sqldb); ok {
		return e.(*Enforcer)
	}
	return nil
}

// vetoCtx is the context an attached DB's hook gives bun for a statement
// it refuses: done already, with the refusal as its error, so that
// database/sql returns that error instead of running the statement.
type vetoCtx struct {
	context.Context
	err error
}

func (c *vetoCtx) Done() <-chan struct{}       { return closedChan }
func (c *vetoCtx) Err() error                  { return c.err }
func (c *vetoCtx) Deadline() (time.Time, bool) { return pastDeadline, true }

// pastDeadline is the veto's deadline: past, so that a driver that sets
// its connection's deadline from the context (pgdriver does, and does not
// check Done) fails the write instead of sending the statement.
var pastDeadline = time.Unix(1, 0)

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// attachedRescope is the refusal of a statement that an attached DB would
// have to rescope.
func attachedRescope(v *sqlguard.Verdict, tenant string) *outcome {
	o := verdictOutcome(violated, v, tenant)
	o.err = errors.Join(scope.ErrUnscopedQuery, ErrAttached)
	o.reason = "the statement must get the tenant predicate in the driver layer, which an attached DB does not have"
	o.fix = "run it through a model Scan (which the model hook scopes), add the tenant predicate yourself, " +
		"or open the DB with bunhook.Open"
	return &o
}
