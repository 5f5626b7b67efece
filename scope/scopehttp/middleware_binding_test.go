package scopehttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

// Middleware tests: binding the tenant for the handler, span events and
// audit records, gating, optional tenants, nesting.

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
