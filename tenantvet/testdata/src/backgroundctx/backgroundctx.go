package backgroundctx

import (
	"context"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/uptrace/bun"

	"models"
)

func positives(db *bun.DB, tx bun.Tx) {
	var invs []models.Invoice
	_ = db.NewSelect().Model(&invs).Scan(context.Background())                                       // want `backgroundctx: Scan on tenant table invoices runs with context.Background\(\), which carries no tenant`
	_, _ = db.NewSelect().Model((*models.Order)(nil)).Count(context.TODO())                          // want `Count on tenant table orders runs with context.TODO\(\)`
	_, _ = db.NewInsert().Model(&models.Invoice{}).Exec(context.Background())                        // want `Exec on tenant table invoices`
	_, _ = db.NewUpdate().Model(&invs).Set("paid = true").Where("id = 1").Exec(context.Background()) // want `Exec on tenant table invoices`
	_, _ = db.NewDelete().Model((*models.Person)(nil)).Where("id = 1").Exec(context.Background())    // want `Exec on tenant table people`
	_, _ = tx.NewSelect().Model((*models.CustomerNote)(nil)).Exists(context.Background())            // want `Exists on tenant table customer_notes`
	var inv models.Invoice
	_ = db.NewSelect().Where("id = 1").Scan(context.Background(), &inv) // want `Scan on tenant table invoices`
	_ = db.NewSelect().Table("orders").Scan(context.Background(), &inv) // want `Scan on tenant table orders`
	var alias []models.InvoiceAlias
	_ = db.NewSelect().Model(&alias).Scan((context.Background())) // want `Scan on tenant table invoices`
}

func negatives(ctx context.Context, db *bun.DB) error {
	var invs []models.Invoice
	// The request's context.
	_ = db.NewSelect().Model(&invs).Scan(ctx)
	// A bound tenant or a bypass.
	_ = db.NewSelect().Model(&invs).Scan(scope.NewContext(context.Background(), scope.MustParse("acme")))
	admin, _ := scope.WithBypass(context.Background(), "migration")
	_, _ = db.NewSelect().Model((*models.Invoice)(nil)).Count(admin)
	_ = scope.Run(context.Background(), scope.MustParse("acme"), func(ctx context.Context) error {
		return db.NewSelect().Model(&invs).Scan(ctx)
	})
	// Shared tables and models that are not tenant-owned.
	var cur []models.Currency
	_ = db.NewSelect().Model(&cur).Scan(context.Background())
	_ = db.NewSelect().Model(&[]models.ByPointer{}).Scan(context.Background())
	_ = db.NewSelect().Table("currencies").Scan(context.Background(), &cur)
	_, _ = db.NewSelect().Model((*models.Lookalike)(nil)).Count(context.Background())
	// Raw queries are rawsql's business.
	var n int
	_ = db.NewRaw("SELECT 1").Scan(context.Background(), &n)
	// A context variable is not followed, nor a query built in a variable.
	bg := context.Background()
	_ = db.NewSelect().Model(&invs).Scan(bg)
	q := db.NewSelect().Model(&invs)
	return q.Scan(context.Background())
}
