package scope_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
)

type blockingSink struct{}

func (blockingSink) Emit(context.Context, auditlog.Event) error { return errors.New("spool full") }
func (blockingSink) Blocking() bool                             { return true }

// TestBindRefusedWhenNotRecorded: in the blocking audit mode a binding that
// cannot be recorded does not start, and Run does not call its function.
func TestBindRefusedWhenNotRecorded(t *testing.T) {
	t.Parallel()
	bus := auditlog.NewBus(auditlog.WithErrorHandler(func(error) {}))
	bus.Register(blockingSink{})
	b := scope.NewBinder(scope.WithAuditBus(bus))
	_, _, err := b.Bind(context.Background(), scope.MustParse("acme"))
	if !errors.Is(err, auditlog.ErrNotRecorded) {
		t.Fatalf("Bind: %v, want ErrNotRecorded", err)
	}
	called := false
	err = b.Run(context.Background(), scope.MustParse("acme"), func(context.Context) error { called = true; return nil })
	if called || !errors.Is(err, auditlog.ErrNotRecorded) {
		t.Fatalf("Run: called %v, %v", called, err)
	}
}
