// Command bypasser declares bypasses at two sites and reports, for each,
// whether the bypass manifest given as its argument lists it, and how many
// reports the audit trail got.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
)

type job struct{}

// run declares its bypass in a method, over two lines.
func (job) run(ctx context.Context) *scope.Bypass {
	ctx, _ = scope.WithBypass(ctx,
		"nightly retention sweep")
	b, _ := scope.BypassFromContext(ctx)
	return b
}

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	sites, err := scope.ParseBypassSites(f)
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	scope.SetBypassSites(sites)
	sink := auditlog.NewMemorySink()
	auditlog.Register(sink)
	ctx, _ := scope.WithBypass(context.Background(), "schema migration")
	migration, _ := scope.BypassFromContext(ctx)
	sweep := job{}.run(context.Background())
	fmt.Printf("migration unlisted=%v\n", migration.Unlisted)
	fmt.Printf("sweep unlisted=%v\n", sweep.Unlisted)
	fmt.Printf("reports=%d\n", len(sink.Events(auditlog.EnforcementViolation)))
}
