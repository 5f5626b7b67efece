package bunhook_test

import (
	"database/sql"
	"testing"

	"github.com/uptrace/bun"
)

// TestSoftDeleteOnEveryDialect is the reduced reproduction of a failure that
// TestRandomizedIsolation found (seed 1, mysql, step 6:
// Delete((*Item)(nil)).Where(id IN ...) under tenant C): on MariaDB every
// soft delete of a tenant-owned model was blocked, because the tenant
// predicate was qualified with the table name (MariaDB's DELETE has no alias)
// while bun renders a soft delete as an UPDATE that does have one.
func TestSoftDeleteOnEveryDialect(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		ids := td.seed(t) // item i belongs to the tenant of invoice i
		a, b := ids["A"], ids["B"]
		ctx := tenantCtx(t, "A")
		deletedAt := func(id int64) string {
			return td.rawString(t, "SELECT CASE WHEN deleted_at IS NULL THEN 'live' ELSE 'deleted' END FROM items WHERE id = ?", id)
		}
		affected := func(what string, res sql.Result, err error, want int64) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if n, _ := res.RowsAffected(); n != want {
				t.Fatalf("%s affected %d rows, want %d", what, n, want)
			}
		}
		res, err := td.db.NewDelete().Model((*Item)(nil)).Where("id IN (?)", bun.List([]int64{a[0], b[0]})).Exec(ctx)
		affected("soft delete of A's and B's item under A", res, err, 1)
		res, err = td.db.NewDelete().Model(&Item{ID: a[1]}).WherePK().Exec(ctx)
		affected("soft delete of A's item by primary key", res, err, 1)
		res, err = td.db.NewDelete().Model(&Item{ID: b[1]}).WherePK().Exec(ctx)
		affected("soft delete of B's item by primary key under A", res, err, 0)
		for id, want := range map[int64]string{a[0]: "deleted", a[1]: "deleted", a[2]: "live", b[0]: "live", b[1]: "live", b[2]: "live"} {
			if got := deletedAt(id); got != want {
				t.Fatalf("item %d is %s, want %s", id, got, want)
			}
		}
		res, err = td.db.NewDelete().Model((*Item)(nil)).Where("id IN (?)", bun.List([]int64{a[0], a[1], b[0], b[1]})).ForceDelete().Exec(ctx)
		affected("force delete under A", res, err, 2)
		tenants := td.tenantsOf(t, "items")
		if _, ok := tenants[a[0]]; ok || len(tenants) != 4 {
			t.Fatalf("after the force delete: %v, want A's soft-deleted items gone and the rest kept", tenants)
		}
	})
}
