package scope_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
)

// waitTimeout bounds every wait of these tests; it is generous because the
// race detector on a shared 2-core machine is slow, and no test asserts it.
const waitTimeout = 30 * time.Second

// detachInputs are the contexts Detach and Go are given: one bound, and the
// ones they must refuse.
func detachInputs() []struct {
	name    string
	ctx     func() context.Context
	wantErr error
} {
	return []struct {
		name    string
		ctx     func() context.Context
		wantErr error
	}{
		{name: "bound", ctx: func() context.Context { return scope.NewContext(context.Background(), acme) }},
		{name: "none bound", ctx: context.Background, wantErr: scope.ErrNoTenant},
		{name: "conflict", wantErr: scope.ErrTenantConflict, ctx: func() context.Context {
			return scope.NewContext(scope.NewContext(context.Background(), acme), globex)
		}},
		{name: "bypass without tenant", wantErr: scope.ErrNoTenant, ctx: func() context.Context {
			ctx, _ := scope.WithBypass(context.Background(), "nightly report")
			return ctx
		}},
	}
}

func TestDetach(t *testing.T) {
	t.Parallel()
	for _, tc := range detachInputs() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parent, cancel := context.WithTimeout(tc.ctx(), time.Hour)
			detached, err := scope.Detach(parent)
			cancel()
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Detach: err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if parent.Err() == nil {
				t.Fatal("the parent should be cancelled")
			}
			if err := detached.Err(); err != nil {
				t.Fatalf("the detached context followed the parent's cancellation: %v", err)
			}
			if _, ok := detached.Deadline(); ok {
				t.Fatal("the detached context kept the parent's deadline")
			}
			if got, err := scope.Require(detached); err != nil || got != acme {
				t.Fatalf("detached tenant = %q, %v; want acme", got, err)
			}
		})
	}
}

func TestGo(t *testing.T) {
	t.Parallel()
	for _, tc := range detachInputs() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, false, true)
			parent, cancel := context.WithCancel(tc.ctx())
			started := make(chan struct{})
			observed := make(chan scope.Tenant, 1)
			parentErr := make(chan error, 1)
			workErr := errors.New("the work failed")
			err := h.binder.Go(parent, func(ctx context.Context) error {
				<-started // the request has ended by now
				got, _ := scope.FromContext(ctx)
				observed <- got
				parentErr <- ctx.Err()
				return workErr
			})
			cancel()
			close(started)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Go: err = %v, want %v", err, tc.wantErr)
				}
				select {
				case got := <-observed:
					t.Fatalf("fn ran (tenant %q) although Go refused", got)
				case <-time.After(50 * time.Millisecond):
				}
				if n := h.sink.Len(); n != 0 {
					t.Fatalf("a refused Go emitted %d audit events", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-observed:
				if got != acme {
					t.Fatalf("fn observed tenant %q, want acme", got)
				}
			case <-time.After(waitTimeout):
				t.Fatal("fn did not run")
			}
			if err := <-parentErr; err != nil {
				t.Fatalf("fn's context was cancelled with the request: %v", err)
			}
			// CONTEXT_RELEASED is emitted after fn returns: wait for it.
			deadline := time.Now().Add(waitTimeout)
			for len(h.sink.Events(auditlog.ContextReleased)) == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			want := []auditlog.Type{auditlog.ContextBound, auditlog.ContextReleased}
			if got := h.auditTypes(); !slices.Equal(got, want) {
				t.Fatalf("audit = %v, want %v", got, want)
			}
			rel := h.sink.Events(auditlog.ContextReleased)[0]
			if rel.Tenant != "acme" || rel.Outcome != auditlog.OutcomeFailure || rel.Reason != workErr.Error() {
				t.Fatalf("CONTEXT_RELEASED = %+v", rel)
			}
		})
	}
}
