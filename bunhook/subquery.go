package bunhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/bunhook/internal/sqlguard"
	"github.com/tenantshield/tenantshield-go/scope"
)

// Scope adds the tenant predicate of ctx to a model SELECT, for queries bun
// never hooks and the guard cannot re-render: subqueries, union arms and CTE
// bodies on tenant-owned tables. It reports through q's error when no tenant
// is bound or the model is not tenant-owned: bun returns that error from the
// outer query for unions and CTEs, and renders it into the SQL text for
// arguments of Where, TableExpr, Join and ColumnExpr, where the pipeline
// stops the outer statement with it. Under a bypass it returns q unchanged.
func Scope(ctx context.Context, q *bun.SelectQuery) *bun.SelectQuery {
	e := enforcerOfSQL(q.DB().DB)
	_, mi, err := resolve(q.DB(), q.GetModel())
	if err == nil && !mi.owned {
		return q
	}
	if _, ok := scope.BypassFromContext(ctx); ok && err == nil {
		return q
	}
	if err == nil {
		err = e.scopeSelect(ctx, q, mi)
	}
	if err == nil {
		return q
	}
	if e != nil {
		t, _ := scope.FromContext(ctx)
		err = e.refusals.add(t.String(), err)
	}
	return q.Err(err)
}

// bun renders an argument whose AppendQuery fails (a sub-query passed to
// Where, TableExpr, Join or ColumnExpr that carries an error, such as one
// Scope refused) into the SQL text as ?!(message) and runs the statement
// anyway. With and Union return such errors to the caller instead.
const bunErrMarker = "?!("

// refusals remembers the errors Scope put on sub-queries, so that a
// statement that embeds one fails with that error (already recorded when it
// was a violation), not as unparsable SQL and not recorded twice.
//
// A refusal is found again by the exact text bun renders for it, which
// carries a random reference: SQL text cannot select a refusal without
// knowing its reference, which only the error returned for that refusal
// shows. A refusal made under a tenant is found only by statements of that
// tenant, so even a leaked reference cannot make another tenant's statement
// fail with this tenant's error (and escape its own audit record).
// Identical refusals (same tenant, same error text, such as "no tenant is
// bound") share one entry and reference.
type refusals struct {
	mu   sync.Mutex
	next int
	ring [maxRefusals]refusal
}

const maxRefusals = 256

type refusal struct {
	tenant string // the tenant bound when Scope refused ("" for none)
	msg    string // the refused error's own text
	ref    string
	err    error
}

const refTag = "[bunhook ref "

func newRef() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// add remembers err, refused under tenant, and returns it with its
// reference.
func (r *refusals) add(tenant string, err error) error {
	msg := err.Error()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.ring {
		if x.err != nil && x.tenant == tenant && x.msg == msg {
			return &refusedError{err: x.err, ref: x.ref}
		}
	}
	x := refusal{tenant: tenant, msg: msg, ref: newRef(), err: err}
	r.ring[r.next] = x
	r.next = (r.next + 1) % maxRefusals
	return &refusedError{err: err, ref: x.ref}
}

// find returns the error of a refusal that bun rendered at the start of
// rest (the text after a marker), for a statement of tenant.
func (r *refusals) find(tenant, rest string) (bool, error) {
	if !strings.Contains(rest, refTag) {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.ring {
		if x.err == nil || (x.tenant != "" && x.tenant != tenant) {
			continue
		}
		if strings.HasPrefix(rest, x.msg) && strings.HasPrefix(rest[len(x.msg):], " "+refTag+x.ref+"])") {
			return true, x.err
		}
	}
	return false, nil
}

// refusedError is an error Scope put on a sub-query, with its reference. It
// unwraps to the error itself (a *scope.ViolationError for a refused scope).
type refusedError struct {
	err error
	ref string
}

func (e *refusedError) Error() string { return e.err.Error() + " " + refTag + e.ref + "]" }
func (e *refusedError) Unwrap() error { return e.err }

// refusedArgument reports whether query carries bun's inline error marker,
// and the error to stop it with: the error Scope refused the sub-query
// with, or else a new violation (nil in report-only mode).
func (e *Enforcer) refusedArgument(ctx context.Context, span trace.Span, g *sqlguard.Guard, query string) (bool, error) {
	i := strings.Index(query, bunErrMarker)
	if i < 0 {
		return false, nil
	}
	t, _ := scope.FromContext(ctx)
	for rest := query[i:]; ; {
		if ok, err := e.refusals.find(t.String(), rest[len(bunErrMarker):]); ok {
			return true, err
		}
		j := strings.Index(rest[len(bunErrMarker):], bunErrMarker)
		if j < 0 {
			break
		}
		rest = rest[len(bunErrMarker)+j:]
	}
	quoted := query[i+len(bunErrMarker):]
	if len(quoted) > 200 {
		quoted = quoted[:200] + "..."
	}
	v := g.Check(query, t.String())
	o := verdictOutcome(violated, &v, t.String())
	o.err = scope.ErrUnscopedQuery
	o.reason = "bun could not render an argument of the statement and put its error into the SQL text: " + quoted
	o.fix = "fix the error quoted above (bun does not return errors of sub-queries passed as arguments)"
	return true, e.record(ctx, span, &o)
}
