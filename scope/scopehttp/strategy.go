package scopehttp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/internal/resolve"
)

// Strategy resolves the tenant a request is for.
//
// Resolve has three outcomes:
//   - a tenant and a nil error: the strategy applies and names that tenant;
//   - [ErrNotApplicable]: the strategy's source is absent from the request
//     (the next strategy of a [Chain] is tried);
//   - any other error: the source is present but unusable, and the request is
//     refused. The strategies of this package return a [*StrategyError] or a
//     [*ConflictError].
//
// Resolve must be safe for concurrent use, must not modify r and must not keep
// it after returning.
type Strategy interface {
	Resolve(r *http.Request) (scope.Tenant, error)
}

// Authenticator is implemented by strategies that resolve the tenant from
// credentials (the bearer token strategy, and a [Chain] containing it). When
// the configured strategy is an Authenticator with a non-empty scheme and a
// request names no tenant, the middleware answers 401 with a WWW-Authenticate
// challenge for that scheme instead of 400.
type Authenticator interface {
	// AuthScheme returns the authentication scheme, e.g. "Bearer", or "".
	AuthScheme() string
}

// StrategyFunc adapts a function to [Strategy]. A zero Tenant with a nil
// error is treated as [ErrNotApplicable].
//
// To choose how a failure is answered, return an error that matches
// [ErrMissingTenant] (400, or 401 with an [Authenticator]), [ErrInvalidToken]
// (401) or [scope.ErrInvalidTenant] (400; a [*scope.InvalidTenantError] from
// [scope.Validator.Parse] gives the most useful detail), or a
// [*StrategyError] whose Reason is safe to show. Any other error is answered
// 400 invalid-tenant with a generic detail, never with its message; use
// [WithRejectionHandler] for another mapping (for example 503 when a tenant
// lookup is unavailable).
type StrategyFunc func(r *http.Request) (scope.Tenant, error)

// Resolve calls f.
func (f StrategyFunc) Resolve(r *http.Request) (scope.Tenant, error) {
	t, err := f(r)
	if err == nil && t.IsZero() {
		return scope.Tenant{}, ErrNotApplicable
	}
	return t, err
}

// String names the strategy in messages.
func (f StrategyFunc) String() string { return "func" }

// Chain combines strategies, built by [NewChain] or [NewConsistentChain].
type Chain struct {
	strategies []Strategy
	names      []string
	consistent bool
}

// NewChain returns a strategy that tries strategies in order: the first one
// that applies wins. A strategy that applies but fails ends the chain with its
// error: a bad credential never falls through to a weaker source.
//
// Order matters: put an authenticated source (a bearer token) before a
// client-chosen one (a header), or use [NewConsistentChain] so that they must
// agree. It panics if a strategy is nil.
func NewChain(strategies ...Strategy) *Chain { return newChain(false, strategies) }

// NewConsistentChain returns a strategy that consults every strategy, and
// requires all those that apply to name the same tenant: when two disagree,
// for example a header and a bearer token, it returns a [*ConflictError]
// (matching [scope.ErrTenantConflict]). Any strategy that applies but fails
// ends the chain with its error. It panics if a strategy is nil.
func NewConsistentChain(strategies ...Strategy) *Chain { return newChain(true, strategies) }

func newChain(consistent bool, strategies []Strategy) *Chain {
	c := &Chain{strategies: append([]Strategy(nil), strategies...), consistent: consistent}
	c.names = make([]string, len(strategies))
	for i, s := range strategies {
		if s == nil {
			panic(fmt.Sprintf("scopehttp: strategy %d of the chain is nil", i))
		}
		c.names[i] = describe(s)
	}
	return c
}

// SubjectResolver is implemented by strategies that authenticate an end
// user as they resolve the tenant ([JWTStrategy], and a [Chain]): the
// middleware names that subject as the actor of the request's audit
// records (enduser.id).
type SubjectResolver interface {
	ResolveSubject(r *http.Request) (scope.Tenant, string, error)
}

// resolveSubject resolves r with s, and the subject when s knows one.
func resolveSubject(s Strategy, r *http.Request) (scope.Tenant, string, error) {
	if sr, ok := s.(SubjectResolver); ok {
		return sr.ResolveSubject(r)
	}
	t, err := s.Resolve(r)
	return t, "", err
}

// Resolve applies the chain to r.
func (c *Chain) Resolve(r *http.Request) (scope.Tenant, error) {
	t, _, err := c.ResolveSubject(r)
	return t, err
}

// ResolveSubject applies the chain to r and returns, with the tenant, the
// subject of the strategy that resolved it (the first one that knows a
// subject, in a consistent chain).
func (c *Chain) ResolveSubject(r *http.Request) (scope.Tenant, string, error) {
	t, sub, err := resolve.Chain(c.consistent, len(c.strategies), ErrNotApplicable, func(i int) (scope.Tenant, string, error) {
		return resolveSubject(c.strategies[i], r)
	})
	var rc *resolve.Conflict
	if errors.As(err, &rc) {
		return scope.Tenant{}, "", &ConflictError{First: rc.First, Second: rc.Second, FirstSource: c.names[rc.FirstIndex], SecondSource: c.names[rc.SecondIndex]}
	}
	if errors.Is(err, resolve.ErrNotApplicable) {
		return scope.Tenant{}, "", ErrNotApplicable
	}
	return t, sub, err
}

// AuthScheme returns the scheme of the first strategy of the chain that is an
// [Authenticator] with a non-empty scheme, or "".
func (c *Chain) AuthScheme() string {
	for _, s := range c.strategies {
		if scheme := authScheme(s); scheme != "" {
			return scheme
		}
	}
	return ""
}

// String lists the chain's strategies.
func (c *Chain) String() string { return strings.Join(c.names, ", ") }

func authScheme(s Strategy) string {
	if a, ok := s.(Authenticator); ok {
		return a.AuthScheme()
	}
	return ""
}

// describe names a strategy in messages: its String method, or its type.
func describe(s Strategy) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s)
}
