package scopegrpc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/internal/resolve"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
	"github.com/tenantshield/tenantshield-go/scope/scopetoken"
)

// Strategy resolves the tenant a call is for, from the incoming metadata of
// ctx (metadata.FromIncomingContext, metadata.ValueFromIncomingContext) and
// anything else the server context carries (grpc.Method, peer.FromContext).
//
// Resolve has three outcomes, as scopehttp's: a tenant; [ErrNotApplicable]
// when the strategy's source is absent; any other error when the source is
// present but unusable (the call is refused). It must be safe for concurrent
// use.
type Strategy interface {
	Resolve(ctx context.Context) (scope.Tenant, error)
}

// SubjectResolver is implemented by strategies that authenticate an end
// user as they resolve the tenant ([JWTStrategy], a [Chain]): the interceptor
// names that subject as the actor of the call's audit records.
type SubjectResolver interface {
	ResolveSubject(ctx context.Context) (scope.Tenant, string, error)
}

// Authenticator is implemented by strategies that resolve the tenant from
// credentials. When the configured strategy is one with a non-empty scheme
// and a call names no tenant, the interceptor answers Unauthenticated
// instead of InvalidArgument.
type Authenticator interface {
	AuthScheme() string
}

// StrategyFunc adapts a function to [Strategy]. A zero Tenant with a nil
// error is treated as [ErrNotApplicable]. Return errors matching
// [ErrMissingTenant], [ErrInvalidToken] or [scope.ErrInvalidTenant] to choose
// the status code; any other error is answered InvalidArgument with a
// generic message.
type StrategyFunc func(ctx context.Context) (scope.Tenant, error)

// Resolve calls f.
func (f StrategyFunc) Resolve(ctx context.Context) (scope.Tenant, error) {
	t, err := f(ctx)
	if err == nil && t.IsZero() {
		return scope.Tenant{}, ErrNotApplicable
	}
	return t, err
}

// String names the strategy in messages.
func (f StrategyFunc) String() string { return "func" }

// HeaderConfig configures [NewHeaderStrategy]: the same configuration as
// scopehttp's header strategy. The metadata key is the lower-case Name
// (default x-tenant-id).
type HeaderConfig = scopehttp.HeaderConfig

// JWTConfig configures [NewJWTStrategy]: the same configuration, and the same
// checks, as scopehttp's bearer token strategy.
type JWTConfig = scopehttp.JWTConfig

// HeaderStrategy resolves the tenant from a metadata key, with the rules of
// scopehttp.HeaderStrategy: absent does not apply; sent more than once, or
// invalid (including empty or oversized), is refused with a [*StrategyError]
// matching [scope.ErrInvalidTenant].
type HeaderStrategy struct {
	core resolve.Header
}

// NewHeaderStrategy returns a metadata strategy, or an error if cfg.Name is
// not usable as a gRPC metadata key (characters 0-9 a-z - _ . once lower
// cased, no "grpc-" prefix, no "-bin" suffix).
func NewHeaderStrategy(cfg HeaderConfig) (*HeaderStrategy, error) {
	name := cfg.Name
	if name == "" {
		name = scopehttp.DefaultHeader
	}
	f, err := resolve.NewField(name)
	if err != nil || !metadataKey(f.Lower) {
		return nil, fmt.Errorf("scopegrpc: %s is not usable as a gRPC metadata key", strconv.QuoteToASCII(name))
	}
	return &HeaderStrategy{core: resolve.Header{Field: f, Desc: "metadata " + f.Lower, V: cfg.Validator}}, nil
}

func metadataKey(k string) bool {
	if strings.HasPrefix(k, "grpc-") || strings.HasSuffix(k, "-bin") {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return k != ""
}

// Resolve returns the tenant named by the metadata key.
func (s *HeaderStrategy) Resolve(ctx context.Context) (scope.Tenant, error) {
	t, err := s.core.Parse(metadata.ValueFromIncomingContext(ctx, s.core.Field.Lower))
	return t, convert(err)
}

// String names the strategy, e.g. "metadata x-tenant-id".
func (s *HeaderStrategy) String() string { return s.core.Desc }

// JWTStrategy resolves the tenant from a claim of the bearer token in the
// "authorization" metadata key, with the checks of scopehttp.JWTStrategy.
type JWTStrategy struct {
	core *resolve.JWT
}

// NewJWTStrategy returns a bearer token strategy, or an error when cfg is
// unsafe or incomplete (see scopehttp.NewJWTStrategy).
func NewJWTStrategy(cfg JWTConfig) (*JWTStrategy, error) {
	core, err := resolve.NewJWT(resolve.JWTConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("scopegrpc: %w", err)
	}
	return &JWTStrategy{core: core}, nil
}

// AuthScheme returns "Bearer".
func (s *JWTStrategy) AuthScheme() string { return "Bearer" }

// String names the strategy in messages.
func (s *JWTStrategy) String() string { return "bearer token" }

// Resolve returns the tenant named by the bearer token's claim.
func (s *JWTStrategy) Resolve(ctx context.Context) (scope.Tenant, error) {
	t, _, err := s.ResolveSubject(ctx)
	return t, err
}

// ResolveSubject is Resolve that also returns the token's "sub" claim.
func (s *JWTStrategy) ResolveSubject(ctx context.Context) (scope.Tenant, string, error) {
	t, sub, err := s.core.Parse(metadata.ValueFromIncomingContext(ctx, "authorization"))
	return t, sub, convert(err)
}

// TokenStrategy resolves the tenant from a propagation token (metadata key
// [scopetoken.MetadataKey]) that another service signed with
// [UnaryClientInterceptor] or [StreamClientInterceptor]. Build it with
// [NewTokenStrategy].
//
// A call without the key does not apply; a key sent twice, or a token that
// [scopetoken.Keyring.Verify] refuses (forged, unknown key, expired, made
// for another trace, oversized, malformed) gives a [*StrategyError] matching
// [ErrInvalidToken] whose Cause is the [*scopetoken.Error]. The trace is the
// one of the server context: install otelgrpc's server stats handler (or
// another propagator) so that it is the caller's.
type TokenStrategy struct {
	kr *scopetoken.Keyring
}

// NewTokenStrategy returns a propagation token strategy verifying with kr.
// It panics if kr is nil.
func NewTokenStrategy(kr *scopetoken.Keyring) *TokenStrategy {
	if kr == nil {
		panic("scopegrpc: NewTokenStrategy called with a nil Keyring")
	}
	return &TokenStrategy{kr: kr}
}

// AuthScheme returns "TenantShield-Token": a call without a token is
// answered Unauthenticated.
func (s *TokenStrategy) AuthScheme() string { return "TenantShield-Token" }

// String names the strategy in messages.
func (s *TokenStrategy) String() string { return "propagation token" }

// Resolve verifies the call's propagation token.
func (s *TokenStrategy) Resolve(ctx context.Context) (scope.Tenant, error) {
	vals := metadata.ValueFromIncomingContext(ctx, scopetoken.MetadataKey)
	switch len(vals) {
	case 0:
		return scope.Tenant{}, ErrNotApplicable
	case 1:
	default:
		return scope.Tenant{}, &StrategyError{Strategy: "propagation token", Err: ErrInvalidToken,
			Reason: "the propagation token was sent " + strconv.Itoa(len(vals)) + " times; send it once"}
	}
	t, err := s.kr.Verify(ctx, vals[0])
	if err != nil {
		se := &StrategyError{Strategy: "propagation token", Err: ErrInvalidToken, Cause: err, Reason: "the propagation token is invalid"}
		var te *scopetoken.Error
		if errors.As(err, &te) {
			se.Reason = te.Reason
		}
		return scope.Tenant{}, se
	}
	return t, nil
}

// Chain combines strategies, built by [NewChain] or [NewConsistentChain].
type Chain struct {
	strategies []Strategy
	names      []string
	consistent bool
}

// NewChain returns a strategy that tries strategies in order: the first one
// that applies wins, and one that applies but fails ends the chain with its
// error (as scopehttp.NewChain). It panics if a strategy is nil.
func NewChain(strategies ...Strategy) *Chain { return newChain(false, strategies) }

// NewConsistentChain returns a strategy that consults every strategy and
// requires those that apply to name the same tenant, else a
// [*ConflictError] (as scopehttp.NewConsistentChain). It panics if a
// strategy is nil.
func NewConsistentChain(strategies ...Strategy) *Chain { return newChain(true, strategies) }

func newChain(consistent bool, strategies []Strategy) *Chain {
	c := &Chain{strategies: append([]Strategy(nil), strategies...), consistent: consistent}
	c.names = make([]string, len(strategies))
	for i, s := range strategies {
		if s == nil {
			panic(fmt.Sprintf("scopegrpc: strategy %d of the chain is nil", i))
		}
		c.names[i] = describe(s)
	}
	return c
}

// Resolve applies the chain.
func (c *Chain) Resolve(ctx context.Context) (scope.Tenant, error) {
	t, _, err := c.ResolveSubject(ctx)
	return t, err
}

// ResolveSubject applies the chain and returns, with the tenant, the subject
// of the strategy that resolved it.
func (c *Chain) ResolveSubject(ctx context.Context) (scope.Tenant, string, error) {
	t, sub, err := resolve.Chain(c.consistent, len(c.strategies), ErrNotApplicable, func(i int) (scope.Tenant, string, error) {
		return resolveSubject(ctx, c.strategies[i])
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

// AuthScheme returns the scheme of the first strategy that is an
// [Authenticator] with a non-empty scheme, or "".
func (c *Chain) AuthScheme() string {
	for _, s := range c.strategies {
		if a, ok := s.(Authenticator); ok && a.AuthScheme() != "" {
			return a.AuthScheme()
		}
	}
	return ""
}

// String lists the chain's strategies.
func (c *Chain) String() string { return strings.Join(c.names, ", ") }

func resolveSubject(ctx context.Context, s Strategy) (scope.Tenant, string, error) {
	if sr, ok := s.(SubjectResolver); ok {
		return sr.ResolveSubject(ctx)
	}
	t, err := s.Resolve(ctx)
	return t, "", err
}

func describe(s Strategy) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s)
}
