package sqlguard

import (
	"context"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// corpusSelectCases: SELECT with and without the tenant predicate, under OR
// and in WhereGroup.
func corpusSelectCases() []corpusCase {
	inv, ta := corpusInvoice, corpusTenantWhere
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
	}
}

// corpusJoinCases: joins, JoinOn and relations.
func corpusJoinCases() []corpusCase {
	inv, ta := corpusInvoice, corpusTenantWhere
	return []corpusCase{
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
	}
}

// corpusBlockCases: subqueries, CTEs, UNION, derived tables, Count/Exists,
// clauses, comments, smuggling values and raw queries.
func corpusBlockCases() []corpusCase {
	ta := corpusTenantWhere
	return []corpusCase{
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
	}
}
