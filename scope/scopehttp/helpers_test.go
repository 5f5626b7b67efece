package scopehttp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

// harness is a Binder with a private bus and observer, observed through a
// span recorder and an in-memory sink, so tests can run in parallel.
type harness struct {
	binder *scope.Binder
	bus    *auditlog.Bus
	obs    *otelobs.Observer
	tp     *sdktrace.TracerProvider
	sr     *tracetest.SpanRecorder
	sink   *auditlog.MemorySink
}

func newHarness(t testing.TB, observe, audit bool) *harness {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := &harness{
		bus:  auditlog.NewBus(auditlog.WithErrorHandler(func(err error) { t.Errorf("unexpected sink failure: %v", err) })),
		obs:  otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(observe)),
		tp:   tp,
		sr:   sr,
		sink: auditlog.NewMemorySink(),
	}
	if audit {
		h.bus.Register(h.sink)
	}
	h.binder = scope.NewBinder(scope.WithAuditBus(h.bus), scope.WithObserver(h.obs))
	return h
}

// serverSpan wraps next in a server span, as otelhttp does.
func (h *harness) serverSpan(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := h.tp.Tracer("test/server").Start(r.Context(), "GET /orders", trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ended returns the ended spans named name.
func (h *harness) ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range h.sr.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// eventNames returns the names of the events of the only ended span named
// name.
func (h *harness) eventNames(t testing.TB, name string) []string {
	t.Helper()
	spans := h.ended(name)
	if len(spans) != 1 {
		t.Fatalf("%d ended spans named %q, want 1 (all: %v)", len(spans), name, spanNames(h.sr.Ended()))
	}
	var out []string
	for _, e := range spans[0].Events() {
		out = append(out, e.Name)
	}
	return out
}

func spanNames(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func (h *harness) auditTypes() []auditlog.Type {
	var out []auditlog.Type
	for _, e := range h.sink.Events() {
		out = append(out, e.Type)
	}
	return out
}

// eventAttr returns the string form of attribute key on the first event
// named name of span.
func eventAttr(span sdktrace.ReadOnlySpan, name, key string) (string, bool) {
	for _, e := range span.Events() {
		if e.Name != name {
			continue
		}
		for _, kv := range e.Attributes {
			if string(kv.Key) == key {
				return kv.Value.String(), true
			}
		}
	}
	return "", false
}

// decodeProblem checks the response is problem+json and decodes it.
func decodeProblem(t testing.TB, rec *httptest.ResponseRecorder) scopehttp.Problem {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != scopehttp.ProblemContentType {
		t.Fatalf("Content-Type = %q, want %q (body %q)", ct, scopehttp.ProblemContentType, rec.Body.String())
	}
	var p scopehttp.Problem
	dec := json.NewDecoder(strings.NewReader(rec.Body.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	if p.Status != rec.Code {
		t.Fatalf("problem status %d, response status %d", p.Status, rec.Code)
	}
	if !strings.HasPrefix(p.Instance, "urn:uuid:") || len(p.Instance) != len("urn:uuid:")+36 {
		t.Fatalf("instance %q is not a urn:uuid", p.Instance)
	}
	if p.Title == "" || p.Detail == "" {
		t.Fatalf("problem without title or detail: %+v", p)
	}
	return p
}

// tenantEcho is a handler that writes the bound tenant, or "-" when none is
// bound.
var tenantEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	t, ok := scope.FromContext(r.Context())
	if !ok {
		_, _ = w.Write([]byte("-"))
		return
	}
	_, _ = w.Write([]byte(t.String()))
})

func mustHeader(t testing.TB, cfg scopehttp.HeaderConfig) *scopehttp.HeaderStrategy {
	t.Helper()
	s, err := scopehttp.NewHeaderStrategy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustHost(t testing.TB, cfg scopehttp.HostConfig) *scopehttp.HostStrategy {
	t.Helper()
	s, err := scopehttp.NewHostStrategy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustJWT(t testing.TB, cfg scopehttp.JWTConfig) *scopehttp.JWTStrategy {
	t.Helper()
	s, err := scopehttp.NewJWTStrategy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Test keys and clock.
var (
	hmacKey   = []byte("0123456789abcdef0123456789abcdef")
	otherHMAC = []byte("fedcba9876543210fedcba9876543210")
	testNow   = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
	edPub    ed25519.PublicKey
	edKey    ed25519.PrivateKey
)

func keys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if edPub, edKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
}

// hsConfig is an HS256 configuration with issuer, audience and leeway.
func hsConfig() scopehttp.JWTConfig {
	return scopehttp.JWTConfig{
		Algorithms: []string{"HS256"},
		Keys:       []any{hmacKey},
		Issuer:     "https://issuer.test",
		Audience:   []string{"orders-api"},
		Leeway:     30 * time.Second,
		Now:        func() time.Time { return testNow },
	}
}

// claims returns valid claims for tenant at testNow; extra entries override
// (a nil value deletes the claim).
func claims(tenant any, extra map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss":       "https://issuer.test",
		"aud":       "orders-api",
		"sub":       "user-1",
		"iat":       testNow.Add(-time.Minute).Unix(),
		"nbf":       testNow.Add(-time.Minute).Unix(),
		"exp":       testNow.Add(time.Hour).Unix(),
		"tenant_id": tenant,
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func sign(t testing.TB, m jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hs(t testing.TB, c jwt.Claims) string { return sign(t, jwt.SigningMethodHS256, hmacKey, c) }

var jwtHS256 = jwt.SigningMethodHS256
