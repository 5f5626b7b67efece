package scopehttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
	"github.com/tenantshield/tenantshield-go/scope/scopetoken"
)

// TestTransportKeepsTheTokenToItsHost: net/http calls the Transport again
// for each redirect hop; a redirect to another host gets no token, one to
// the same host does.
func TestTransportKeepsTheTokenToItsHost(t *testing.T) {
	got := map[string]string{}
	record := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { got[name] = r.Header.Get(scopetoken.HTTPHeader) }
	}
	foreign := httptest.NewServer(record("foreign"))
	defer foreign.Close()
	// The same listener under another host name is another host.
	foreignURL := strings.Replace(foreign.URL, "127.0.0.1", "localhost", 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/out", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, foreignURL+"/x", http.StatusFound) })
	mux.HandleFunc("/in", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/landing", http.StatusFound) })
	mux.HandleFunc("/landing", record("landing"))
	internal := httptest.NewServer(mux)
	defer internal.Close()

	kr, err := scopetoken.NewKeyring("k1", map[string][]byte{"k1": []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: scopehttp.NewTransport(nil, kr)}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled})
	ctx := scope.NewContext(trace.ContextWithSpanContext(context.Background(), sc), scope.MustParse("acme"))
	for _, path := range []string{"/out", "/in"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, internal.URL+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	if tok, ok := got["foreign"]; !ok || tok != "" {
		t.Fatalf("the foreign host got token %q (reached: %v)", tok, ok)
	}
	if got["landing"] == "" {
		t.Fatal("a same-host redirect lost the token")
	}
}

// TestBearerSchemeEndsAtWhiteSpace: a bearer token after a tab is a bearer
// token, and "Bearer<token>" is a malformed bearer credential: neither lets
// the next strategy of a chain decide the tenant.
func TestBearerSchemeEndsAtWhiteSpace(t *testing.T) {
	t.Parallel()
	chain := scopehttp.NewChain(mustJWT(t, hsConfig()), mustHeader(t, scopehttp.HeaderConfig{}))
	tok := hs(t, claims("acme", nil))
	for _, tc := range []struct {
		auth, want string
		invalid    bool
	}{
		{"Bearer " + tok, "acme", false},
		{"Bearer\t" + tok, "acme", false},
		{"bearer \t " + tok, "acme", false},
		{"Bearer" + tok, "", true},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", tc.auth)
		r.Header.Set("X-Tenant-Id", "globex")
		got, err := chain.Resolve(r)
		if tc.invalid {
			if !errors.Is(err, scopehttp.ErrInvalidToken) {
				t.Errorf("%q: %v, %v; want ErrInvalidToken", tc.auth[:8], got, err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("%q: %v, %v; want %s", tc.auth[:8], got, err, tc.want)
		}
	}
}
