package scopehttp_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

// The middleware resolves the tenant, binds it for the handler, and refuses
// requests without a valid one with a problem+json body. Every refusal is
// audited.
func ExampleNew() {
	// A private bus with an in-memory sink; a service would register its sinks
	// on auditlog.Default() and keep the default binder.
	mem := auditlog.NewMemorySink()
	bus := auditlog.NewBus()
	bus.Register(mem)
	binder := scope.NewBinder(scope.WithAuditBus(bus))

	header, err := scopehttp.NewHeaderStrategy(scopehttp.HeaderConfig{}) // X-Tenant-Id
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := scope.Require(r.Context()) // bunhook queries see the same tenant
		fmt.Fprintln(w, "orders of", t)
	})
	handler := scopehttp.New(header, scopehttp.WithBinder(binder)).Wrap(app)

	for _, id := range []string{"acme", "acme\u202e", ""} {
		req := httptest.NewRequest(http.MethodGet, "/orders", nil)
		if id != "" {
			req.Header.Set("X-Tenant-Id", id)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			fmt.Print(rec.Code, " ", rec.Body.String())
			continue
		}
		var p scopehttp.Problem
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		fmt.Println(rec.Code, rec.Header().Get("Content-Type"), p.Type)
		fmt.Println("  ", p.Detail)
	}
	for _, e := range mem.Events() {
		fmt.Printf("%s %s %s tenant=%s attempted=%s\n", e.Type, e.Operation, e.Outcome, e.Tenant, e.AttemptedTenant)
	}
	// Output:
	// 200 orders of acme
	// 400 application/problem+json https://tenantshield.dev/problems/invalid-tenant
	//    the tenant id "acme\u202e" from header X-Tenant-Id is invalid: it contains an invisible format character '\u202e' at byte 4
	// 400 application/problem+json https://tenantshield.dev/problems/missing-tenant
	//    the request names no tenant (looked at: header X-Tenant-Id)
	// CONTEXT_BOUND bind success tenant=acme attempted=
	// CONTEXT_RELEASED release success tenant=acme attempted=
	// POLICY_DENY http.request denied tenant= attempted="acme\u202e"
	// POLICY_DENY http.request denied tenant= attempted=
}

// Subdomains of the base domains name tenants; reserved labels, bare base
// domains and IP addresses do not apply.
func ExampleNewHostStrategy() {
	host, err := scopehttp.NewHostStrategy(scopehttp.HostConfig{BaseDomains: []string{"example.com"}})
	if err != nil {
		panic(err)
	}
	for _, h := range []string{"Acme.example.com:8443", "www.example.com", "10.0.0.1", "a.b.example.com"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Host = h
		t, err := host.Resolve(r)
		switch {
		case errors.Is(err, scopehttp.ErrNotApplicable):
			fmt.Println(h, "-> does not apply")
		case err != nil:
			fmt.Println(h, "->", err)
		default:
			fmt.Println(h, "->", t)
		}
	}
	// Output:
	// Acme.example.com:8443 -> acme
	// www.example.com -> does not apply
	// 10.0.0.1 -> does not apply
	// a.b.example.com -> scopehttp: host: the host has more than one label below the base domain example.com; expected <tenant>.example.com
}

// A consistent chain takes the tenant from a header or a bearer token, and
// refuses a request where they disagree.
func ExampleNewConsistentChain() {
	key := []byte("a 32-byte secret for the example")
	token, err := scopehttp.NewJWTStrategy(scopehttp.JWTConfig{
		Algorithms: []string{"HS256"},
		Keys:       []any{key},
		Issuer:     "https://login.example.com",
		Audience:   []string{"orders-api"},
		Leeway:     30 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	header, err := scopehttp.NewHeaderStrategy(scopehttp.HeaderConfig{})
	if err != nil {
		panic(err)
	}
	handler := scopehttp.New(scopehttp.NewConsistentChain(token, header), scopehttp.WithBinder(scope.NewBinder())).
		Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t, _ := scope.Require(r.Context())
			fmt.Fprint(w, t)
		}))

	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "https://login.example.com", "aud": "orders-api",
		"exp": time.Now().Add(time.Hour).Unix(), "tenant_id": "acme",
	}).SignedString(key)
	if err != nil {
		panic(err)
	}
	for _, h := range []map[string]string{
		{"Authorization": "Bearer " + signed},
		{"Authorization": "Bearer " + signed, "X-Tenant-Id": "globex"},
		{"Authorization": "Bearer forged"},
		{},
	} {
		req := httptest.NewRequest(http.MethodGet, "/orders", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			fmt.Println(rec.Code, rec.Body.String())
			continue
		}
		var p scopehttp.Problem
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		fmt.Printf("%d %s %q\n", rec.Code, p.Type, rec.Header().Get("WWW-Authenticate"))
	}
	// Output:
	// 200 acme
	// 400 https://tenantshield.dev/problems/tenant-conflict ""
	// 401 https://tenantshield.dev/problems/invalid-token "Bearer error=\"invalid_token\""
	// 401 https://tenantshield.dev/problems/missing-tenant "Bearer"
}
