package backgroundctx

import (
	"context"

	"github.com/uptrace/bun"

	"models"
)

func silenced(db *bun.DB) {
	var invs []models.Invoice
	//tenantshield:ignore backgroundctx demonstrates ErrNoTenant
	_ = db.NewSelect().Model(&invs).Scan(context.Background())
}

func notSilenced(db *bun.DB) {
	var invs []models.Invoice
	//tenantshield:ignore backgroundctx
	_ = db.NewSelect().Model(&invs).Scan(context.Background()) // want `backgroundctx: Scan on tenant table invoices`
}
