package scope

import (
	"context"
	"strconv"
)

// CacheKey returns key scoped to the tenant bound in ctx, for a cache shared
// by every tenant (Redis, memcached, an in-process map). A key without the
// tenant is a known way to leak: tenant A's cached invoice list answers
// tenant B's request. CacheKey fails, like [Require], when no tenant is
// bound ([ErrNoTenant]) or the binding is in conflict ([*ConflictError]):
// a bypass is not a tenant, so code under [WithBypass] that means to cache
// across tenants must name its keys itself.
//
// The result is "t" + the tenant id's length + ":" + the id + ":" + key.
// The length makes it unambiguous whatever the id and key hold (':' is a
// valid id character): two different (tenant, key) pairs never give the
// same string, and the tenant id is a prefix that a cache can also use to
// drop one tenant's entries ("t5:acme:*").
func CacheKey(ctx context.Context, key string) (string, error) {
	t, err := Require(ctx)
	if err != nil {
		return "", err
	}
	return "t" + strconv.Itoa(len(t.id)) + ":" + t.id + ":" + key, nil
}
