package scopegrpc

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopetoken"
)

// UnaryClientInterceptor returns a client interceptor that forwards the
// tenant bound in the call's context as a propagation token
// ([scopetoken.MetadataKey]) signed by kr for the current trace, so that a
// server with [NewTokenStrategy] binds the same tenant. Install otelgrpc's
// client stats handler as well: the server verifies the token against the
// trace that otelgrpc propagates.
//
// A context without a tenant is passed on unchanged. A context whose tenant
// cannot be forwarded fails the call before it is sent: a binding in
// conflict ([*scope.ConflictError]) or no span context
// ([scopetoken.ErrNoTrace]). A token already in the outgoing metadata is
// replaced. The tenant never travels in baggage. It panics if kr is nil.
func UnaryClientInterceptor(kr *scopetoken.Keyring) grpc.UnaryClientInterceptor {
	if kr == nil {
		panic("scopegrpc: UnaryClientInterceptor called with a nil Keyring")
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, err := outgoing(ctx, kr)
		if err != nil {
			return err
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor is [UnaryClientInterceptor] for streams.
func StreamClientInterceptor(kr *scopetoken.Keyring) grpc.StreamClientInterceptor {
	if kr == nil {
		panic("scopegrpc: StreamClientInterceptor called with a nil Keyring")
	}
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		ctx, err := outgoing(ctx, kr)
		if err != nil {
			return nil, err
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
}

// outgoing returns ctx with the propagation token of its tenant in the
// outgoing metadata.
func outgoing(ctx context.Context, kr *scopetoken.Keyring) (context.Context, error) {
	t, err := scope.Require(ctx)
	if errors.Is(err, scope.ErrNoTenant) {
		return ctx, nil
	}
	if err != nil {
		return ctx, fmt.Errorf("scopegrpc: the call's tenant cannot be forwarded: %w", err)
	}
	tok, err := kr.Sign(ctx, t)
	if err != nil {
		return ctx, fmt.Errorf("scopegrpc: the call's tenant cannot be forwarded: %w", err)
	}
	md, ok := metadata.FromOutgoingContext(ctx)
	if !ok {
		return metadata.AppendToOutgoingContext(ctx, scopetoken.MetadataKey, tok), nil
	}
	md.Set(scopetoken.MetadataKey, tok) // md is a copy
	return metadata.NewOutgoingContext(ctx, md), nil
}
