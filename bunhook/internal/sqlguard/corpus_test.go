package sqlguard

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/feature"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"
)

// Models of the corpus. invoices, customers and items are tenant-owned
// (tenant column tenant_id); currencies is not.

type Invoice struct {
	bun.BaseModel `bun:"table:invoices,alias:invoice"`

	ID         int64 `bun:",pk,autoincrement"`
	TenantID   string
	Number     string
	CustomerID int64
	DeletedAt  time.Time `bun:",soft_delete,nullzero"`

	Customer  *Customer `bun:"rel:belongs-to,join:customer_id=id"`
	FirstItem *Item     `bun:"rel:has-one,join:id=invoice_id"`
}

type Customer struct {
	bun.BaseModel `bun:"table:customers,alias:customer"`

	ID       int64 `bun:",pk,autoincrement"`
	TenantID string
	Name     string
}

type Item struct {
	bun.BaseModel `bun:"table:items,alias:item"`

	ID        int64 `bun:",pk,autoincrement"`
	TenantID  string
	InvoiceID int64
	Sku       string
}

type Currency struct {
	bun.BaseModel `bun:"table:currencies,alias:currency"`

	Code string `bun:",pk"`
	Name string
}

var corpusTables = map[string]string{
	"invoices":  "tenant_id",
	"customers": "tenant_id",
	"items":     "tenant_id",
}

// neverConnector is a driver.Connector that never connects: bun renders
// queries, hands them to its query hooks, and then fails to execute them.
type neverConnector struct{}

var errNoDatabase = errors.New("sqlguard test: no database")

func (neverConnector) Connect(context.Context) (driver.Conn, error) { return nil, errNoDatabase }
func (neverConnector) Driver() driver.Driver                        { return neverDriver{} }

type neverDriver struct{}

func (neverDriver) Open(string) (driver.Conn, error) { return nil, errNoDatabase }

// mysqlNoProbe wraps mysqldialect so that bun.NewDB does not call its Init,
// which would try to query "SELECT version()". The default features of
// mysqldialect.New() then apply: they match MariaDB and MySQL < 8.0 (no CTE
// feature flag, no DeleteTableAlias: DELETE renders the bare table name,
// no RETURNING). extra adds features that Init would add for a MySQL 8.0.16+
// server (CTE | WithValues | DeleteTableAlias).
type mysqlNoProbe struct {
	*mysqldialect.Dialect
	extra feature.Feature
}

func (mysqlNoProbe) Init(*sql.DB) {}

func (d mysqlNoProbe) Features() feature.Feature { return d.Dialect.Features() | d.extra }

type captureHook struct{ queries []string }

func (h *captureHook) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	h.queries = append(h.queries, e.Query)
	return ctx
}
func (h *captureHook) AfterQuery(context.Context, *bun.QueryEvent) {}

type corpusDB struct {
	name    string
	dialect Dialect
	db      *bun.DB
	hook    *captureHook
}

func corpusDBs() []*corpusDB {
	mk := func(name string, d Dialect, sd schema.Dialect) *corpusDB {
		h := &captureHook{}
		db := bun.NewDB(sql.OpenDB(neverConnector{}), sd).WithQueryHook(h)
		return &corpusDB{name: name, dialect: d, db: db, hook: h}
	}
	return []*corpusDB{
		mk("pg", Postgres, pgdialect.New()),
		mk("sqlite", SQLite, sqlitedialect.New()),
		mk("mysql", MySQL, mysqlNoProbe{Dialect: mysqldialect.New()}),
		mk("mysql8", MySQL, mysqlNoProbe{Dialect: mysqldialect.New(),
			extra: feature.CTE | feature.WithValues | feature.DeleteTableAlias}),
	}
}

// render runs the query against the never-connecting database and returns
// the first SQL text bun passed to its query hooks.
func (d *corpusDB) render(t testing.TB, run func(ctx context.Context, db *bun.DB) error) string {
	t.Helper()
	d.hook.queries = d.hook.queries[:0]
	err := run(context.Background(), d.db)
	if len(d.hook.queries) == 0 {
		t.Fatalf("%s: bun did not produce a query: %v", d.name, err)
	}
	return d.hook.queries[0]
}

type want struct {
	kind      Kind
	op        string
	tables    []string
	code      Code // 0: verified
	attempted string
}

type corpusCase struct {
	name string
	only []string // dialects the case applies to (all when empty)
	run  func(ctx context.Context, db *bun.DB) error
	want want
	per  map[string]want // per-dialect expectations overriding want
}

func sel(tables ...string) want { return want{kind: Select, op: "SELECT", tables: tables} }

func (w want) with(code Code) want { w.code = code; return w }

func (w want) tried(s string) want { w.attempted = s; return w }

const tenantA = "A"

// corpusInvoice is invoice 1 of tenant A.
func corpusInvoice() *Invoice {
	return &Invoice{ID: 1, TenantID: tenantA, Number: "N-1", CustomerID: 7}
}

// corpusInvoices returns invoices 1, 2, ... of the given tenants.
func corpusInvoices(tenants ...string) *[]Invoice {
	s := make([]Invoice, len(tenants))
	for i, tn := range tenants {
		s[i] = Invoice{ID: int64(i + 1), TenantID: tn, Number: "N", CustomerID: 7}
	}
	return &s
}

// corpusTenantWhere is the tenant predicate on the model's table alias.
const corpusTenantWhere = "?TableAlias.tenant_id = ?"

// onInvoices is the verdict of a verified kind/op statement on invoices.
func onInvoices(kind Kind, op string) want {
	return want{kind: kind, op: op, tables: []string{"invoices"}}
}

// ddlOnInvoices is the verdict of DDL on invoices.
func ddlOnInvoices(op string) want {
	return want{kind: DDL, op: op, tables: []string{"invoices"}, code: Unverifiable}
}

// corpusCases are bun renders of every query builder, by family
// (corpus_select_test.go, corpus_write_test.go), in a fixed order.
func corpusCases() []corpusCase {
	return slices.Concat(corpusSelectCases(), corpusJoinCases(), corpusBlockCases(),
		corpusUpdateCases(), corpusDeleteCases(), corpusInsertCases(), corpusOtherCases())
}

func TestCorpus(t *testing.T) {
	for _, d := range corpusDBs() {
		g := New(d.dialect, corpusTables)
		// Every render the guard verifies is verified in a closed world too
		// (bun renders no relation or function that the world does not know).
		closed := New(d.dialect, corpusTables, ClosedWorld(), WithShared("currencies"))
		for _, tc := range corpusCases() {
			if len(tc.only) > 0 && !slices.Contains(tc.only, d.name) {
				continue
			}
			t.Run(d.name+"/"+tc.name, func(t *testing.T) {
				q := d.render(t, tc.run)
				w := tc.want
				if pw, ok := tc.per[d.name]; ok {
					w = pw
				}
				v := g.Check(q, tenantA)
				if os.Getenv("SQLGUARD_LOG_CORPUS") != "" {
					t.Logf("%s\n  => %v", q, v)
				}
				assertVerdict(t, q, v, w)
				if !g.Mentions(q) && !v.OK() {
					t.Errorf("Mentions=false but Check is not OK\nSQL: %s", q)
				}
				if v.OK() && v.Kind <= Delete {
					cv := closed.Admit(q)
					if closed.Mentions(q) {
						cv = closed.Check(q, tenantA)
					}
					if !cv.OK() {
						t.Errorf("closed world refuses a verified render: %v\nSQL: %s", cv, q)
					}
				}
			})
		}
	}
}

func assertVerdict(t *testing.T, q string, v Verdict, w want) {
	t.Helper()
	bad := false
	if v.Kind != w.kind || v.Operation != w.op {
		t.Errorf("kind/op = %v %q, want %v %q", v.Kind, v.Operation, w.kind, w.op)
		bad = true
	}
	if got := v.Tables.Slice(); !slices.Equal(got, w.tables) {
		t.Errorf("tables = %q, want %q", got, w.tables)
		bad = true
	}
	switch {
	case w.code == 0 && !v.OK():
		t.Errorf("want verified, got %v", v.Finding)
		bad = true
	case w.code != 0 && v.OK():
		t.Errorf("want %v, got verified", w.code)
		bad = true
	case w.code != 0 && v.Finding.Code != w.code:
		t.Errorf("code = %v (%v), want %v", v.Finding.Code, v.Finding, w.code)
		bad = true
	}
	if v.Attempted != w.attempted {
		t.Errorf("attempted = %q, want %q", v.Attempted, w.attempted)
		bad = true
	}
	if v.OK() != (v.Findings == 0) {
		t.Errorf("Findings = %d but OK() = %v", v.Findings, v.OK())
		bad = true
	}
	if bad {
		t.Logf("SQL: %s", q)
	}
}
