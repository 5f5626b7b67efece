package bunx

import (
	"testing"

	"github.com/uptrace/bun"
)

// TestPinned fails when the bun version in go.mod moved or renamed a field
// that the accessors read: enforcement would still fail closed, but scope
// less (joins, soft deletes) and block more.
func TestPinned(t *testing.T) {
	if missing := Pinned(); len(missing) > 0 {
		t.Fatalf("bun internals not found: %v; update package bunx for this bun version", missing)
	}
}

func TestHasOrOnNonQueries(t *testing.T) {
	if HasOr(nil) || HasOr(42) || HasOr(new(bun.InsertQuery)) {
		t.Fatal("HasOr of something without a WHERE reported an OR")
	}
}

func TestRewrapRefusesOtherTypes(t *testing.T) {
	for _, q := range []bun.Query{new(bun.SelectQuery), new(bun.RawQuery), nil} {
		if Rewrap(q, new(bun.SelectQuery)) != nil {
			t.Errorf("Rewrap(%T) built a wrapper", q)
		}
	}
}
