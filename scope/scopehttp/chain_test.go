package scopehttp_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

func TestChain(t *testing.T) {
	t.Parallel()
	header := mustHeader(t, scopehttp.HeaderConfig{})
	host := mustHost(t, scopehttp.HostConfig{BaseDomains: []string{"example.com"}})
	token := mustJWT(t, hsConfig())
	boom := errors.New("lookup failed")
	failing := scopehttp.StrategyFunc(func(*http.Request) (scope.Tenant, error) { return scope.Tenant{}, boom })
	zero := scopehttp.StrategyFunc(func(*http.Request) (scope.Tenant, error) { return scope.Tenant{}, nil })
	expired := hs(t, claims("acme", map[string]any{"exp": testNow.Add(-time.Hour).Unix()}))

	type req struct{ host, header, token string }
	tests := []struct {
		name  string
		chain *scopehttp.Chain
		req   req
		want  outcome
		is    error // for errors that are not *StrategyError
	}{
		{name: "first applies", chain: scopehttp.NewChain(header, host), req: req{host: "globex.example.com", header: "acme"}, want: outcome{tenant: "acme"}},
		{name: "falls through", chain: scopehttp.NewChain(header, host), req: req{host: "globex.example.com"}, want: outcome{tenant: "globex"}},
		{name: "none applies", chain: scopehttp.NewChain(header, host), req: req{host: "www.example.com"}, want: outcome{na: true}},
		{name: "empty chain", chain: scopehttp.NewChain(), want: outcome{na: true}},
		{name: "invalid stops the chain", chain: scopehttp.NewChain(header, host), req: req{host: "globex.example.com", header: "bad id"}, want: outcome{err: scope.ErrInvalidTenant, reason: "whitespace"}},
		{name: "bad token does not fall through", chain: scopehttp.NewChain(token, header), req: req{header: "acme", token: expired}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "expired"}},
		{name: "token first wins over header", chain: scopehttp.NewChain(token, header), req: req{header: "globex", token: hs(t, claims("acme", nil))}, want: outcome{tenant: "acme"}},
		{name: "zero tenant is not applicable", chain: scopehttp.NewChain(zero, header), req: req{header: "acme"}, want: outcome{tenant: "acme"}},
		{name: "func error stops the chain", chain: scopehttp.NewChain(failing, header), req: req{header: "acme"}, is: boom},
		{name: "consistent: agree", chain: scopehttp.NewConsistentChain(header, token), req: req{header: "acme", token: hs(t, claims("acme", nil))}, want: outcome{tenant: "acme"}},
		{name: "consistent: only header", chain: scopehttp.NewConsistentChain(header, token), req: req{header: "acme"}, want: outcome{tenant: "acme"}},
		{name: "consistent: only token", chain: scopehttp.NewConsistentChain(header, token), req: req{token: hs(t, claims("acme", nil))}, want: outcome{tenant: "acme"}},
		{name: "consistent: none", chain: scopehttp.NewConsistentChain(header, token), want: outcome{na: true}},
		{name: "consistent: disagree", chain: scopehttp.NewConsistentChain(header, token), req: req{header: "globex", token: hs(t, claims("acme", nil))}, is: scope.ErrTenantConflict},
		{name: "consistent: three sources, last disagrees", chain: scopehttp.NewConsistentChain(header, token, host), req: req{host: "globex.example.com", header: "acme", token: hs(t, claims("acme", nil))}, is: scope.ErrTenantConflict},
		{name: "consistent: bad token with good header", chain: scopehttp.NewConsistentChain(header, token), req: req{header: "acme", token: expired}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "expired"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Host = tt.req.host
			if tt.req.header != "" {
				r.Header.Set(scopehttp.DefaultHeader, tt.req.header)
			}
			if tt.req.token != "" {
				r.Header.Set("Authorization", "Bearer "+tt.req.token)
			}
			got, err := tt.chain.Resolve(r)
			if tt.is != nil {
				if !errors.Is(err, tt.is) || !got.IsZero() {
					t.Fatalf("got (%q, %v), want an error matching %v", got, err, tt.is)
				}
				return
			}
			checkOutcome(t, got, err, tt.want)
		})
	}
}

func TestConsistentChainConflictError(t *testing.T) {
	t.Parallel()
	c := scopehttp.NewConsistentChain(mustHeader(t, scopehttp.HeaderConfig{}), mustJWT(t, hsConfig()))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set(scopehttp.DefaultHeader, "globex")
	r.Header.Set("Authorization", "Bearer "+hs(t, claims("acme", nil)))
	_, err := c.Resolve(r)
	var ce *scopehttp.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *ConflictError", err, err)
	}
	if ce.First.String() != "globex" || ce.Second.String() != "acme" || ce.FirstSource != "header X-Tenant-Id" || ce.SecondSource != "bearer token" {
		t.Fatalf("conflict %+v", ce)
	}
	if ce.ErrorType() != "tenant.conflict" {
		t.Fatalf("ErrorType %q", ce.ErrorType())
	}
	want := `scopehttp: the request names two different tenants: "globex" (header X-Tenant-Id) and "acme" (bearer token)`
	if err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
}

func TestChainAuthScheme(t *testing.T) {
	t.Parallel()
	header := mustHeader(t, scopehttp.HeaderConfig{})
	token := mustJWT(t, hsConfig())
	if got := scopehttp.NewChain(header).AuthScheme(); got != "" {
		t.Errorf("header chain AuthScheme %q", got)
	}
	if got := scopehttp.NewChain(header, token).AuthScheme(); got != "Bearer" {
		t.Errorf("header+token chain AuthScheme %q", got)
	}
	if got := scopehttp.NewChain(scopehttp.NewChain(token)).AuthScheme(); got != "Bearer" {
		t.Errorf("nested chain AuthScheme %q", got)
	}
	if got := scopehttp.NewChain(header, token).String(); got != "header X-Tenant-Id, bearer token" {
		t.Errorf("String %q", got)
	}
}

func TestNewChainNilPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	scopehttp.NewChain(mustHeader(t, scopehttp.HeaderConfig{}), nil)
}

func TestSentinels(t *testing.T) {
	t.Parallel()
	if !errors.Is(scopehttp.ErrMissingTenant, scope.ErrNoTenant) || !errors.Is(scopehttp.ErrMissingTenant, scopehttp.ErrMissingTenant) {
		t.Fatal("ErrMissingTenant does not match scope.ErrNoTenant")
	}
	if errors.Is(scopehttp.ErrMissingTenant, scope.ErrInvalidTenant) || errors.Is(scopehttp.ErrInvalidToken, scopehttp.ErrMissingTenant) {
		t.Fatal("sentinels overlap")
	}
	if got := scopehttp.ErrMissingTenant.Error(); got != "scopehttp: the request names no tenant" {
		t.Fatalf("message %q", got)
	}
	se := &scopehttp.StatusError{Code: 502}
	if se.Error() != "scopehttp: the handler answered 502 Bad Gateway" || se.ErrorType() != "502" {
		t.Fatalf("StatusError %q %q", se, se.ErrorType())
	}
	// A StrategyError without a class or cause unwraps to nothing.
	if err := (&scopehttp.StrategyError{Strategy: "x", Reason: "y"}); errors.Is(err, scope.ErrInvalidTenant) || len(err.Unwrap()) != 0 {
		t.Fatal("empty StrategyError matches")
	}
}
