package scope_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tenantshield/tenantshield-go/scope"
)

func TestNewContextAndFromContext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, ok := scope.FromContext(ctx); ok {
		t.Fatal("a bare context has a tenant")
	}
	if scope.NewContext(ctx, scope.Tenant{}) != ctx {
		t.Fatal("NewContext with a zero tenant must return ctx unchanged")
	}
	ctx = scope.NewContext(ctx, acme)
	if got, ok := scope.FromContext(ctx); !ok || got != acme {
		t.Fatalf("FromContext = %q, %v", got, ok)
	}
	if got, err := scope.Require(ctx); err != nil || got != acme {
		t.Fatalf("Require = %q, %v", got, err)
	}
	if scope.NewContext(ctx, acme) != ctx {
		t.Fatal("re-binding the same tenant must not change the context")
	}
}

func TestRequireWithoutTenant(t *testing.T) {
	t.Parallel()
	_, err := scope.Require(context.Background())
	if !errors.Is(err, scope.ErrNoTenant) {
		t.Fatalf("Require = %v, want ErrNoTenant", err)
	}
	for _, hint := range []string{"scope.Bind", "scope.Run", "scope.WithBypass"} {
		if !strings.Contains(err.Error(), hint) {
			t.Errorf("ErrNoTenant message %q does not say what to do (%s)", err, hint)
		}
	}
}

func TestRawNewContextOverAnotherTenantPoisons(t *testing.T) {
	t.Parallel()
	ctx := scope.NewContext(context.Background(), acme)
	poisoned := scope.NewContext(ctx, globex)

	if got, ok := scope.FromContext(poisoned); ok || !got.IsZero() {
		t.Fatalf("FromContext on a conflicting binding = %q, %v; want none (fail closed)", got, ok)
	}
	_, err := scope.Require(poisoned)
	var ce *scope.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, scope.ErrTenantConflict) {
		t.Fatalf("Require = %v, want a *ConflictError", err)
	}
	if ce.Bound != "acme" || ce.Requested != "globex" {
		t.Fatalf("ConflictError = %+v", ce)
	}
	if ce.ErrorType() != "tenant.conflict" || !strings.Contains(ce.Error(), "scope.Switch") {
		t.Fatalf("ConflictError %q / %q", ce.Error(), ce.ErrorType())
	}
	// Poison sticks: binding either tenant again does not clear it.
	for _, tn := range []scope.Tenant{acme, globex} {
		again := scope.NewContext(poisoned, tn)
		if _, ok := scope.FromContext(again); ok {
			t.Fatalf("NewContext(%s) cleared the conflict", tn)
		}
	}
	// The parent is untouched.
	if got, _ := scope.FromContext(ctx); got != acme {
		t.Fatal("the parent context changed")
	}
}

func TestBoundTenantIsInheritedByGoroutines(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, false)
	ctx, b, err := h.binder.Bind(context.Background(), acme)
	if err != nil {
		t.Fatal(err)
	}
	defer b.End(nil)
	ctx, cancel := context.WithCancel(ctx) // derived contexts keep it too
	defer cancel()
	got := make(chan scope.Tenant)
	go func() {
		tn, _ := scope.Require(ctx)
		got <- tn
	}()
	if tn := <-got; tn != acme {
		t.Fatalf("goroutine saw %q, want acme", tn)
	}
}

// TestConcurrentBindings: every goroutine binds its own tenant and only ever
// sees that one. Run with -race.
func TestConcurrentBindings(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	const goroutines, iterations = 64, 200
	root := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := scope.MustParse(fmt.Sprintf("tenant-%d", g))
			for i := 0; i < iterations; i++ {
				err := h.binder.Run(root, mine, func(ctx context.Context) error {
					inner := make(chan scope.Tenant, 1)
					if i%50 == 0 { // now and then, through a child goroutine too
						go func() { tn, _ := scope.FromContext(ctx); inner <- tn }()
					} else {
						tn, _ := scope.FromContext(ctx)
						inner <- tn
					}
					if tn := <-inner; tn != mine {
						return fmt.Errorf("goroutine %d saw %q", g, tn)
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	bound := h.sink.Events("CONTEXT_BOUND")
	if len(bound) != goroutines*iterations {
		t.Fatalf("%d CONTEXT_BOUND, want %d", len(bound), goroutines*iterations)
	}
	h.checkAllEnded(t)
	if n := len(h.sr.Ended()); n != goroutines*iterations {
		t.Fatalf("%d scope spans, want %d", n, goroutines*iterations)
	}
}

func TestFromContextAndRequireAllocateNothing(t *testing.T) {
	bound := scope.NewContext(context.Background(), acme)
	empty := context.Background()
	poisoned := scope.NewContext(bound, globex)
	for name, fn := range map[string]func(){
		"FromContext bound": func() { _, _ = scope.FromContext(bound) },
		"FromContext empty": func() { _, _ = scope.FromContext(empty) },
		"Require bound":     func() { _, _ = scope.Require(bound) },
		"Require empty":     func() { _, _ = scope.Require(empty) },
		"Require poisoned":  func() { _, _ = scope.Require(poisoned) },
		"BypassFromContext": func() { _, _ = scope.BypassFromContext(bound) },
	} {
		if n := testing.AllocsPerRun(200, fn); n != 0 {
			t.Errorf("%s: %v allocs, want 0", name, n)
		}
	}
}
