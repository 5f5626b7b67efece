package auditotlp

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/auditlog/auditspool"
)

// Protocols accepted in OTEL_EXPORTER_OTLP_(LOGS_)PROTOCOL.
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

type config struct {
	protocol   string
	resource   *resource.Resource
	sync       bool
	batchOpts  []sdklog.BatchProcessorOption
	exporter   sdklog.Exporter
	getenv     func(string) string
	processors []sdklog.Processor
	stats      *ExportStats
	onError    func(error)
	spoolOpts  []auditspool.Option
	lossBus    *auditlog.Bus
	lossOn     bool
	blocking   bool
	queueSize  int
}

// Option configures [NewLoggerProvider].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithProtocol overrides the protocol read from the environment
// ("http/protobuf" or "grpc").
func WithProtocol(p string) Option { return optionFunc(func(c *config) { c.protocol = p }) }

// WithResource sets the resource; the default merges resource.Default(),
// host.name, service.instance.id (the stream id of auditlog.Default(), which
// every record also carries) and the OTEL_SERVICE_NAME /
// OTEL_RESOURCE_ATTRIBUTES environment, which wins.
func WithResource(r *resource.Resource) Option {
	return optionFunc(func(c *config) {
		if r != nil {
			c.resource = r
		}
	})
}

// WithLossReports sets the bus that records the losses of the batch mode.
// The batch mode (the default of [NewLoggerProvider]) makes its losses
// visible while it runs: a record dropped from its full queue (of
// OTEL_BLRP_MAX_QUEUE_SIZE records, default 2048) is counted in
// [Stats.Dropped] and reported to the error handler as a [*DropError] (the
// first of an overflow and every 1000th), a failed export as an
// [*ExportError]; and once an export succeeds again, it emits one
// SINK_FAILURE per run of lost sequence numbers, naming the stream and the
// range (attributes audit.loss.*), so that the trail names its own gaps.
// Without this option (or with bus nil), loss records go to
// auditlog.Default() when the lost records are of its stream (the usual
// setup), and to no bus otherwise. The durable sink ([NewDurableSink])
// names the records it could not make durable the same way.
func WithLossReports(bus *auditlog.Bus) Option {
	return optionFunc(func(c *config) { c.lossOn, c.lossBus = true, bus })
}

// WithSynchronousExport exports each record before Emit returns (a simple
// processor) instead of batching. Every audited operation then waits for the
// Collector; use it only where losing a buffered record on a crash is worse
// than that latency.
func WithSynchronousExport() Option { return optionFunc(func(c *config) { c.sync = true }) }

// WithBatchOptions uses the SDK's batch processor with these options
// instead of the batch mode with loss reports (ignored with
// [WithSynchronousExport]). The SDK's processor drops records silently
// when its queue is full: only [Stats] counts them, after Shutdown.
func WithBatchOptions(opts ...sdklog.BatchProcessorOption) Option {
	return optionFunc(func(c *config) { c.batchOpts = append(c.batchOpts, opts...) })
}

// WithExporter replaces the OTLP exporter (for tests, or another transport).
func WithExporter(e sdklog.Exporter) Option { return optionFunc(func(c *config) { c.exporter = e }) }

// WithProcessor adds a processor that runs before the exporting one (for
// example, one that counts or redacts records).
func WithProcessor(p sdklog.Processor) Option {
	return optionFunc(func(c *config) { c.processors = append(c.processors, p) })
}

// NewLoggerProvider returns a LoggerProvider dedicated to audit, exporting over
// OTLP as configured by the environment (see the package documentation). The
// caller owns it: Shutdown flushes the records still buffered.
//
// Creating the exporter does not connect, so an unreachable Collector is not an
// error here. Records the exporter fails to deliver (after its retries) are
// dropped and reported as an [*ExportError] to the error handler
// ([WithErrorHandler], default otel.Handle); [WithStats] counts them.
func NewLoggerProvider(ctx context.Context, opts ...Option) (*sdklog.LoggerProvider, error) {
	c := config{getenv: os.Getenv}
	for _, o := range opts {
		o.apply(&c)
	}
	exp, res, err := c.exporterAndResource(ctx)
	if err != nil {
		return nil, err
	}
	// Every exporter, the default OTLP one or one given by WithExporter, is
	// wrapped: failures are counted and reported once, naming the count.
	exp = NewCountingExporter(exp, c.stats, c.onError)
	var proc sdklog.Processor
	switch {
	case c.sync:
		proc = sdklog.NewSimpleProcessor(exp)
	case c.lossOn || len(c.batchOpts) == 0:
		// The default: the batch mode whose losses are visible. The SDK's
		// batch processor (WithBatchOptions) drops silently on overflow.
		// Counts its own exports and failures: the exporter is not wrapped.
		lp := newLossProcessor(c.exporterOrRaw(exp), c.stats, c.handler(), c.lossBus, c.queueLen())
		lp.configure(c.envMillis("OTEL_BLRP_SCHEDULE_DELAY"), c.envMillis("OTEL_BLRP_EXPORT_TIMEOUT"), c.envInt("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"))
		proc = lp
	default:
		proc = sdklog.NewBatchProcessor(exp, c.batchOpts...)
	}
	popts := append([]sdklog.LoggerProviderOption{sdklog.WithResource(res)}, noLimits()...)
	if c.stats != nil {
		popts = append(popts, sdklog.WithProcessor(emitCounter{c.stats}))
	}
	for _, p := range c.processors {
		popts = append(popts, sdklog.WithProcessor(p))
	}
	popts = append(popts, sdklog.WithProcessor(proc))
	return sdklog.NewLoggerProvider(popts...), nil
}

// exporterAndResource returns the exporter given with WithExporter, or the
// OTLP one of the configured protocol, and the resource given with
// WithResource, or the default one.
func (c *config) exporterAndResource(ctx context.Context) (sdklog.Exporter, *resource.Resource, error) {
	exp := c.exporter
	if exp == nil {
		var err error
		if exp, err = newExporter(ctx, c.resolveProtocol()); err != nil {
			return nil, nil, err
		}
	}
	res := c.resource
	if res == nil {
		res = defaultResource(ctx)
	}
	return exp, res, nil
}

func (c *config) resolveProtocol() string {
	if c.protocol != "" {
		return c.protocol
	}
	if p := c.getenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"); p != "" {
		return p
	}
	if p := c.getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); p != "" {
		return p
	}
	return ProtocolHTTP
}

func newExporter(ctx context.Context, protocol string) (sdklog.Exporter, error) {
	switch strings.TrimSpace(strings.ToLower(protocol)) {
	case ProtocolHTTP, "http":
		return otlploghttp.New(ctx)
	case "http/json":
		return nil, fmt.Errorf("auditotlp: OTLP protocol %q is not supported by the Go exporter; use %q or %q", protocol, ProtocolHTTP, ProtocolGRPC)
	case ProtocolGRPC:
		return otlploggrpc.New(ctx)
	default:
		return nil, fmt.Errorf("auditotlp: unknown OTLP protocol %q in OTEL_EXPORTER_OTLP_(LOGS_)PROTOCOL; use %q or %q", protocol, ProtocolHTTP, ProtocolGRPC)
	}
}

// defaultResource is resource.Default(), the host, the stream's instance id
// and the environment (which overrides the rest). A SIEM tells replicas and
// restarts apart by service.instance.id.
func defaultResource(ctx context.Context) *resource.Resource {
	ident, err := resource.New(ctx, resource.WithHost(),
		resource.WithAttributes(attribute.String("service.instance.id", auditlog.Default().Stream())))
	if err != nil && ident == nil {
		ident = resource.Empty()
	}
	res := resource.Default()
	for _, r := range []*resource.Resource{ident, resource.Environment()} {
		if merged, err := resource.Merge(res, r); err == nil {
			res = merged
		}
		// A conflicting schema URL is the only failure: keep what merged
		// rather than lose the audit pipeline.
	}
	return res
}

// exporterOrRaw returns the exporter under the counting wrapper, which the
// loss processor replaces.
func (c *config) exporterOrRaw(exp sdklog.Exporter) sdklog.Exporter {
	if ce, ok := exp.(*countingExporter); ok {
		return ce.next
	}
	return exp
}

func (c *config) handler() func(error) {
	if c.onError != nil {
		return c.onError
	}
	return otel.Handle
}

// queueLen is the loss processor's queue size: OTEL_BLRP_MAX_QUEUE_SIZE, or
// 2048 as the SDK's batch processor.
func (c *config) queueLen() int {
	if c.queueSize > 0 {
		return c.queueSize
	}
	if n, err := strconv.Atoi(c.getenv("OTEL_BLRP_MAX_QUEUE_SIZE")); err == nil && n > 0 {
		return n
	}
	return 2048
}

// envMillis reads a duration in milliseconds from the environment (0 when
// unset or invalid).
func (c *config) envMillis(name string) time.Duration {
	return time.Duration(c.envInt(name)) * time.Millisecond
}

func (c *config) envInt(name string) int {
	if n, err := strconv.Atoi(c.getenv(name)); err == nil && n > 0 {
		return n
	}
	return 0
}

// noLimits lifts the SDK's attribute limits (by default 128 attributes per
// record, from OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT): an audit record whose
// attributes were cut would no longer match its hash, and the cut is
// silent. The audit sink bounds what it writes itself.
func noLimits() []sdklog.LoggerProviderOption {
	return []sdklog.LoggerProviderOption{sdklog.WithAttributeCountLimit(-1), sdklog.WithAttributeValueLengthLimit(-1)}
}
