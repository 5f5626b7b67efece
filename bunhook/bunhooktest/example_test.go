package bunhooktest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/bunhooktest"
	"github.com/tenantshield/tenantshield-go/bunhook/sqlitedb"
	"github.com/tenantshield/tenantshield-go/scope"
)

// Order is an application's tenant-owned model.
type Order struct {
	bun.BaseModel `bun:"table:orders,alias:o"`
	bunhook.TenantOwned
	ID       int64  `bun:",pk,autoincrement"`
	TenantID string `bun:",notnull"`
	Item     string `bun:",notnull"`
}

// An application proves its own model isolated: in its _test.go it calls
// Run with its *testing.T, its handle and a raw handle on the same file.
// (Here a recorder stands in for the *testing.T of a test.)
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "kit")
	defer os.RemoveAll(dir)
	dsn := "file:" + filepath.Join(dir, "app.db") + "?_pragma=busy_timeout(5000)"
	db, err := sqlitedb.Open(dsn, bunhook.WithModels((*Order)(nil)))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	admin, _ := scope.WithBypass(context.Background(), "schema")
	if _, err := db.NewCreateTable().Model((*Order)(nil)).Exec(admin); err != nil {
		panic(err)
	}

	var t testing.TB = &exampleTB{} // in a test: the test's t
	raw := bunhooktest.OpenRaw(t, sqliteshim.ShimName, dsn, sqlitedialect.New())
	report := bunhooktest.Run(t, db, raw, []bunhooktest.Model{
		bunhooktest.For(func(_ context.Context, n int) (*Order, error) {
			return &Order{Item: fmt.Sprintf("item %d", n)}, nil
		}),
	})
	fmt.Println("leaking classes:", report.LeakingClasses())
	// Output: leaking classes: []
}
