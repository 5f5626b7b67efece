package scope_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantshield/tenantshield-go/scope"
)

// splitCacheKey decodes a CacheKey result, proving the format unambiguous.
func splitCacheKey(s string) (tenant, key string, ok bool) {
	rest, ok := strings.CutPrefix(s, "t")
	if !ok {
		return "", "", false
	}
	n, rest, ok := strings.Cut(rest, ":")
	if !ok {
		return "", "", false
	}
	l, err := strconv.Atoi(n)
	if err != nil || l < 0 || l+1 > len(rest) || rest[l] != ':' {
		return "", "", false
	}
	return rest[:l], rest[l+1:], true
}

func TestCacheKey(t *testing.T) {
	bound := func(id string) context.Context {
		return scope.NewContext(context.Background(), scope.MustParse(id))
	}
	for _, tc := range []struct {
		tenant, key, want string
	}{
		{"acme", "invoices:list", "t4:acme:invoices:list"},
		{"a:b", "c", "t3:a:b:c"},
		{"a", "b:c", "t1:a:b:c"},
		{"acme", "", "t4:acme:"},
	} {
		got, err := scope.CacheKey(bound(tc.tenant), tc.key)
		if err != nil || got != tc.want {
			t.Errorf("CacheKey(%q, %q) = %q, %v; want %q", tc.tenant, tc.key, got, err, tc.want)
		}
	}
	if _, err := scope.CacheKey(context.Background(), "k"); !errors.Is(err, scope.ErrNoTenant) {
		t.Errorf("no tenant: err = %v, want ErrNoTenant", err)
	}
	admin, err := scope.WithBypass(context.Background(), "nightly report")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scope.CacheKey(admin, "k"); !errors.Is(err, scope.ErrNoTenant) {
		t.Errorf("bypass without a tenant: err = %v, want ErrNoTenant", err)
	}
	conflict := scope.NewContext(bound("a"), scope.MustParse("b"))
	var ce *scope.ConflictError
	if _, err := scope.CacheKey(conflict, "k"); !errors.As(err, &ce) {
		t.Errorf("conflict: err = %v, want *ConflictError", err)
	}
}

// FuzzCacheKey: the key decodes back to its tenant and key, so two
// different pairs never share a key.
func FuzzCacheKey(f *testing.F) {
	f.Add("acme", "invoices")
	f.Add("a:b", "c")
	f.Add("a", "b:c")
	f.Add("t1", "t1:x:")
	f.Fuzz(func(t *testing.T, id, key string) {
		tenant, err := scope.Parse(id)
		if err != nil {
			return
		}
		got, err := scope.CacheKey(scope.NewContext(context.Background(), tenant), key)
		if err != nil {
			t.Fatal(err)
		}
		gt, gk, ok := splitCacheKey(got)
		if !ok || gt != id || gk != key {
			t.Fatalf("CacheKey(%q, %q) = %q decodes to %q, %q, %v", id, key, got, gt, gk, ok)
		}
	})
}

func BenchmarkCacheKey(b *testing.B) {
	ctx := scope.NewContext(context.Background(), scope.MustParse("acme"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := scope.CacheKey(ctx, "invoices:list:page=1"); err != nil {
			b.Fatal(err)
		}
	}
}
