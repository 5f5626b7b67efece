package bunhook_test

// TestBypassCatalogue walks every path of reference/bun-hooks.md §10
// ("Bypasses and mitigations", rows 1-27) and the other query paths bun
// offers, on every database kind of the harness, and pins the outcome of
// each: scoped, blocked, bypassed (and audited) or unsupported by the
// dialect. Every row runs on a fresh database seeded with tenants A and B,
// bound tenant A, and the true state of the tenant tables is compared through
// the raw handle before and after.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/scope"
)

// m2m models (only the rows that need them create their tables).

type Tag struct {
	bun.BaseModel `bun:"table:tags,alias:tag"`
	bunhook.TenantOwned
	ID       int64  `bun:",pk,autoincrement"`
	TenantID string `bun:",notnull"`
	Name     string `bun:",notnull"`
}

type InvoiceTag struct {
	bun.BaseModel `bun:"table:invoice_tags,alias:invoice_tag"`
	bunhook.TenantOwned
	TenantID  string         `bun:",pk"`
	InvoiceID int64          `bun:",pk"`
	Invoice   *TaggedInvoice `bun:"rel:belongs-to,join:invoice_id=id"`
	TagID     int64          `bun:",pk"`
	Tag       *Tag           `bun:"rel:belongs-to,join:tag_id=id"`
}

type TaggedInvoice struct {
	bun.BaseModel `bun:"table:invoices,alias:invoice"`
	bunhook.TenantOwned
	ID       int64  `bun:",pk,autoincrement"`
	TenantID string `bun:",notnull"`
	Number   string `bun:",notnull"`
	Tags     []*Tag `bun:"m2m:invoice_tags,join:Invoice=Tag"`
}

// InvoiceWithItem has a has-one relation (Invoice in helpers_test.go has
// belongs-to and has-many).
type InvoiceWithItem struct {
	bun.BaseModel `bun:"table:invoices,alias:invoice"`
	bunhook.TenantOwned
	ID       int64  `bun:",pk,autoincrement"`
	TenantID string `bun:",notnull"`
	Number   string `bun:",notnull"`
	Item     *Item  `bun:"rel:has-one,join:id=invoice_id"`
}

// idTenant is a plain (not tenant-owned) destination for Table() reads.
type idTenant struct {
	ID       int64  `bun:"id"`
	TenantID string `bun:"tenant_id"`
}

type outcome string

const (
	oScoped      outcome = "scoped"
	oBlocked     outcome = "blocked"
	oBypassed    outcome = "bypassed"
	oUnsupported outcome = "unsupported"
	// oUnguarded is a documented escape hatch that no layer above the
	// database can see (only RLS on PostgreSQL covers it): the row asserts
	// that it runs unchecked and unaudited, so that a change is noticed.
	oUnguarded outcome = "unguarded"
)

// expect is the declared outcome of a row on one dialect.
type expect struct {
	outcome outcome

	// blocked
	sentinel  error
	op, table string
	attempted string // the attempted tenant, when the library can know it
	noTenant  bool   // the row runs with no tenant bound
	bound     string // the bound tenant in the violation when not A

	// scoped
	writes bool // the row must change at least one (tenant A) row

	// bypassed
	noEffect bool // a bypassed row whose effect is not visible in the data (DDL)

	// unsupported
	errContains string
}

func scoped() expect                 { return expect{outcome: oScoped} }
func scopedWrite() expect            { return expect{outcome: oScoped, writes: true} }
func bypassed(op, tbl string) expect { return expect{outcome: oBypassed, op: op, table: tbl} }
func unsupported(sub string) expect  { return expect{outcome: oUnsupported, errContains: sub} }
func blocked(sentinel error, op, tbl string) expect {
	return expect{outcome: oBlocked, sentinel: sentinel, op: op, table: tbl}
}
func unscoped(op, tbl string) expect { return blocked(scope.ErrUnscopedQuery, op, tbl) }
func cross(op, tbl string) expect {
	e := blocked(scope.ErrCrossTenant, op, tbl)
	e.attempted = "B"
	return e
}
func noTenant(op, tbl string) expect {
	e := blocked(scope.ErrNoTenant, op, tbl)
	e.noTenant = true
	return e
}

type catRow struct {
	ref  string // §10 row number, or "+" for paths beyond the table
	name string
	exp  expect
	on   map[string]expect // per-kind overrides
	m2m  bool              // needs the tags tables
	// replica opens the DB with a ConnResolver that sends SELECTs to the raw
	// (unenforced) pool ("raw") or to the enforced pool itself ("enforced").
	replica string
	// setup runs through the raw handle after seeding, before the snapshot.
	setup func(r *rc)
	run   func(r *rc) error
}

func (row catRow) expectFor(kind string) expect {
	if e, ok := row.on[kind]; ok {
		return e
	}
	return row.exp
}

// rc is what a row's run function gets.
type rc struct {
	t    *testing.T
	td   *testDB
	db   *bun.DB
	ctx  context.Context // tenant A, no tenant, or the bypass
	kind string
	ids  map[string][]int64

	mu   sync.Mutex
	seen []string // tenants of rows the statement returned
}

func (r *rc) see(tenants ...string) {
	r.mu.Lock()
	r.seen = append(r.seen, tenants...)
	r.mu.Unlock()
}

func (r *rc) seeInvoices(invs []Invoice) {
	for _, in := range invs {
		r.see(in.TenantID)
	}
}

func (r *rc) seeIDs(rows []idTenant) {
	for _, x := range rows {
		r.see(x.TenantID)
	}
}

// seeRows collects the tenant_id column of every row of rows.
func (r *rc) seeRows(rows *sql.Rows) error {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	idx := -1
	for i, c := range cols {
		if strings.EqualFold(c, "tenant_id") {
			idx = i
		}
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if idx >= 0 {
			r.see(asString(vals[idx]))
		}
	}
	return rows.Err()
}

func (r *rc) errorf(format string, args ...any) {
	r.t.Helper()
	r.t.Errorf(format, args...)
}

// want fails the row (after the statement) when cond is false.
func (r *rc) want(cond bool, format string, args ...any) {
	r.t.Helper()
	if !cond {
		r.t.Errorf(format, args...)
	}
}

func (r *rc) a(i int) int64 { return r.ids["A"][i] }
func (r *rc) b(i int) int64 { return r.ids["B"][i] }

// ph returns the driver's placeholder for the n-th argument of SQL sent to
// database/sql directly (bun formats "?" itself).
func (r *rc) ph(n int) string {
	if r.kind == "pg" || r.kind == "pgx" {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

func (r *rc) rawExec(q string, args ...any) {
	r.t.Helper()
	if _, err := r.td.raw.ExecContext(context.Background(), q, args...); err != nil {
		r.t.Fatalf("raw setup %q: %v", q, err)
	}
}

func asString(v any) string {
	switch v := v.(type) {
	case nil:
		return "<nil>"
	case []byte:
		return string(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// ---------------------------------------------------------------------------
// The table.

// catalogue returns every row, family by family in the order of §10 (the
// order of the verbose outcome table). The families are in
// catalogue_*_test.go.
func catalogue() []catRow {
	var rows []catRow
	for _, family := range []func() []catRow{
		catalogueReads,         // §10 #1-#4
		catalogueComposedReads, // §10 #5-#7
		catalogueJoins,         // §10 #8-#10
		catalogueWrites,        // §10 #11-#16
		catalogueRaw,           // §10 #17-#19
		catalogueBelowHooks,    // §10 #20
		catalogueConns,         // §10 #21-#24
		catalogueModelPaths,    // §10 #25-#27, plain model CRUD
	} {
		rows = append(rows, family()...)
	}
	return rows
}

// replicaResolver sends every SELECT to replica (a pool opened without
// bunhook), the way read-replica resolvers do.
type replicaResolver struct{ replica *sql.DB }

func (r *replicaResolver) ResolveConn(_ context.Context, q bun.Query) bun.IConn {
	if _, ok := q.(*bun.SelectQuery); ok && r.replica != nil {
		return r.replica
	}
	return nil
}

func (r *replicaResolver) Close() error { return nil }

// TestBypassCatalogue runs every row of catalogue() on every database kind.
// With -v it logs the outcome table (path x dialect) at the end.
func TestBypassCatalogue(t *testing.T) {
	rows := catalogue()
	var mu sync.Mutex
	results := map[string]map[string]string{} // row name -> kind -> outcome
	t.Cleanup(func() {
		if !testing.Verbose() {
			return
		}
		var b strings.Builder
		b.WriteString("\n| §10 | path | sqlite | pg (pgdriver) | pgx | mysql (MariaDB) |\n|---|---|---|---|---|---|\n")
		for _, row := range rows {
			m := results[row.name]
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", row.ref, row.name, m["sqlite"], m["pg"], m["pgx"], m["mysql"])
		}
		t.Log(b.String())
	})
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			// The rows run in parallel (t.Parallel, bounded by -parallel);
			// within a row the database kinds run concurrently, since the
			// work is mostly waiting on the servers.
			var wg sync.WaitGroup
			for _, kind := range dbKinds {
				wg.Add(1)
				go func() {
					defer wg.Done()
					t.Run(kind, func(t *testing.T) {
						exp := row.expectFor(kind)
						defer func() {
							got := string(exp.outcome)
							if exp.outcome == oBlocked {
								got += " (" + sentinelName(exp.sentinel) + ")"
							}
							if t.Failed() {
								got = "FAILED (want " + got + ")"
							}
							mu.Lock()
							if results[row.name] == nil {
								results[row.name] = map[string]string{}
							}
							results[row.name][kind] = got
							mu.Unlock()
						}()
						runCatalogueRow(t, kind, row, exp)
					})
				}()
			}
			wg.Wait()
		})
	}
}

func sentinelName(err error) string {
	switch {
	case errors.Is(err, scope.ErrNoTenant):
		return "ErrNoTenant"
	case errors.Is(err, scope.ErrCrossTenant):
		return "ErrCrossTenant"
	case errors.Is(err, scope.ErrUnscopedQuery):
		return "ErrUnscopedQuery"
	}
	return fmt.Sprint(err)
}

func runCatalogueRow(t *testing.T, kind string, row catRow, exp expect) {
	var extra []bunhook.Option
	var res *replicaResolver
	if row.replica != "" {
		res = &replicaResolver{}
		extra = append(extra, bunhook.WithBunOptions(bun.WithConnResolver(res)))
	}
	if row.m2m {
		extra = append(extra, bunhook.WithModels((*Tag)(nil), (*InvoiceTag)(nil), (*TaggedInvoice)(nil)))
	}
	td := openTestDB(t, kind, extra...)
	if res != nil {
		res.replica = td.raw.DB
		if row.replica == "enforced" {
			res.replica = td.db.DB
		}
	}
	ids := td.seed(t)
	tables := snapTables
	if row.m2m {
		td.db.RegisterModel((*InvoiceTag)(nil))
		for _, m := range []any{(*Tag)(nil), (*InvoiceTag)(nil)} {
			if _, err := td.db.NewCreateTable().Model(m).Exec(bypassCtx(t)); err != nil {
				t.Fatalf("create %T: %v", m, err)
			}
		}
		raw := func(q string) {
			if _, err := td.raw.ExecContext(context.Background(), q); err != nil {
				t.Fatalf("seed %q: %v", q, err)
			}
		}
		raw("INSERT INTO tags (id, tenant_id, name) VALUES (1, 'A', 'tag-A'), (2, 'B', 'tag-B'), (3, 'B', 'tag-B2')")
		// A links its invoice 1 to its tag 1 and (corruptly) to B's tag 2; B
		// owns links from A's invoice 1 to A's tag 1 and B's tag 3.
		raw("INSERT INTO invoice_tags (tenant_id, invoice_id, tag_id) VALUES ('A', 1, 1), ('A', 1, 2), ('B', 1, 1), ('B', 1, 3), ('B', 4, 2)")
		tables = append(append([]string(nil), snapTables...), "tags", "invoice_tags")
	}
	r := &rc{t: t, td: td, db: td.db, kind: kind, ids: ids}
	if row.setup != nil {
		row.setup(r)
	}
	td.sink.Reset()

	var bypassLine int
	reason := "catalogue: " + row.name
	switch {
	case exp.outcome == oBypassed:
		var err error
		_, _, bypassLine, _ = runtime.Caller(0)
		r.ctx, err = scope.WithBypass(context.Background(), reason)
		bypassLine++
		if err != nil {
			t.Fatal(err)
		}
	case exp.noTenant:
		r.ctx = context.Background()
	default:
		r.ctx = tenantCtx(t, "A")
	}

	before := td.snapshot(t, tables)
	err := row.run(r)
	after := td.snapshot(t, tables)
	changes := diff(before, after)
	violations := td.events(auditlog.EnforcementViolation)
	bypasses := td.events(auditlog.EnforcementBypass)

	dump := func() string {
		var b strings.Builder
		fmt.Fprintf(&b, "\n  err: %v\n  changes:", err)
		for _, c := range changes {
			b.WriteString("\n    " + c.String())
		}
		b.WriteString("\n  audit:")
		for _, e := range td.events() {
			fmt.Fprintf(&b, "\n    %s tenant=%q attempted=%q table=%q op=%q outcome=%s reason=%q caller=%s",
				e.Type, e.Tenant, e.AttemptedTenant, e.Table, e.Operation, e.Outcome, e.Reason, e.Caller)
		}
		fmt.Fprintf(&b, "\n  seen tenants: %v", r.seen)
		return b.String()
	}

	switch exp.outcome {
	case oScoped:
		if err != nil {
			t.Fatalf("want scoped, got an error: %s", dump())
		}
		for _, s := range r.seen {
			if s != "A" {
				t.Errorf("scoped row returned data of tenant %q: %s", s, dump())
				break
			}
		}
		for _, c := range changes {
			if c.before != nil && c.before.tenant != "A" || c.after != nil && c.after.tenant != "A" || c.missingAfter || c.missingBefore {
				t.Errorf("scoped row changed a row that is not tenant A's: %s%s", c, dump())
			}
		}
		if exp.writes && len(changes) == 0 {
			t.Errorf("scoped write changed nothing: %s", dump())
		}
		if len(violations) != 0 || len(bypasses) != 0 {
			t.Errorf("scoped row produced audit records: %s", dump())
		}
	case oBlocked:
		if err == nil {
			t.Fatalf("want blocked (%v), got no error: %s", exp.sentinel, dump())
		}
		if !errors.Is(err, exp.sentinel) {
			t.Fatalf("want errors.Is(err, %v): %s", sentinelName(exp.sentinel), dump())
		}
		var verr *scope.ViolationError
		if !errors.As(err, &verr) || verr.Fix == "" || !strings.Contains(err.Error(), verr.Fix) {
			t.Errorf("the error does not name a fix: %v", err)
		}
		if len(changes) != 0 {
			t.Errorf("a blocked row changed the database: %s", dump())
		}
		for _, s := range r.seen {
			t.Errorf("a blocked row returned data (tenant %q): %s", s, dump())
			break
		}
		if len(violations) != 1 {
			t.Fatalf("want exactly one ENFORCEMENT_VIOLATION, got %d: %s", len(violations), dump())
		}
		v := violations[0]
		bound := "A"
		switch {
		case exp.noTenant:
			bound = ""
		case exp.bound != "":
			bound = exp.bound
		}
		if v.Tenant != bound || v.Table != exp.table || v.Operation != exp.op || v.Outcome != auditlog.OutcomeBlocked {
			t.Errorf("violation record: tenant=%q table=%q op=%q outcome=%s; want tenant=%q table=%q op=%q: %s",
				v.Tenant, v.Table, v.Operation, v.Outcome, bound, exp.table, exp.op, dump())
		}
		if exp.attempted != "" && v.AttemptedTenant != exp.attempted {
			t.Errorf("violation attempted tenant = %q, want %q: %s", v.AttemptedTenant, exp.attempted, dump())
		}
		if len(bypasses) != 0 {
			t.Errorf("blocked row produced bypass records: %s", dump())
		}
	case oBypassed:
		if err != nil {
			t.Fatalf("want bypassed (runs), got an error: %s", dump())
		}
		sawB := false
		for _, s := range r.seen {
			if s == "B" {
				sawB = true
			}
		}
		touchedB := false
		for _, c := range changes {
			if c.touches("B") || c.missingAfter {
				touchedB = true
			}
		}
		if !exp.noEffect && !sawB && !touchedB {
			t.Errorf("bypassed row shows no unscoped effect (no B data read or written): %s", dump())
		}
		if len(violations) != 0 {
			t.Errorf("bypassed row produced violations: %s", dump())
		}
		if len(bypasses) == 0 {
			t.Fatalf("no ENFORCEMENT_BYPASS record: %s", dump())
		}
		match := false
		for _, b := range bypasses {
			if b.Reason != reason || filepath.Base(b.Caller.File) != "catalogue_test.go" || b.Caller.Line != bypassLine {
				t.Errorf("bypass record reason=%q caller=%s; want %q at catalogue_test.go:%d", b.Reason, b.Caller, reason, bypassLine)
			}
			if b.Outcome != auditlog.OutcomeBypassed {
				t.Errorf("bypass record outcome %s", b.Outcome)
			}
			if strings.Contains(","+b.Table+",", ","+exp.table+",") && b.Operation == exp.op {
				match = true
			}
		}
		if !match {
			t.Errorf("no bypass record for table %q op %q: %s", exp.table, exp.op, dump())
		}
	case oUnguarded:
		if err != nil {
			t.Fatalf("want the escape hatch to run, got an error: %s", dump())
		}
		touchedB := false
		for _, c := range changes {
			touchedB = touchedB || c.touches("B")
		}
		if !touchedB || len(violations) != 0 || len(bypasses) != 0 {
			t.Errorf("want an unchecked, unaudited write to B's rows: %s", dump())
		}
	case oUnsupported:
		t.Logf("unsupported: %v", err)
		if err == nil {
			t.Fatalf("want the dialect to refuse, got no error: %s", dump())
		}
		if exp.errContains != "" && !strings.Contains(err.Error(), exp.errContains) {
			t.Errorf("unsupported error %q does not contain %q", err, exp.errContains)
		}
		if len(changes) != 0 || len(violations) != 0 {
			t.Errorf("unsupported row changed data or produced violations: %s", dump())
		}
	default:
		t.Fatalf("bad outcome %q", exp.outcome)
	}
}
