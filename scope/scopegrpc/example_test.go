package scopegrpc_test

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopegrpc"
)

// The interceptor binds the tenant of the call's metadata for the handler,
// and refuses an invalid one with InvalidArgument before the handler runs.
// A server installs it with grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor()).
func Example() {
	header, err := scopegrpc.NewHeaderStrategy(scopegrpc.HeaderConfig{}) // x-tenant-id
	if err != nil {
		panic(err)
	}
	ic := scopegrpc.New(header).UnaryServerInterceptor()
	handler := func(ctx context.Context, _ any) (any, error) {
		t, err := scope.Require(ctx)
		return "handled for " + t.String(), err
	}
	info := &grpc.UnaryServerInfo{FullMethod: "/invoices.v1.Invoices/List"}

	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-tenant-id", "acme"))
	resp, err := ic(ctx, nil, info, handler)
	fmt.Println(resp, err)

	ctx = metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-tenant-id", "acme; drop table"))
	_, err = ic(ctx, nil, info, handler)
	fmt.Println(status.Code(err))
	// Output:
	// handled for acme <nil>
	// InvalidArgument
}
