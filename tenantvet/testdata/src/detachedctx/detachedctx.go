package detachedctx

import (
	"context"
	"net/http"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/uptrace/bun"

	"models"
)

type key struct{}

func process(ctx context.Context, id int64) error { return nil }

func positives(ctx context.Context, db *bun.DB) {
	go process(context.Background(), 1) // want `detachedctx: goroutine started with context.Background\(\) while the enclosing function has a context`
	go process(context.TODO(), 2)       // want `goroutine started with context.TODO\(\)`
	go func() {
		_ = process(context.Background(), 3) // want `goroutine started with context.Background\(\)`
	}()
	go func() {
		c := context.WithValue(context.Background(), key{}, 1) // want `goroutine started with context.Background\(\)`
		_ = process(c, 4)
	}()
	go func(c context.Context) { _ = process(c, 5) }(context.Background()) // want `goroutine started with context.Background\(\)`
	go func() {
		defer func() { _ = recover() }()
		c := context.TODO() // want `goroutine started with context.TODO\(\)`
		_ = process(c, 6)
	}()
}

// An http handler has the request's context.
func handler(w http.ResponseWriter, r *http.Request) {
	go process(context.Background(), 7) // want `goroutine started with context.Background\(\)`
}

// A function literal inside a function with a context inherits it.
func nested(ctx context.Context) {
	run := func() {
		go process(context.Background(), 8) // want `goroutine started with context.Background\(\)`
	}
	run()
}

func negatives(ctx context.Context, db *bun.DB) {
	// The caller's context, or one that outlives the request but keeps its
	// values.
	go process(ctx, 1)
	go process(context.WithoutCancel(ctx), 2)
	go func(c context.Context) { _ = process(c, 3) }(ctx)
	go func() { _ = process(ctx, 4) }()
	// A tenant or a bypass bound explicitly in the goroutine.
	go func() {
		_ = scope.Run(context.Background(), scope.MustParse("acme"), func(c context.Context) error { return process(c, 5) })
	}()
	go func() {
		admin, _ := scope.WithBypass(context.Background(), "nightly cleanup")
		_ = process(admin, 6)
	}()
	go func() {
		_ = process(scope.NewContext(context.Background(), scope.MustParse("acme")), 7)
	}()
	// A bun query with a fresh context is backgroundctx's to report.
	go func() {
		var invs []models.Invoice
		_ = db.NewSelect().Model(&invs).Scan(context.Background())
	}()
	// Not a goroutine.
	_ = process(context.Background(), 8)
	// A deliberate detached goroutine, with a reason.
	go process(context.Background(), 9) //tenantshield:ignore detachedctx audit flush must outlive the request and reads no tenant table
}

// No context in scope: a worker started from main or init starts fresh.
func main() {
	go process(context.Background(), 1)
	go func() { _ = process(context.TODO(), 2) }()
}

// A nested go statement is reported once, at its own fresh context.
func once(ctx context.Context) {
	go func() {
		go process(context.Background(), 1) // want `goroutine started with context.Background\(\)`
	}()
}
