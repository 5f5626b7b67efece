package bunhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
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
	e, mi, err := resolve(q.DB(), q.GetModel())
	if err != nil {
		if e != nil {
			err = e.refusals.add(err)
		}
		return q.Err(err)
	}
	if !mi.owned {
		return q
	}
	if _, ok := scope.BypassFromContext(ctx); ok {
		return q
	}
	if err := e.scopeSelect(ctx, q, mi); err != nil {
		return q.Err(e.refusals.add(err))
	}
	return q
}

// bun renders an argument whose AppendQuery fails (a sub-query passed to
// Where, TableExpr, Join or ColumnExpr that carries an error, such as one
// Scope refused) into the SQL text as ?!(message) and runs the statement
// anyway. With and Union return such errors to the caller instead.
const bunErrMarker = "?!("

// refusals remembers the errors Scope put on sub-queries, so that a
// statement that embeds one fails with that error (already recorded when it
// was a violation), not as unparsable SQL and not recorded twice. An error
// is found again by a reference that its message carries: a per-Enforcer
// random prefix and a counter, which SQL text written by anyone else cannot
// spell.
type refusals struct {
	prefix string
	mu     sync.Mutex
	n      uint64
	ring   [maxRefusals]refusal
}

const maxRefusals = 256

type refusal struct {
	ref string
	err error
}

const refTag = "[bunhook ref "

func (r *refusals) init() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	r.prefix = hex.EncodeToString(b[:])
}

// add remembers err and returns it with its reference.
func (r *refusals) add(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	ref := r.prefix + "-" + strconv.FormatUint(r.n, 10)
	r.ring[r.n%maxRefusals] = refusal{ref: ref, err: err}
	return &refusedError{err: err, ref: ref}
}

// find returns the error whose reference text carries.
func (r *refusals) find(text string) (bool, error) {
	for {
		i := strings.Index(text, refTag+r.prefix+"-")
		if i < 0 {
			return false, nil
		}
		text = text[i+len(refTag):]
		end := strings.IndexByte(text, ']')
		if end < 0 {
			return false, nil
		}
		ref := text[:end]
		r.mu.Lock()
		for _, x := range r.ring {
			if x.ref == ref {
				r.mu.Unlock()
				return true, x.err
			}
		}
		r.mu.Unlock()
	}
}

// refusedError is an error Scope put on a sub-query, with its reference.
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
	rest := query[i+len(bunErrMarker):]
	if ok, err := e.refusals.find(rest); ok {
		return true, err
	}
	quoted := rest
	if len(quoted) > 200 {
		quoted = quoted[:200] + "..."
	}
	t, _ := scope.FromContext(ctx)
	v := g.Check(query, t.String())
	o := verdictOutcome(violated, &v, t.String())
	o.err = scope.ErrUnscopedQuery
	o.reason = "bun could not render an argument of the statement and put its error into the SQL text: " + quoted
	o.fix = "fix the error quoted above (bun does not return errors of sub-queries passed as arguments)"
	return true, e.record(ctx, span, &o)
}
