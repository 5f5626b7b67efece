package scopegrpc_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopegrpc"
)

// harness is a Binder with a private bus and observer, observed through a
// span recorder and an in-memory sink.
type harness struct {
	binder *scope.Binder
	bus    *auditlog.Bus
	tp     *sdktrace.TracerProvider
	sr     *tracetest.SpanRecorder
	sink   *auditlog.MemorySink
	prop   propagation.TextMapPropagator
}

func newHarness(t testing.TB, observe bool) *harness {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := &harness{
		bus:  auditlog.NewBus(auditlog.WithErrorHandler(func(err error) { t.Errorf("unexpected sink failure: %v", err) })),
		tp:   tp,
		sr:   sr,
		sink: auditlog.NewMemorySink(),
		prop: propagation.TraceContext{},
	}
	h.bus.Register(h.sink)
	obs := otelobs.New(otelobs.WithTracerProvider(tp), otelobs.WithEnabled(observe))
	h.binder = scope.NewBinder(scope.WithAuditBus(h.bus), scope.WithObserver(obs))
	return h
}

// events returns the audit events of type typ.
func (h *harness) events(typ auditlog.Type) []auditlog.Event {
	var out []auditlog.Event
	for _, e := range h.sink.Events() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// echo is the test service: Who answers the bound tenant, Count streams it
// n times. Both count their calls and record the tenant each ran under.
type echo struct {
	calls   atomic.Int64
	mu      sync.Mutex
	tenants []string
}

const (
	methodWho   = "/tenantshield.test.Echo/Who"
	methodCount = "/tenantshield.test.Echo/Count"
)

func (e *echo) ran(ctx context.Context) (string, error) {
	e.calls.Add(1)
	t, err := scope.Require(ctx)
	if err != nil {
		return "", status.Error(codes.FailedPrecondition, "no tenant bound")
	}
	e.mu.Lock()
	e.tenants = append(e.tenants, t.String())
	e.mu.Unlock()
	return t.String(), nil
}

func (e *echo) ranUnder() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.tenants...)
}

var echoDesc = grpc.ServiceDesc{
	ServiceName: "tenantshield.test.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Who", Handler: func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
		req := new(wrapperspb.StringValue)
		if err := dec(req); err != nil {
			return nil, err
		}
		h := func(ctx context.Context, _ any) (any, error) {
			t, err := srv.(*echo).ran(ctx)
			if err != nil {
				return nil, err
			}
			return wrapperspb.String(t), nil
		}
		if in == nil {
			return h(ctx, req)
		}
		return in(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: methodWho}, h)
	}}},
	Streams: []grpc.StreamDesc{{StreamName: "Count", ServerStreams: true, Handler: func(srv any, ss grpc.ServerStream) error {
		n := new(wrapperspb.Int32Value)
		if err := ss.RecvMsg(n); err != nil {
			return err
		}
		for range n.Value {
			t, err := srv.(*echo).ran(ss.Context())
			if err != nil {
				return err
			}
			if err := ss.SendMsg(wrapperspb.String(t)); err != nil {
				return err
			}
		}
		return nil
	}}},
}

// serve starts a real gRPC server on 127.0.0.1 with otelgrpc and the
// interceptor; it returns its address and a stop function that waits for
// the server's goroutines.
func (h *harness) serve(t testing.TB, ic *scopegrpc.Interceptor, svc *echo) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(h.tp), otelgrpc.WithPropagators(h.prop))),
		grpc.ChainUnaryInterceptor(ic.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(ic.StreamServerInterceptor()),
	)
	srv.RegisterService(&echoDesc, svc)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			srv.GracefulStop()
			if err := <-done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// dial connects to addr with otelgrpc and the given interceptors.
func (h *harness) dial(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(h.tp), otelgrpc.WithPropagators(h.prop))),
	}, opts...)
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func who(ctx context.Context, cc *grpc.ClientConn, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	err := cc.Invoke(ctx, methodWho, wrapperspb.String("?"), out, opts...)
	return out.GetValue(), err
}

func count(ctx context.Context, cc *grpc.ClientConn, n int32) ([]string, error) {
	cs, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, methodCount)
	if err != nil {
		return nil, err
	}
	if err := cs.SendMsg(wrapperspb.Int32(n)); err != nil {
		return nil, err
	}
	if err := cs.CloseSend(); err != nil {
		return nil, err
	}
	var got []string
	for {
		m := new(wrapperspb.StringValue)
		err := cs.RecvMsg(m)
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, m.Value)
	}
}

// unended returns the names of spans started but not ended.
func (h *harness) unended() []string {
	ended := map[any]bool{}
	for _, s := range h.sr.Ended() {
		ended[s.SpanContext().SpanID()] = true
	}
	var out []string
	for _, s := range h.sr.Started() {
		if !ended[s.SpanContext().SpanID()] {
			out = append(out, s.Name())
		}
	}
	return out
}
