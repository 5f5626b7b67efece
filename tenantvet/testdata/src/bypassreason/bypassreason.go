package bypassreason

import (
	"context"
	"fmt"

	"github.com/tenantshield/tenantshield-go/scope"
)

const migrationReason = "schema migration"

type reason string

func positives(ctx context.Context, job string, r reason) {
	_, _ = scope.WithBypass(ctx, job)                        // want `bypassreason: the reason given to scope.WithBypass is not a constant string`
	_, _ = scope.WithBypass(ctx, fmt.Sprintf("job %s", job)) // want `not a constant string`
	_, _ = scope.WithBypass(ctx, "nightly "+job)             // want `not a constant string`
	_, _ = scope.WithBypass(ctx, string(r))                  // want `not a constant string`
	_, _ = scope.WithBypass(ctx, "")                         // want `not a constant string`
	f := scope.WithBypass
	_, _ = f(ctx, job) // not followed through function values
}

func negatives(ctx context.Context) {
	_, _ = scope.WithBypass(ctx, "schema migration")
	_, _ = scope.WithBypass(ctx, migrationReason)
	_, _ = scope.WithBypass(ctx, "nightly "+migrationReason)
	_, _ = scope.WithBypass(ctx, string(reason("typed constant")))
	_, _ = scope.WithBypass(ctx, `raw string`)
	_ = withBypass(ctx, "x")
}

// withBypass is another function of the same name.
func withBypass(ctx context.Context, reason string) error { return nil }
