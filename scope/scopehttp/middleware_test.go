package scopehttp_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

const (
	evBound    = otelobs.EventMiddlewareRequestBound
	evUnbound  = otelobs.EventMiddlewareRequestUnbound
	evEntered  = otelobs.EventScopeEntered
	evExited   = otelobs.EventScopeExited
	evExcept   = otelobs.EventScopeException
	evRejected = scopehttp.EventRequestRejected
)

func TestMiddlewareRejections(t *testing.T) {
	t.Parallel()
	header := func(t testing.TB) scopehttp.Strategy { return mustHeader(t, scopehttp.HeaderConfig{}) }
	headerOrToken := func(t testing.TB) scopehttp.Strategy {
		return scopehttp.NewConsistentChain(mustHeader(t, scopehttp.HeaderConfig{}), mustJWT(t, hsConfig()))
	}
	host := func(t testing.TB) scopehttp.Strategy {
		return mustHost(t, scopehttp.HostConfig{BaseDomains: []string{"example.com"}})
	}
	hostile := scopehttp.StrategyFunc(func(*http.Request) (scope.Tenant, error) {
		return scope.Tenant{}, errors.New("<script>alert(1)</script> tenant lookup failed for \x1b[31m")
	})
	expired := hs(t, claims("acme", map[string]any{"exp": testNow.Add(-time.Hour).Unix()}))

	tests := []struct {
		name      string
		strategy  func(t testing.TB) scopehttp.Strategy
		opts      []scopehttp.Option
		method    string
		host      string
		headers   map[string][]string
		prebound  string // a tenant bound by an outer layer
		status    int
		typ       string
		challenge string
		detail    string // substring of the detail
		audit     auditlog.Type
		op        string // the audit event's Operation
		outcome   auditlog.Outcome
		attempted string // the audit event's AttemptedTenant
		tenant    string // the audit event's Tenant
		errType   string
		extra     []string // span events besides tenant.middleware.request_rejected, in order before it
	}{
		{
			name: "missing tenant", strategy: header,
			status: 400, typ: scopehttp.ProblemMissingTenant, detail: "names no tenant (looked at: header X-Tenant-Id)",
			audit: auditlog.PolicyDeny, op: "http.request", outcome: auditlog.OutcomeDenied, errType: "tenant.missing",
		},
		{
			name: "missing tenant with a token strategy", strategy: headerOrToken,
			status: 401, typ: scopehttp.ProblemMissingTenant, challenge: "Bearer", detail: "header X-Tenant-Id, bearer token",
			audit: auditlog.PolicyDeny, op: "http.request", outcome: auditlog.OutcomeDenied, errType: "tenant.missing",
		},
		{
			name: "empty id", strategy: header, headers: map[string][]string{"X-Tenant-Id": {""}},
			status: 400, typ: scopehttp.ProblemInvalidTenant, detail: "it is empty",
			audit: auditlog.PolicyDeny, op: "http.request", outcome: auditlog.OutcomeDenied, attempted: `""`, errType: "tenant.invalid",
		},
		{
			name: "invalid id", strategy: header, headers: map[string][]string{"X-Tenant-Id": {"ac me"}},
			status: 400, typ: scopehttp.ProblemInvalidTenant, detail: `the tenant id "ac me" from header X-Tenant-Id is invalid: it contains whitespace ' ' at byte 2`,
			audit: auditlog.PolicyDeny, op: "http.request", outcome: auditlog.OutcomeDenied, attempted: `"ac me"`, errType: "tenant.invalid",
		},
		{
			name: "control characters", strategy: header, headers: map[string][]string{"X-Tenant-Id": {"<b>\x1b[2J\u202e"}},
			status: 400, typ: scopehttp.ProblemInvalidTenant, detail: `"<b>\x1b[2J\u202e"`,
			audit: auditlog.PolicyDeny, op: "http.request", outcome: auditlog.OutcomeDenied, attempted: `"<b>\x1b[2J\u202e"`, errType: "tenant.invalid",
		},
		{
			name: "oversized id", strategy: header, headers: map[string][]string{"X-Tenant-Id": {strings.Repeat("A", 10000)}},
			status: 400, typ: scopehttp.ProblemInvalidTenant, detail: `AAAA"... from header X-Tenant-Id is invalid: it is 10000 bytes long`,
			audit: auditlog.PolicyDeny, op: "http.request", outcome: auditlog.OutcomeDenied, attempted: `"` + strings.Repeat("A", 80) + `"...`, errType: "tenant.invalid",
		},
		{
			name: "header sent twice", strategy: header, headers: map[string][]string{"X-Tenant-Id": {"acme", "globex"}},
			status: 400, typ: scopehttp.ProblemInvalidTenant, detail: "sent 2 times",
			audit: auditlog.PolicyDeny, op: "http.request", outcome: auditlog.OutcomeDenied, errType: "tenant.invalid",
		},
		{
			name: "nested host", strategy: host, host: "a.b.example.com",
			status: 400, typ: scopehttp.ProblemInvalidTenant, detail: "more than one label",
			audit: auditlog.PolicyDeny, op: "http.request", outcome: auditlog.OutcomeDenied, errType: "tenant.invalid",
		},
		{
			name: "expired token", strategy: headerOrToken, headers: map[string][]string{"Authorization": {"Bearer " + expired}},
			status: 401, typ: scopehttp.ProblemInvalidToken, challenge: `Bearer error="invalid_token"`, detail: "the bearer token has expired",
			audit: auditlog.PolicyDeny, op: "http.request", outcome: auditlog.OutcomeDenied, errType: "tenant.invalid_token",
		},
		{
			name: "forged token", strategy: headerOrToken, headers: map[string][]string{"Authorization": {"Bearer " + sign(t, jwtHS256, otherHMAC, claims("acme", nil))}},
			status: 401, typ: scopehttp.ProblemInvalidToken, challenge: `Bearer error="invalid_token"`, detail: "signature is invalid",
			audit: auditlog.PolicyDeny, op: "http.request", outcome: auditlog.OutcomeDenied, errType: "tenant.invalid_token",
		},
		{
			name: "token without tenant", strategy: headerOrToken, headers: map[string][]string{"Authorization": {"Bearer " + hs(t, claims(nil, nil))}},
			status: 401, typ: scopehttp.ProblemMissingTenant, challenge: `Bearer error="invalid_token"`, detail: `no "tenant_id" claim`,
			audit: auditlog.PolicyDeny, op: "http.request", outcome: auditlog.OutcomeDenied, errType: "tenant.missing",
		},
		{
			name: "header and token disagree", strategy: headerOrToken,
			headers: map[string][]string{"X-Tenant-Id": {"globex"}, "Authorization": {"Bearer " + hs(t, claims("acme", nil))}},
			status:  400, typ: scopehttp.ProblemTenantConflict, detail: `"globex" (header X-Tenant-Id) and "acme" (bearer token)`,
			audit: auditlog.PolicyDeny, op: "http.request", outcome: auditlog.OutcomeDenied, attempted: "acme", errType: "tenant.conflict",
		},
		{
			name: "policy denies", strategy: header, headers: map[string][]string{"X-Tenant-Id": {"acme"}},
			opts:   []scopehttp.Option{scopehttp.WithPolicy(scope.AllowTables("http:/public"))},
			status: 403, typ: scopehttp.ProblemTenantForbidden, detail: `tenant "acme" is not allowed to read this resource`,
			audit: auditlog.PolicyDeny, op: "read", outcome: auditlog.OutcomeDenied, tenant: "acme", errType: "tenant.policy_denied",
			extra: []string{otelobs.EventReadBlocked},
		},
		{
			name: "policy denies a write", strategy: header, method: http.MethodDelete, headers: map[string][]string{"X-Tenant-Id": {"acme"}},
			opts:   []scopehttp.Option{scopehttp.WithPolicy(scope.AllowTables("http:/public"))},
			status: 403, typ: scopehttp.ProblemTenantForbidden, detail: `tenant "acme" is not allowed to write this resource`,
			audit: auditlog.PolicyDeny, op: "write", outcome: auditlog.OutcomeDenied, tenant: "acme", errType: "tenant.policy_denied",
			extra: []string{otelobs.EventWriteBlocked},
		},
		{
			name: "another tenant already bound", strategy: header, headers: map[string][]string{"X-Tenant-Id": {"acme"}}, prebound: "globex",
			status: 400, typ: scopehttp.ProblemTenantConflict, detail: "a different tenant is already bound",
			audit: auditlog.EnforcementViolation, op: "bind", outcome: auditlog.OutcomeBlocked, attempted: "acme", tenant: "globex", errType: "tenant.conflict",
			extra: []string{evExcept},
		},
		{
			name: "user strategy error is not echoed", strategy: func(testing.TB) scopehttp.Strategy { return hostile },
			status: 400, typ: scopehttp.ProblemInvalidTenant, detail: "the tenant could not be resolved from the request",
			audit: auditlog.PolicyDeny, op: "http.request", outcome: auditlog.OutcomeDenied, errType: "*errors.errorString",
		},
		{
			name: "optional mode still refuses an invalid id", strategy: header, opts: []scopehttp.Option{scopehttp.WithOptionalTenant()},
			headers: map[string][]string{"X-Tenant-Id": {"../etc"}},
			status:  400, typ: scopehttp.ProblemInvalidTenant, detail: "must start with a letter or digit",
			audit: auditlog.PolicyDeny, op: "http.request", outcome: auditlog.OutcomeDenied, attempted: `"../etc"`, errType: "tenant.invalid",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, true, true)
			var called atomic.Bool
			app := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called.Store(true) })
			mw := scopehttp.New(tt.strategy(t), append([]scopehttp.Option{scopehttp.WithBinder(h.binder)}, tt.opts...)...)
			srv := mw.Wrap(app)
			if tt.prebound != "" {
				inner := srv
				srv = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					ctx, b, err := h.binder.Bind(r.Context(), scope.MustParse(tt.prebound))
					if err != nil {
						t.Fatal(err)
					}
					defer b.End(nil)
					inner.ServeHTTP(w, r.WithContext(ctx))
				})
			}
			srv = h.serverSpan(srv)

			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, "/orders?id=<x>", nil)
			if tt.host != "" {
				req.Host = tt.host
			}
			for k, vs := range tt.headers {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)

			if called.Load() {
				t.Fatal("the application handler ran")
			}
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d (body %s)", rec.Code, tt.status, rec.Body)
			}
			p := decodeProblem(t, rec)
			if p.Type != tt.typ || !strings.Contains(p.Detail, tt.detail) {
				t.Fatalf("problem %+v, want type %s and detail containing %q", p, tt.typ, tt.detail)
			}
			checkSafe(t, p.Detail)
			if body := rec.Body.String(); strings.ContainsAny(body, "<>\x1b") || strings.Contains(body, "script") {
				t.Fatalf("body echoes raw input: %s", body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatal("no Cache-Control: no-store")
			}

			// Audit: exactly one denial record (plus the outer binding's
			// lifecycle when a tenant was pre-bound).
			var denials []auditlog.Event
			for _, e := range h.sink.Events() {
				if e.Type != auditlog.ContextBound && e.Type != auditlog.ContextReleased {
					denials = append(denials, e)
				}
			}
			if len(denials) != 1 {
				t.Fatalf("audit %v, want one %s", h.auditTypes(), tt.audit)
			}
			ev := denials[0]
			if ev.Type != tt.audit || ev.Operation != tt.op || ev.Outcome != tt.outcome ||
				ev.AttemptedTenant != tt.attempted || ev.Tenant != tt.tenant {
				t.Fatalf("audit event %+v, want %s op %q outcome %s attempted %q tenant %q", ev, tt.audit, tt.op, tt.outcome, tt.attempted, tt.tenant)
			}
			if ev.Reason == "" || ev.TraceID == "" {
				t.Fatalf("audit event without reason or trace: %+v", ev)
			}
			if ev.Operation == scopehttp.OperationHTTPRequest {
				if v, _ := ev.Attr(otelobs.AttrProblemInstance); v.AsString() != p.Instance {
					t.Fatalf("audit instance %q, problem instance %q", v.AsString(), p.Instance)
				}
				if v, _ := ev.Attr(otelobs.AttrErrorType); v.AsString() != tt.errType {
					t.Fatalf("audit error.type %q, want %q", v.AsString(), tt.errType)
				}
				if v, _ := ev.Attr(otelobs.AttrHTTPStatusCode); v.AsInt64() != int64(tt.status) {
					t.Fatalf("audit status %d", v.AsInt64())
				}
				if ev.Table != "http:/orders" {
					t.Fatalf("audit table %q", ev.Table)
				}
			}

			// Trace: the rejection is an event on the server span.
			names := h.eventNames(t, "GET /orders")
			var want []string
			if tt.prebound != "" {
				want = append(want, evEntered)
			}
			want = append(want, tt.extra...)
			want = append(want, evRejected)
			if tt.prebound != "" {
				want = append(want, evExited)
			}
			if !slices.Equal(names, want) {
				t.Fatalf("server span events %v, want %v", names, want)
			}
			span := h.ended("GET /orders")[0]
			if et, _ := eventAttr(span, evRejected, "error.type"); et != tt.errType {
				t.Fatalf("span event error.type %q, want %q", et, tt.errType)
			}
			if inst, _ := eventAttr(span, evRejected, string(otelobs.AttrProblemInstance)); inst != p.Instance {
				t.Fatalf("span event instance %q, problem %q", inst, p.Instance)
			}
			if len(h.ended("tenant.scope")) != 0 {
				t.Fatalf("unexpected tenant.scope span: %v", spanNames(h.sr.Ended()))
			}
		})
	}
}

func TestMiddlewareRejectionHandler(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, true)
	var got *scopehttp.Rejection
	custom := func(w http.ResponseWriter, _ *http.Request, rej *scopehttp.Rejection) {
		got = rej
		w.WriteHeader(http.StatusTeapot)
	}
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder), scopehttp.WithRejectionHandler(custom))
	rec := httptest.NewRecorder()
	mw.Wrap(tenantEcho).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusTeapot || got == nil {
		t.Fatalf("status %d, rejection %v", rec.Code, got)
	}
	if got.Problem.Type != scopehttp.ProblemMissingTenant || !errors.Is(got.Err, scopehttp.ErrMissingTenant) || !errors.Is(got.Err, scope.ErrNoTenant) {
		t.Fatalf("rejection %+v", got)
	}
	if evs := h.sink.Events(auditlog.PolicyDeny); len(evs) != 1 {
		t.Fatalf("audit %v", h.auditTypes())
	}
}

func TestMiddlewareRoute(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, true)
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder),
		scopehttp.WithPolicy(scope.AllowTables("http:GET /orders/{id}")))
	mux := http.NewServeMux()
	mux.Handle("GET /orders/{id}", mw.Wrap(tenantEcho)) // r.Pattern is set inside the mux
	mux.Handle("GET /admin", mw.Wrap(tenantEcho))
	for path, want := range map[string]int{"/orders/7": 200, "/admin": 403} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-Tenant-Id", "acme")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Fatalf("%s: status %d, want %d", path, rec.Code, want)
		}
	}
	tables := map[string]auditlog.Type{}
	for _, e := range h.sink.Events(auditlog.PolicyAllow, auditlog.PolicyDeny) {
		tables[e.Table] = e.Type
	}
	if tables["http:GET /orders/{id}"] != auditlog.PolicyAllow || tables["http:GET /admin"] != auditlog.PolicyDeny {
		t.Fatalf("policy tables %v", tables)
	}

	custom := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder),
		scopehttp.WithPolicy(scope.AllowTables("http:orders")), scopehttp.WithRoute(func(*http.Request) string { return "orders" }))
	req := httptest.NewRequest(http.MethodGet, "/anything", nil)
	req.Header.Set("X-Tenant-Id", "acme")
	rec := httptest.NewRecorder()
	custom.Wrap(tenantEcho).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != "acme" {
		t.Fatalf("custom route: %d %q", rec.Code, rec.Body)
	}
}

// The route in the middleware's own audit events is capped: with the default
// route it is the client's path.
func TestMiddlewareAuditRouteCapped(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, true)
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
	rec := httptest.NewRecorder()
	mw.Wrap(tenantEcho).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+strings.Repeat("x", 5000), nil))
	evs := h.sink.Events(auditlog.PolicyDeny)
	if rec.Code != http.StatusBadRequest || len(evs) != 1 {
		t.Fatalf("status %d, audit %v", rec.Code, h.auditTypes())
	}
	if tbl := evs[0].Table; len(tbl) != len("http:")+1024+len("...") || !strings.HasSuffix(tbl, "x...") {
		t.Fatalf("table of %d bytes: %.40q", len(tbl), tbl)
	}
}

func TestNewPanics(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"nil strategy": func() { scopehttp.New(nil) },
		"nil handler":  func() { scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{})).Wrap(nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
