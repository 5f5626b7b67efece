package bunhook

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/bunhook/internal/sqlguard"
	"github.com/tenantshield/tenantshield-go/scope"
)

// fixUnhooked is added to the fix of a statement blocked by checkUnhooked.
const fixUnhooked = " (this statement did not pass through bun's hooks, e.g. db.DB, tx.Tx, Prepare or conn.Raw, " +
	"so it is checked as text: write the tenant as a literal rather than a driver placeholder, " +
	"or use db.ExecContext, db.QueryContext or db.NewRaw, which interpolate ? arguments)"

// checkUnhooked decides a statement that reached the connector without a
// decision of the guard hook: SQL sent through the *sql.DB or *sql.Tx that
// bun embeds, prepared statements (checked when prepared and again, with the
// executing context, when run), sql.Conn.Raw, or a *bun.DB built over this
// pool without the hook. It applies the guard's rules to the text; with no
// builder query to re-render, an unscoped SELECT is blocked, not rewritten.
// Under a bypass it audits the statement, as the guard does.
func (e *Enforcer) checkUnhooked(ctx context.Context, query string) error {
	g := e.guard.Load()
	if !g.Mentions(query) {
		return nil
	}
	if b, ok := scope.BypassFromContext(ctx); ok {
		v := g.Check(query, "")
		t, _ := scope.FromContext(ctx)
		e.bypassed(ctx, b, t.String(), v.Operation, tableNames(v.Tables))
		return nil
	}
	if found, err := e.inlinedError(ctx, query); found {
		return err
	}
	t, err := scope.Require(ctx)
	if err != nil {
		v := g.Check(query, "")
		viol := noTenantViolation(v.Operation, tableNames(v.Tables), err, v.Kind != sqlguard.Select)
		return e.block(ctx, viol)
	}
	v := g.Check(query, t.String())
	if v.OK() || (e.allowDupKey && onlyDupKey(v)) {
		if perr := e.checkPolicy(ctx, t, &v); perr != nil {
			return perr
		}
		return nil
	}
	viol := e.findingViolation(v, t.String(), nil)
	viol.fix += fixUnhooked
	return e.block(ctx, viol)
}

// stmt is a prepared statement of a wrapped connection. Its text was checked
// when it was prepared; it is checked again against the context of every
// execution, which may carry another tenant.
type stmt struct {
	inner driver.Stmt
	c     *conn
	query string // as the caller prepared it
}

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
)

func (s *stmt) Close() error  { return s.inner.Close() }
func (s *stmt) NumInput() int { return s.inner.NumInput() }

func (s *stmt) check(ctx context.Context) error {
	if _, err := s.c.e.statement(ctx, s.query); err != nil {
		return err
	}
	return s.c.syncTenant(ctx)
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if ec, ok := s.inner.(driver.StmtExecContext); ok {
		return ec.ExecContext(ctx, args)
	}
	vals, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	return s.inner.Exec(vals) //nolint:staticcheck // fallback for drivers without StmtExecContext
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if qc, ok := s.inner.(driver.StmtQueryContext); ok {
		return qc.QueryContext(ctx, args)
	}
	vals, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	return s.inner.Query(vals) //nolint:staticcheck // fallback for drivers without StmtQueryContext
}

// Exec and Query are never called by database/sql (the statement implements
// the context variants); without a context they run with no tenant and fail
// closed on tenant tables.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), valuesToNamed(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), valuesToNamed(args))
}

// CheckNamedValue defers to the driver's statement, then to its connection,
// as database/sql would without the wrapper.
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if nc, ok := s.inner.(driver.NamedValueChecker); ok {
		return nc.CheckNamedValue(nv)
	}
	return s.c.CheckNamedValue(nv)
}

func namedToValues(args []driver.NamedValue) ([]driver.Value, error) {
	vals := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, driver.ErrSkip
		}
		vals[i] = a.Value
	}
	return vals, nil
}

func valuesToNamed(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

// A bun.ConnResolver (read replicas, bun.WithConnResolver given through
// WithBunOptions) sends builder queries to pools of its own. A pool that
// bunhook does not wrap ignores the guard's veto and its re-rendered
// statements, so Open wraps the resolver: a statement on a tenant table
// (one the guard decided on) that the resolver routes to such a pool fails
// with an error naming the fix; other statements go where the resolver says.

const fixResolver = "the bun.ConnResolver routed this statement to a pool that bunhook does not enforce: " +
	"open every replica with bunhook.Open (or sqlitedb/pgdb/mysqldb.Open) and give the resolver that DB"

var (
	dbStateField    = fieldIndex(reflect.TypeOf(bun.DB{}), "noCopyState")
	resolverFieldNm = "resolver"
)

// guardResolver wraps the ConnResolver of db, if it has one.
func guardResolver(db *bun.DB, e *Enforcer) {
	if dbStateField == nil {
		return
	}
	st := reflect.ValueOf(db).Elem().FieldByIndex(dbStateField)
	if st.Kind() != reflect.Pointer || st.IsNil() {
		return
	}
	f := st.Elem().FieldByName(resolverFieldNm)
	if !f.IsValid() || f.Kind() != reflect.Interface || f.IsNil() || !f.CanAddr() {
		return
	}
	inner, ok := reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface().(bun.ConnResolver)
	if !ok || inner == nil {
		return
	}
	if _, done := inner.(*guardedResolver); done {
		return
	}
	bun.WithConnResolver(&guardedResolver{inner: inner, e: e, refuse: sql.OpenDB(refusingConnector{e: e})})(db)
}

type guardedResolver struct {
	inner  bun.ConnResolver
	e      *Enforcer
	refuse *sql.DB
}

func (r *guardedResolver) ResolveConn(ctx context.Context, q bun.Query) bun.IConn {
	c := r.inner.ResolveConn(ctx, q)
	if c == nil || enforcedConn(c) {
		return c
	}
	d := decisionFrom(ctx)
	if d == nil {
		return c // the guard found no tenant table in the statement
	}
	if d.veto == nil && r.e.reportOnly() {
		// Report, and run it on the enforced primary pool instead.
		_ = r.e.refused(ctx, d)
		return nil
	}
	return r.refuse
}

func (r *guardedResolver) Close() error {
	return errors.Join(r.refuse.Close(), r.inner.Close())
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

// refusingConnector backs the pool that stands in for an unenforced replica:
// every connection attempt fails with the guard's veto or a violation.
type refusingConnector struct{ e *Enforcer }

var errRefused = errors.New("bunhook: " + fixResolver)

func (rc refusingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	d := decisionFrom(ctx)
	if d == nil {
		return nil, errRefused
	}
	if d.veto != nil {
		return nil, d.veto
	}
	if err := rc.e.refused(ctx, d); err != nil {
		return nil, err
	}
	return nil, errRefused // the mode changed to report-only meanwhile
}

// refused reports a statement routed to an unenforced pool.
func (e *Enforcer) refused(ctx context.Context, d *decision) error {
	t, _ := scope.FromContext(ctx)
	v := e.guard.Load().Check(d.query, t.String())
	return e.block(ctx, violation{op: v.Operation, table: tableNames(v.Tables), bound: t.String(), write: v.Kind != sqlguard.Select,
		reason: "the statement was routed to a database pool without tenant enforcement", fix: fixResolver, err: scope.ErrUnscopedQuery})
}

func (rc refusingConnector) Driver() driver.Driver { return refusingDriver{} }

type refusingDriver struct{}

func (refusingDriver) Open(string) (driver.Conn, error) { return nil, errRefused }

// bun renders an argument whose AppendQuery fails (a sub-query passed to
// Where, TableExpr, Join or ColumnExpr that carries an error, such as one
// Scope refused) into the SQL text as ?!(message) and runs the statement
// anyway. With and Union return such errors to the caller instead.
const bunErrMarker = "?!("

// inlined remembers the errors Scope put on sub-queries, so that the
// statement carrying one fails with that error (already reported when it was
// a violation) rather than as unparsable SQL.
var inlined struct {
	sync.Mutex
	m map[string]error
}

const maxInlined = 256

func rememberInlined(err error) {
	inlined.Lock()
	defer inlined.Unlock()
	if inlined.m == nil || len(inlined.m) >= maxInlined {
		inlined.m = make(map[string]error)
	}
	inlined.m[err.Error()] = err
}

// inlinedError reports whether query carries bun's inline error marker, and
// the error to stop it with: the remembered error it quotes, or else a new
// violation (nil in report-only mode).
func (e *Enforcer) inlinedError(ctx context.Context, query string) (bool, error) {
	i := strings.Index(query, bunErrMarker)
	if i < 0 {
		return false, nil
	}
	rest := query[i+len(bunErrMarker):]
	inlined.Lock()
	for msg, err := range inlined.m {
		if strings.HasPrefix(rest, msg+")") {
			inlined.Unlock()
			return true, err
		}
	}
	inlined.Unlock()
	quoted := rest
	if len(quoted) > 200 {
		quoted = quoted[:200] + "..."
	}
	t, _ := scope.FromContext(ctx)
	v := e.guard.Load().Check(query, t.String())
	return true, e.block(ctx, violation{op: v.Operation, table: tableNames(v.Tables), bound: t.String(), write: v.Kind != sqlguard.Select,
		err: scope.ErrUnscopedQuery, reason: "bun could not render an argument of the statement and put its error into the SQL text: " + quoted,
		fix: "fix the error quoted above (bun does not return errors of sub-queries passed as arguments)"})
}
