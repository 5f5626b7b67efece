package scopegrpc_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopegrpc"
)

func headerInterceptor(t testing.TB, h *harness, opts ...scopegrpc.Option) *scopegrpc.Interceptor {
	t.Helper()
	s, err := scopegrpc.NewHeaderStrategy(scopegrpc.HeaderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return scopegrpc.New(s, append([]scopegrpc.Option{scopegrpc.WithBinder(h.binder)}, opts...)...)
}

// TestRealServer: over TCP on 127.0.0.1 with otelgrpc on both sides, unary
// and streaming calls run under the tenant of their metadata; client and
// server spans form one trace, every span ends, the audit records name the
// route and the peer, and the binding ends with the call.
func TestRealServer(t *testing.T) {
	h := newHarness(t, true)
	svc := &echo{}
	addr, stop := h.serve(t, headerInterceptor(t, h), svc)
	cc := h.dial(t, addr)

	ctx, root := h.tp.Tracer("test").Start(context.Background(), "caller")
	ctx = metadata.AppendToOutgoingContext(ctx, "x-tenant-id", "acme")
	got, err := who(ctx, cc)
	if err != nil || got != "acme" {
		t.Fatalf("Who = %q, %v", got, err)
	}
	stream, err := count(ctx, cc, 3)
	if err != nil || !slices.Equal(stream, []string{"acme", "acme", "acme"}) {
		t.Fatalf("Count = %q, %v", stream, err)
	}
	root.End()
	_ = cc.Close()
	stop()

	if u := h.unended(); len(u) != 0 {
		t.Fatalf("spans not ended: %v", u)
	}
	traceID := root.SpanContext().TraceID()
	var servers, clients int
	for _, s := range h.sr.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			clients++
		}
		if s.SpanContext().TraceID() != traceID {
			t.Errorf("span %q is in trace %s, not the caller's %s", s.Name(), s.SpanContext().TraceID(), traceID)
		}
		if s.SpanKind() == trace.SpanKindServer {
			servers++
			var names []string
			for _, e := range s.Events() {
				if strings.HasPrefix(e.Name, "tenant.") {
					names = append(names, e.Name)
				}
			}
			want := []string{otelobs.EventMiddlewareRequestBound, otelobs.EventScopeEntered, otelobs.EventScopeExited, otelobs.EventMiddlewareRequestUnbound}
			if !slices.Equal(names, want) {
				t.Errorf("server span %q tenant events %v, want %v", s.Name(), names, want)
			}
		}
	}
	if servers != 2 || clients != 2 {
		t.Fatalf("%d server and %d client spans, want 2 and 2 (unary and stream)", servers, clients)
	}
	bound, released := h.events(auditlog.ContextBound), h.events(auditlog.ContextReleased)
	if len(bound) != 2 || len(released) != 2 {
		t.Fatalf("audit: %d CONTEXT_BOUND, %d CONTEXT_RELEASED; want 2 and 2", len(bound), len(released))
	}
	routes := map[string]bool{}
	for _, e := range append(bound, released...) {
		if e.Tenant != "acme" || e.Outcome != auditlog.OutcomeSuccess {
			t.Errorf("audit %s: tenant %q outcome %q", e.Type, e.Tenant, e.Outcome)
		}
		attrs := attrMap(e)
		if attrs[string(auditlog.AttrClientAddress)] != "127.0.0.1" {
			t.Errorf("audit %s: client.address %q", e.Type, attrs[string(auditlog.AttrClientAddress)])
		}
		routes[attrs[string(auditlog.AttrHTTPRoute)]] = true
	}
	if !routes[methodWho] || !routes[methodCount] || len(routes) != 2 {
		t.Errorf("audit routes %v, want the two methods", routes)
	}
	if svc.calls.Load() != 4 {
		t.Fatalf("handler ran %d times, want 4", svc.calls.Load())
	}
}

func attrMap(e auditlog.Event) map[string]string {
	m := map[string]string{}
	for _, kv := range e.Attributes {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// TestBadMetadata: malformed metadata is refused InvalidArgument with a
// fixed message that echoes nothing, one POLICY_DENY naming the reason, and
// the handler never runs.
func TestBadMetadata(t *testing.T) {
	h := newHarness(t, false)
	svc := &echo{}
	addr, _ := h.serve(t, headerInterceptor(t, h), svc)
	cc := h.dial(t, addr)
	big := strings.Repeat("a", 64<<10)
	for _, tt := range []struct {
		name   string
		vals   []string
		reason string
	}{
		{"invalid characters", []string{"ac/me"}, "is invalid"},
		{"space", []string{"ac me"}, "is invalid"},
		{"empty", []string{""}, "is invalid"},
		{"two values", []string{"acme", "acme"}, "sent 2 times"},
		{"two tenants", []string{"acme", "globex"}, "sent 2 times"},
		{"64 KiB", []string{big}, "is invalid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.events(auditlog.PolicyDeny))
			md := metadata.MD{"x-tenant-id": tt.vals}
			ctx := metadata.NewOutgoingContext(context.Background(), md)
			_, err := who(ctx, cc)
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), scopegrpc.MsgInvalidTenant+" (urn:uuid:") {
				t.Fatalf("status %v %q, want InvalidArgument %q", st.Code(), st.Message(), scopegrpc.MsgInvalidTenant)
			}
			// Fixed text, then the instance: nothing of the input.
			if msg, _, _ := strings.Cut(st.Message(), " (urn:uuid:"); msg != scopegrpc.MsgInvalidTenant || len(st.Message()) != len(msg)+48 {
				t.Fatalf("message is not the fixed text and an instance: %q", st.Message())
			}
			denies := h.events(auditlog.PolicyDeny)
			if len(denies) != before+1 {
				t.Fatalf("%d new POLICY_DENY records, want 1", len(denies)-before)
			}
			e := denies[len(denies)-1]
			if e.Operation != scopegrpc.OperationGRPCRequest || e.Table != "grpc:"+methodWho || !strings.Contains(e.Reason, tt.reason) ||
				len(e.Reason) > 1024 || attrMap(e)[string(scopegrpc.AttrRPCStatusCode)] != "INVALID_ARGUMENT" {
				t.Fatalf("audit %+v", e)
			}
			if !strings.Contains(st.Message(), attrMap(e)[string(otelobs.AttrProblemInstance)]) {
				t.Fatalf("the message %q does not name the audit record's instance", st.Message())
			}
		})
	}
	if n := svc.calls.Load(); n != 0 {
		t.Fatalf("the handler ran %d times", n)
	}
}

// TestCodes: every refusal has its code, never Internal or Unknown, and the
// handler does not run.
func TestCodes(t *testing.T) {
	h := newHarness(t, true)
	header, _ := scopegrpc.NewHeaderStrategy(scopegrpc.HeaderConfig{})
	jwtS := newJWT(t)
	deny := scope.PolicyFunc(func(_ context.Context, op scope.Operation) scope.Decision {
		if op.Tenant.String() == "initech" {
			return scope.Deny("initech is suspended")
		}
		return scope.Allow()
	})
	boom := scopegrpc.StrategyFunc(func(context.Context) (scope.Tenant, error) { return scope.Tenant{}, errors.New("db password=hunter2") })
	for _, tt := range []struct {
		name string
		s    scopegrpc.Strategy
		md   metadata.MD
		code codes.Code
		msg  string
	}{
		{"no tenant (header)", header, nil, codes.InvalidArgument, scopegrpc.MsgMissingTenant},
		{"no tenant (bearer)", jwtS, nil, codes.Unauthenticated, scopegrpc.MsgUnauthorized},
		{"forged bearer", jwtS, metadata.Pairs("authorization", "Bearer "+signJWT(t, []byte("another secret of 32 bytes......"), "acme")), codes.Unauthenticated, scopegrpc.MsgUnauthorized},
		{"garbage bearer", jwtS, metadata.Pairs("authorization", "Bearer x.y.z"), codes.Unauthenticated, scopegrpc.MsgUnauthorized},
		{"policy deny", header, metadata.Pairs("x-tenant-id", "initech"), codes.PermissionDenied, scopegrpc.MsgForbidden},
		{"conflict", scopegrpc.NewConsistentChain(jwtS, header), metadata.Pairs("x-tenant-id", "globex", "authorization", "Bearer "+signJWT(t, jwtKey, "acme")), codes.InvalidArgument, scopegrpc.MsgConflict},
		{"strategy error", boom, nil, codes.InvalidArgument, scopegrpc.MsgUnresolved},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc := &echo{}
			addr, _ := h.serve(t, scopegrpc.New(tt.s, scopegrpc.WithBinder(h.binder), scopegrpc.WithPolicy(deny)), svc)
			cc := h.dial(t, addr)
			ctx := metadata.NewOutgoingContext(context.Background(), tt.md)
			_, err := who(ctx, cc)
			st := status.Convert(err)
			if st.Code() != tt.code || !strings.HasPrefix(st.Message(), tt.msg+" (") {
				t.Fatalf("status %v %q, want %v %q", st.Code(), st.Message(), tt.code, tt.msg)
			}
			if strings.Contains(st.Message(), "hunter2") {
				t.Fatal("the message leaks the strategy's error")
			}
			if _, err := count(ctx, cc, 1); status.Code(err) != tt.code {
				t.Fatalf("stream: %v, want %v", err, tt.code)
			}
			if svc.calls.Load() != 0 {
				t.Fatal("the handler ran")
			}
		})
	}
	// Each refusal was audited: a POLICY_DENY per call.
	if n := len(h.events(auditlog.PolicyDeny)); n != 14 {
		t.Fatalf("%d POLICY_DENY records, want 14", n)
	}
}

// TestHandlerOutcome: a server-side failure ends the binding with a
// *StatusError; a client error ends it with success.
func TestHandlerOutcome(t *testing.T) {
	h := newHarness(t, false)
	ic := headerInterceptor(t, h).UnaryServerInterceptor()
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-tenant-id", "acme"))
	info := &grpc.UnaryServerInfo{FullMethod: methodWho}
	for _, tt := range []struct {
		err     error
		outcome auditlog.Outcome
	}{
		{status.Error(codes.NotFound, "no such invoice"), auditlog.OutcomeSuccess},
		{status.Error(codes.Internal, "db down"), auditlog.OutcomeFailure},
		{errors.New("plain"), auditlog.OutcomeFailure}, // Unknown
	} {
		_, err := ic(ctx, nil, info, func(context.Context, any) (any, error) { return nil, tt.err })
		if !errors.Is(err, tt.err) {
			t.Fatalf("the handler's error %v became %v", tt.err, err)
		}
		rel := h.events(auditlog.ContextReleased)
		if got := rel[len(rel)-1].Outcome; got != tt.outcome {
			t.Fatalf("%v: CONTEXT_RELEASED outcome %q, want %q", tt.err, got, tt.outcome)
		}
	}
	// A panic ends the binding and goes on.
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic was swallowed")
			}
		}()
		_, _ = ic(ctx, nil, info, func(context.Context, any) (any, error) { panic("boom") })
	}()
	rel := h.events(auditlog.ContextReleased)
	if e := rel[len(rel)-1]; e.Outcome != auditlog.OutcomeFailure || !strings.Contains(e.Reason, "boom") {
		t.Fatalf("after a panic: %+v", e)
	}
}

// TestNoServerSpan: with the gate on and no span in the context, the
// interceptor records on a tenant.scope span of its own and ends it.
func TestNoServerSpan(t *testing.T) {
	h := newHarness(t, true)
	ic := headerInterceptor(t, h).UnaryServerInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: methodWho}
	for _, md := range []metadata.MD{metadata.Pairs("x-tenant-id", "acme"), metadata.Pairs("x-tenant-id", "a b")} {
		ctx := metadata.NewIncomingContext(context.Background(), md)
		_, _ = ic(ctx, nil, info, func(context.Context, any) (any, error) { return nil, nil })
	}
	if u := h.unended(); len(u) != 0 {
		t.Fatalf("spans not ended: %v", u)
	}
	var scopes int
	for _, s := range h.sr.Ended() {
		if s.Name() == otelobs.SpanScope {
			scopes++
		}
	}
	if scopes < 2 {
		t.Fatalf("%d tenant.scope spans, want one per call", scopes)
	}
}

func TestNewHeaderStrategy(t *testing.T) {
	for _, name := range []string{"grpc-tenant", "tenant-bin", "x tenant", "x/tenant"} {
		if _, err := scopegrpc.NewHeaderStrategy(scopegrpc.HeaderConfig{Name: name}); err == nil {
			t.Errorf("NewHeaderStrategy(%q) accepted it", name)
		}
	}
	s, err := scopegrpc.NewHeaderStrategy(scopegrpc.HeaderConfig{Name: "X-Org"})
	if err != nil || s.String() != "metadata x-org" {
		t.Fatalf("NewHeaderStrategy(X-Org) = %v, %v", s, err)
	}
}
