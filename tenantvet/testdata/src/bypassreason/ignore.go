package bypassreason

import (
	"context"

	"github.com/tenantshield/tenantshield-go/scope"
)

func silenced(ctx context.Context, job string) {
	//tenantshield:ignore bypassreason job names are a fixed set, see jobs.go
	_, _ = scope.WithBypass(ctx, job)
}

func notSilenced(ctx context.Context, job string) {
	//tenantshield:ignore bypassreason
	_, _ = scope.WithBypass(ctx, job) // want `bypassreason: the reason given`
	//tenantshield:ignore rawsql the wrong check
	_, _ = scope.WithBypass(ctx, job) // want `bypassreason: the reason given`
}
