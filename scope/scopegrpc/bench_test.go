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
