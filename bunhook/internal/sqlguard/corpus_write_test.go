package sqlguard

import (
	"context"

	"github.com/uptrace/bun"
)

// corpusUpdateCases: UPDATE, including soft delete and Bulk().
func corpusUpdateCases() []corpusCase {
	inv, invs, ta, upd := corpusInvoice, corpusInvoices, corpusTenantWhere, onInvoices(Update, "UPDATE")
	return []corpusCase{
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
	}
}

// corpusDeleteCases: DELETE.
func corpusDeleteCases() []corpusCase {
	inv, ta, upd, del := corpusInvoice, corpusTenantWhere, onInvoices(Update, "UPDATE"), onInvoices(Delete, "DELETE")
	return []corpusCase{
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
	}
}

// corpusInsertCases: INSERT, upserts and non-tenant inserts.
func corpusInsertCases() []corpusCase {
	inv, invs, ta, ins := corpusInvoice, corpusInvoices, corpusTenantWhere, onInvoices(Insert, "INSERT")
	return []corpusCase{
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
	}
}

// corpusOtherCases: MERGE, TRUNCATE and DDL.
func corpusOtherCases() []corpusCase {
	inv, invs, del, ddl := corpusInvoice, corpusInvoices, onInvoices(Delete, "DELETE"), ddlOnInvoices
	return []corpusCase{
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
