package rawsql

import (
	"context"
	"fmt"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/uptrace/bun"

	"models"
)

// Local is tenant-owned in this package.
type Local struct {
	bun.BaseModel `bun:"table:locals"`
	bunhook.TenantOwned
}

const byNumber = "SELECT * FROM invoices WHERE number = ?"

func positives(ctx context.Context, db *bun.DB, tx bun.Tx, conn bun.Conn, idb bun.IDB, table string) {
	var n int
	_ = db.NewRaw("SELECT count(*) FROM invoices").Scan(ctx, &n)                          // want `rawsql: NewRaw names tenant table invoices without a tenant_id = predicate; use a model query`
	_ = db.NewRaw(byNumber, 7).Scan(ctx, &n)                                              // want `NewRaw names tenant table invoices`
	_, _ = db.ExecContext(ctx, "DELETE FROM orders WHERE tenant_id = ?", 1)               // want `ExecContext names tenant table orders without a org_id = predicate`
	_, _ = tx.ExecContext(ctx, `UPDATE "invoices" SET paid = true`)                       // want `ExecContext names tenant table invoices`
	_, _ = conn.QueryContext(ctx, "SELECT * FROM customer_notes")                         // want `QueryContext names tenant table customer_notes`
	_ = idb.QueryRowContext(ctx, "SELECT name FROM people LIMIT 1")                       // want `QueryRowContext names tenant table people`
	_, _ = idb.QueryContext(ctx, "SELECT * FROM billing.line_items")                      // want `QueryContext names tenant table billing.line_items`
	_, _ = db.Exec("TRUNCATE locals")                                                     // want `Exec names tenant table locals`
	_, _ = tx.Exec("INSERT INTO invoices (tenant_id, id) VALUES (?, ?)")                  // want `Exec names tenant table invoices`
	_ = db.NewSelect().TableExpr("invoices AS i").Scan(ctx, &n)                           // want `TableExpr names tenant table invoices`
	_ = db.NewSelect().TableExpr("invoices AS i").Where("i.number = ?", 1).Scan(ctx, &n)  // want `TableExpr names tenant table invoices`
	_ = db.NewSelect().TableExpr("orders AS o").Where("o.tenant_id = ?", 1).Scan(ctx, &n) // want `TableExpr names tenant table orders without a org_id = predicate`
	_ = db.NewSelect().TableExpr("orders AS o").Where(byNumber).Scan(ctx, &n)             // want `TableExpr names tenant table orders`
	_ = db.NewSelect().Model(&models.Invoice{}).
		ColumnExpr("(SELECT count(*) FROM orders) AS n").Scan(ctx) // want `ColumnExpr names tenant table orders`
	_ = db.NewSelect().Model(&models.Invoice{}).ModelTableExpr("orders AS o").Scan(ctx)                                         // want `ModelTableExpr names tenant table orders`
	_ = tx.NewRaw("SELECT * FROM invoices JOIN orders ON orders.id = invoices.order_id WHERE invoices.tenant_id = ?").Scan(ctx) // want `NewRaw names tenant table orders without a org_id`

	_, _ = db.ExecContext(ctx, "DELETE FROM "+table)                // want `the SQL text of ExecContext is not a constant`
	_ = db.NewRaw(fmt.Sprintf("SELECT * FROM %s", table)).Scan(ctx) // want `the SQL text of NewRaw is not a constant`
	_ = db.NewSelect().ColumnExpr(table).Scan(ctx)                  // want `the SQL text of ColumnExpr is not a constant`
	notBypass, _ := scope.WithBypass(ctx, "report")
	notBypass = scope.NewContext(ctx, scope.MustParse("acme")) // reassigned: no longer known to be a bypass
	_ = db.NewRaw("SELECT * FROM invoices").Scan(notBypass)    // want `NewRaw names tenant table invoices`
}

// reassignedParam: the parameter holds the caller's context before the
// bypass is assigned to it.
func reassignedParam(ctx context.Context, db *bun.DB) {
	_ = db.NewRaw("SELECT * FROM invoices").Scan(ctx) // want `NewRaw names tenant table invoices`
	ctx, _ = scope.WithBypass(ctx, "export")
	_ = db.NewRaw("SELECT * FROM orders").Scan(ctx) // want `NewRaw names tenant table orders`
}

func negatives(ctx context.Context, db *bun.DB, tx bun.Tx, idb bun.IDB, id string) {
	var n int
	// Scoped by hand.
	_ = db.NewRaw("SELECT count(*) FROM invoices WHERE tenant_id = ?", id).Scan(ctx, &n)
	_ = db.NewRaw("SELECT count(*) FROM invoices AS i WHERE i.tenant_id=?", id).Scan(ctx, &n)
	_, _ = db.ExecContext(ctx, `DELETE FROM orders WHERE "org_id" = ?`, id)
	_ = idb.QueryRowContext(ctx, "SELECT name FROM people WHERE p.TENANT_ID = ?", id)
	_ = tx.NewRaw("SELECT * FROM invoices WHERE tenant_id = ?", id).Scan(ctx, &n)
	_, _ = db.Exec("DELETE FROM locals WHERE tenant_id = ?", id)
	_ = idb.QueryRowContext(ctx, "SELECT * FROM billing.line_items li WHERE li.tenant_id = ?", id)
	_, _ = idb.QueryContext(ctx, `SELECT * FROM "customer_notes" WHERE "tenant_id"= ?`, id)
	_ = db.NewSelect().Model(&models.Invoice{}).
		ColumnExpr("(SELECT count(*) FROM orders o WHERE o.org_id = inv.tenant_id) AS n").Scan(ctx, &n)
	// Shared and unknown tables, and words that only contain a table name.
	_ = db.NewRaw("SELECT * FROM my_invoices JOIN invoices_archive USING (id)").Scan(ctx, &n)
	_ = db.NewSelect().ColumnExpr("count(*) AS n").Scan(ctx, &n)
	_ = db.NewRaw("SELECT * FROM currencies").Scan(ctx, &n)
	_ = db.NewRaw("SELECT * FROM by_pointer, lookalikes, fields").Scan(ctx, &n)
	_ = db.NewRaw("SELECT invoices_count FROM stats ORDER BY 1").Scan(ctx, &n)
	_ = db.NewRaw("SELECT 1").Scan(ctx, &n)
	_ = db.NewSelect().Model(&models.Invoice{}).ColumnExpr("coalesce(sum(amount), 0)").Scan(ctx, &n)
	_ = db.NewSelect().ColumnExpr("count(DISTINCT p.?)", bun.Ident(id)).TableExpr("? AS p", bun.Ident(id)).Scan(ctx, &n)
	// A query builder's predicate in another clause of the chain.
	_ = db.NewSelect().TableExpr("invoices AS i").ColumnExpr("i.id").Where("i.tenant_id = ?", id).Scan(ctx, &n)
	_ = db.NewSelect().Where("o.org_id = ?", id).TableExpr("orders AS o").Scan(ctx, &n)
	// ModelTableExpr renaming the model's own table.
	_ = db.NewSelect().Model(&models.Invoice{}).ModelTableExpr("invoices AS inv").Scan(ctx)
	// Run under a declared bypass.
	admin, err := scope.WithBypass(ctx, "monthly report")
	if err != nil {
		return
	}
	_ = db.NewRaw("SELECT count(*) FROM invoices").Scan(admin, &n)
	_, _ = tx.ExecContext(admin, "DELETE FROM "+id)
	_, _ = db.ExecContext(admin, "TRUNCATE invoices")
	_ = idb.QueryRowContext(admin, "SELECT count(*) FROM orders")
	// Not raw SQL on a bun handle: Exec of a query, database/sql directly.
	_, _ = db.NewSelect().Model(&models.Invoice{}).Exec(ctx)
	_, _ = db.DB.ExecContext(ctx, "DELETE FROM invoices")
	_ = fmt.Sprint("SELECT * FROM invoices")
}
