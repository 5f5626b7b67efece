package scope_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
)

// Tenant identifiers are validated; the error says why one is rejected.
func ExampleParse() {
	t, err := scope.Parse("acme-42")
	fmt.Println(t, err)

	_, err = scope.Parse("acme\u202e")
	fmt.Println(errors.Is(err, scope.ErrInvalidTenant))
	fmt.Println(err)
	// Output:
	// acme-42 <nil>
	// true
	// tenantshield: invalid tenant id "acme\u202e": it contains an invisible format character '\u202e' at byte 4
}

// Run binds a tenant for a unit of work. With a sink registered, the binding,
// a refused conflicting binding and the release are audited.
func ExampleRun() {
	mem := auditlog.NewMemorySink()
	bus := auditlog.NewBus()
	bus.Register(mem)
	binder := scope.NewBinder(scope.WithAuditBus(bus)) // scope.Run uses the process-wide defaults

	acme := scope.MustParse("acme")
	err := binder.Run(context.Background(), acme, func(ctx context.Context) error {
		t, _ := scope.Require(ctx)
		fmt.Println("working for", t)
		_, _, err := binder.Bind(ctx, scope.MustParse("globex"))
		fmt.Println(err)
		return nil
	})
	fmt.Println("err:", err)

	for _, e := range mem.Events() {
		fmt.Println(e.Type, e.Tenant, e.Outcome)
	}
	// Output:
	// working for acme
	// tenantshield: tenant "acme" is already bound in this context; refusing to bind "globex" over it (start from a context without a tenant, or use scope.Switch with a reason)
	// err: <nil>
	// CONTEXT_BOUND acme success
	// ENFORCEMENT_VIOLATION acme blocked
	// CONTEXT_RELEASED acme success
}

// Without a bound tenant, Require fails closed and says what to do.
func ExampleRequire() {
	_, err := scope.Require(context.Background())
	fmt.Println(errors.Is(err, scope.ErrNoTenant))
	// Output:
	// true
}

// A bypass is explicit: it needs a reason and records where it was declared.
func ExampleWithBypass() {
	ctx, err := scope.WithBypass(context.Background(), "nightly billing run")
	if err != nil {
		panic(err)
	}
	b, _ := scope.BypassFromContext(ctx)
	fmt.Println(b.Reason, b.Line > 0)

	_, err = scope.WithBypass(context.Background(), " ")
	fmt.Println(errors.Is(err, scope.ErrInvalidBypass))
	// Output:
	// nightly billing run true
	// true
}

// A key for a cache shared by every tenant carries the bound tenant, and
// there is no key without one.
func ExampleCacheKey() {
	ctx := scope.NewContext(context.Background(), scope.MustParse("acme"))
	key, _ := scope.CacheKey(ctx, "invoices:list")
	fmt.Println(key)
	_, err := scope.CacheKey(context.Background(), "invoices:list")
	fmt.Println(errors.Is(err, scope.ErrNoTenant))
	// Output:
	// t4:acme:invoices:list
	// true
}

// Go carries the request's tenant into work that outlives the request, and
// refuses to start work for no tenant.
func ExampleGo() {
	acme := scope.MustParse("acme")
	request, cancel := context.WithCancel(scope.NewContext(context.Background(), acme))
	done := make(chan struct{})
	err := scope.Go(request, func(ctx context.Context) error {
		defer close(done)
		t, _ := scope.Require(ctx)
		fmt.Println("background work for", t, "cancelled:", ctx.Err() != nil)
		return nil
	})
	cancel() // the request ends; the work goes on
	if err != nil {
		fmt.Println(err)
	}
	<-done

	err = scope.Go(context.Background(), func(context.Context) error { return nil })
	fmt.Println(errors.Is(err, scope.ErrNoTenant))
	// Output:
	// background work for acme cancelled: false
	// true
}
