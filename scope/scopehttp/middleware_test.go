package scopehttp_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
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

func TestMiddlewareBindsForHandler(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	var inHandler scope.Tenant
	var handlerCtx context.Context
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlerCtx = r.Context()
		var err error
		if inHandler, err = scope.Require(r.Context()); err != nil {
			t.Error(err)
		}
		w.WriteHeader(http.StatusCreated)
	})
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder),
		scopehttp.WithPolicy(scope.DenyByDefault()))
	req := httptest.NewRequest(http.MethodPost, "/orders", nil)
	req.Header.Set("X-Tenant-Id", "acme")
	rec := httptest.NewRecorder()
	h.serverSpan(mw.Wrap(app)).ServeHTTP(rec, req)

	if rec.Code != http.StatusCreated || inHandler.String() != "acme" {
		t.Fatalf("status %d, tenant %q", rec.Code, inHandler)
	}
	if got := h.eventNames(t, "GET /orders"); !slices.Equal(got, []string{evBound, evEntered, evExited, evUnbound}) {
		t.Fatalf("server span events %v", got)
	}
	if len(h.sr.Ended()) != 1 {
		t.Fatalf("spans %v, want only the server span", spanNames(h.sr.Ended()))
	}
	span := h.ended("GET /orders")[0]
	if v, _ := eventAttr(span, evUnbound, "http.response.status_code"); v != "201" {
		t.Fatalf("request_unbound status %q", v)
	}
	if v, _ := eventAttr(span, evBound, "tenant.id"); v != "acme" {
		t.Fatalf("request_bound tenant %q", v)
	}
	if got := h.auditTypes(); !slices.Equal(got, []auditlog.Type{auditlog.PolicyAllow, auditlog.ContextBound, auditlog.ContextReleased}) {
		t.Fatalf("audit %v", got)
	}
	allow := h.sink.Events()[0]
	if allow.Table != "http:/orders" || allow.Operation != "write" || allow.Tenant != "acme" {
		t.Fatalf("policy event %+v", allow)
	}
	for _, e := range h.sink.Events() {
		if e.TraceID != span.SpanContext().TraceID().String() {
			t.Fatalf("audit event %s not correlated with the server span", e.Type)
		}
	}
	// Nothing stays bound: the request's own context never carried the
	// tenant, and the binding has ended.
	if _, ok := scope.FromContext(req.Context()); ok {
		t.Fatal("tenant bound in the request's context")
	}
	if released := h.sink.Events(auditlog.ContextReleased); len(released) != 1 || released[0].Outcome != auditlog.OutcomeSuccess {
		t.Fatalf("released %+v", released)
	}
	_ = handlerCtx
}

func TestMiddlewareWithoutServerSpan(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, false)
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Tenant-Id", "acme")
	mw.Wrap(tenantEcho).ServeHTTP(httptest.NewRecorder(), req)
	if got := h.eventNames(t, otelobs.SpanScope); !slices.Equal(got, []string{evBound, evEntered, evExited, evUnbound}) {
		t.Fatalf("tenant.scope span events %v", got)
	}

	// A rejection without a server span is recorded on a tenant.scope span.
	req = httptest.NewRequest(http.MethodGet, "/", nil)
	h.sr.Reset()
	mw.Wrap(tenantEcho).ServeHTTP(httptest.NewRecorder(), req)
	if got := h.eventNames(t, otelobs.SpanScope); !slices.Equal(got, []string{evRejected}) {
		t.Fatalf("tenant.scope span events %v", got)
	}
}

// The gating matrix: each path is independent, and both off records nothing.
func TestMiddlewareGating(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ observe, audit bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, c.observe, c.audit)
			mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
			ok := httptest.NewRequest(http.MethodGet, "/", nil)
			ok.Header.Set("X-Tenant-Id", "acme")
			bad := httptest.NewRequest(http.MethodGet, "/", nil)
			bad.Header.Set("X-Tenant-Id", "a b")
			for _, req := range []*http.Request{ok, bad} {
				mw.Wrap(tenantEcho).ServeHTTP(httptest.NewRecorder(), req)
			}
			if got, want := len(h.sr.Ended()) > 0, c.observe; got != want {
				t.Errorf("observe=%v: spans %v", c.observe, spanNames(h.sr.Ended()))
			}
			wantAudit := []auditlog.Type(nil)
			if c.audit {
				wantAudit = []auditlog.Type{auditlog.ContextBound, auditlog.ContextReleased, auditlog.PolicyDeny}
			}
			if got := h.auditTypes(); !slices.Equal(got, wantAudit) {
				t.Errorf("audit=%v: %v", c.audit, got)
			}
		})
	}
}

func TestMiddlewareOptionalTenant(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	var err error
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err = scope.Require(r.Context())
		_, _ = io.WriteString(w, "ok")
	})
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder), scopehttp.WithOptionalTenant())
	rec := httptest.NewRecorder()
	h.serverSpan(mw.Wrap(app)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK || !errors.Is(err, scope.ErrNoTenant) {
		t.Fatalf("status %d, Require error %v", rec.Code, err)
	}
	if got := h.auditTypes(); len(got) != 0 {
		t.Fatalf("audit %v", got)
	}
	if got := h.eventNames(t, "GET /orders"); len(got) != 0 {
		t.Fatalf("span events %v", got)
	}

	// With a policy, tenantless requests are decided too.
	mw = scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder), scopehttp.WithOptionalTenant(),
		scopehttp.WithPolicy(scope.DenyByDefault()))
	rec = httptest.NewRecorder()
	mw.Wrap(app).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if p := decodeProblem(t, rec); p.Status != http.StatusForbidden || p.Detail != "a request without a tenant is not allowed to read this resource" {
		t.Fatalf("problem %+v", p)
	}
}

func TestMiddlewarePanic(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	boom := errors.New("boom")
	app := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(boom) })
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Tenant-Id", "acme")

	func() {
		defer func() {
			if r := recover(); r != any(boom) { // the panic value itself propagates
				t.Fatalf("recovered %v, want the handler's panic value", r)
			}
		}()
		h.serverSpan(mw.Wrap(app)).ServeHTTP(httptest.NewRecorder(), req)
	}()

	// The SDK adds its own "exception" event when the span ends while
	// panicking, as otelhttp's span would.
	if got := h.eventNames(t, "GET /orders"); !slices.Equal(got[:min(4, len(got))], []string{evBound, evEntered, evExcept, evUnbound}) {
		t.Fatalf("server span events %v", got)
	}
	span := h.ended("GET /orders")[0]
	if et, _ := eventAttr(span, evExcept, "error.type"); et != "panic" {
		t.Fatalf("exception error.type %q", et)
	}
	if et, _ := eventAttr(span, evUnbound, "error.type"); et != "panic" {
		t.Fatalf("request_unbound error.type %q", et)
	}
	released := h.sink.Events(auditlog.ContextReleased)
	if len(released) != 1 || released[0].Outcome != auditlog.OutcomeFailure || !strings.Contains(released[0].Reason, "boom") {
		t.Fatalf("released %+v", released)
	}
}

// In a real server, net/http recovers the panic; the binding still ends with
// a failure.
func TestMiddlewarePanicInServer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, true)
	app := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
	srv := httptest.NewUnstartedServer(mw.Wrap(app))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	defer srv.Close()

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	req.Header.Set("X-Tenant-Id", "acme")
	resp, err := srv.Client().Do(req)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatalf("got a response (%s) from a panicking handler", resp.Status)
	}
	srv.Close() // waits for the handler to finish
	released := h.sink.Events(auditlog.ContextReleased)
	if len(released) != 1 || released[0].Outcome != auditlog.OutcomeFailure {
		t.Fatalf("released %+v", released)
	}
	if v, _ := released[0].Attr("error.type"); v.AsString() != "panic" {
		t.Fatalf("error.type %q", v.AsString())
	}
}

func TestMiddlewareServerError(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true, true)
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusEarlyHints) // informational: not the outcome
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Tenant-Id", "acme")
	h.serverSpan(mw.Wrap(app)).ServeHTTP(httptest.NewRecorder(), req)

	if got := h.eventNames(t, "GET /orders"); !slices.Equal(got, []string{evBound, evEntered, evExcept, evUnbound}) {
		t.Fatalf("server span events %v", got)
	}
	span := h.ended("GET /orders")[0]
	if et, _ := eventAttr(span, evExcept, "error.type"); et != "503" {
		t.Fatalf("exception error.type %q", et)
	}
	released := h.sink.Events(auditlog.ContextReleased)
	if len(released) != 1 || released[0].Outcome != auditlog.OutcomeFailure || !strings.Contains(released[0].Reason, "503 Service Unavailable") {
		t.Fatalf("released %+v", released)
	}
	// A 4xx from the handler is not a failure of the unit of work.
	h.sink.Reset()
	app = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) })
	mw.Wrap(app).ServeHTTP(httptest.NewRecorder(), req)
	if released := h.sink.Events(auditlog.ContextReleased); len(released) != 1 || released[0].Outcome != auditlog.OutcomeSuccess {
		t.Fatalf("released after 404 %+v", released)
	}
}

func TestMiddlewareGoroutineSeesTenant(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, false)
	got := make(chan string, 1)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done := make(chan struct{})
		go func(ctx context.Context) {
			defer close(done)
			t, err := scope.Require(ctx)
			if err != nil {
				got <- err.Error()
				return
			}
			got <- t.String()
		}(r.Context())
		<-done
	})
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
	srv := httptest.NewServer(mw.Wrap(app))
	defer srv.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	req.Header.Set("X-Tenant-Id", "acme")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if g := <-got; g != "acme" {
		t.Fatalf("goroutine saw %q", g)
	}
}

func TestMiddlewareStreaming(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		t.Run(map[bool]string{true: "paths on", false: "paths off"}[on], func(t *testing.T) {
			t.Parallel()
			testStreaming(t, on)
		})
	}
}

// testStreaming checks a flushed response streams, with the paths on (the
// writer is wrapped) or off (it is not).
func testStreaming(t *testing.T, on bool) {
	h := newHarness(t, on, on)
	next := make(chan struct{})
	handlerCtx := make(chan context.Context, 1)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlerCtx <- r.Context()
		w.Header().Set("Content-Type", "text/plain")
		for i := range 3 {
			tn, err := scope.Require(r.Context())
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.WriteString(w, tn.String()+"\n")
			if i%2 == 0 {
				w.(http.Flusher).Flush() // the type assertion libraries use
			} else if err := http.NewResponseController(w).Flush(); err != nil {
				t.Error(err)
				return
			}
			if i < 2 {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
		}
	})
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
	srv := httptest.NewServer(mw.Wrap(app))
	defer srv.Close()

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	req.Header.Set("X-Tenant-Id", "acme")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		// Each line arrives while the handler is blocked: it was flushed.
		line, err := br.ReadString('\n')
		if err != nil || line != "acme\n" {
			t.Fatalf("line %d: %q, %v", i, line, err)
		}
		if i < 2 {
			next <- struct{}{}
		}
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Fatalf("trailing %q", rest)
	}
	ctx := <-handlerCtx
	srv.Close() // waits for the handler
	// The handler's context ended with the request, and the binding ended.
	if ctx.Err() == nil {
		t.Fatal("the handler's context is still live")
	}
	if !on {
		return
	}
	if got := h.auditTypes(); !slices.Equal(got, []auditlog.Type{auditlog.ContextBound, auditlog.ContextReleased}) {
		t.Fatalf("audit %v", got)
	}
	if got := h.eventNames(t, otelobs.SpanScope); !slices.Equal(got, []string{evBound, evEntered, evExited, evUnbound}) {
		t.Fatalf("span events %v", got)
	}
}

// http.ResponseController reaches the server's writer through Unwrap
// (deadlines), and Hijack works on HTTP/1.
func TestMiddlewareResponseController(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, true)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex: %v", err)
		}
		if r.URL.Path == "/hijack" {
			conn, brw, err := rc.Hijack()
			if err != nil {
				t.Errorf("Hijack: %v", err)
				return
			}
			defer func() { _ = conn.Close() }()
			_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
			_ = brw.Flush()
			return
		}
		n, err := io.Copy(w, struct{ io.Reader }{strings.NewReader("copied")}) // through io.ReaderFrom
		if err != nil || n != 6 {
			t.Errorf("io.Copy: %d, %v", n, err)
		}
	})
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
	// httptest.Server.Close does not wait for hijacked connections' handlers.
	hijackDone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mw.Wrap(app).ServeHTTP(w, r)
		if r.URL.Path == "/hijack" {
			close(hijackDone)
		}
	}))
	defer srv.Close()
	for path, want := range map[string]string{"/": "copied", "/hijack": "hi"} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		req.Header.Set("X-Tenant-Id", "acme")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if string(body) != want {
			t.Fatalf("%s: body %q", path, body)
		}
	}
	srv.Close()
	<-hijackDone
	if got := h.sink.Events(auditlog.ContextReleased); len(got) != 2 || got[0].Outcome != auditlog.OutcomeSuccess || got[1].Outcome != auditlog.OutcomeSuccess {
		t.Fatalf("released %+v", got)
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

// Two middlewares that resolve the same tenant nest.
func TestMiddlewareNestedSameTenant(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false, true)
	outer := scopehttp.New(mustHost(t, scopehttp.HostConfig{BaseDomains: []string{"example.com"}}), scopehttp.WithBinder(h.binder))
	inner := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}), scopehttp.WithBinder(h.binder))
	req := httptest.NewRequest(http.MethodGet, "http://acme.example.com/", nil)
	req.Header.Set("X-Tenant-Id", "acme")
	rec := httptest.NewRecorder()
	outer.Wrap(inner.Wrap(tenantEcho)).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != "acme" {
		t.Fatalf("%d %q", rec.Code, rec.Body)
	}
	want := []auditlog.Type{auditlog.ContextBound, auditlog.ContextBound, auditlog.ContextReleased, auditlog.ContextReleased}
	if got := h.auditTypes(); !slices.Equal(got, want) {
		t.Fatalf("audit %v", got)
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

func TestMiddlewareDefaultBinder(t *testing.T) {
	t.Parallel()
	// With the default binder (both paths off unless the process enables
	// them), the middleware still binds.
	mw := scopehttp.New(mustHeader(t, scopehttp.HeaderConfig{}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Tenant-Id", "acme")
	rec := httptest.NewRecorder()
	mw.Wrap(tenantEcho).ServeHTTP(rec, req)
	if rec.Body.String() != "acme" {
		t.Fatalf("body %q", rec.Body)
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
