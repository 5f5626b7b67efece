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
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"

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
// True database state, through the raw handle.

type snapRow struct {
	tenant string
	full   string
}

type tableSnap struct {
	missing bool
	rows    map[string]snapRow // key: id, or the whole row for tables without id
}

type snapshot map[string]tableSnap

var snapTables = []string{"customers", "invoices", "items"}

func (td *testDB) snapshot(t *testing.T, tables []string) snapshot {
	t.Helper()
	s := snapshot{}
	for _, tbl := range tables {
		rows, err := td.raw.QueryContext(context.Background(), "SELECT * FROM "+tbl)
		if err != nil {
			s[tbl] = tableSnap{missing: true}
			continue
		}
		ts := tableSnap{rows: map[string]snapRow{}}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var full []string
			var id, tenant string
			for i, c := range cols {
				v := asString(vals[i])
				full = append(full, strings.ToLower(c)+"="+v)
				switch strings.ToLower(c) {
				case "id":
					id = v
				case "tenant_id":
					tenant = v
				}
			}
			f := strings.Join(full, " ")
			key := id
			if key == "" {
				key = f
			}
			ts.rows[key] = snapRow{tenant: tenant, full: f}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		_ = rows.Close()
		s[tbl] = ts
	}
	return s
}

type change struct {
	table, key    string
	before, after *snapRow
	missingBefore bool
	missingAfter  bool
}

func (c change) String() string {
	b, a := "-", "-"
	if c.before != nil {
		b = c.before.full
	}
	if c.after != nil {
		a = c.after.full
	}
	return fmt.Sprintf("%s[%s]: {%s} -> {%s}", c.table, c.key, b, a)
}

func (c change) touches(tenant string) bool {
	return (c.before != nil && c.before.tenant == tenant) || (c.after != nil && c.after.tenant == tenant)
}

func diff(before, after snapshot) []change {
	var out []change
	names := make([]string, 0, len(before))
	for n := range before {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b, a := before[n], after[n]
		if b.missing != a.missing {
			out = append(out, change{table: n, key: "<table>", missingBefore: b.missing, missingAfter: a.missing})
		}
		keys := map[string]bool{}
		for k := range b.rows {
			keys[k] = true
		}
		for k := range a.rows {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			br, bok := b.rows[k]
			ar, aok := a.rows[k]
			if bok && aok && br == ar {
				continue
			}
			c := change{table: n, key: k}
			if bok {
				c.before = &br
			}
			if aok {
				c.after = &ar
			}
			out = append(out, c)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// The table.

func catalogue() []catRow {
	var rows []catRow
	add := func(rs ...catRow) { rows = append(rows, rs...) }

	mergeQuery := func(r *rc, target int64) *bun.MergeQuery {
		src := []Invoice{{ID: target, TenantID: "A", Number: "merged"}}
		return r.db.NewMerge().Model(new(Invoice)).
			With("_src", r.db.NewValues(&src)).
			Using("_src").
			On("?TableAlias.id = _src.id").
			WhenUpdate("MATCHED", func(q *bun.UpdateQuery) *bun.UpdateQuery { return q.Set("number = _src.number") }).
			WhenInsert("NOT MATCHED", func(q *bun.InsertQuery) *bun.InsertQuery {
				return q.Value("id", "_src.id").Value("tenant_id", "_src.tenant_id").Value("number", "_src.number")
			})
	}
	onlyMySQL := func(e expect) map[string]expect { return map[string]expect{"mysql": e} }

	// §10 #1: Table() / TableExpr() without a model.
	add(
		catRow{ref: "1", name: "Table(invoices) select", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var dest []idTenant
				err := r.db.NewSelect().Table("invoices").Column("id", "tenant_id").Scan(r.ctx, &dest)
				r.seeIDs(dest)
				return err
			}},
		catRow{ref: "1", name: "TableExpr select with the tenant predicate", exp: scoped(),
			run: func(r *rc) error {
				var dest []idTenant
				err := r.db.NewSelect().TableExpr("invoices AS i").Column("i.id", "i.tenant_id").Where("i.tenant_id = ?", "A").Scan(r.ctx, &dest)
				r.seeIDs(dest)
				r.want(len(dest) == 3, "got %d rows, want 3", len(dest))
				return err
			}},
		catRow{ref: "1", name: "Table(invoices) Count", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewSelect().Table("invoices").Count(r.ctx)
				return err
			}},
		catRow{ref: "1", name: "Table(invoices) update", exp: unscoped("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Table("invoices").Set("number = ?", "x").Where("id = ?", r.b(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "1", name: "TableExpr(invoices) delete", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().TableExpr("invoices").Where("id = ?", r.b(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "1", name: "Table(invoices) Count under bypass", exp: bypassed("SELECT", "invoices"),
			run: func(r *rc) error {
				n, err := r.db.NewSelect().Table("invoices").Count(r.ctx)
				r.want(err != nil || n == 6, "bypassed count = %d, want 6", n)
				if n == 6 {
					r.see("A", "B")
				}
				return err
			}},
	)

	// §10 #2: map models.
	add(
		catRow{ref: "2", name: "map model select", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var ms []map[string]any
				err := r.db.NewSelect().Model(&ms).Table("invoices").Scan(r.ctx)
				for _, m := range ms {
					r.see(asString(m["tenant_id"]))
				}
				return err
			}},
		catRow{ref: "2", name: "map model insert with tenant B", exp: cross("INSERT", "invoices"),
			run: func(r *rc) error {
				m := map[string]any{"id": 90, "tenant_id": "B", "number": "evil"}
				_, err := r.db.NewInsert().Model(&m).TableExpr("invoices").Exec(r.ctx)
				return err
			}},
		catRow{ref: "2", name: "map model insert without tenant", exp: unscoped("INSERT", "invoices"),
			run: func(r *rc) error {
				m := map[string]any{"id": 90, "number": "orphan"}
				_, err := r.db.NewInsert().Model(&m).TableExpr("invoices").Exec(r.ctx)
				return err
			}},
		catRow{ref: "2", name: "map model insert with tenant A", exp: scopedWrite(),
			run: func(r *rc) error {
				m := map[string]any{"id": 90, "tenant_id": "A", "number": "mine"}
				_, err := r.db.NewInsert().Model(&m).TableExpr("invoices").Exec(r.ctx)
				return err
			}},
		catRow{ref: "2", name: "map model update", exp: unscoped("UPDATE", "invoices"),
			run: func(r *rc) error {
				m := map[string]any{"number": "hijacked"}
				_, err := r.db.NewUpdate().Model(&m).TableExpr("invoices").Where("id = ?", r.b(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "2", name: "map model update with the tenant predicate", exp: scopedWrite(),
			run: func(r *rc) error {
				m := map[string]any{"number": "renamed"}
				_, err := r.db.NewUpdate().Model(&m).TableExpr("invoices").Where("id = ?", r.a(0)).Where("tenant_id = ?", "A").Exec(r.ctx)
				return err
			}},
	)

	// §10 #3: Rows() and Exec() skip BeforeSelect.
	add(
		catRow{ref: "3", name: "SelectQuery.Rows", exp: scoped(),
			run: func(r *rc) error {
				rows, err := r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").Rows(r.ctx)
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "3", name: "SelectQuery.Exec with dest", exp: scoped(),
			run: func(r *rc) error {
				var dest []Invoice
				_, err := r.db.NewSelect().Model(&dest).Exec(r.ctx, &dest)
				r.seeInvoices(dest)
				r.want(err != nil || len(dest) == 3, "got %d rows, want 3", len(dest))
				return err
			}},
		catRow{ref: "3", name: "SelectQuery.Exec without dest", exp: scoped(),
			run: func(r *rc) error {
				_, err := r.db.NewSelect().Model((*Invoice)(nil)).Where("number = ?", "B-1").Exec(r.ctx)
				return err
			}},
		catRow{ref: "3", name: "Table(invoices).Rows", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				rows, err := r.db.NewSelect().Table("invoices").Column("id", "tenant_id").Rows(r.ctx)
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
	)

	// §10 #4: Count / Exists.
	add(
		catRow{ref: "4", name: "Count", exp: scoped(),
			run: func(r *rc) error {
				n, err := r.db.NewSelect().Model((*Invoice)(nil)).Count(r.ctx)
				r.want(err != nil || n == 3, "count = %d, want 3", n)
				return err
			}},
		catRow{ref: "4", name: "Exists of B's row", exp: scoped(),
			run: func(r *rc) error {
				ok, err := r.db.NewSelect().Model((*Invoice)(nil)).Where("number = ?", "B-1").Exists(r.ctx)
				r.want(err != nil || !ok, "Exists(B-1) = true under A")
				ok2, err2 := r.db.NewSelect().Model((*Invoice)(nil)).Where("number = ?", "A-1").Exists(r.ctx)
				r.want(err2 != nil || ok2, "Exists(A-1) = false under A")
				return errors.Join(err, err2)
			}},
		catRow{ref: "4", name: "Count with a belongs-to join on B's customer", exp: scoped(),
			setup: func(r *rc) { r.rawExec("UPDATE invoices SET customer_id = 3 WHERE id = 1") },
			run: func(r *rc) error {
				n, err := r.db.NewSelect().Model((*Invoice)(nil)).Relation("Customer").Where("customer.name = ?", "cust-B-1").Count(r.ctx)
				r.want(err != nil || n == 0, "count of A invoices joined to B's customer = %d, want 0", n)
				return err
			}},
	)

	add(
		catRow{ref: "4", name: "Exists with a belongs-to join on B's customer", exp: scoped(),
			setup: func(r *rc) { r.rawExec("UPDATE invoices SET customer_id = 3 WHERE id = 1") },
			run: func(r *rc) error {
				ok, err := r.db.NewSelect().Model((*Invoice)(nil)).Relation("Customer").Where("customer.name = ?", "cust-B-1").Exists(r.ctx)
				r.want(err != nil || !ok, "an A invoice joined to B's customer exists")
				return err
			}},
		catRow{ref: "3", name: "Rows with a belongs-to join", exp: scoped(),
			setup: func(r *rc) { r.rawExec("UPDATE invoices SET customer_id = 3 WHERE id = 1") },
			run: func(r *rc) error {
				rows, err := r.db.NewSelect().Model((*Invoice)(nil)).Relation("Customer").Rows(r.ctx)
				if err != nil {
					return err
				}
				defer rows.Close()
				cols, _ := rows.Columns()
				for rows.Next() {
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for i := range vals {
						ptrs[i] = &vals[i]
					}
					if err := rows.Scan(ptrs...); err != nil {
						return err
					}
					for i, c := range cols {
						if c == "tenant_id" || c == "customer__tenant_id" {
							if v := asString(vals[i]); v != "<nil>" {
								r.see(v)
							}
						}
					}
				}
				return rows.Err()
			}},
	)

	// §10 #5: ScanAndCount with a limit.
	scanAndCount := func(r *rc, idb bun.IDB, ctx context.Context) error {
		var page []Invoice
		total, err := idb.NewSelect().Model(&page).Order("invoice.id").Limit(2).ScanAndCount(ctx)
		r.seeInvoices(page)
		r.want(err != nil || (total == 3 && len(page) == 2), "ScanAndCount: %d rows, total %d; want 2, 3", len(page), total)
		return err
	}
	add(
		catRow{ref: "5", name: "ScanAndCount with Limit outside a tx", exp: scoped(),
			run: func(r *rc) error { return scanAndCount(r, r.db, r.ctx) }},
		catRow{ref: "5", name: "ScanAndCount with Limit inside a tx", exp: scoped(),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error { return scanAndCount(r, tx, ctx) })
			}},
		catRow{ref: "5", name: "ScanAndCount with Limit on a bun.Conn", exp: scoped(),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				return scanAndCount(r, conn, r.ctx)
			}},
		catRow{ref: "5", name: "ScanAndCount with Limit and Relation(Customer) outside a tx", exp: scoped(),
			setup: func(r *rc) { r.rawExec("UPDATE invoices SET customer_id = 3 WHERE id = 1") },
			run: func(r *rc) error {
				var page []Invoice
				total, err := r.db.NewSelect().Model(&page).Relation("Customer").Where("customer.id IS NULL OR customer.id > 0").
					Order("invoice.id").Limit(2).ScanAndCount(r.ctx)
				r.seeInvoices(page)
				for _, in := range page {
					if in.Customer != nil {
						r.see(in.Customer.TenantID)
					}
				}
				r.want(err != nil || (total == 3 && len(page) == 2), "ScanAndCount: %d rows, total %d; want 2, 3", len(page), total)
				return err
			}},
		catRow{ref: "5", name: "ScanAndCount without Limit", exp: scoped(),
			run: func(r *rc) error {
				var all []Invoice
				total, err := r.db.NewSelect().Model(&all).ScanAndCount(r.ctx)
				r.seeInvoices(all)
				r.want(err != nil || (total == 3 && len(all) == 3), "ScanAndCount: %d rows, total %d", len(all), total)
				return err
			}},
	)

	// §10 #6: unions.
	add(
		catRow{ref: "6", name: "Union with an unscoped arm", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var dest []idTenant
				err := r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").
					Union(r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id")).Scan(r.ctx, &dest)
				r.seeIDs(dest)
				return err
			}},
		catRow{ref: "6", name: "UnionAll with bunhook.Scope on the arm", exp: scoped(),
			run: func(r *rc) error {
				var dest []idTenant
				arm := bunhook.Scope(r.ctx, r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id"))
				err := r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").UnionAll(arm).Scan(r.ctx, &dest)
				r.seeIDs(dest)
				r.want(err != nil || len(dest) == 6, "got %d rows, want 6 (A's 3 twice)", len(dest))
				return err
			}},
		catRow{ref: "6", name: "Except with an unscoped arm", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var dest []idTenant
				err := r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").
					Except(r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").Where("number = ?", "A-1")).Scan(r.ctx, &dest)
				r.seeIDs(dest)
				return err
			}},
	)

	// §10 #7: CTEs and subqueries.
	add(
		catRow{ref: "7", name: "CTE With over an unscoped model query", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var dest []idTenant
				err := r.db.NewSelect().With("inv", r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id")).
					Table("inv").Column("id", "tenant_id").Scan(r.ctx, &dest)
				r.seeIDs(dest)
				return err
			}},
		catRow{ref: "7", name: "CTE With and bunhook.Scope", exp: scoped(),
			run: func(r *rc) error {
				var dest []idTenant
				err := r.db.NewSelect().With("inv", bunhook.Scope(r.ctx, r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id"))).
					Table("inv").Column("id", "tenant_id").Scan(r.ctx, &dest)
				r.seeIDs(dest)
				r.want(err != nil || len(dest) == 3, "got %d rows, want 3", len(dest))
				return err
			}},
		catRow{ref: "7", name: "subquery in Where IN (?) unscoped", exp: unscoped("SELECT", "customers"),
			run: func(r *rc) error {
				var invs []Invoice
				sub := r.db.NewSelect().Model((*Customer)(nil)).Column("id").Where("name = ?", "cust-B-1")
				err := r.db.NewSelect().Model(&invs).Where("invoice.customer_id IN (?)", sub).Scan(r.ctx)
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "7", name: "subquery in Where IN (?) with bunhook.Scope", exp: scoped(),
			run: func(r *rc) error {
				var invs []Invoice
				sub := bunhook.Scope(r.ctx, r.db.NewSelect().Model((*Customer)(nil)).Column("id").Where("name = ?", "cust-A-1"))
				err := r.db.NewSelect().Model(&invs).Where("invoice.customer_id IN (?)", sub).Scan(r.ctx)
				r.seeInvoices(invs)
				r.want(err != nil || len(invs) == 3, "got %d invoices, want 3", len(invs))
				return err
			}},
		catRow{ref: "7", name: "bunhook.Scope with no tenant bound", exp: noTenant("SELECT", "customers"),
			run: func(r *rc) error {
				var invs []Invoice
				// The outer query runs under tenant A; only Scope gets no tenant.
				sub := bunhook.Scope(r.ctx, r.db.NewSelect().Model((*Customer)(nil)).Column("id"))
				return r.db.NewSelect().Model(&invs).Where("invoice.customer_id IN (?)", sub).Scan(tenantCtx(r.t, "A"))
			}},
		catRow{ref: "7", name: "bunhook.Scope with no tenant bound, as a Union arm", exp: noTenant("SELECT", "invoices"),
			run: func(r *rc) error {
				var dest []idTenant
				arm := bunhook.Scope(r.ctx, r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id"))
				err := r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id").Union(arm).Scan(tenantCtx(r.t, "A"), &dest)
				r.seeIDs(dest)
				return err
			}},
		catRow{ref: "7", name: "derived table TableExpr((?) AS sub) unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var dest []idTenant
				sub := r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id")
				err := r.db.NewSelect().TableExpr("(?) AS sub", sub).Column("sub.id", "sub.tenant_id").Scan(r.ctx, &dest)
				r.seeIDs(dest)
				return err
			}},
		catRow{ref: "7", name: "derived table TableExpr((?) AS sub) with bunhook.Scope", exp: scoped(),
			run: func(r *rc) error {
				var dest []idTenant
				sub := bunhook.Scope(r.ctx, r.db.NewSelect().Model((*Invoice)(nil)).Column("id", "tenant_id"))
				err := r.db.NewSelect().TableExpr("(?) AS sub", sub).Column("sub.id", "sub.tenant_id").Scan(r.ctx, &dest)
				r.seeIDs(dest)
				r.want(err != nil || len(dest) == 3, "got %d rows, want 3", len(dest))
				return err
			}},
		catRow{ref: "7", name: "scalar subquery in ColumnExpr unscoped", exp: unscoped("SELECT", "items"),
			run: func(r *rc) error {
				var n int
				err := r.db.NewSelect().ColumnExpr("(?)", r.db.NewSelect().Model((*Item)(nil)).ColumnExpr("count(*)")).Scan(r.ctx, &n)
				return err
			}},
		catRow{ref: "7", name: "Join on a subquery argument unscoped", exp: unscoped("SELECT", "customers"),
			run: func(r *rc) error {
				var invs []Invoice
				sub := r.db.NewSelect().Model((*Customer)(nil)).Column("id")
				err := r.db.NewSelect().Model(&invs).Join("JOIN (?) AS c ON c.id = invoice.customer_id", sub).Scan(r.ctx)
				r.seeInvoices(invs)
				return err
			}},
	)

	// §10 #8: has-one / belongs-to joins; has-many; m2m.
	add(
		catRow{ref: "8", name: "belongs-to join: A invoice references B's customer", exp: scoped(),
			setup: func(r *rc) { r.rawExec("UPDATE invoices SET customer_id = 3 WHERE id = 1") },
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Relation("Customer").Order("invoice.id").Scan(r.ctx)
				r.seeInvoices(invs)
				for _, in := range invs {
					switch {
					case in.ID == 1 && in.Customer != nil:
						r.errorf("invoice 1 loaded customer %+v of tenant %q; want nil", *in.Customer, in.Customer.TenantID)
					case in.ID != 1 && (in.Customer == nil || in.Customer.TenantID != "A"):
						r.errorf("invoice %d: customer %+v", in.ID, in.Customer)
					}
					if in.Customer != nil {
						r.see(in.Customer.TenantID)
					}
				}
				r.want(err != nil || len(invs) == 3, "got %d invoices", len(invs))
				return err
			}},
		catRow{ref: "8", name: "has-one join: B's item references an A invoice", exp: scoped(),
			setup: func(r *rc) {
				r.rawExec("UPDATE items SET invoice_id = 99 WHERE id = 1")
				r.rawExec("UPDATE items SET invoice_id = 1 WHERE id = 4")
			},
			run: func(r *rc) error {
				var invs []InvoiceWithItem
				err := r.db.NewSelect().Model(&invs).Relation("Item").Order("invoice.id").Scan(r.ctx)
				for _, in := range invs {
					r.see(in.TenantID)
					if in.Item != nil {
						r.see(in.Item.TenantID)
					}
					r.want(in.ID != 1 || in.Item == nil, "invoice 1 loaded item %+v; want nil", in.Item)
					r.want(in.ID == 1 || (in.Item != nil && in.Item.TenantID == "A"), "invoice %d: item %+v", in.ID, in.Item)
				}
				r.want(err != nil || len(invs) == 3, "got %d invoices", len(invs))
				return err
			}},
		catRow{ref: "8", name: "belongs-to join loaded by PK of the A invoice", exp: scoped(),
			setup: func(r *rc) { r.rawExec("UPDATE invoices SET customer_id = 3 WHERE id = 1") },
			run: func(r *rc) error {
				in := Invoice{ID: 1}
				err := r.db.NewSelect().Model(&in).Relation("Customer").WherePK().Scan(r.ctx)
				r.see(in.TenantID)
				r.want(err != nil || in.Customer == nil, "customer of B loaded: %+v", in.Customer)
				return err
			}},
		catRow{ref: "8", name: "has-many Relation(Items) with a B item on an A invoice", exp: scoped(),
			setup: func(r *rc) {
				r.rawExec("INSERT INTO items (id, tenant_id, invoice_id, name) VALUES (50, 'B', 1, 'item-B-on-A')")
			},
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Relation("Items").Order("invoice.id").Scan(r.ctx)
				r.seeInvoices(invs)
				for _, in := range invs {
					for _, it := range in.Items {
						r.see(it.TenantID)
					}
				}
				return err
			}},
		catRow{ref: "8", name: "m2m Relation(Tags) with cross-tenant links", exp: scoped(), m2m: true,
			run: func(r *rc) error {
				var invs []TaggedInvoice
				err := r.db.NewSelect().Model(&invs).Relation("Tags").Where("invoice.id = ?", 1).Scan(r.ctx)
				for _, in := range invs {
					r.see(in.TenantID)
					names := []string{}
					for _, tg := range in.Tags {
						r.see(tg.TenantID)
						names = append(names, tg.Name)
					}
					r.want(strings.Join(names, ",") == "tag-A", "invoice %d tags = %v, want [tag-A]", in.ID, names)
				}
				r.want(err != nil || len(invs) == 1, "got %d invoices", len(invs))
				return err
			}},
		catRow{ref: "8", name: "m2m join model select (InvoiceTag with belongs-to Tag)", exp: scoped(), m2m: true,
			run: func(r *rc) error {
				var links []InvoiceTag
				err := r.db.NewSelect().Model(&links).Relation("Tag").Scan(r.ctx)
				for _, l := range links {
					r.see(l.TenantID)
					if l.Tag != nil {
						r.see(l.Tag.TenantID)
					}
				}
				r.want(err != nil || len(links) == 2, "got %d links, want A's 2", len(links))
				return err
			}},
	)

	// §10 #9: manual joins.
	add(
		catRow{ref: "9", name: "manual Join without the tenant condition", exp: unscoped("SELECT", "customers"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Join("JOIN customers AS c ON c.id = invoice.customer_id").Scan(r.ctx)
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "9", name: "manual Join with the tenant condition", exp: scoped(),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Join("JOIN customers AS c ON c.id = invoice.customer_id AND c.tenant_id = ?", "A").Scan(r.ctx)
				r.seeInvoices(invs)
				r.want(err != nil || len(invs) == 3, "got %d invoices", len(invs))
				return err
			}},
		catRow{ref: "9", name: "extra TableExpr on a scoped model", exp: unscoped("SELECT", "customers"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).TableExpr("customers AS c").Where("c.id = invoice.customer_id").Scan(r.ctx)
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "9", name: "manual LEFT JOIN on Count", exp: unscoped("SELECT", "customers"),
			run: func(r *rc) error {
				_, err := r.db.NewSelect().Model((*Invoice)(nil)).Join("LEFT JOIN customers AS c ON c.id = invoice.customer_id").Count(r.ctx)
				return err
			}},
	)

	// §10 #10: top-level WhereOr.
	add(
		catRow{ref: "10", name: "select WhereOr", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Where("number = ?", "B-1").WhereOr("number = ?", "A-1").Scan(r.ctx)
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "10", name: "Count WhereOr", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewSelect().Model((*Invoice)(nil)).Where("number = ?", "B-1").WhereOr("number = ?", "A-1").Count(r.ctx)
				return err
			}},
		catRow{ref: "10", name: "update WhereOr", exp: unscoped("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model((*Invoice)(nil)).Set("number = ?", "x").Where("number = ?", "B-1").WhereOr("id = ?", -1).Exec(r.ctx)
				return err
			}},
		catRow{ref: "10", name: "delete WhereOr", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().Model((*Invoice)(nil)).Where("number = ?", "B-1").WhereOr("id = ?", -1).Exec(r.ctx)
				return err
			}},
		catRow{ref: "10", name: "soft-delete model select WhereOr", exp: unscoped("SELECT", "items"),
			run: func(r *rc) error {
				var its []Item
				err := r.db.NewSelect().Model(&its).Where("name = ?", "item-B-1").WhereOr("name = ?", "item-A-1").Scan(r.ctx)
				for _, it := range its {
					r.see(it.TenantID)
				}
				return err
			}},
		catRow{ref: "10", name: "soft delete WhereOr", exp: unscoped("DELETE", "items"),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().Model((*Item)(nil)).Where("name = ?", "item-B-1").WhereOr("id = ?", -1).Exec(r.ctx)
				return err
			}},
		catRow{ref: "10", name: "belongs-to Relation apply with WhereOr", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Relation("Customer", func(q *bun.SelectQuery) *bun.SelectQuery {
					return q.WhereOr("customer.name = ?", "cust-B-1")
				}).Scan(r.ctx)
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "10", name: "has-many Relation apply with WhereOr", exp: unscoped("SELECT", "items"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Relation("Items", func(q *bun.SelectQuery) *bun.SelectQuery {
					return q.WhereOr("item.name = ?", "item-B-1")
				}).Scan(r.ctx)
				for _, in := range invs {
					for _, it := range in.Items {
						r.see(it.TenantID)
					}
				}
				return err
			}},
		catRow{ref: "10", name: "WhereGroup OR", exp: scoped(),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
					return q.Where("number = ?", "B-1").WhereOr("number = ?", "A-1")
				}).Scan(r.ctx)
				r.seeInvoices(invs)
				r.want(err != nil || len(invs) == 1, "got %d invoices, want only A-1", len(invs))
				return err
			}},
		catRow{ref: "10", name: "raw SQL with OR around the predicate", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewRaw("SELECT * FROM invoices WHERE tenant_id = ? OR number = ?", "A", "B-1").Scan(r.ctx, &invs)
				r.seeInvoices(invs)
				return err
			}},
	)

	// §10 #11: Set / SetColumn on the tenant column.
	add(
		catRow{ref: "11", name: "update Set(tenant_id = B)", exp: cross("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model((*Invoice)(nil)).Set("tenant_id = ?", "B").Where("id = ?", r.a(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "11", name: "update SetColumn(tenant_id, B)", exp: cross("UPDATE", "invoices"),
			run: func(r *rc) error {
				in := &Invoice{ID: r.a(0), Number: "A-1"}
				_, err := r.db.NewUpdate().Model(in).SetColumn("tenant_id", "?", "B").WherePK().Exec(r.ctx)
				return err
			}},
		catRow{ref: "11", name: "update Set(tenant_id = other column)", exp: blocked(scope.ErrCrossTenant, "UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model((*Invoice)(nil)).Set("tenant_id = number").Where("id = ?", r.a(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "11", name: "raw UPDATE SET tenant_id = 'B'", exp: cross("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(r.ctx, "UPDATE invoices SET tenant_id = 'B' WHERE tenant_id = 'A'")
				return err
			}},
		catRow{ref: "11", name: "update struct by PK (Column number)", exp: scopedWrite(),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model(&Invoice{ID: r.a(0), Number: "A-1-renamed"}).Column("number").WherePK().Exec(r.ctx)
				return err
			}},
		catRow{ref: "11", name: "update struct by PK of B's row", exp: scoped(),
			run: func(r *rc) error {
				res, err := r.db.NewUpdate().Model(&Invoice{ID: r.b(0), Number: "hijacked"}).Column("number").WherePK().Exec(r.ctx)
				if err == nil {
					n, _ := res.RowsAffected()
					r.want(n == 0, "cross-tenant update affected %d rows", n)
				}
				return err
			}},
		catRow{ref: "11", name: "update whole struct carrying tenant B", exp: cross("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model(&Invoice{ID: r.b(0), TenantID: "B", Number: "hijacked"}).WherePK().Exec(r.ctx)
				return err
			}},
	)

	// §10 #12: Value() on the tenant column.
	add(
		catRow{ref: "12", name: "insert Value(tenant_id, B)", exp: cross("INSERT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{Number: "evil"}).Value("tenant_id", "?", "B").Exec(r.ctx)
				return err
			}},
		catRow{ref: "12", name: "update Value(tenant_id, B)", exp: cross("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model(&Invoice{ID: r.a(0), Number: "A-1"}).Value("tenant_id", "?", "B").WherePK().Exec(r.ctx)
				return err
			}},
		catRow{ref: "12", name: "insert Value(tenant_id, A)", exp: scopedWrite(),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{Number: "A-new"}).Value("tenant_id", "?", "A").Exec(r.ctx)
				return err
			}},
	)

	// §10 #13: VALUES CTE in UPDATE ... FROM; Bulk.
	add(
		catRow{ref: "13", name: "user VALUES CTE moving a row to B", exp: cross("UPDATE", "invoices"),
			run: func(r *rc) error {
				vals := []Invoice{{ID: r.a(0), TenantID: "B", Number: "moved"}}
				_, err := r.db.NewUpdate().With("_v", r.db.NewValues(&vals)).Model((*Invoice)(nil)).TableExpr("_v").
					Set("tenant_id = _v.tenant_id").Where("invoice.id = _v.id").Exec(r.ctx)
				return err
			}},
		catRow{ref: "13", name: "Bulk update of A's rows", exp: scopedWrite(),
			on: onlyMySQL(unsupported("1064")), // bun renders VALUES ROW(...), which MariaDB rejects
			run: func(r *rc) error {
				invs := []*Invoice{{ID: r.a(0), Number: "A-1b"}, {ID: r.a(1), Number: "A-2b"}}
				_, err := r.db.NewUpdate().Model(&invs).Column("number").Bulk().Exec(r.ctx)
				return err
			}},
		catRow{ref: "13", name: "Bulk update carrying a B row", exp: cross("UPDATE", "invoices"),
			run: func(r *rc) error {
				invs := []*Invoice{{ID: r.a(0), Number: "A-1b"}, {ID: r.b(0), TenantID: "B", Number: "hijacked"}}
				_, err := r.db.NewUpdate().Model(&invs).Column("number").Bulk().Exec(r.ctx)
				return err
			}},
		catRow{ref: "13", name: "Bulk update targeting B's ids with empty tenant", exp: scoped(),
			on: onlyMySQL(unsupported("1064")), // bun renders VALUES ROW(...), which MariaDB rejects
			run: func(r *rc) error {
				invs := []*Invoice{{ID: r.b(0), Number: "hijacked"}, {ID: r.b(1), Number: "hijacked"}}
				_, err := r.db.NewUpdate().Model(&invs).Column("number").Bulk().Exec(r.ctx)
				return err
			}},
	)

	// §10 #14 / #15: upserts.
	add(
		catRow{ref: "14", name: "insert ON CONFLICT (id) DO UPDATE colliding with B's row", exp: scoped(),
			on: onlyMySQL(unscoped("INSERT", "invoices")),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{ID: r.b(0), Number: "hijacked"}).On("CONFLICT (id) DO UPDATE").Exec(r.ctx)
				return err
			}},
		catRow{ref: "14", name: "insert ON CONFLICT (id) DO UPDATE on A's own row", exp: scopedWrite(),
			on: onlyMySQL(unscoped("INSERT", "invoices")),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{ID: r.a(0), Number: "A-1-upserted"}).On("CONFLICT (id) DO UPDATE").
					Set("number = EXCLUDED.number").Exec(r.ctx)
				return err
			}},
		catRow{ref: "14", name: "insert ON CONFLICT DO NOTHING colliding with B's row", exp: scoped(),
			on: onlyMySQL(unsupported("1064")), // MariaDB has no ON CONFLICT: a syntax error
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{ID: r.b(0), Number: "hijacked"}).On("CONFLICT DO NOTHING").Exec(r.ctx)
				return err
			}},
		catRow{ref: "15", name: "insert ON DUPLICATE KEY UPDATE colliding with B's row", exp: unscoped("INSERT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{ID: r.b(0), Number: "hijacked"}).On("DUPLICATE KEY UPDATE").Exec(r.ctx)
				return err
			}},
		catRow{ref: "15", name: "raw INSERT ... ON DUPLICATE KEY UPDATE", exp: unscoped("INSERT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(r.ctx, "INSERT INTO invoices (id, tenant_id, number) VALUES (?, 'A', 'x') ON DUPLICATE KEY UPDATE number = 'hijacked'", r.b(0))
				return err
			}},
	)

	// §10 #16: MERGE.
	add(
		catRow{ref: "16", name: "NewMerge updating B's row", exp: unscoped("MERGE", "invoices"),
			on: map[string]expect{"sqlite": unsupported("merge not supported"), "mysql": unsupported("merge not supported")},
			run: func(r *rc) error {
				_, err := mergeQuery(r, r.b(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "16", name: "NewMerge under bypass", exp: bypassed("MERGE", "invoices"),
			on: map[string]expect{"sqlite": unsupported("merge not supported"), "mysql": unsupported("merge not supported")},
			run: func(r *rc) error {
				_, err := mergeQuery(r, r.b(0)).Exec(r.ctx)
				return err
			}},
	)

	// §10 #17: raw SQL on DB, Tx and Conn.
	rawUnscopedDelete := func(r *rc) string { return fmt.Sprintf("DELETE FROM invoices WHERE id = %d", r.b(0)) }
	add(
		catRow{ref: "17", name: "NewRaw select unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewRaw("SELECT * FROM invoices").Scan(r.ctx, &invs)
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "17", name: "NewRaw select with the predicate", exp: scoped(),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewRaw("SELECT * FROM invoices WHERE tenant_id = ?", "A").Scan(r.ctx, &invs)
				r.seeInvoices(invs)
				r.want(err != nil || len(invs) == 3, "got %d rows", len(invs))
				return err
			}},
		catRow{ref: "17", name: "NewRaw DELETE (reported as SELECT by bun)", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewRaw("DELETE FROM invoices WHERE id = ?", r.b(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "17", name: "NewRaw DELETE with a leading comment", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewRaw("/* cleanup */ DELETE FROM invoices WHERE id = ?", r.b(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "17", name: "db.ExecContext UPDATE unscoped", exp: unscoped("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(r.ctx, "UPDATE invoices SET number = 'x' WHERE id = ?", r.b(0))
				return err
			}},
		catRow{ref: "17", name: "db.ExecContext UPDATE with the predicate", exp: scopedWrite(),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(r.ctx, "UPDATE invoices SET number = 'x' WHERE tenant_id = ? AND id = ?", "A", r.a(0))
				return err
			}},
		catRow{ref: "17", name: "db.ExecContext INSERT tenant B", exp: cross("INSERT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(r.ctx, "INSERT INTO invoices (id, tenant_id, number) VALUES (90, ?, 'x')", "B")
				return err
			}},
		catRow{ref: "17", name: "db.ExecContext INSERT tenant A", exp: scopedWrite(),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(r.ctx, "INSERT INTO invoices (id, tenant_id, number) VALUES (90, ?, 'x')", "A")
				return err
			}},
		catRow{ref: "17", name: "db.QueryContext unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				rows, err := r.db.QueryContext(r.ctx, "SELECT id, tenant_id FROM invoices")
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "17", name: "db.QueryContext with the predicate", exp: scoped(),
			run: func(r *rc) error {
				rows, err := r.db.QueryContext(r.ctx, "SELECT id, tenant_id FROM invoices WHERE tenant_id = ?", "A")
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "17", name: "db.QueryRowContext unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				var n int
				return r.db.QueryRowContext(r.ctx, "SELECT count(*) FROM invoices").Scan(&n)
			}},
		catRow{ref: "17", name: "tx.ExecContext unscoped", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					_, err := tx.ExecContext(ctx, rawUnscopedDelete(r))
					return err
				})
			}},
		catRow{ref: "17", name: "tx.QueryContext unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					rows, err := tx.QueryContext(ctx, "SELECT id, tenant_id FROM invoices")
					if err != nil {
						return err
					}
					return r.seeRows(rows)
				})
			}},
		catRow{ref: "17", name: "tx.QueryRowContext unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					var n int
					return tx.QueryRowContext(ctx, "SELECT count(*) FROM invoices").Scan(&n)
				})
			}},
		catRow{ref: "17", name: "tx.QueryContext with the predicate", exp: scoped(),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					rows, err := tx.QueryContext(ctx, "SELECT id, tenant_id FROM invoices WHERE tenant_id = ?", "A")
					if err != nil {
						return err
					}
					return r.seeRows(rows)
				})
			}},
		catRow{ref: "17", name: "conn.ExecContext unscoped", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				_, err = conn.ExecContext(r.ctx, rawUnscopedDelete(r))
				return err
			}},
		catRow{ref: "17", name: "conn.QueryContext unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				rows, err := conn.QueryContext(r.ctx, "SELECT id, tenant_id FROM invoices")
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "17", name: "conn.QueryRowContext unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				var n int
				return conn.QueryRowContext(r.ctx, "SELECT count(*) FROM invoices").Scan(&n)
			}},
		catRow{ref: "17", name: "conn.QueryContext with the predicate", exp: scoped(),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				rows, err := conn.QueryContext(r.ctx, "SELECT id, tenant_id FROM invoices WHERE tenant_id = ?", "A")
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "17", name: "db.ExecContext DELETE under bypass", exp: bypassed("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(r.ctx, rawUnscopedDelete(r))
				return err
			}},
	)

	// §10 #18: TRUNCATE.
	add(
		catRow{ref: "18", name: "NewTruncateTable", exp: unscoped("TRUNCATE", "invoices"),
			on: map[string]expect{"sqlite": unscoped("DELETE", "invoices")}, // bun renders DELETE FROM on SQLite
			run: func(r *rc) error {
				_, err := r.db.NewTruncateTable().Model((*Invoice)(nil)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "18", name: "NewTruncateTable under bypass", exp: bypassed("TRUNCATE", "invoices"),
			on: map[string]expect{"sqlite": bypassed("DELETE", "invoices")},
			run: func(r *rc) error {
				_, err := r.db.NewTruncateTable().Model((*Invoice)(nil)).Exec(r.ctx)
				return err
			}},
	)

	// §10 #19: DDL.
	add(
		catRow{ref: "19", name: "NewDropTable", exp: unscoped("DROP TABLE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewDropTable().Model((*Invoice)(nil)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "19", name: "NewCreateTable (IfNotExists)", exp: unscoped("CREATE TABLE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewCreateTable().Model((*Invoice)(nil)).IfNotExists().Exec(r.ctx)
				return err
			}},
		catRow{ref: "19", name: "NewCreateIndex", exp: unscoped("CREATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewCreateIndex().Model((*Invoice)(nil)).Index("invoices_number_idx").Column("number").Exec(r.ctx)
				return err
			}},
		catRow{ref: "19", name: "NewAddColumn", exp: unscoped("ALTER", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewAddColumn().Model((*Invoice)(nil)).ColumnExpr("note VARCHAR(20)").Exec(r.ctx)
				return err
			}},
		catRow{ref: "19", name: "NewDropColumn", exp: unscoped("ALTER", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewDropColumn().Model((*Invoice)(nil)).Column("number").Exec(r.ctx)
				return err
			}},
		catRow{ref: "19", name: "NewDropTable under bypass", exp: bypassed("DROP", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewDropTable().Model((*Invoice)(nil)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "19", name: "NewAddColumn under bypass", exp: bypassed("ALTER", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewAddColumn().Model((*Invoice)(nil)).ColumnExpr("note VARCHAR(20)").Exec(r.ctx)
				return err
			}},
	)

	// §10 #20: the paths below bun's hooks.
	add(
		catRow{ref: "20", name: "db.DB.ExecContext (embedded *sql.DB) unscoped", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.DB.ExecContext(r.ctx, "DELETE FROM invoices WHERE id = "+r.ph(1), r.b(0))
				return err
			}},
		catRow{ref: "20", name: "db.DB.QueryContext (embedded *sql.DB) unscoped", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				rows, err := r.db.DB.QueryContext(r.ctx, "SELECT id, tenant_id FROM invoices")
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "20", name: "db.DB.QueryContext with a placeholder tenant", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				rows, err := r.db.DB.QueryContext(r.ctx, "SELECT id, tenant_id FROM invoices WHERE tenant_id = "+r.ph(1), "B")
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "20", name: "db.DB.QueryContext with the literal predicate", exp: scoped(),
			run: func(r *rc) error {
				rows, err := r.db.DB.QueryContext(r.ctx, "SELECT id, tenant_id FROM invoices WHERE tenant_id = 'A'")
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "20", name: "db.DB.ExecContext under bypass", exp: bypassed("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.DB.ExecContext(r.ctx, "DELETE FROM invoices WHERE id = "+r.ph(1), r.b(0))
				return err
			}},
		catRow{ref: "20", name: "db.PrepareContext + Stmt.QueryContext", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				st, err := r.db.PrepareContext(r.ctx, "SELECT id, tenant_id FROM invoices")
				if err != nil {
					return err
				}
				defer st.Close()
				rows, err := st.QueryContext(r.ctx)
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "20", name: "db.PrepareContext verified for A, executed under B", exp: func() expect {
			e := unscoped("SELECT", "invoices")
			e.bound = "B"
			return e
		}(),
			run: func(r *rc) error {
				st, err := r.db.PrepareContext(r.ctx, "SELECT id, tenant_id FROM invoices WHERE tenant_id = 'A'")
				if err != nil {
					return err
				}
				defer st.Close()
				rows, err := st.QueryContext(tenantCtx(r.t, "B"))
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
		catRow{ref: "20", name: "db.PrepareContext with the literal predicate", exp: scoped(),
			run: func(r *rc) error {
				st, err := r.db.PrepareContext(r.ctx, "SELECT id, tenant_id FROM invoices WHERE tenant_id = 'A'")
				if err != nil {
					return err
				}
				defer st.Close()
				for i := 0; i < 2; i++ {
					rows, err := st.QueryContext(r.ctx)
					if err != nil {
						return err
					}
					if err := r.seeRows(rows); err != nil {
						return err
					}
				}
				return nil
			}},
		catRow{ref: "20", name: "tx.Tx.ExecContext (embedded *sql.Tx) unscoped", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					_, err := tx.Tx.ExecContext(ctx, rawUnscopedDelete(r))
					return err
				})
			}},
		catRow{ref: "20", name: "tx.PrepareContext (promoted from *sql.Tx)", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					st, err := tx.PrepareContext(ctx, rawUnscopedDelete(r))
					if err != nil {
						return err
					}
					defer st.Close()
					_, err = st.ExecContext(ctx)
					return err
				})
			}},
		catRow{ref: "20", name: "conn.Raw: ExecContext on the driver connection", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				return conn.Raw(func(dc any) error {
					ec, ok := dc.(driver.ExecerContext)
					if !ok {
						return fmt.Errorf("driver conn %T has no ExecContext", dc)
					}
					_, err := ec.ExecContext(r.ctx, rawUnscopedDelete(r), nil)
					return err
				})
			}},
		catRow{ref: "20", name: "conn.Raw + Unwrap: the driver's own connection", exp: expect{outcome: oUnguarded},
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				return conn.Raw(func(dc any) error {
					u, ok := dc.(interface{ Unwrap() driver.Conn })
					if !ok {
						return fmt.Errorf("driver conn %T has no Unwrap", dc)
					}
					ec, ok := u.Unwrap().(driver.ExecerContext)
					if !ok {
						return fmt.Errorf("inner driver conn %T has no ExecContext", u.Unwrap())
					}
					_, err := ec.ExecContext(r.ctx, rawUnscopedDelete(r), nil)
					return err
				})
			}},
		catRow{ref: "20", name: "conn.PrepareContext (promoted from *sql.Conn)", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				st, err := conn.PrepareContext(r.ctx, "SELECT id, tenant_id FROM invoices")
				if err != nil {
					return err
				}
				defer st.Close()
				rows, err := st.QueryContext(r.ctx)
				if err != nil {
					return err
				}
				return r.seeRows(rows)
			}},
	)

	// §10 #21: a *bun.DB without the guard over the same pool.
	plainDB := func(r *rc) *bun.DB {
		var d schema.Dialect
		switch r.kind {
		case "pg", "pgx":
			d = pgdialect.New()
		case "mysql":
			d = mysqldialect.New()
		default:
			d = sqlitedialect.New()
		}
		return bun.NewDB(r.db.DB, d)
	}
	add(
		catRow{ref: "21", name: "second bun.NewDB: model Scan", exp: scoped(),
			run: func(r *rc) error {
				var invs []Invoice
				err := plainDB(r).NewSelect().Model(&invs).Scan(r.ctx)
				r.seeInvoices(invs)
				r.want(err != nil || len(invs) == 3, "got %d", len(invs))
				return err
			}},
		catRow{ref: "21", name: "second bun.NewDB: model Count", exp: unscoped("SELECT", "invoices"),
			run: func(r *rc) error {
				n, err := plainDB(r).NewSelect().Model((*Invoice)(nil)).Count(r.ctx)
				r.want(err != nil || n == 3, "count = %d", n)
				return err
			}},
		catRow{ref: "21", name: "ResetQueryHooks on the enforced DB, then raw ExecContext", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				r.db.ResetQueryHooks() //nolint:staticcheck // the deprecated in-place removal of the guard is the path under test
				_, err := r.db.ExecContext(r.ctx, rawUnscopedDelete(r))
				return err
			}},
		catRow{ref: "21", name: "second bun.NewDB: raw ExecContext", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := plainDB(r).ExecContext(r.ctx, rawUnscopedDelete(r))
				return err
			}},
	)

	// §10 #22: the veto on bun.Conn (pgdriver ignores a cancelled context).
	add(
		catRow{ref: "22", name: "bun.Conn: NewRaw DELETE", exp: unscoped("DELETE", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				_, err = conn.NewRaw(rawUnscopedDelete(r)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "22", name: "bun.Conn: Table(invoices) update", exp: unscoped("UPDATE", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				_, err = conn.NewUpdate().Table("invoices").Set("number = 'x'").Where("id = ?", r.b(0)).Exec(r.ctx)
				return err
			}},
		catRow{ref: "22", name: "bun.Conn: model Scan, Count and update", exp: scopedWrite(),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				var invs []Invoice
				if err := conn.NewSelect().Model(&invs).Scan(r.ctx); err != nil {
					return err
				}
				r.seeInvoices(invs)
				n, err := conn.NewSelect().Model((*Invoice)(nil)).Count(r.ctx)
				r.want(err != nil || n == 3, "count = %d", n)
				if err != nil {
					return err
				}
				_, err = conn.NewUpdate().Model((*Invoice)(nil)).Set("number = number || ?", "!").Where("1 = 1").Exec(r.ctx)
				if r.kind == "mysql" && err != nil {
					_, err = conn.NewUpdate().Model((*Invoice)(nil)).Set("number = CONCAT(number, ?)", "!").Where("1 = 1").Exec(r.ctx)
				}
				return err
			}},
		catRow{ref: "22", name: "bun.Tx: model Scan, Exists and delete", exp: scopedWrite(),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					var invs []Invoice
					q := tx.NewSelect().Model(&invs)
					if r.kind != "sqlite" { // SQLite has no FOR UPDATE
						q = q.For("UPDATE")
					}
					if err := q.Scan(ctx); err != nil {
						return err
					}
					r.seeInvoices(invs)
					ok, err := tx.NewSelect().Model((*Invoice)(nil)).Where("number = ?", "B-2").Exists(ctx)
					if err != nil {
						return err
					}
					r.want(!ok, "Exists(B-2) in tx = true")
					_, err = tx.NewDelete().Model((*Invoice)(nil)).Where("1 = 1").Exec(ctx)
					return err
				})
			}},
		catRow{ref: "22", name: "bun.Tx: nested savepoint tx", exp: scopedWrite(),
			run: func(r *rc) error {
				return r.db.RunInTx(r.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					return tx.RunInTx(ctx, nil, func(ctx context.Context, sp bun.Tx) error {
						_, err := sp.NewDelete().Model((*Invoice)(nil)).Where("number LIKE ?", "%-1").Exec(ctx)
						return err
					})
				})
			}},
	)

	// §10 #23: read replicas through a ConnResolver.
	add(
		catRow{ref: "23", name: "ConnResolver routing reads to an unenforced pool", exp: unscoped("SELECT", "invoices"), replica: "raw",
			run: func(r *rc) error {
				// runCatalogueRow opened r.db with the resolver (bunhook.WithBunOptions).
				n, err := r.db.NewSelect().Model((*Invoice)(nil)).Count(r.ctx)
				r.want(err != nil || n == 3, "count via replica = %d, want 3", n)
				return err
			}},
	)

	add(
		catRow{ref: "23", name: "ConnResolver: Table(invoices) Count on an unenforced pool", exp: unscoped("SELECT", "invoices"), replica: "raw",
			run: func(r *rc) error {
				_, err := r.db.NewSelect().Table("invoices").Count(r.ctx)
				return err
			}},
		catRow{ref: "23", name: "ConnResolver: non-tenant table on an unenforced pool", exp: scoped(), replica: "raw",
			run: func(r *rc) error {
				var cur []Currency
				err := r.db.NewSelect().Model(&cur).Scan(r.ctx)
				r.want(err != nil || len(cur) == 1, "currencies: %v", cur)
				return err
			}},
		catRow{ref: "23", name: "ConnResolver routing reads to an enforced pool", exp: scoped(), replica: "enforced",
			run: func(r *rc) error {
				var invs []Invoice
				if err := r.db.NewSelect().Model(&invs).Scan(r.ctx); err != nil {
					return err
				}
				r.seeInvoices(invs)
				n, err := r.db.NewSelect().Model((*Invoice)(nil)).Count(r.ctx)
				r.want(err != nil || n == 3, "count = %d", n)
				return err
			}},
	)

	// §10 #24: app.tenant_id per statement and transaction on pooled connections.
	add(
		catRow{ref: "24", name: "one pooled connection used by A, B, no tenant and in a tx", exp: scoped(),
			run: func(r *rc) error {
				conn, err := r.db.Conn(r.ctx)
				if err != nil {
					return err
				}
				defer conn.Close()
				ctxB := tenantCtx(r.t, "B")
				for _, step := range []struct {
					ctx    context.Context
					tenant string
				}{{r.ctx, "A"}, {ctxB, "B"}, {context.Background(), ""}, {r.ctx, "A"}} {
					if step.tenant != "" {
						var invs []Invoice
						if err := conn.NewSelect().Model(&invs).Scan(step.ctx); err != nil {
							return err
						}
						for _, in := range invs {
							r.want(in.TenantID == step.tenant, "conn under %q read a row of %q", step.tenant, in.TenantID)
						}
					}
					if r.kind == "pg" || r.kind == "pgx" {
						var got sql.NullString
						if err := conn.QueryRowContext(step.ctx, "SELECT current_setting('app.tenant_id', true)").Scan(&got); err != nil {
							return err
						}
						r.want(got.String == step.tenant, "app.tenant_id = %q under %q", got.String, step.tenant)
					}
				}
				if r.kind == "pg" || r.kind == "pgx" {
					err := conn.RunInTx(ctxB, nil, func(ctx context.Context, tx bun.Tx) error {
						var got sql.NullString
						if err := tx.QueryRowContext(ctx, "SELECT current_setting('app.tenant_id', true)").Scan(&got); err != nil {
							return err
						}
						r.want(got.String == "B", "app.tenant_id in B's tx = %q", got.String)
						return nil
					})
					if err != nil {
						return err
					}
					var got sql.NullString
					if err := conn.QueryRowContext(context.Background(), "SELECT current_setting('app.tenant_id', true)").Scan(&got); err != nil {
						return err
					}
					r.want(got.String == "", "app.tenant_id after B's tx, no tenant = %q", got.String)
				}
				return nil
			}},
	)

	// §10 #25: Column()/ExcludeColumn() dropping the tenant column.
	add(
		catRow{ref: "25", name: "insert Column(number) omits tenant_id", exp: unscoped("INSERT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{ID: 90, Number: "x"}).Column("id", "number").Exec(r.ctx)
				return err
			}},
		catRow{ref: "25", name: "insert ExcludeColumn(tenant_id)", exp: unscoped("INSERT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{ID: 90, Number: "x"}).ExcludeColumn("tenant_id").Exec(r.ctx)
				return err
			}},
		catRow{ref: "25", name: "select Column(id, number) without tenant_id", exp: scoped(),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Column("id", "number").Scan(r.ctx)
				for _, in := range invs {
					r.want(strings.HasPrefix(in.Number, "A-"), "read %s under A", in.Number)
					r.see("A")
				}
				r.want(err != nil || len(invs) == 3, "got %d", len(invs))
				return err
			}},
		catRow{ref: "25", name: "update Column(number) of B's row by PK", exp: scoped(),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model(&Invoice{ID: r.b(0), Number: "hijack"}).Column("number").WherePK().Exec(r.ctx)
				return err
			}},
	)

	// §10 #26: soft delete.
	add(
		catRow{ref: "26", name: "soft delete of every item", exp: scopedWrite(),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().Model((*Item)(nil)).Where("1 = 1").Exec(r.ctx)
				return err
			}},
		catRow{ref: "26", name: "soft delete of B's item by PK", exp: scoped(),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().Model(&Item{ID: r.b(0)}).WherePK().Exec(r.ctx)
				return err
			}},
		catRow{ref: "26", name: "ForceDelete of B's item by PK", exp: scoped(),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().Model(&Item{ID: r.b(0)}).WherePK().ForceDelete().Exec(r.ctx)
				return err
			}},
		catRow{ref: "26", name: "WhereDeleted select", exp: scoped(),
			setup: func(r *rc) { r.rawExec("UPDATE items SET deleted_at = ? WHERE id IN (1, 4)", time.Now().UTC()) },
			run: func(r *rc) error {
				var its []Item
				err := r.db.NewSelect().Model(&its).WhereDeleted().Scan(r.ctx)
				for _, it := range its {
					r.see(it.TenantID)
				}
				r.want(err != nil || len(its) == 1, "deleted items visible: %d, want 1", len(its))
				return err
			}},
	)

	// §10 #27: no tenant bound.
	bg := func(r *rc) context.Context { return context.Background() }
	add(
		catRow{ref: "27", name: "no tenant: Scan", exp: noTenant("SELECT", "invoices"),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Scan(bg(r))
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "27", name: "no tenant: Count", exp: noTenant("SELECT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewSelect().Model((*Invoice)(nil)).Count(bg(r))
				return err
			}},
		catRow{ref: "27", name: "no tenant: insert", exp: noTenant("INSERT", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewInsert().Model(&Invoice{Number: "x"}).Exec(bg(r))
				return err
			}},
		catRow{ref: "27", name: "no tenant: update", exp: noTenant("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model((*Invoice)(nil)).Set("number = 'x'").Where("1 = 1").Exec(bg(r))
				return err
			}},
		catRow{ref: "27", name: "no tenant: raw DELETE", exp: noTenant("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.ExecContext(bg(r), "DELETE FROM invoices")
				return err
			}},
		catRow{ref: "27", name: "no tenant: bun.Conn raw DELETE", exp: noTenant("DELETE", "invoices"),
			run: func(r *rc) error {
				conn, err := r.db.Conn(bg(r))
				if err != nil {
					return err
				}
				defer conn.Close()
				_, err = conn.ExecContext(bg(r), "DELETE FROM invoices")
				return err
			}},
		catRow{ref: "27", name: "no tenant: db.DB.ExecContext", exp: noTenant("DELETE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.DB.ExecContext(bg(r), "DELETE FROM invoices")
				return err
			}},
		catRow{ref: "27", name: "bypass: model Scan and Count", exp: bypassed("SELECT", "invoices"),
			run: func(r *rc) error {
				var invs []Invoice
				if err := r.db.NewSelect().Model(&invs).Scan(r.ctx); err != nil {
					return err
				}
				r.seeInvoices(invs)
				n, err := r.db.NewSelect().Model((*Invoice)(nil)).Count(r.ctx)
				r.want(err != nil || n == 6, "bypassed count = %d", n)
				return err
			}},
		catRow{ref: "27", name: "bypass: update of B's row", exp: bypassed("UPDATE", "invoices"),
			run: func(r *rc) error {
				_, err := r.db.NewUpdate().Model((*Invoice)(nil)).Set("number = 'fixed'").Where("id = ?", r.b(0)).Exec(r.ctx)
				return err
			}},
	)

	// Further paths: plain model CRUD, which the other rows rely on.
	add(
		catRow{ref: "+", name: "model Scan of B's row by PK", exp: scoped(),
			run: func(r *rc) error {
				in := Invoice{ID: r.b(0)}
				err := r.db.NewSelect().Model(&in).WherePK().Scan(r.ctx)
				if errors.Is(err, sql.ErrNoRows) {
					return nil
				}
				r.see(in.TenantID)
				r.errorf("read B's row by PK: %+v, %v", in, err)
				return err
			}},
		catRow{ref: "+", name: "insert struct with empty tenant", exp: scopedWrite(),
			run: func(r *rc) error {
				in := &Invoice{Number: "A-new"}
				_, err := r.db.NewInsert().Model(in).Exec(r.ctx)
				r.want(err != nil || in.TenantID == "A", "tenant not filled: %q", in.TenantID)
				return err
			}},
		catRow{ref: "+", name: "insert slice with a B row", exp: cross("INSERT", "invoices"),
			run: func(r *rc) error {
				invs := []Invoice{{Number: "A-new"}, {Number: "B-new", TenantID: "B"}}
				_, err := r.db.NewInsert().Model(&invs).Exec(r.ctx)
				return err
			}},
		catRow{ref: "+", name: "delete of B's row by PK", exp: scoped(),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().Model(&Invoice{ID: r.b(0)}).WherePK().Exec(r.ctx)
				return err
			}},
		catRow{ref: "+", name: "delete every invoice", exp: scopedWrite(),
			run: func(r *rc) error {
				_, err := r.db.NewDelete().Model((*Invoice)(nil)).Where("1 = 1").Exec(r.ctx)
				return err
			}},
		catRow{ref: "+", name: "model query with Comment", exp: scoped(),
			run: func(r *rc) error {
				var invs []Invoice
				err := r.db.NewSelect().Model(&invs).Comment("catalogue").Scan(r.ctx)
				r.seeInvoices(invs)
				return err
			}},
		catRow{ref: "+", name: "non-tenant table is untouched", exp: scoped(),
			run: func(r *rc) error {
				var cur []Currency
				err := r.db.NewSelect().Model(&cur).Scan(r.ctx)
				r.want(err != nil || len(cur) == 1, "currencies: %v", cur)
				return err
			}},
	)
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
