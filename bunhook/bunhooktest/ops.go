package bunhooktest

import (
	"context"

	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/uptrace/bun"
)

// op is one operation of a class, run as the bound tenant (or none).
type op struct {
	name     string
	noTenant bool // run with no tenant bound
	// seesBound: a plain read, which must return the bound tenant's rows
	// when it succeeds (else the kit's reads prove nothing).
	seesBound bool
	// setup runs before the state is read (through the raw handle, to
	// plant data); a non-empty string skips the op with that reason.
	setup func(e *env) string
	run   func(e *env) result
}

// result is what an operation returned.
type result struct {
	err          error
	rows         []reflect.Value // model rows returned
	tenants      []string        // tenant values returned
	count        int64
	foreignCount int64  // a count that must be 0
	oracle       string // a leak the op saw itself
	hasCount     bool
	exists       bool // an existence answer that must be false
	sent         []string
	skip         string
	affected     int64
	hasAffect    bool
}

// env is an operation's view: the subject, the bound tenant's and the other
// tenant's rows (fresh), and a context bound to the acting tenant that
// records the SQL bun sends.
type env struct {
	k      *kit
	s      *subject
	ctx    context.Context
	base   context.Context // no tenant bound, for the kit's own reads
	bound  string
	other  string
	a, b   []reflect.Value
	before map[*subject]tableState
}

func (e *env) db() *bun.DB { return e.k.db }

// nilModel returns (*T)(nil).
func (e *env) nilModel() any { return reflect.Zero(reflect.PointerTo(e.s.typ)).Interface() }

// newSlice returns a new *[]*T.
func (e *env) newSlice() reflect.Value {
	return reflect.New(reflect.SliceOf(reflect.PointerTo(e.s.typ)))
}

func elems(sp reflect.Value) []reflect.Value {
	out := make([]reflect.Value, sp.Elem().Len())
	for i := range out {
		out[i] = sp.Elem().Index(i)
	}
	return out
}

// pkWhere is "?TableAlias.pk = ?" for row's key.
func (e *env) pkWhere(row reflect.Value) (string, []any) {
	return "?TableAlias.? = ?", []any{bun.Ident(e.s.pk.Name), e.s.pkValue(row)}
}

// scan runs a model SELECT into a new slice.
func (e *env) scan(build func(q *bun.SelectQuery) *bun.SelectQuery) result {
	sp := e.newSlice()
	err := build(e.db().NewSelect().Model(sp.Interface())).Scan(e.ctx)
	return result{err: err, rows: elems(sp)}
}

func execResult(res interface{ RowsAffected() (int64, error) }, err error) result {
	r := result{err: err}
	if err == nil && res != nil {
		if n, nerr := res.RowsAffected(); nerr == nil {
			r.affected, r.hasAffect = n, true
		}
	}
	return r
}

// needs returns a skip result when the subject lacks what an op needs.
func (e *env) needs(pk, mut bool) (result, bool) {
	switch {
	case pk && e.s.pk == nil:
		return result{skip: "the model has no single-column primary key"}, false
	case mut && e.s.mut == nil:
		return result{skip: "the model has no mutable string or integer column (bunhooktest.MutableColumn)"}, false
	}
	return result{}, true
}

// opsOf returns the operations of class on s.
func (k *kit) opsOf(class Class, s *subject) []op {
	switch class {
	case NoTenant:
		return noTenantOps()
	case NoWhere:
		return noWhereOps()
	case Or:
		return orOps()
	case Join:
		return joinOps(k, s)
	case CountExists:
		return countOps()
	case Bulk:
		return bulkOps()
	case Upsert:
		return upsertOps()
	case RawSQL:
		return rawOps()
	case Relation:
		return relationOps(k, s)
	case Subquery:
		return subqueryOps()
	case CrossTenantWrite:
		return crossOps()
	}
	return nil
}

// runClass runs every operation of class on s.
func (k *kit) runClass(t testing.TB, class Class, s *subject) {
	t.Helper()
	for _, o := range k.opsOf(class, s) {
		k.runOp(t, class, s, o)
	}
}

func (k *kit) runOp(t testing.TB, class Class, s *subject, o op) {
	t.Helper()
	base := context.WithoutCancel(t.Context())
	before := k.prepare(base, t)
	e := &env{k: k, s: s, base: base, bound: k.a.String(), other: k.b.String(), before: before}
	var err error
	if e.a, err = k.load(base, s, e.bound); err == nil {
		e.b, err = k.load(base, s, e.other)
	}
	if err != nil {
		t.Fatalf("bunhooktest: %s/%s: %v", class, s.name, err)
	}
	e.ctx = k.bind(base, e.bound)
	if o.setup != nil {
		if why := o.setup(e); why != "" {
			t.Logf("%s: skipped: %s", o.name, why)
			return
		}
		if e.before, err = k.snapshot(base); err != nil {
			t.Fatalf("bunhooktest: %v", err)
		}
	}
	if o.noTenant {
		e.bound = ""
	}
	rec := &recorder{}
	e.ctx = context.WithValue(k.bind(base, e.bound), captureKey{}, rec)
	k.report.mu.Lock()
	k.report.ops++
	k.report.mu.Unlock()
	res := k.call(o, e)
	if res.skip != "" {
		t.Logf("%s: skipped: %s", o.name, res.skip)
		return
	}
	after, serr := k.snapshot(base)
	if serr != nil {
		t.Fatalf("bunhooktest: %v", serr)
	}
	leaks := e.check(res, after)
	sqls := append(rec.list(), res.sent...)
	if len(leaks) == 0 {
		if o.seesBound && res.err == nil {
			e.sanity(t, o, res)
		}
		if res.err != nil {
			t.Logf("%s: refused: %s", o.name, firstLine(res.err.Error()))
		}
		return
	}
	for _, d := range leaks {
		l := Leak{Class: class, Model: s.name, Op: o.name, Detail: d, SQL: sqls}
		k.report.add(l)
		t.Errorf("%s", l)
	}
}

// call runs o, turning a panic into an error result.
func (k *kit) call(o op, e *env) (res result) {
	defer func() {
		if r := recover(); r != nil {
			res = result{err: fmt.Errorf("panic: %v", r)}
		}
	}()
	return o.run(e)
}

// check returns what leaked.
func (e *env) check(res result, after map[*subject]tableState) []string {
	var out []string
	st := e.before[e.s]
	for _, r := range res.rows {
		if tn := e.s.tenantOf(r); tn != e.bound {
			out = append(out, fmt.Sprintf("returned row %s of tenant %q", e.s.pkOf(r), tn))
		} else if prev, ok := st[e.s.pkOf(r)]; ok && prev.tenant != e.bound {
			out = append(out, fmt.Sprintf("returned row %s of tenant %q (relabelled %q)", e.s.pkOf(r), prev.tenant, tn))
		}
	}
	for _, tn := range res.tenants {
		if tn != e.bound {
			out = append(out, fmt.Sprintf("returned a row of tenant %q", tn))
		}
	}
	if n := st.count(e.bound); res.hasCount && res.count > n {
		out = append(out, fmt.Sprintf("counted %d rows, but tenant %q has %d", res.count, e.bound, n))
	}
	if res.oracle != "" {
		out = append(out, res.oracle)
	}
	if res.foreignCount > 0 {
		out = append(out, fmt.Sprintf("counted %d rows of another tenant", res.foreignCount))
	}
	if res.exists {
		out = append(out, "Exists reported a row of another tenant")
	}
	if n := st.count(e.bound); res.hasAffect && res.affected > n {
		out = append(out, fmt.Sprintf("affected %d rows, but tenant %q has %d", res.affected, e.bound, n))
	}
	for _, s := range e.k.subjects {
		for _, d := range diff(e.before[s], after[s], e.bound) {
			out = append(out, s.table.Name+": "+d)
		}
	}
	return dedupe(out)
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// sanity fails the test when a plain read of the bound tenant's rows did
// not return them: the kit's other reads would then prove nothing.
func (e *env) sanity(t testing.TB, o op, res result) {
	t.Helper()
	got := map[string]bool{}
	for _, r := range res.rows {
		got[e.s.pkOf(r)] = true
	}
	var missing []string
	for _, r := range e.a {
		if !got[e.s.pkOf(r)] {
			missing = append(missing, e.s.pkOf(r))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s: the bound tenant's rows %s were not returned: the kit's reads prove nothing on this setup", o.name, strings.Join(missing, ", "))
	}
}

// prepare tops every kit table up to two rows per tenant through the
// enforced handle, and returns the true state.
func (k *kit) prepare(ctx context.Context, t testing.TB) map[*subject]tableState {
	t.Helper()
	st, err := k.snapshot(ctx)
	if err != nil {
		t.Fatalf("bunhooktest: %v", err)
	}
	grew := false
	for _, s := range k.subjects {
		for _, tn := range []string{k.a.String(), k.b.String()} {
			for n := st[s].count(tn); n < 2; n++ {
				row, err := k.newRow(k.bind(ctx, tn), s, tn)
				if err == nil {
					err = k.insert(ctx, row, tn)
				}
				if err != nil {
					t.Fatalf("bunhooktest: seeding %s for tenant %s through the enforced handle: %v", s.name, tn, err)
				}
				grew = true
			}
			if grew {
				if st[s], err = k.tableState(mustBypass(ctx), s); err != nil {
					t.Fatalf("bunhooktest: %v", err)
				}
			}
			if st[s].count(tn) < 2 {
				t.Fatalf("bunhooktest: seeding %s for tenant %s: the inserts succeeded but the raw handle sees %d rows of the tenant (is raw on the same database?)", s.name, tn, st[s].count(tn))
			}
		}
	}
	return st
}

func mustBypass(ctx context.Context) context.Context {
	c, err := scopeBypass(ctx)
	if err != nil {
		panic(err)
	}
	return c
}
