package scopehttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

// TestAuditRecordsNameTheRequest: every audit record made inside a request
// (the middleware's CONTEXT_BOUND and CONTEXT_RELEASED, and the handler's
// own) names the actor of a bearer token's sub, the client's address, the
// method and the route pattern; a header strategy has no actor.
func TestAuditRecordsNameTheRequest(t *testing.T) {
	t.Parallel()
	keys(t)
	cases := []struct {
		name      string
		strategy  func(t *testing.T) scopehttp.Strategy
		auth      func(t *testing.T, r *http.Request)
		wantActor string
	}{
		{"bearer token", func(t *testing.T) scopehttp.Strategy { return mustJWT(t, hsConfig()) },
			func(t *testing.T, r *http.Request) {
				r.Header.Set("Authorization", "Bearer "+hs(t, claims("acme", nil)))
			}, "user-1"},
		{"chain with the token second", func(t *testing.T) scopehttp.Strategy {
			return scopehttp.NewConsistentChain(mustHeader(t, scopehttp.HeaderConfig{}), mustJWT(t, hsConfig()))
		}, func(t *testing.T, r *http.Request) {
			r.Header.Set("X-Tenant-ID", "acme")
			r.Header.Set("Authorization", "Bearer "+hs(t, claims("acme", map[string]any{"sub": "user-7"})))
		}, "user-7"},
		{"header", func(t *testing.T) scopehttp.Strategy { return mustHeader(t, scopehttp.HeaderConfig{}) },
			func(t *testing.T, r *http.Request) { r.Header.Set("X-Tenant-ID", "acme") }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, false, true)
			mw := scopehttp.New(c.strategy(t), scopehttp.WithBinder(h.binder))
			mux := http.NewServeMux()
			mux.Handle("GET /orders/{id}", mw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tenant, _ := scope.FromContext(r.Context())
				h.bus.Emit(r.Context(), auditlog.Event{Type: auditlog.PolicyAllow, Tenant: tenant.String(), Operation: "read"})
			})))
			r := httptest.NewRequest(http.MethodGet, "/orders/42", nil)
			r.RemoteAddr = "198.51.100.7:51234"
			c.auth(t, r)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			evs := h.sink.Events()
			if len(evs) != 3 {
				t.Fatalf("want CONTEXT_BOUND, POLICY_ALLOW, CONTEXT_RELEASED, got %d events", len(evs))
			}
			for _, e := range evs {
				want := map[string]string{"client.address": "198.51.100.7", "http.request.method": "GET", "http.route": "GET /orders/{id}", "enduser.id": c.wantActor}
				for k, v := range want {
					got, ok := e.Attr(auditlogKey(k))
					if v == "" {
						if ok {
							t.Errorf("%s: %s = %q, want none", e.Type, k, got.AsString())
						}
						continue
					}
					if !ok || got.AsString() != v {
						t.Errorf("%s: %s = %q, want %q", e.Type, k, got.AsString(), v)
					}
				}
			}
		})
	}
	// Outside a request nothing is added.
	h := newHarness(t, false, true)
	h.bus.Emit(context.Background(), auditlog.Event{Type: auditlog.PolicyAllow})
	if e := h.sink.Events()[0]; len(e.Attributes) != 0 {
		t.Fatalf("a record outside a request has attributes %v", e.Attributes)
	}
}

func auditlogKey(k string) attribute.Key { return attribute.Key(k) }

type blockingSink struct{}

func (blockingSink) Emit(context.Context, auditlog.Event) error { return errors.New("spool full") }
func (blockingSink) Blocking() bool                             { return true }

// TestAuditUnavailableIs503: in the blocking audit mode a request whose
// binding cannot be recorded is answered 503 with a problem that says to
// retry, and the handler never runs.
func TestAuditUnavailableIs503(t *testing.T) {
	t.Parallel()
	bus := auditlog.NewBus(auditlog.WithErrorHandler(func(error) {}))
	bus.Register(blockingSink{})
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(scope.NewBinder(scope.WithAuditBus(bus))))
	ran := false
	h := mw.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("X-Tenant-ID", "acme")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	p := decodeProblem(t, rec)
	if ran || rec.Code != http.StatusServiceUnavailable || p.Type != scopehttp.ProblemAuditUnavailable {
		t.Fatalf("ran %v, status %d, problem %+v", ran, rec.Code, p)
	}
}
