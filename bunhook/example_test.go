package bunhook_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/sqlitedb"
	"github.com/tenantshield/tenantshield-go/scope"
)

type Note struct {
	bun.BaseModel `bun:"table:notes,alias:note"`
	bunhook.TenantOwned
	ID       int64  `bun:",pk,autoincrement"`
	TenantID string `bun:",notnull"`
	Text     string
}

// A tenant reads only its own rows; another tenant's row is invisible, a
// cross-tenant write and a query without a tenant are refused.
func Example() {
	db, err := sqlitedb.Open("file:example?mode=memory&cache=shared", bunhook.WithModels((*Note)(nil)))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	admin, _ := scope.WithBypass(context.Background(), "create the schema")
	if _, err := db.NewCreateTable().Model((*Note)(nil)).Exec(admin); err != nil {
		panic(err)
	}
	acme := scope.NewContext(context.Background(), scope.MustParse("acme"))
	globex := scope.NewContext(context.Background(), scope.MustParse("globex"))
	_, _ = db.NewInsert().Model(&Note{Text: "acme's note"}).Exec(acme)
	secret := &Note{Text: "globex's note"}
	_, _ = db.NewInsert().Model(secret).Exec(globex)

	var notes []Note
	_ = db.NewSelect().Model(&notes).Scan(acme)
	fmt.Println("acme sees:", len(notes), notes[0].Text)

	err = db.NewSelect().Model(&Note{ID: secret.ID}).WherePK().Scan(acme)
	fmt.Println("acme reads globex's note by id:", err)

	_, err = db.NewInsert().Model(&Note{TenantID: "globex", Text: "planted"}).Exec(acme)
	fmt.Println("acme writes for globex:", errors.Is(err, scope.ErrCrossTenant))

	_, err = db.NewSelect().Model((*Note)(nil)).Count(context.Background())
	fmt.Println("no tenant bound:", errors.Is(err, scope.ErrNoTenant))
	// Output:
	// acme sees: 1 acme's note
	// acme reads globex's note by id: sql: no rows in result set
	// acme writes for globex: true
	// no tenant bound: true
}

type Plan struct {
	bun.BaseModel `bun:"table:plans"`
	ID            int64 `bun:",pk"`
	Name          string
}

// Under a tenant scope a statement may name only registered relations:
// tables without tenant rows are registered as shared; a view or any other
// unknown relation is refused, naming it.
func ExampleWithSharedModels() {
	db, err := sqlitedb.Open("file:example_shared?mode=memory&cache=shared",
		bunhook.WithModels((*Note)(nil)), bunhook.WithSharedModels((*Plan)(nil)))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	admin, _ := scope.WithBypass(context.Background(), "create the schema")
	for _, m := range []any{(*Note)(nil), (*Plan)(nil)} {
		if _, err := db.NewCreateTable().Model(m).Exec(admin); err != nil {
			panic(err)
		}
	}
	_, _ = db.NewInsert().Model(&Plan{ID: 1, Name: "pro"}).Exec(admin)
	_, _ = db.ExecContext(admin, "CREATE VIEW all_notes AS SELECT * FROM notes")

	acme := scope.NewContext(context.Background(), scope.MustParse("acme"))
	var plan Plan
	err = db.NewSelect().Model(&plan).Where("id = 1").Scan(acme)
	fmt.Println("shared plan:", plan.Name, err)

	_, err = db.NewRaw("SELECT * FROM all_notes").Exec(acme)
	fmt.Println("unregistered view:", errors.Is(err, scope.ErrUnscopedQuery))
	// Output:
	// shared plan: pro <nil>
	// unregistered view: true
}
