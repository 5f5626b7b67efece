// Command auditburst emits a burst of audit records through one delivery
// mode of auditotlp, as fast as its goroutines can, then shuts down
// gracefully (the bus's final checkpoint, then the pipeline's flush) and
// prints what the pipeline counted as one JSON object. The end-to-end tests
// (e2e/) run it against the real Collector to check what each mode loses
// under a burst: the durable mode nothing, the batch mode only what it
// counts and names in loss records.
//
// Usage:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \
//	  go run ./internal/cmd/auditburst -n 100000 -delivery durable -spool DIR
//
// The OTLP exporter is configured by the standard OTEL_EXPORTER_OTLP_*
// variables, the resource by OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/auditlog/auditotlp"
)

// result is what the command prints.
type result struct {
	Delivery string  `json:"delivery"`
	Emitted  uint64  `json:"emitted"`  // records given to the sink (the burst, loss records, the final checkpoint)
	Exported uint64  `json:"exported"` // accepted by the Collector
	Failed   uint64  `json:"failed"`   // export failures (batch) or records not made durable (durable)
	Dropped  uint64  `json:"dropped"`  // dropped from the batch mode's full queue
	Pending  int     `json:"pending"`  // durable: left in the spool at exit
	Seconds  float64 `json:"burst_seconds"`
	Stream   string  `json:"stream_id"`
	Error    string  `json:"shutdown_error,omitempty"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "auditburst:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("auditburst", flag.ContinueOnError)
	n := fs.Int("n", 100000, "records to emit")
	workers := fs.Int("workers", 8, "emitting goroutines")
	delivery := fs.String("delivery", "durable", "durable or batch")
	spool := fs.String("spool", "", "the durable mode's spool directory")
	wait := fs.Duration("shutdown", 5*time.Minute, "how long the graceful shutdown may take")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	stats := &auditotlp.ExportStats{}
	handler := auditotlp.WithErrorHandler(func(error) {}) // counted in stats; a burst would flood stderr
	var (
		sink     auditlog.Sink
		flush    = func(context.Context) error { return nil }
		shutdown func(context.Context) error
		pending  = func() int { return 0 }
	)
	switch *delivery {
	case "durable":
		d, err := auditotlp.NewDurableSink(ctx, *spool, auditotlp.WithStats(stats), handler)
		if err != nil {
			return err
		}
		sink, shutdown, pending = d, d.Shutdown, d.Pending
	case "batch":
		lp, err := auditotlp.NewLoggerProvider(ctx, auditotlp.WithStats(stats), handler)
		if err != nil {
			return err
		}
		if sink, err = auditlog.NewOTelSink(lp); err != nil {
			return err
		}
		// Export what is queued while the bus still runs, so that the
		// loss records join the stream before the final checkpoint (as
		// examples/service does); the rest at Shutdown.
		flush, shutdown = lp.ForceFlush, lp.Shutdown
	default:
		return fmt.Errorf("-delivery: %q is not durable or batch", *delivery)
	}
	bus := auditlog.Default()
	bus.Register(sink)
	start := time.Now()
	burst(bus, *n, *workers)
	r := result{Delivery: *delivery, Seconds: time.Since(start).Seconds(), Stream: bus.Stream()}

	sctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	err := errors.Join(flush(sctx), bus.Shutdown(sctx)) // the final checkpoint
	bus.Unregister(sink)
	err = errors.Join(err, shutdown(sctx))
	st := stats.Snapshot()
	r.Emitted, r.Exported, r.Failed, r.Dropped, r.Pending = st.Emitted, st.Exported, st.Failed, st.Dropped, pending()
	if err != nil {
		r.Error = err.Error()
	}
	return json.NewEncoder(out).Encode(r)
}

// burst emits n records from workers goroutines.
func burst(bus *auditlog.Bus, n, workers int) {
	var wg sync.WaitGroup
	per := n / workers
	for w := range workers {
		count := per
		if w == workers-1 {
			count = n - per*(workers-1)
		}
		wg.Go(func() {
			tenant := "tenant-" + strconv.Itoa(w%4)
			for range count {
				bus.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: tenant,
					Operation: "burst", Outcome: auditlog.OutcomeSuccess})
			}
		})
	}
	wg.Wait()
}
