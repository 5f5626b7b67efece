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

func corpusCases() []corpusCase {
	inv := func() *Invoice { return &Invoice{ID: 1, TenantID: tenantA, Number: "N-1", CustomerID: 7} }
	invs := func(tenants ...string) *[]Invoice {
		s := make([]Invoice, len(tenants))
		for i, tn := range tenants {
			s[i] = Invoice{ID: int64(i + 1), TenantID: tn, Number: "N", CustomerID: 7}
		}
		return &s
	}
	ta := "?TableAlias.tenant_id = ?"
	upd := want{kind: Update, op: "UPDATE", tables: []string{"invoices"}}
	del := want{kind: Delete, op: "DELETE", tables: []string{"invoices"}}
	ins := want{kind: Insert, op: "INSERT", tables: []string{"invoices"}}
	ddl := func(op string) want {
		return want{kind: DDL, op: op, tables: []string{"invoices"}, code: Unverifiable}
	}
	return []corpusCase{
		// ---- SELECT
		{name: "select by pk with tenant predicate", run: func(ctx context.Context, db *bun.DB) error {
			return db.NewSelect().Model(inv()).WherePK().Where(ta, tenantA).Scan(ctx)
		}, want: sel("invoices")},
		{name: "select with quoted Ident predicate", run: func(ctx context.Context, db *bun.DB) error {
			return db.NewSelect().Model(inv()).Where("? = ?", bun.Ident("invoice.tenant_id"), tenantA).WherePK().Scan(ctx)
		}, want: sel("invoices")},
		{name: "select without predicate", run: func(ctx context.Context, db *bun.DB) error {
			return db.NewSelect().Model(inv()).WherePK().Scan(ctx)
		}, want: sel("invoices").with(MissingPredicate)},
		{name: "select predicate for another tenant", run: func(ctx context.Context, db *bun.DB) error {
			return db.NewSelect().Model(inv()).WherePK().Where(ta, "B").Scan(ctx)
		}, want: sel("invoices").with(MissingPredicate)},
		{name: "WhereOr escape at top level", run: func(ctx context.Context, db *bun.DB) error {
			var cs []Customer
			return db.NewSelect().Model(&cs).Where(ta, tenantA).WhereOr("?TableAlias.name = ?", "x").Scan(ctx)
		}, want: sel("customers").with(OrEscape)},
		{name: "soft delete + WhereOr escape", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Where(ta, tenantA).WhereOr("?TableAlias.number = ?", "x").Scan(ctx)
		}, want: sel("invoices").with(OrEscape)},
		{name: "soft delete + WherePK + WhereOr escape", run: func(ctx context.Context, db *bun.DB) error {
			return db.NewSelect().Model(inv()).WherePK().Where("?TableAlias.number = ?", "x").
				WhereOr("?TableAlias.number = ?", "y").Where(ta, tenantA).Scan(ctx)
		}, want: sel("invoices").with(OrEscape)},
		{name: "WhereGroup is safe", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Where(ta, tenantA).WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("?TableAlias.number = ?", "x").WhereOr("?TableAlias.number = ?", "y")
			}).Scan(ctx)
		}, want: sel("invoices")},
		{name: "tenant predicate inside an OR group", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where(ta, tenantA).WhereOr("?TableAlias.number = ?", "y")
			}).Scan(ctx)
		}, want: sel("invoices").with(OrEscape)},
		{name: "tenant predicate in WhereGroup AND", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Where("?TableAlias.id > 0").WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where(ta, tenantA).Where("?TableAlias.number = ?", "y")
			}).Scan(ctx)
		}, want: sel("invoices")},
		{name: "WhereGroup OR at top level", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Where(ta, tenantA).WhereGroup(" OR ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("?TableAlias.number = ?", "y")
			}).Scan(ctx)
		}, want: sel("invoices").with(OrEscape)},
		{name: "join without ON predicate", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Join("JOIN customers AS c").JoinOn("c.id = invoice.customer_id").
				Where(ta, tenantA).Scan(ctx)
		}, want: sel("invoices", "customers").with(MissingPredicate)},
		{name: "join with ON predicate", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Join("JOIN customers AS c").JoinOn("c.id = invoice.customer_id").
				JoinOn("c.tenant_id = ?", tenantA).Where(ta, tenantA).Scan(ctx)
		}, want: sel("invoices", "customers")},
		{name: "join with ON predicate under JoinOnOr", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Join("JOIN customers AS c").JoinOn("c.id = invoice.customer_id").
				JoinOnOr("c.tenant_id = ?", tenantA).Where(ta, tenantA).Scan(ctx)
		}, want: sel("invoices", "customers").with(OrEscape)},
		{name: "left join with WHERE predicate on joined table", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Join("LEFT JOIN customers AS c ON c.id = invoice.customer_id").
				Where(ta, tenantA).Where("c.tenant_id = ?", tenantA).Scan(ctx)
		}, want: sel("invoices", "customers")},
		{name: "right join ON predicate does not restrict", only: []string{"pg", "mysql", "mysql8"}, run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Join("RIGHT JOIN customers AS c ON c.id = invoice.customer_id AND c.tenant_id = ?", tenantA).
				Where(ta, tenantA).Scan(ctx)
		}, want: sel("invoices", "customers").with(MissingPredicate)},
		{name: "join predicate on the wrong alias", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Join("JOIN customers AS c ON c.id = invoice.customer_id").
				Where(ta, tenantA).Where("invoice.tenant_id = ?", tenantA).Scan(ctx)
		}, want: sel("invoices", "customers").with(MissingPredicate)},
		{name: "relation join without predicate", run: func(ctx context.Context, db *bun.DB) error {
			return db.NewSelect().Model(inv()).Relation("Customer").WherePK().Where(ta, tenantA).Scan(ctx)
		}, want: sel("invoices", "customers").with(MissingPredicate)},
		{name: "relation join with WHERE predicate", run: func(ctx context.Context, db *bun.DB) error {
			return db.NewSelect().Model(inv()).Relation("Customer").WherePK().Where(ta, tenantA).
				Where("?.tenant_id = ?", bun.Ident("customer"), tenantA).Scan(ctx)
		}, want: sel("invoices", "customers")},
		{name: "relation join with ON predicate", run: func(ctx context.Context, db *bun.DB) error {
			return db.NewSelect().Model(inv()).RelationWithOpts("Customer", bun.RelationOpts{
				AdditionalJoinOnConditions: []schema.QueryWithArgs{schema.SafeQuery("customer.tenant_id = ?", []any{tenantA})},
			}).WherePK().Where(ta, tenantA).Scan(ctx)
		}, want: sel("invoices", "customers")},
		{name: "relation join ON condition with OR", run: func(ctx context.Context, db *bun.DB) error {
			return db.NewSelect().Model(inv()).RelationWithOpts("Customer", bun.RelationOpts{
				AdditionalJoinOnConditions: []schema.QueryWithArgs{schema.SafeQuery("customer.tenant_id = ? OR 1=1", []any{tenantA})},
			}).WherePK().Where(ta, tenantA).Scan(ctx)
		}, want: sel("invoices", "customers").with(OrEscape)},
		{name: "has-one relation with ON predicate", run: func(ctx context.Context, db *bun.DB) error {
			return db.NewSelect().Model(inv()).RelationWithOpts("FirstItem", bun.RelationOpts{
				AdditionalJoinOnConditions: []schema.QueryWithArgs{schema.SafeQuery("first_item.tenant_id = ?", []any{tenantA})},
			}).WherePK().Where(ta, tenantA).Scan(ctx)
		}, want: sel("invoices", "items")},
		{name: "has-one relation without predicate", run: func(ctx context.Context, db *bun.DB) error {
			return db.NewSelect().Model(inv()).Relation("FirstItem").WherePK().Where(ta, tenantA).Scan(ctx)
		}, want: sel("invoices", "items").with(MissingPredicate)},
		{name: "subquery in WHERE with predicate", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			sub := db.NewSelect().Model((*Customer)(nil)).Column("id").Where(ta, tenantA)
			return db.NewSelect().Model(&is).Where(ta, tenantA).Where("invoice.customer_id IN (?)", sub).Scan(ctx)
		}, want: sel("invoices", "customers")},
		{name: "subquery in WHERE without predicate", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			sub := db.NewSelect().Model((*Customer)(nil)).Column("id").Where("?TableAlias.name = ?", "x")
			return db.NewSelect().Model(&is).Where(ta, tenantA).Where("invoice.customer_id IN (?)", sub).Scan(ctx)
		}, want: sel("invoices", "customers").with(MissingPredicate)},
		{name: "predicate only inside the subquery", run: func(ctx context.Context, db *bun.DB) error {
			var cs []Customer
			sub := db.NewSelect().Model((*Invoice)(nil)).ColumnExpr("1").
				Where("invoice.customer_id = customer.id").Where(ta, tenantA)
			return db.NewSelect().Model(&cs).Where("EXISTS (?)", sub).Scan(ctx)
		}, want: sel("customers", "invoices").with(MissingPredicate)},
		{name: "outer predicate does not cover the subquery", run: func(ctx context.Context, db *bun.DB) error {
			var cs []Customer
			sub := db.NewSelect().Model((*Invoice)(nil)).ColumnExpr("1").
				Where("invoice.customer_id = customer.id").Where("customer.tenant_id = ?", tenantA)
			return db.NewSelect().Model(&cs).Where(ta, tenantA).Where("EXISTS (?)", sub).Scan(ctx)
		}, want: sel("customers", "invoices").with(MissingPredicate)},
		{name: "CTE with predicate", run: func(ctx context.Context, db *bun.DB) error {
			var n []map[string]any
			cte := db.NewSelect().Model((*Invoice)(nil)).Where(ta, tenantA)
			return db.NewSelect().With("recent", cte).Table("recent").Scan(ctx, &n)
		}, want: sel("invoices")},
		{name: "CTE without predicate", run: func(ctx context.Context, db *bun.DB) error {
			var n []map[string]any
			cte := db.NewSelect().Model((*Invoice)(nil))
			return db.NewSelect().With("recent", cte).Table("recent").Scan(ctx, &n)
		}, want: sel("invoices").with(MissingPredicate)},
		{name: "UNION arms with predicates", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			a := db.NewSelect().Model((*Invoice)(nil)).Where(ta, tenantA).Where("?TableAlias.number = ?", "x")
			b := db.NewSelect().Model((*Invoice)(nil)).Where(ta, tenantA).Where("?TableAlias.number = ?", "y")
			return a.UnionAll(b).Scan(ctx, &is)
		}, want: sel("invoices")},
		{name: "UNION arm without predicate", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			a := db.NewSelect().Model((*Invoice)(nil)).Where(ta, tenantA)
			b := db.NewSelect().Model((*Invoice)(nil)).Where("?TableAlias.number = ?", "y")
			return a.Union(b).Scan(ctx, &is)
		}, want: sel("invoices").with(MissingPredicate)},
		{name: "derived table with predicate", run: func(ctx context.Context, db *bun.DB) error {
			var n []map[string]any
			inner := db.NewSelect().Model((*Invoice)(nil)).Where(ta, tenantA)
			return db.NewSelect().TableExpr("(?) AS sub", inner).Where("sub.number <> ''").Scan(ctx, &n)
		}, want: sel("invoices")},
		{name: "derived table without predicate", run: func(ctx context.Context, db *bun.DB) error {
			var n []map[string]any
			inner := db.NewSelect().Model((*Invoice)(nil))
			return db.NewSelect().TableExpr("(?) AS sub", inner).Where("sub.tenant_id = ?", tenantA).Scan(ctx, &n)
		}, want: sel("invoices").with(MissingPredicate)},
		{name: "select-list subquery with predicate", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			sub := db.NewSelect().Model((*Item)(nil)).ColumnExpr("count(*)").
				Where("item.invoice_id = invoice.id").Where("item.tenant_id = ?", tenantA)
			return db.NewSelect().Model(&is).Column("id").ColumnExpr("(?) AS items_count", sub).Where(ta, tenantA).Scan(ctx)
		}, want: sel("items", "invoices")},
		{name: "select-list subquery without predicate", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			sub := db.NewSelect().Model((*Item)(nil)).ColumnExpr("count(*)").Where("item.invoice_id = invoice.id")
			return db.NewSelect().Model(&is).Column("id").ColumnExpr("(?) AS items_count", sub).Where(ta, tenantA).Scan(ctx)
		}, want: sel("items", "invoices").with(MissingPredicate)},
		{name: "count", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewSelect().Model((*Invoice)(nil)).Where(ta, tenantA).Count(ctx)
			return err
		}, want: sel("invoices")},
		{name: "count with group by (count wrapper CTE)", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewSelect().Model((*Invoice)(nil)).Column("customer_id").Where(ta, tenantA).Group("customer_id").Count(ctx)
			return err
		}, want: sel("invoices")},
		{name: "count without predicate", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewSelect().Model((*Invoice)(nil)).Count(ctx)
			return err
		}, want: sel("invoices").with(MissingPredicate)},
		{name: "exists", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewSelect().Model((*Invoice)(nil)).Where(ta, tenantA).Exists(ctx)
			return err
		}, want: sel("invoices")},
		{name: "exists without predicate", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewSelect().Model((*Invoice)(nil)).Exists(ctx)
			return err
		}, want: sel("invoices").with(MissingPredicate)},
		{name: "order, limit, offset, group, having, for update", only: []string{"pg", "mysql", "mysql8"}, run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Where(ta, tenantA).Group("invoice.id").Having("count(*) > 0").
				Order("invoice.id").Limit(10).Offset(5).For("UPDATE").Scan(ctx)
		}, want: sel("invoices")},
		{name: "non-tenant table", run: func(ctx context.Context, db *bun.DB) error {
			var cs []Currency
			return db.NewSelect().Model(&cs).Where("currency.code = ?", "EUR").Scan(ctx)
		}, want: sel()},
		{name: "non-tenant join with tenant table restricted", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Join("JOIN currencies AS cur ON cur.code = invoice.number").Where(ta, tenantA).Scan(ctx)
		}, want: sel("invoices")},
		{name: "comment with a predicate does not count", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Comment("invoice.tenant_id = 'A'").Scan(ctx)
		}, want: sel("invoices").with(MissingPredicate)},
		{name: "WithComment context", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Where(ta, tenantA).Scan(bun.WithComment(ctx, "tenant_id = 'B' */ OR 1=1"))
		}, want: sel("invoices")},
		{name: "value that smuggles a quote and OR", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Where(ta, tenantA).Where("invoice.number = ?", `x\' OR 1=1 -- `).Scan(ctx)
		}, want: sel("invoices")},
		{name: "value that smuggles a predicate", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Where("invoice.number = ?", `x' AND invoice.tenant_id = 'A`).Scan(ctx)
		}, want: sel("invoices").with(MissingPredicate)},
		{name: "value with backslash before a quote", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewSelect().Model(&is).Where("invoice.number = ?", `\`).WhereOr("invoice.tenant_id = ?", tenantA).Scan(ctx)
		}, want: sel("invoices").with(OrEscape)},
		{name: "raw query", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewRaw("SELECT * FROM invoices WHERE tenant_id = ? AND number = ?", tenantA, "x").Scan(ctx, &is)
		}, want: sel("invoices")},
		{name: "raw query with OR", run: func(ctx context.Context, db *bun.DB) error {
			var is []Invoice
			return db.NewRaw("SELECT * FROM invoices WHERE tenant_id = ? OR number = ?", tenantA, "x").Scan(ctx, &is)
		}, want: sel("invoices").with(OrEscape)},

		// ---- UPDATE
		{name: "update by pk with predicate", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewUpdate().Model(inv()).WherePK().Where(ta, tenantA).Exec(ctx)
			return err
		}, want: upd},
		{name: "update struct with a foreign tenant", run: func(ctx context.Context, db *bun.DB) error {
			m := inv()
			m.TenantID = "B"
			_, err := db.NewUpdate().Model(m).WherePK().Where(ta, tenantA).Exec(ctx)
			return err
		}, want: upd.with(TenantAssigned).tried("B")},
		{name: "update without predicate", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewUpdate().Model(inv()).WherePK().Exec(ctx)
			return err
		}, want: upd.with(MissingPredicate)},
		{name: "update Set tenant_id = 'B'", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewUpdate().Model((*Invoice)(nil)).Set("tenant_id = ?", "B").Where(ta, tenantA).Exec(ctx)
			return err
		}, want: upd.with(TenantAssigned).tried("B")},
		{name: "update Set tenant_id to the bound tenant", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewUpdate().Model((*Invoice)(nil)).Set("tenant_id = ?", tenantA).Set("number = ?", "n").
				Where(ta, tenantA).Exec(ctx)
			return err
		}, want: upd},
		{name: "update Set tenant_id to itself", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewUpdate().Model((*Invoice)(nil)).Set("tenant_id = ?TableAlias.tenant_id").
				Where(ta, tenantA).Exec(ctx)
			return err
		}, want: upd},
		{name: "update Set tenant_id to an expression", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewUpdate().Model((*Invoice)(nil)).Set("tenant_id = lower(?)", tenantA).
				Where(ta, tenantA).Exec(ctx)
			return err
		}, want: upd.with(TenantAssigned)},
		{name: "update Value override", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewUpdate().Model(inv()).Value("tenant_id", "?", "B").WherePK().Where(ta, tenantA).Exec(ctx)
			return err
		}, want: upd.with(TenantAssigned).tried("B")},
		{name: "update WhereOr", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewUpdate().Model(inv()).Where(ta, tenantA).WhereOr("?TableAlias.id = 2").Exec(ctx)
			return err
		}, want: upd.with(OrEscape)},
		{name: "bulk update", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewUpdate().Model(invs(tenantA, tenantA, tenantA)).Bulk().Where(ta, tenantA).Exec(ctx)
			return err
		}, want: upd},
		{name: "bulk update with a foreign tenant row", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewUpdate().Model(invs(tenantA, "B", tenantA)).Bulk().Where(ta, tenantA).Exec(ctx)
			return err
		}, want: upd.with(TenantAssigned).tried("B")},
		{name: "bulk update without predicate", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewUpdate().Model(invs(tenantA, tenantA)).Bulk().Exec(ctx)
			return err
		}, want: upd.with(MissingPredicate)},
		{name: "update from another tenant table", only: []string{"pg", "sqlite"}, run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewUpdate().Model((*Invoice)(nil)).TableExpr("customers AS c").Set("number = c.name").
				Where("c.id = invoice.customer_id").Where(ta, tenantA).Exec(ctx)
			return err
		}, want: want{kind: Update, op: "UPDATE", tables: []string{"invoices", "customers"}, code: MissingPredicate}},
		{name: "update from another tenant table with predicates", only: []string{"pg", "sqlite"}, run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewUpdate().Model((*Invoice)(nil)).TableExpr("customers AS c").Set("number = c.name").
				Where("c.id = invoice.customer_id").Where(ta, tenantA).Where("c.tenant_id = ?", tenantA).Exec(ctx)
			return err
		}, want: want{kind: Update, op: "UPDATE", tables: []string{"invoices", "customers"}}},

		// ---- DELETE
		{name: "force delete with alias predicate", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewDelete().Model(inv()).WherePK().Where(ta, tenantA).ForceDelete().Exec(ctx)
			return err
		}, want: del, per: map[string]want{
			// Without DeleteTableAlias (MariaDB, MySQL < 8.0.16) the table
			// has no alias, so "invoice".tenant_id does not qualify it.
			"mysql": del.with(MissingPredicate),
		}},
		{name: "force delete with table-name predicate", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewDelete().Model(inv()).WherePK().Where("?TableName.tenant_id = ?", tenantA).ForceDelete().Exec(ctx)
			return err
		}, want: del.with(MissingPredicate), per: map[string]want{"mysql": del}},
		{name: "delete without predicate", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewDelete().Model(inv()).WherePK().ForceDelete().Exec(ctx)
			return err
		}, want: del.with(MissingPredicate)},
		{name: "delete using another table", only: []string{"pg"}, run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewDelete().Model((*Invoice)(nil)).TableExpr("customers AS c").Where("c.id = invoice.customer_id").
				Where(ta, tenantA).ForceDelete().Exec(ctx)
			return err
		}, want: want{kind: Delete, op: "DELETE", tables: []string{"invoices", "customers"}, code: MissingPredicate}},
		{name: "soft delete", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewDelete().Model(inv()).WherePK().Where(ta, tenantA).Exec(ctx)
			return err
		}, want: upd},
		{name: "soft delete without predicate", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewDelete().Model(inv()).WherePK().Exec(ctx)
			return err
		}, want: upd.with(MissingPredicate)},

		// ---- INSERT
		{name: "insert one row", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(inv()).Exec(ctx)
			return err
		}, want: ins},
		{name: "insert rows", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(invs(tenantA, tenantA, tenantA)).Exec(ctx)
			return err
		}, want: ins},
		{name: "insert rows with a foreign tenant", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(invs(tenantA, "B", tenantA)).Exec(ctx)
			return err
		}, want: ins.with(TenantAssigned).tried("B")},
		{name: "insert without the tenant column", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(inv()).Column("id", "number").Exec(ctx)
			return err
		}, want: ins.with(TenantColumnMissing)},
		{name: "insert Value override", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(inv()).Value("tenant_id", "'B'").Exec(ctx)
			return err
		}, want: ins.with(TenantAssigned).tried("B")},
		{name: "insert Value expression", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(inv()).Value("tenant_id", "(SELECT 'A')").Exec(ctx)
			return err
		}, want: ins.with(TenantAssigned)},
		{name: "insert empty tenant", run: func(ctx context.Context, db *bun.DB) error {
			m := inv()
			m.TenantID = ""
			_, err := db.NewInsert().Model(m).Exec(ctx)
			return err
		}, want: ins.with(TenantAssigned)},
		{name: "insert ignore / on conflict do nothing", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(inv()).Ignore().Exec(ctx)
			return err
		}, want: ins},
		{name: "insert returning", only: []string{"pg", "sqlite"}, run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(inv()).Returning("id").Exec(ctx)
			return err
		}, want: ins},
		{name: "upsert DO UPDATE without WHERE", only: []string{"pg", "sqlite"}, run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(inv()).On("CONFLICT (id) DO UPDATE").Exec(ctx)
			return err
		}, want: ins.with(MissingPredicate)},
		{name: "upsert DO UPDATE with WHERE", only: []string{"pg", "sqlite"}, run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(inv()).On("CONFLICT (id) DO UPDATE").Where(ta, tenantA).Exec(ctx)
			return err
		}, want: ins},
		{name: "upsert DO UPDATE with WHERE under OR", only: []string{"pg", "sqlite"}, run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(inv()).On("CONFLICT (id) DO UPDATE").Where(ta, tenantA).WhereOr("invoice.id = 1").Exec(ctx)
			return err
		}, want: ins.with(OrEscape)},
		{name: "upsert DO UPDATE SET foreign tenant", only: []string{"pg", "sqlite"}, run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(inv()).On("CONFLICT (id) DO UPDATE").Set("tenant_id = ?", "B").
				Where(ta, tenantA).Exec(ctx)
			return err
		}, want: ins.with(TenantAssigned).tried("B")},
		{name: "on duplicate key update", only: []string{"mysql", "mysql8"}, run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(inv()).On("DUPLICATE KEY UPDATE").Exec(ctx)
			return err
		}, want: ins.with(DuplicateKeyUpdate)},
		{name: "replace into", only: []string{"mysql", "mysql8"}, run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(inv()).Replace().Exec(ctx)
			return err
		}, want: want{kind: Insert, op: "REPLACE", tables: []string{"invoices"}, code: Unverifiable}},
		{name: "insert select", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model((*Invoice)(nil)).Column("id", "tenant_id").
				TableExpr("(SELECT 1 AS id, 'A' AS tenant_id) AS src").Exec(ctx)
			return err
		}, want: ins.with(InsertSelect)},
		{name: "insert into non-tenant table", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewInsert().Model(&Currency{Code: "EUR", Name: "Euro"}).Exec(ctx)
			return err
		}, want: want{kind: Insert, op: "INSERT"}},

		// ---- other statements
		{name: "merge", only: []string{"pg"}, run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewMerge().Model(inv()).With("_data", db.NewValues(invs(tenantA))).Using("_data").
				On("invoice.id = _data.id").WhenUpdate("MATCHED", func(q *bun.UpdateQuery) *bun.UpdateQuery {
				return q.Set("number = _data.number")
			}).Exec(ctx)
			return err
		}, want: want{kind: Merge, op: "MERGE", tables: []string{"invoices"}, code: Unverifiable}},
		{name: "truncate", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewTruncateTable().Model((*Invoice)(nil)).Exec(ctx)
			return err
		}, want: want{kind: Truncate, op: "TRUNCATE", tables: []string{"invoices"}, code: Unverifiable},
			// SQLite has no TRUNCATE: bun renders DELETE FROM "invoices".
			per: map[string]want{"sqlite": del.with(MissingPredicate)}},
		{name: "drop table", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewDropTable().Model((*Invoice)(nil)).IfExists().Exec(ctx)
			return err
		}, want: ddl("DROP")},
		{name: "create table", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewCreateTable().Model((*Invoice)(nil)).IfNotExists().Exec(ctx)
			return err
		}, want: ddl("CREATE")},
		{name: "create index", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewCreateIndex().Model((*Invoice)(nil)).Index("invoices_number_idx").Column("number").Exec(ctx)
			return err
		}, want: ddl("CREATE")},
		{name: "add column", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewAddColumn().Model((*Invoice)(nil)).ColumnExpr("note VARCHAR(10)").Exec(ctx)
			return err
		}, want: ddl("ALTER")},
		{name: "create non-tenant table", run: func(ctx context.Context, db *bun.DB) error {
			_, err := db.NewCreateTable().Model((*Currency)(nil)).Exec(ctx)
			return err
		}, want: want{kind: DDL, op: "CREATE"}},
	}
}

func TestCorpus(t *testing.T) {
	for _, d := range corpusDBs() {
		g := New(d.dialect, corpusTables)
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
