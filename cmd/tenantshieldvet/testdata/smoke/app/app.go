// Package app uses the models of package models, right and wrong.
package app

import (
	"context"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/uptrace/bun"

	"example.com/smoke/models"
)

// Leaks has one finding per line marked "want".
func Leaks(ctx context.Context, db *bun.DB, tx bun.Tx, conn bun.Conn, idb bun.IDB, job string) {
	var n int
	_ = db.NewRaw("SELECT count(*) FROM invoices").Scan(ctx, &n)                     // want rawsql
	_, _ = tx.ExecContext(ctx, "DELETE FROM orders WHERE tenant_id = ?", "x")        // want rawsql
	_, _ = conn.QueryContext(ctx, "SELECT * FROM invoices")                          // want rawsql
	_ = idb.QueryRowContext(ctx, "SELECT * FROM orders "+job)                        // want rawsql
	_ = db.NewSelect().TableExpr("invoices AS i").Scan(ctx, &n)                      // want rawsql
	_, _ = db.NewSelect().Model((*models.Invoice)(nil)).Count(context.Background())  // want backgroundctx
	_, _ = db.NewDelete().Model((*models.Order)(nil)).WherePK().Exec(context.TODO()) // want backgroundctx
	_, _ = scope.WithBypass(ctx, "job "+job)                                         // want bypassreason
	//tenantshield:ignore rawsql // want tenantignore
	_, _ = db.ExecContext(ctx, "TRUNCATE invoices") // want rawsql
}

// Fine has no finding.
func Fine(ctx context.Context, db *bun.DB, id string) error {
	var invs []models.Invoice
	if err := db.NewSelect().Model(&invs).Scan(ctx); err != nil {
		return err
	}
	var n int
	_ = db.NewRaw("SELECT count(*) FROM invoices WHERE tenant_id = ?", id).Scan(ctx, &n)
	_ = db.NewRaw("SELECT count(*) FROM currencies").Scan(context.Background(), &n)
	var cur []models.Currency
	_ = db.NewSelect().Model(&cur).Scan(context.Background())
	admin, err := scope.WithBypass(ctx, "nightly billing")
	if err != nil {
		return err
	}
	_, err = db.ExecContext(admin, "DELETE FROM invoices WHERE paid")
	//tenantshield:ignore rawsql migration DDL, the migration runner holds a bypass
	_, _ = db.ExecContext(ctx, "ALTER TABLE invoices ADD COLUMN note text")
	return err
}
