package scopehttp

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopetoken"
)

// TokenStrategy resolves the tenant from a propagation token (header
// [scopetoken.HTTPHeader]) that another service signed with the
// [Transport] (or scopegrpc's client interceptors). Build it with
// [NewTokenStrategy].
//
// A request without the header does not apply; the header sent twice, or a
// token that [scopetoken.Keyring.Verify] refuses (forged, unknown key,
// expired, made for another trace, oversized, malformed), gives a
// [*StrategyError] matching [ErrInvalidToken] (401) whose Cause is the
// [*scopetoken.Error]. The trace is the one of the request context: extract
// the caller's traceparent before the middleware runs (otelhttp's handler
// does). A tenant in W3C baggage is never read.
type TokenStrategy struct {
	kr *scopetoken.Keyring
}

// NewTokenStrategy returns a propagation token strategy verifying with kr.
// It panics if kr is nil.
func NewTokenStrategy(kr *scopetoken.Keyring) *TokenStrategy {
	if kr == nil {
		panic("scopehttp: NewTokenStrategy called with a nil Keyring")
	}
	return &TokenStrategy{kr: kr}
}

// AuthScheme returns "TenantShield-Token": a request without a token is
// answered 401 with that challenge.
func (s *TokenStrategy) AuthScheme() string { return "TenantShield-Token" }

// String names the strategy in messages.
func (s *TokenStrategy) String() string { return "propagation token" }

// Resolve verifies the request's propagation token.
func (s *TokenStrategy) Resolve(r *http.Request) (scope.Tenant, error) {
	vals := r.Header[scopetoken.HTTPHeader]
	switch len(vals) {
	case 0:
		return scope.Tenant{}, ErrNotApplicable
	case 1:
	default:
		return scope.Tenant{}, &StrategyError{Strategy: "propagation token", Err: ErrInvalidToken, Challenge: "TenantShield-Token",
			Reason: "the propagation token was sent " + strconv.Itoa(len(vals)) + " times; send it once"}
	}
	t, err := s.kr.Verify(r.Context(), vals[0])
	if err != nil {
		se := &StrategyError{Strategy: "propagation token", Err: ErrInvalidToken, Cause: err, Challenge: "TenantShield-Token",
			Reason: "the propagation token is invalid"}
		var te *scopetoken.Error
		if errors.As(err, &te) {
			se.Reason = te.Reason
		}
		return scope.Tenant{}, se
	}
	return t, nil
}

// Transport is an http.RoundTripper that forwards the tenant bound in each
// request's context as a propagation token ([scopetoken.HTTPHeader]) signed
// for the current trace, so that a service with [NewTokenStrategy] binds the
// same tenant. Build it with [NewTransport].
type Transport struct {
	base http.RoundTripper
	kr   *scopetoken.Keyring
}

// NewTransport returns a Transport that signs with kr and sends through base
// (http.DefaultTransport when nil). Put it under the tracing transport
// (otelhttp.NewTransport(scopehttp.NewTransport(nil, kr))) so that the
// request context has the client span when it signs.
//
// A request without a tenant is sent unchanged. A request whose tenant
// cannot be forwarded fails without being sent: a binding in conflict, or no
// span context ([scopetoken.ErrNoTrace]). A token already on the request is
// replaced; the caller's request is not modified. It panics if kr is nil.
func NewTransport(base http.RoundTripper, kr *scopetoken.Keyring) *Transport {
	if kr == nil {
		panic("scopehttp: NewTransport called with a nil Keyring")
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{base: base, kr: kr}
}

// RoundTrip signs and sends r. A redirect to another host or scheme than
// the request's first hop is followed without a token: net/http calls
// RoundTrip again for every hop, and a token must not reach a host the
// caller did not address.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	tenant, err := scope.Require(r.Context())
	if errors.Is(err, scope.ErrNoTenant) {
		return t.base.RoundTrip(r)
	}
	if foreignHop(r) {
		r2 := r.Clone(r.Context())
		r2.Header.Del(scopetoken.HTTPHeader)
		return t.base.RoundTrip(r2)
	}
	if err == nil {
		var tok string
		if tok, err = t.kr.Sign(r.Context(), tenant); err == nil {
			r2 := r.Clone(r.Context())
			r2.Header.Set(scopetoken.HTTPHeader, tok)
			return t.base.RoundTrip(r2)
		}
	}
	if r.Body != nil {
		_ = r.Body.Close() // RoundTrip must close the body, even on errors
	}
	return nil, fmt.Errorf("scopehttp: the request's tenant cannot be forwarded: %w", err)
}

// foreignHop reports whether r is a redirect hop to another host or scheme
// than the first request of its chain.
func foreignHop(r *http.Request) bool {
	first := r
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	return first != r && (!strings.EqualFold(first.URL.Host, r.URL.Host) || first.URL.Scheme != r.URL.Scheme)
}
