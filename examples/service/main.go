// Command service is a small multi-tenant invoices API built on TenantShield:
// scopehttp resolves the tenant from the X-Tenant-Id header, bunhook scopes
// every query, traces go to an OTLP endpoint and audit records to their own
// OTLP logs pipeline (a dedicated LoggerProvider), each switchable.
//
//	go run ./examples/service                       # SQLite file, telemetry off
//	TS_OBSERVABILITY=on TS_AUDIT=otlp \
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 go run ./examples/service
//
// Flags (each also read from the environment variable in brackets):
//
//	-addr           listen address [TS_ADDR] (default 127.0.0.1:8080)
//	-db             "sqlite:<file>" or a postgres:// DSN [TS_DB] (default sqlite:invoices.db)
//	-observability  on|off: tenant.* spans and the server spans, and the tenantshield.* metrics, exported over OTLP [TS_OBSERVABILITY]
//	-audit          otlp|stdout|off: where audit records go [TS_AUDIT]
//	-audit-delivery with -audit otlp: durable|blocking|batch [TS_AUDIT_DELIVERY] (default durable)
//	-audit-spool    the durable and blocking modes' spool directory [TS_AUDIT_SPOOL]
//	                (default audit-spool in the working directory, created 0700)
//	-audit-spool-max the spool's size limit in bytes [TS_AUDIT_SPOOL_MAX] (default 1 GiB)
//	-audit-sync-interval fsync the spool at most this often, e.g. 100ms [TS_AUDIT_SYNC_INTERVAL]
//	                (default 0: every batch; see auditspool.WithSyncInterval)
//
// The delivery modes (README, "Audit delivery when the Collector is
// unreachable"): durable fsyncs each record in the spool before the
// operation goes on and ships it when the Collector takes it, losing
// nothing through a Collector outage or a crash; blocking is durable, and
// an operation whose record cannot be stored (a full spool or disk) is
// refused with 503; batch never waits, and names what it loses in loss
// records.
//
// OTLP exporters are configured by the standard OTEL_EXPORTER_OTLP_* and
// OTEL_SERVICE_NAME variables. On SIGINT/SIGTERM the server drains requests,
// then both pipelines are flushed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/auditlog/auditotlp"
	"github.com/tenantshield/tenantshield-go/auditlog/auditspool"
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/pgdb"
	"github.com/tenantshield/tenantshield-go/bunhook/sqlitedb"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

type config struct {
	addr          string
	db            string
	observability bool
	audit         string // otlp, stdout, off
	delivery      string // with otlp: durable, blocking, batch
	auditSpool    string // durable and blocking: the spool directory
	spoolMax      int64  // durable and blocking: the spool's size limit (0: the default)
	syncEvery     time.Duration
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseConfig(args []string) (config, error) {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	var c config
	var obs string
	fs.StringVar(&c.addr, "addr", envOr("TS_ADDR", "127.0.0.1:8080"), "listen address")
	fs.StringVar(&c.db, "db", envOr("TS_DB", "sqlite:invoices.db"), `"sqlite:<file>" or a postgres:// DSN`)
	fs.StringVar(&obs, "observability", envOr("TS_OBSERVABILITY", "off"), "on|off")
	fs.StringVar(&c.audit, "audit", envOr("TS_AUDIT", "off"), "otlp|stdout|off")
	fs.StringVar(&c.delivery, "audit-delivery", envOr("TS_AUDIT_DELIVERY", "durable"),
		"with -audit otlp: durable (spooled, nothing lost), blocking (durable; refuse what cannot be recorded) or batch (never waits, losses named)")
	fs.StringVar(&c.auditSpool, "audit-spool", envOr("TS_AUDIT_SPOOL", "audit-spool"),
		"durable and blocking delivery: the spool directory (created 0700, refused if others can write it)")
	spoolMax := envOr("TS_AUDIT_SPOOL_MAX", "0")
	fs.StringVar(&spoolMax, "audit-spool-max", spoolMax, "durable and blocking delivery: the spool's size limit in bytes (0: 1 GiB)")
	syncEvery := envOr("TS_AUDIT_SYNC_INTERVAL", "0")
	fs.StringVar(&syncEvery, "audit-sync-interval", syncEvery,
		"durable and blocking delivery: fsync the spool at most this often (0: every batch; more is faster, and a machine crash may lose that much)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	d, err := time.ParseDuration(syncEvery)
	if syncEvery == "0" {
		d, err = 0, nil
	}
	if err != nil || d < 0 {
		return c, fmt.Errorf("-audit-sync-interval: %q is not a duration such as 100ms", syncEvery)
	}
	c.syncEvery = d
	n, err := strconv.ParseInt(spoolMax, 10, 64)
	if err != nil || n < 0 {
		return c, fmt.Errorf("-audit-spool-max: %q is not a number of bytes", spoolMax)
	}
	c.spoolMax = n
	switch strings.ToLower(obs) {
	case "on", "true", "1":
		c.observability = true
	case "off", "false", "0", "":
	default:
		return c, fmt.Errorf("-observability: %q is not on or off", obs)
	}
	switch c.audit {
	case "otlp", "stdout", "off":
	default:
		return c, fmt.Errorf("-audit: %q is not otlp, stdout or off", c.audit)
	}
	switch c.delivery {
	case "durable", "blocking":
		if c.auditSpool == "" {
			return c, fmt.Errorf("-audit-delivery %s needs a spool directory: set -audit-spool DIR (TS_AUDIT_SPOOL), one only this service writes", c.delivery)
		}
	case "batch":
	default:
		return c, fmt.Errorf("-audit-delivery: %q is not durable, blocking or batch", c.delivery)
	}
	return c, nil
}

func main() {
	cfg, err := parseConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, os.Stdout, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
}

// telemetry holds what main must flush and shut down.
type telemetry struct {
	tp *sdktrace.TracerProvider
	mp *sdkmetric.MeterProvider // -observability on
	lp interface {
		Shutdown(context.Context) error
	}
	sink    auditlog.Sink
	stats   *auditotlp.ExportStats // audit delivery counters (-audit otlp)
	durable bool                   // -audit-spool: what is not shipped stays in the spool
}

func setupTelemetry(ctx context.Context, cfg config, out io.Writer) (*telemetry, error) {
	tel := &telemetry{}
	res, err := serviceResource(ctx)
	if err != nil {
		return nil, fmt.Errorf("resource: %w", err)
	}
	if cfg.observability {
		exp, err := otlptracehttp.New(ctx) // OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT etc.
		if err != nil {
			return nil, fmt.Errorf("trace exporter: %w", err)
		}
		tel.tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
		otel.SetTracerProvider(tel.tp)
		otel.SetTextMapPropagator(propagation.TraceContext{})
		otelobs.Configure(true)
		mexp, err := otlpmetrichttp.New(ctx) // OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT etc.
		if err != nil {
			return nil, fmt.Errorf("metric exporter: %w", err)
		}
		// OTEL_METRIC_EXPORT_INTERVAL sets the period; Shutdown exports the last values.
		tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp)), sdkmetric.WithResource(res))
		otel.SetMeterProvider(tel.mp)
		otelobs.ConfigureMetrics(true)
	}
	switch cfg.audit {
	case "otlp":
		// A LoggerProvider of its own: audit never shares the application's
		// log pipeline, and never falls back to the global provider.
		tel.stats = &auditotlp.ExportStats{}
		if cfg.delivery != "batch" {
			// Durable: each record is fsynced in the spool before the
			// audited operation goes on, and shipped from there.
			// Blocking: the same, and an operation whose record cannot be
			// stored is refused (scopehttp answers 503).
			opts := []auditotlp.Option{auditotlp.WithResource(res), auditotlp.WithStats(tel.stats)}
			if cfg.delivery == "blocking" {
				opts = append(opts, auditotlp.WithBlocking())
			}
			if cfg.spoolMax > 0 {
				opts = append(opts, auditotlp.WithSpoolOptions(auditspool.WithSegmentSize(min(auditspool.DefaultSegmentSize, cfg.spoolMax/4)),
					auditspool.WithMaxBytes(cfg.spoolMax)))
			}
			if cfg.syncEvery > 0 {
				opts = append(opts, auditotlp.WithSpoolOptions(auditspool.WithSyncInterval(cfg.syncEvery)))
			}
			d, err := auditotlp.NewDurableSink(ctx, cfg.auditSpool, opts...)
			if err != nil {
				return nil, fmt.Errorf("audit spool (-audit-spool, or -audit-delivery batch to go without one): %w", err)
			}
			tel.lp, tel.sink, tel.durable = d, d, true
			break
		}
		// Batch: never waits for the Collector; what it loses is counted as
		// it happens and, once exports succeed again, named in the trail.
		lp, err := auditotlp.NewLoggerProvider(ctx, auditotlp.WithResource(res), auditotlp.WithStats(tel.stats))
		if err != nil {
			return nil, fmt.Errorf("audit exporter: %w", err)
		}
		sink, err := auditlog.NewOTelSink(lp)
		if err != nil {
			return nil, err
		}
		tel.lp, tel.sink = lp, sink
	case "stdout":
		tel.sink = auditlog.NewJSONSink(out)
	}
	if tel.sink != nil {
		auditlog.Register(tel.sink)
	}
	if tel.mp != nil && tel.stats != nil {
		spool, _ := tel.sink.(*auditotlp.DurableSink)
		if _, err := auditotlp.RegisterMetrics(tel.mp, tel.stats, spool); err != nil {
			return nil, fmt.Errorf("audit metrics: %w", err)
		}
	}
	return tel, nil
}

// serviceResource describes this process on both pipelines: the SDK's
// defaults, service.version (the module version the binary was built
// from), service.instance.id (the audit stream's id, so that a trace and an
// audit record of one process carry the same one) and host.name; the
// OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES environment wins.
func serviceResource(ctx context.Context) (*sdkresource.Resource, error) {
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	ident, err := sdkresource.New(ctx, sdkresource.WithHost(), sdkresource.WithAttributes(
		attribute.String("service.version", version),
		attribute.String("service.instance.id", auditlog.Default().Stream())))
	if err != nil {
		return nil, err
	}
	res, err := sdkresource.Merge(sdkresource.Default(), ident)
	if err != nil {
		return nil, err
	}
	return sdkresource.Merge(res, sdkresource.Environment())
}

// shutdown flushes both pipelines; it reports what could not be delivered.
func (t *telemetry) shutdown(ctx context.Context) error {
	var errs []error
	if f, ok := t.lp.(interface{ ForceFlush(context.Context) error }); ok {
		// Export what is queued while the sink is still registered, so
		// that the loss records of a pipeline that recovers join the
		// stream before its final checkpoint.
		errs = append(errs, f.ForceFlush(ctx))
	}
	if t.sink != nil {
		// The stream's final CHECKPOINT: a verifier can tell this clean end
		// from a lost tail.
		errs = append(errs, auditlog.Default().Shutdown(ctx))
		auditlog.Unregister(t.sink)
	}
	if t.lp != nil {
		errs = append(errs, t.lp.Shutdown(ctx))
		// What the audit pipeline delivered: records not exported are lost
		// (export failed after retries, or dropped from the full queue).
		s := t.stats.Snapshot()
		level := slog.LevelInfo
		if s.Lost() > 0 && !t.durable {
			level = slog.LevelError
		}
		slog.Log(ctx, level, "audit export", "emitted", s.Emitted, "exported", s.Exported,
			"failed", s.Failed, "dropped", s.Lost())
	}
	if t.mp != nil {
		errs = append(errs, t.mp.Shutdown(ctx)) // the audit counters after the audit pipeline's shutdown
	}
	if t.tp != nil {
		errs = append(errs, t.tp.Shutdown(ctx))
	}
	otelobs.Configure(false)
	otelobs.ConfigureMetrics(false)
	return errors.Join(errs...)
}

func openDB(dsn string) (*bun.DB, error) {
	opts := []bunhook.Option{bunhook.WithModels((*Invoice)(nil))}
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return pgdb.Open(dsn, opts...)
	case strings.HasPrefix(dsn, "sqlite:"):
		file := strings.TrimPrefix(dsn, "sqlite:")
		return sqlitedb.Open("file:"+file+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)", opts...)
	}
	return nil, fmt.Errorf("unsupported -db %q: use sqlite:<file> or a postgres:// DSN", dsn)
}

// run serves until ctx ends. If ready is not nil it receives the listening
// address.
func run(ctx context.Context, cfg config, out io.Writer, ready chan<- string) error {
	tel, err := setupTelemetry(ctx, cfg, out)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tel.shutdown(sctx); err != nil {
			slog.Error("flushing telemetry", "err", err)
		}
	}()
	db, err := openDB(cfg.db)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrate(ctx, db); err != nil {
		return err
	}
	handler, err := newHandler(db)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	slog.Info("serving invoices", "addr", ln.Addr().String(), "db", strings.SplitN(cfg.db, ":", 2)[0],
		"observability", cfg.observability, "audit", cfg.audit, "audit_delivery", cfg.delivery)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func migrate(ctx context.Context, db *bun.DB) error {
	admin, err := scope.WithBypass(ctx, "schema migration at startup")
	if err != nil {
		return err
	}
	_, err = db.NewCreateTable().Model((*Invoice)(nil)).IfNotExists().Exec(admin)
	return err
}

// newHandler mounts the API behind the tenant middleware; /healthz needs no
// tenant.
func newHandler(db *bun.DB) (http.Handler, error) {
	header, err := scopehttp.NewHeaderStrategy(scopehttp.HeaderConfig{})
	if err != nil {
		return nil, err
	}
	tenants := scopehttp.New(header)
	mux := http.NewServeMux()
	mux.Handle("/invoices", tenants.Wrap(api(db)))
	mux.Handle("/invoices/", tenants.Wrap(api(db)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return serverSpans(mux), nil
}
