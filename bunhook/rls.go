package bunhook

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/bunhook/posture"
)

// RLSPolicySQL returns the PostgreSQL statements that make row-level security
// the database's own backstop for a tenant-owned table (layer 4): rows are
// visible and writable only when their tenant column equals the app.tenant_id
// setting that the connector maintains, and with no tenant set no row is.
//
// RLS does not apply to superusers or, without FORCE, to the table owner: run
// the application as a separate role, and revoke TRUNCATE from it (TRUNCATE
// ignores RLS). posture.RoleSQL makes both roles; [Posture] checks the
// result.
func RLSPolicySQL(table, column string) []string {
	return posture.RLSSQL(table, column, RLSSetting)
}

// EnableRLS runs RLSPolicySQL for every registered tenant-owned table of db.
// It is DDL, so ctx must carry a scope.WithBypass.
func EnableRLS(ctx context.Context, db bun.IDB, e *Enforcer) error {
	for table, column := range e.Tables() {
		for _, stmt := range RLSPolicySQL(table, column) {
			//tenantshield:ignore rawsql DDL built by RLSPolicySQL from quoted identifiers; EnableRLS documents that ctx carries a scope.WithBypass
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("bunhook.EnableRLS on %s: %w", table, err)
			}
		}
	}
	return nil
}
