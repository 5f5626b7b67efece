package scope_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tenantshield/tenantshield-go/scope"
)

func TestWithBypassRequiresAReason(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, reason := range []string{"", " ", "\t\n"} {
		got, err := scope.WithBypass(ctx, reason)
		if !errors.Is(err, scope.ErrInvalidBypass) {
			t.Fatalf("WithBypass(%q) = %v, want ErrInvalidBypass", reason, err)
		}
		if got != ctx {
			t.Fatal("a refused bypass must return ctx unchanged")
		}
		if _, ok := scope.BypassFromContext(got); ok {
			t.Fatal("a refused bypass is in the context")
		}
	}
}

func TestWithBypassRecordsTheCaller(t *testing.T) {
	t.Parallel()
	_, _, line, _ := runtime.Caller(0)
	ctx, err := scope.WithBypass(context.Background(), "nightly billing run") // line+1
	if err != nil {
		t.Fatal(err)
	}
	b, ok := scope.BypassFromContext(ctx)
	if !ok {
		t.Fatal("no bypass in the context")
	}
	if b.Reason != "nightly billing run" {
		t.Fatalf("Reason = %q", b.Reason)
	}
	if filepath.Base(b.File) != "bypass_test.go" || !filepath.IsAbs(b.File) {
		t.Fatalf("File = %q, want this test file", b.File)
	}
	if b.Line != line+1 {
		t.Fatalf("Line = %d, want %d", b.Line, line+1)
	}
	if !strings.HasSuffix(b.Function, "scope_test.TestWithBypassRecordsTheCaller") {
		t.Fatalf("Function = %q", b.Function)
	}

	// Inherited by derived contexts, and removed by WithoutBypass.
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	if _, ok := scope.BypassFromContext(child); !ok {
		t.Fatal("a derived context lost the bypass")
	}
	enforced := scope.WithoutBypass(child)
	if b, ok := scope.BypassFromContext(enforced); ok || b != nil {
		t.Fatalf("WithoutBypass left %+v", b)
	}
	if _, ok := scope.BypassFromContext(child); !ok {
		t.Fatal("WithoutBypass changed the parent")
	}
	plain := context.Background()
	if scope.WithoutBypass(plain) != plain {
		t.Fatal("WithoutBypass on a context without bypass must return it unchanged")
	}
	// A bypass declared again below WithoutBypass applies again.
	again, err := scope.WithBypass(enforced, "admin report")
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := scope.BypassFromContext(again); !ok || b.Reason != "admin report" {
		t.Fatal("re-declared bypass not visible")
	}
}

// helperDeclaringBypass checks that the location is the direct caller of
// WithBypass, not something deeper in scope.
func helperDeclaringBypass() (context.Context, int) {
	_, _, line, _ := runtime.Caller(0)
	ctx, _ := scope.WithBypass(context.Background(), "migration")
	return ctx, line + 1
}

func TestWithBypassCallerIsTheDirectCaller(t *testing.T) {
	t.Parallel()
	ctx, line := helperDeclaringBypass()
	b, _ := scope.BypassFromContext(ctx)
	if b.Line != line || !strings.HasSuffix(b.Function, "helperDeclaringBypass") {
		t.Fatalf("bypass at %s:%d in %s, want line %d in helperDeclaringBypass", b.File, b.Line, b.Function, line)
	}
}
