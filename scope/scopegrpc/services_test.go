package scopegrpc_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopegrpc"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
	"github.com/tenantshield/tenantshield-go/scope/scopetoken"
)

var (
	propKey   = []byte("propagation key of 32 bytes.....")
	forgerKey = []byte("a forger's key, also 32 bytes...")
)

func ring(t testing.TB, key []byte, opts ...scopetoken.Option) *scopetoken.Keyring {
	t.Helper()
	kr, err := scopetoken.NewKeyring("k1", map[string][]byte{"k1": key}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// httpServerSpan extracts the caller's trace and starts a server span, as
// otelhttp's handler does.
func (h *harness) httpServerSpan(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := h.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := h.tp.Tracer("test/http").Start(ctx, r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// tracing starts a client span and injects traceparent, as otelhttp's
// transport does.
type tracing struct {
	h    *harness
	next http.RoundTripper
}

func (rt tracing) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := rt.h.tp.Tracer("test/http").Start(r.Context(), "HTTP "+r.Method, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	r = r.Clone(ctx)
	rt.h.prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
	return rt.next.RoundTrip(r)
}

func get(ctx context.Context, t testing.TB, client *http.Client, url string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestTwoServices: service A (HTTP, tenant from a JWT) calls service B over
// gRPC and over HTTP through the propagating clients; B binds the same
// tenant from the signed token, in the same trace. Calls to B with a forged,
// expired, other-trace or missing token (a tenant in baggage and a tenant
// header do not count) are refused Unauthenticated / 401, each audited, and
// nothing runs under a tenant that was not proven.
func TestTwoServices(t *testing.T) {
	h := newHarness(t, true)
	kr := ring(t, propKey)

	// Service B, gRPC and HTTP, trusting only the propagation token.
	svcB := &echo{}
	addrB, _ := h.serve(t, scopegrpc.New(scopegrpc.NewTokenStrategy(kr), scopegrpc.WithBinder(h.binder)), svcB)
	httpB := httptest.NewServer(h.httpServerSpan(scopehttp.New(scopehttp.NewTokenStrategy(kr), scopehttp.WithBinder(h.binder)).Wrap(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tenant, err := svcB.ran(r.Context())
			if err != nil {
				http.Error(w, "no tenant", http.StatusInternalServerError)
				return
			}
			_, _ = io.WriteString(w, tenant)
		}))))
	defer httpB.Close()

	// Service A: HTTP, tenant from a JWT, calls B through the propagating
	// clients.
	ccB := h.dial(t, addrB, grpc.WithChainUnaryInterceptor(scopegrpc.UnaryClientInterceptor(kr)),
		grpc.WithChainStreamInterceptor(scopegrpc.StreamClientInterceptor(kr)))
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	toB := &http.Client{Transport: tracing{h, scopehttp.NewTransport(base, kr)}}
	jwtA, err := scopehttp.NewJWTStrategy(scopehttp.JWTConfig{Algorithms: []string{"HS256"}, Keys: []any{jwtKey}})
	if err != nil {
		t.Fatal(err)
	}
	httpA := httptest.NewServer(h.httpServerSpan(scopehttp.New(jwtA, scopehttp.WithBinder(h.binder)).Wrap(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g, err := who(r.Context(), ccB)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			s, err := count(r.Context(), ccB, 2)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			_, hb := get(r.Context(), t, toB, httpB.URL, nil)
			_, _ = io.WriteString(w, "grpc="+g+" stream="+strings.Join(s, ",")+" http="+hb)
		}))))
	defer httpA.Close()

	plain := &http.Client{Transport: base}
	code, body := get(context.Background(), t, plain, httpA.URL, http.Header{"Authorization": {"Bearer " + signJWT(t, jwtKey, "acme")}})
	if code != http.StatusOK || body != "grpc=acme stream=acme,acme http=acme" {
		t.Fatalf("A answered %d %q", code, body)
	}
	// One trace: A's server span is the root of every span.
	var traces []trace.TraceID
	for _, s := range h.sr.Ended() {
		if !slices.Contains(traces, s.SpanContext().TraceID()) {
			traces = append(traces, s.SpanContext().TraceID())
		}
	}
	if len(traces) != 1 {
		t.Fatalf("the call through A and B spans %d traces, want 1", len(traces))
	}
	if got := svcB.ranUnder(); !slices.Equal(got, []string{"acme", "acme", "acme", "acme"}) {
		t.Fatalf("B ran under %v", got)
	}

	// Direct calls to B with bad tokens.
	tracer := h.tp.Tracer("test/attacker")
	ctx1, span1 := tracer.Start(context.Background(), "attacker trace 1")
	defer span1.End()
	ctx2, span2 := tracer.Start(context.Background(), "attacker trace 2")
	defer span2.End()
	acme := scope.MustParse("acme")
	sign := func(kr *scopetoken.Keyring, ctx context.Context) string {
		tok, err := kr.Sign(ctx, acme)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	stale := ring(t, propKey, scopetoken.WithClock(func() time.Time { return time.Now().Add(-time.Minute) }))
	member, _ := baggage.NewMember("tenant.id", "acme")
	bag, _ := baggage.New(member)
	ccRaw := h.dial(t, addrB) // no propagating interceptor: the attacker sets metadata by hand
	rawHTTP := &http.Client{Transport: tracing{h, base}}
	for _, tt := range []struct {
		name   string
		ctx    context.Context
		token  string
		reason string
	}{
		{"forged", ctx1, sign(ring(t, forgerKey), ctx1), "signature is invalid"},
		{"expired", ctx1, sign(stale, ctx1), "expired"},
		{"another trace", ctx2, sign(kr, ctx1), "another trace"},
		{"missing, tenant in baggage and header", baggage.ContextWithBaggage(ctx1, bag), "", "names no tenant"},
		{"oversized", ctx1, sign(kr, ctx1) + strings.Repeat("A", 64<<10), "longer than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.events(auditlog.PolicyDeny))
			md := metadata.Pairs("x-tenant-id", "acme", "baggage", bag.String())
			hdr := http.Header{"X-Tenant-Id": {"acme"}, "Baggage": {bag.String()}}
			if tt.token != "" {
				md.Set(scopetoken.MetadataKey, tt.token)
				hdr.Set(scopetoken.HTTPHeader, tt.token)
			}
			_, err := who(metadata.NewOutgoingContext(tt.ctx, md), ccRaw)
			if st := status.Convert(err); st.Code() != codes.Unauthenticated || !strings.HasPrefix(st.Message(), scopegrpc.MsgUnauthorized) {
				t.Fatalf("gRPC: %v %q, want Unauthenticated", st.Code(), st.Message())
			}
			code, body := get(tt.ctx, t, rawHTTP, httpB.URL, hdr)
			if code != http.StatusUnauthorized || strings.Contains(body, "acme") {
				t.Fatalf("HTTP: %d %s, want 401", code, body)
			}
			denies := h.events(auditlog.PolicyDeny)[before:]
			if len(denies) != 2 {
				t.Fatalf("%d POLICY_DENY records, want 2 (gRPC, HTTP)", len(denies))
			}
			for _, e := range denies {
				if !strings.Contains(e.Reason, tt.reason) || e.Outcome != auditlog.OutcomeDenied {
					t.Errorf("audit %s %q, want the reason to say %q", e.Operation, e.Reason, tt.reason)
				}
			}
		})
	}
	if got := svcB.ranUnder(); len(got) != 4 {
		t.Fatalf("B ran %d times under %v; only A's 4 calls were proven", len(got), got)
	}
	u := h.unended() // only the two attacker spans, which end with the test
	slices.Sort(u)
	if !slices.Equal(u, []string{"attacker trace 1", "attacker trace 2"}) {
		t.Fatalf("spans not ended: %v", u)
	}
}
