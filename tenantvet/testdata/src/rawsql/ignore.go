package rawsql

import (
	"context"

	"github.com/uptrace/bun"
)

func silenced(ctx context.Context, db *bun.DB) {
	//tenantshield:ignore rawsql the migration tool runs this under its own bypass
	_, _ = db.ExecContext(ctx, "ALTER TABLE invoices ADD COLUMN x int")
	_, _ = db.ExecContext(ctx, "ALTER TABLE orders ADD COLUMN x int") //tenantshield:ignore rawsql same line: migration
}

func notSilenced(ctx context.Context, db *bun.DB) {
	//tenantshield:ignore rawsql
	_, _ = db.ExecContext(ctx, "DELETE FROM invoices") // want `rawsql: ExecContext names tenant table invoices`
	//tenantshield:ignore rawsql // TODO
	_, _ = db.ExecContext(ctx, "DELETE FROM invoices") // want `rawsql: ExecContext names tenant table invoices`
	//tenantshield:ignore bypassreason the wrong check for this line
	_, _ = db.ExecContext(ctx, "DELETE FROM orders") // want `rawsql: ExecContext names tenant table orders`
	//tenantshield:ignore rawsql two lines above does not count

	_, _ = db.ExecContext(ctx, "DELETE FROM invoices") // want `rawsql: ExecContext names tenant table invoices`
	//tenantshield:ignorerawsql not a directive: no space
	_, _ = db.ExecContext(ctx, "DELETE FROM invoices") // want `rawsql: ExecContext names tenant table invoices`
}
