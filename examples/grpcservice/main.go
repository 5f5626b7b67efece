// Command grpcservice is the gRPC variant of the example service: an
// invoices API whose calls are bound to the tenant of their x-tenant-id
// metadata by scopegrpc's interceptors, with every query scoped by bunhook
// on embedded SQLite, beside otelgrpc. There is no protoc step: the service
// is a hand-written grpc.ServiceDesc over well-known protobuf types.
//
//	go run ./examples/grpcservice          # serve, run a two-tenant demo client, exit
//	go run ./examples/grpcservice -serve   # keep serving on -addr
//
// Methods (service invoices.v1.Invoices):
//
//	Create (unary)          google.protobuf.Int64Value amount -> google.protobuf.Struct invoice
//	List   (server stream)  google.protobuf.Empty -> stream google.protobuf.Struct
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/sqlitedb"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopegrpc"
)

// Invoice is tenant-owned: the handlers never mention the tenant.
type Invoice struct {
	bun.BaseModel `bun:"table:grpc_invoices,alias:invoice"`
	bunhook.TenantOwned
	ID       int64  `bun:",pk,autoincrement"`
	TenantID string `bun:",notnull"`
	Amount   int64  `bun:",notnull"`
}

func (inv *Invoice) proto() *structpb.Struct {
	s, _ := structpb.NewStruct(map[string]any{"id": inv.ID, "tenant_id": inv.TenantID, "amount": inv.Amount})
	return s
}

const (
	serviceName  = "invoices.v1.Invoices"
	methodCreate = "/" + serviceName + "/Create"
	methodList   = "/" + serviceName + "/List"
)

// invoices implements the service on db.
type invoices struct{ db *bun.DB }

func (s *invoices) create(ctx context.Context, amount *wrapperspb.Int64Value) (*structpb.Struct, error) {
	inv := &Invoice{Amount: amount.GetValue()}
	if _, err := s.db.NewInsert().Model(inv).Exec(ctx); err != nil { // tenant_id filled by bunhook
		return nil, statusOf(err)
	}
	return inv.proto(), nil
}

func (s *invoices) list(_ *emptypb.Empty, ss grpc.ServerStream) error {
	var invs []Invoice
	if err := s.db.NewSelect().Model(&invs).Order("invoice.id").Scan(ss.Context()); err != nil { // scoped by bunhook
		return statusOf(err)
	}
	for i := range invs {
		if err := ss.SendMsg(invs[i].proto()); err != nil {
			return err
		}
	}
	return nil
}

// statusOf maps enforcement errors to codes; anything else is Internal with a
// fixed message.
func statusOf(err error) error {
	switch {
	case errors.Is(err, scope.ErrNoTenant):
		return status.Error(codes.Unauthenticated, "no tenant bound")
	case errors.Is(err, scope.ErrCrossTenant), errors.Is(err, scope.ErrPolicyDenied):
		return status.Error(codes.PermissionDenied, "not allowed for this tenant")
	}
	return status.Error(codes.Internal, "the query failed")
}

// serviceDesc is what protoc-gen-go-grpc would generate for the service.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: serviceName,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Create",
		Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.Int64Value)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				return srv.(*invoices).create(ctx, req.(*wrapperspb.Int64Value))
			}
			if ic == nil {
				return h(ctx, in)
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: methodCreate}, h)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "List",
		ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error {
			in := new(emptypb.Empty)
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			return srv.(*invoices).list(in, ss)
		},
	}},
}

var dbSeq atomic.Int64

// newServer opens a fresh in-memory database and returns the gRPC server.
func newServer(ctx context.Context) (*grpc.Server, *bun.DB, error) {
	dsn := fmt.Sprintf("file:grpcservice%d?mode=memory&cache=shared", dbSeq.Add(1))
	db, err := sqlitedb.Open(dsn, bunhook.WithModels((*Invoice)(nil)))
	if err != nil {
		return nil, nil, err
	}
	admin, err := scope.WithBypass(ctx, "schema migration at startup")
	if err != nil {
		return nil, nil, err
	}
	if _, err := db.NewCreateTable().Model((*Invoice)(nil)).IfNotExists().Exec(admin); err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	header, err := scopegrpc.NewHeaderStrategy(scopegrpc.HeaderConfig{}) // x-tenant-id
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	tenants := scopegrpc.New(header)
	srv := grpc.NewServer(
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		grpc.ChainUnaryInterceptor(tenants.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(tenants.StreamServerInterceptor()),
	)
	srv.RegisterService(&serviceDesc, &invoices{db: db})
	return srv, db, nil
}

// demo calls the service at addr for two tenants, and once with an invalid
// tenant, printing what each sees.
func demo(ctx context.Context, addr string, out io.Writer) error {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	if err != nil {
		return err
	}
	defer cc.Close()
	tracer := otel.Tracer("examples/grpcservice")
	for _, c := range []struct {
		tenant  string
		amounts []int64
	}{{"acme", []int64{100, 250}}, {"globex", []int64{999}}} {
		cctx, span := tracer.Start(ctx, "demo "+c.tenant)
		cctx = metadata.AppendToOutgoingContext(cctx, "x-tenant-id", c.tenant)
		for _, a := range c.amounts {
			if err := cc.Invoke(cctx, methodCreate, wrapperspb.Int64(a), new(structpb.Struct)); err != nil {
				span.End()
				return fmt.Errorf("create for %s: %w", c.tenant, err)
			}
		}
		n, err := list(cctx, cc, out, c.tenant)
		span.End()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s sees %d invoices\n", c.tenant, n)
	}
	bad := metadata.AppendToOutgoingContext(ctx, "x-tenant-id", "acme'; --")
	err = cc.Invoke(bad, methodCreate, wrapperspb.Int64(1), new(structpb.Struct))
	fmt.Fprintf(out, "invalid tenant: %s\n", status.Code(err))
	_, err = list(ctx, cc, io.Discard, "")
	fmt.Fprintf(out, "no tenant: %s\n", status.Code(err))
	return nil
}

func list(ctx context.Context, cc *grpc.ClientConn, out io.Writer, tenant string) (int, error) {
	cs, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, methodList)
	if err != nil {
		return 0, err
	}
	if err := cs.SendMsg(&emptypb.Empty{}); err != nil {
		return 0, err
	}
	if err := cs.CloseSend(); err != nil {
		return 0, err
	}
	n := 0
	for {
		m := new(structpb.Struct)
		err := cs.RecvMsg(m)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
		fmt.Fprintf(out, "  %s: invoice %v of %s, amount %v\n", tenant, m.Fields["id"].GetNumberValue(),
			m.Fields["tenant_id"].GetStringValue(), m.Fields["amount"].GetNumberValue())
	}
}

// run serves on addr; with serve false it runs the demo client and returns.
func run(ctx context.Context, addr string, serve bool, out io.Writer) error {
	srv, db, err := newServer(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if serve {
		fmt.Fprintf(out, "serving %s on %s\n", serviceName, ln.Addr())
		<-ctx.Done()
	} else {
		err = demo(ctx, ln.Addr().String(), out)
	}
	srv.GracefulStop()
	if serr := <-errc; serr != nil && !errors.Is(serr, grpc.ErrServerStopped) {
		return serr
	}
	return err
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	serve := flag.Bool("serve", false, "keep serving instead of running the demo client")
	flag.Parse()
	otel.SetTextMapPropagator(propagation.TraceContext{}) // one trace across client and server
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *addr, *serve, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpcservice:", err)
		os.Exit(1)
	}
}
