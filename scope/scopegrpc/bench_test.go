package scopegrpc_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopegrpc"
)

// BenchmarkUnaryInterceptor measures the server interceptor's overhead per
// call, in process, with the header strategy and a no-op handler: bare (a
// pass-through interceptor, the floor of an interceptor chain) and off (the
// tenant interceptor with audit and tracing off).
func BenchmarkUnaryInterceptor(b *testing.B) {
	s, err := scopegrpc.NewHeaderStrategy(scopegrpc.HeaderConfig{})
	if err != nil {
		b.Fatal(err)
	}
	off := scope.NewBinder(scope.WithAuditBus(auditlog.NewBus()), scope.WithObserver(otelobs.New(otelobs.WithEnabled(false))))
	bare := grpc.UnaryServerInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return h(ctx, req)
	})
	handler := func(ctx context.Context, _ any) (any, error) {
		if _, ok := scope.FromContext(ctx); !ok {
			return nil, scope.ErrNoTenant
		}
		return nil, nil
	}
	bareHandler := func(context.Context, any) (any, error) { return nil, nil }
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(
		"x-tenant-id", "acme", ":authority", "127.0.0.1:50051", "content-type", "application/grpc", "user-agent", "grpc-go/1.83.2", "te", "trailers"))
	info := &grpc.UnaryServerInfo{FullMethod: "/invoices.v1.Invoices/Get"}
	for _, bc := range []struct {
		name string
		ic   grpc.UnaryServerInterceptor
		h    grpc.UnaryHandler
	}{
		{"bare", bare, bareHandler},
		{"off", scopegrpc.New(s, scopegrpc.WithBinder(off)).UnaryServerInterceptor(), handler},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.ic(ctx, nil, info, bc.h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStreamInterceptor is the same for a stream.
func BenchmarkStreamInterceptor(b *testing.B) {
	s, err := scopegrpc.NewHeaderStrategy(scopegrpc.HeaderConfig{})
	if err != nil {
		b.Fatal(err)
	}
	off := scope.NewBinder(scope.WithAuditBus(auditlog.NewBus()), scope.WithObserver(otelobs.New(otelobs.WithEnabled(false))))
	ic := scopegrpc.New(s, scopegrpc.WithBinder(off)).StreamServerInterceptor()
	ss := &fakeStream{ctx: metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-tenant-id", "acme"))}
	info := &grpc.StreamServerInfo{FullMethod: "/invoices.v1.Invoices/List", IsServerStream: true}
	handler := func(_ any, ss grpc.ServerStream) error {
		if _, ok := scope.FromContext(ss.Context()); !ok {
			return scope.ErrNoTenant
		}
		return nil
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := ic(nil, ss, info, handler); err != nil {
			b.Fatal(err)
		}
	}
}

type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (f *fakeStream) Context() context.Context { return f.ctx }

// TestInterceptorAllocations keeps both server interceptors within the
// door's budget of 3 allocations per call with telemetry off (the
// metadata value's copy, the bound context, and for a stream the stream
// that carries it).
func TestInterceptorAllocations(t *testing.T) {
	s, err := scopegrpc.NewHeaderStrategy(scopegrpc.HeaderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	off := scope.NewBinder(scope.WithAuditBus(auditlog.NewBus()), scope.WithObserver(otelobs.New(otelobs.WithEnabled(false))))
	ic := scopegrpc.New(s, scopegrpc.WithBinder(off))
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-tenant-id", "acme"))
	unary, stream := ic.UnaryServerInterceptor(), ic.StreamServerInterceptor()
	uinfo := &grpc.UnaryServerInfo{FullMethod: "/invoices.v1.Invoices/Get"}
	sinfo := &grpc.StreamServerInfo{FullMethod: "/invoices.v1.Invoices/List", IsServerStream: true}
	ss := &fakeStream{ctx: ctx}
	for name, call := range map[string]func() error{
		"unary": func() error {
			_, err := unary(ctx, nil, uinfo, func(ctx context.Context, _ any) (any, error) {
				_, err := scope.Require(ctx)
				return nil, err
			})
			return err
		},
		"stream": func() error {
			return stream(nil, ss, sinfo, func(_ any, ss grpc.ServerStream) error {
				_, err := scope.Require(ss.Context())
				return err
			})
		},
	} {
		var callErr error
		n := testing.AllocsPerRun(200, func() {
			if err := call(); err != nil {
				callErr = err
			}
		})
		if callErr != nil {
			t.Fatalf("%s: %v", name, callErr)
		}
		if n > 3 {
			t.Errorf("%s interceptor: %v allocations per call, want ≤ 3", name, n)
		}
	}
}
