// Command worker runs background jobs for two tenants on River and
// PostgreSQL, with the tenant carried from the code that enqueues a job to
// the code that works it (package scope/scoperiver), and the jobs' queries
// enforced by bunhook.
//
//	go run ./examples/worker            # PostgreSQL at TS_PG_DSN
//
// It enqueues receipts for acme and globex and a maintenance sweep, works
// them, and shows that each job saw only its tenant's rows, that a job
// enqueued with no tenant is refused, and that the sweep ran under an
// audited bypass. River's tables and the example's table live in a schema
// of their own (-schema), dropped at the end.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/pgdb"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scoperiver"
)

const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Receipt is the tenant-owned table the jobs write.
type Receipt struct {
	bun.BaseModel `bun:"table:river_receipts,alias:receipt"`
	bunhook.TenantOwned
	ID       int64  `bun:",pk,autoincrement"`
	TenantID string `bun:",notnull"`
	Amount   int    `bun:",notnull"`
}

// ReceiptArgs records one receipt for the tenant that enqueued the job. The
// tenant is not an argument: the middleware takes it from the context.
type ReceiptArgs struct {
	Amount int `json:"amount"`
}

// Kind implements river.JobArgs.
func (ReceiptArgs) Kind() string { return "receipt" }

// SweepArgs is a maintenance job that reads across tenants.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "receipt_sweep" }

// MaintenanceReason implements scoperiver.MaintenanceArgs: a constant.
func (SweepArgs) MaintenanceReason() string { return "nightly receipt totals across tenants" }

// Result is what a run observed.
type Result struct {
	Seen       map[string][]int // per tenant, the receipt counts its jobs saw
	SweepSaw   int              // receipts the maintenance sweep counted
	Refused    error            // the error of the insert with no tenant
	Violations int              // ENFORCEMENT_VIOLATION records
	Bypasses   []string         // reasons of the ENFORCEMENT_BYPASS records
}

func main() {
	schema := flag.String("schema", "river_worker_example", "PostgreSQL schema for River's tables and the example's table (dropped at the end)")
	flag.Parse()
	dsn := os.Getenv("TS_PG_DSN")
	if dsn == "" {
		dsn = defaultDSN
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	_, err := run(ctx, dsn, *schema, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// run is the whole example; main_test.go calls it.
func run(ctx context.Context, dsn, schema string, out io.Writer) (*Result, error) {
	pool, err := connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if err := setup(ctx, pool, schema); err != nil {
		return nil, err
	}
	defer func() {
		_, _ = pool.Exec(context.WithoutCancel(ctx), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	}()

	// Audit to memory, summarised at the end (a real service registers an
	// OTel or durable sink).
	mem := auditlog.NewMemorySink()
	bus := auditlog.NewBus()
	bus.Register(mem)
	binder := scope.NewBinder(scope.WithAuditBus(bus))

	db, err := pgdb.Open(withSearchPath(dsn, schema), bunhook.WithModels((*Receipt)(nil)), bunhook.WithAuditBus(bus))
	if err != nil {
		return nil, err
	}
	defer db.Close()

	secret := make([]byte, 32) // a real service loads its key from a secret store
	_, _ = rand.Read(secret)
	keys, err := scoperiver.NewKeyring(scoperiver.Key{ID: "example-1", Secret: secret})
	if err != nil {
		return nil, err
	}
	mw, err := scoperiver.NewMiddleware(keys, scoperiver.WithBinder(binder))
	if err != nil {
		return nil, err
	}

	res := &Result{Seen: map[string][]int{}}
	var mu sync.Mutex
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[ReceiptArgs]) error {
		if _, err := db.NewInsert().Model(&Receipt{Amount: job.Args.Amount}).Exec(ctx); err != nil {
			return err
		}
		n, err := db.NewSelect().Model((*Receipt)(nil)).Count(ctx) // this tenant's receipts only
		t, _ := scope.FromContext(ctx)
		mu.Lock()
		res.Seen[t.String()] = append(res.Seen[t.String()], int(n))
		mu.Unlock()
		return err
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, _ *river.Job[SweepArgs]) error {
		n, err := db.NewSelect().Model((*Receipt)(nil)).Count(ctx) // under the job's bypass: every tenant
		mu.Lock()
		res.SweepSaw = int(n)
		mu.Unlock()
		return err
	}))

	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Schema:            schema,
		Middleware:        []rivertype.Middleware{mw},
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers:           workers,
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}
	done, cancelSub := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobCancelled, river.EventKindJobFailed)
	defer cancelSub()
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	defer func() { _ = client.Stop(context.WithoutCancel(ctx)) }()

	// Enqueue: the tenant comes from the context, as in a request handler.
	jobs := map[string][]int{"acme": {10, 20, 30}, "globex": {5, 7}}
	total := 0
	for _, name := range []string{"acme", "globex"} {
		err := binder.Run(ctx, scope.MustParse(name), func(ctx context.Context) error {
			for _, amount := range jobs[name] {
				if _, err := client.Insert(ctx, ReceiptArgs{Amount: amount}, nil); err != nil {
					return err
				}
				total++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	_, res.Refused = client.Insert(ctx, ReceiptArgs{Amount: 99}, nil) // no tenant bound
	fmt.Fprintf(out, "enqueued %d receipts for acme and globex; with no tenant bound: %v\n", total, res.Refused)
	if err := wait(ctx, done, total); err != nil {
		return nil, err
	}

	if _, err := client.Insert(ctx, SweepArgs{}, nil); err != nil {
		return nil, err
	}
	if err := wait(ctx, done, 1); err != nil {
		return nil, err
	}

	names := make([]string, 0, len(res.Seen))
	for name := range res.Seen {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		slices.Sort(res.Seen[name])
		fmt.Fprintf(out, "jobs of %-6s saw receipt counts %v (never more than their tenant's own)\n", name, res.Seen[name])
	}
	fmt.Fprintf(out, "maintenance sweep (bypass %q) counted %d receipts across tenants\n", SweepArgs{}.MaintenanceReason(), res.SweepSaw)
	res.Violations = len(mem.Events(auditlog.EnforcementViolation))
	for _, e := range mem.Events(auditlog.EnforcementBypass) {
		res.Bypasses = append(res.Bypasses, e.Reason)
	}
	fmt.Fprintf(out, "audit: %d CONTEXT_BOUND, %d CONTEXT_RELEASED, %d ENFORCEMENT_VIOLATION, %d ENFORCEMENT_BYPASS\n",
		len(mem.Events(auditlog.ContextBound)), len(mem.Events(auditlog.ContextReleased)), res.Violations, len(res.Bypasses))
	return res, nil
}

// connect opens River's own pool and checks that PostgreSQL answers.
func connect(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = pool.Ping(pctx)
		cancel()
		if err != nil {
			pool.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL is unreachable (set TS_PG_DSN to a reachable server, e.g. %s): %w", defaultDSN, err)
	}
	return pool, nil
}

// setup creates the schema, River's tables and the example's table.
func setup(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	q := pgx.Identifier{schema}.Sanitize()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+q); err != nil {
		return err
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema})
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrating River: %w", err)
	}
	_, err = pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+q+".river_receipts (id bigserial PRIMARY KEY, tenant_id text NOT NULL, amount int NOT NULL)")
	return err
}

// wait waits for n jobs to finish; a job that did not complete is an error.
func wait(ctx context.Context, events <-chan *river.Event, n int) error {
	timeout := time.After(2 * time.Minute)
	for i := 0; i < n; i++ {
		select {
		case ev := <-events:
			if ev.Kind != river.EventKindJobCompleted {
				return fmt.Errorf("job %d (%s) ended %s: %v", ev.Job.ID, ev.Job.Kind, ev.Kind, ev.Job.Errors)
			}
		case <-timeout:
			return errors.New("jobs did not finish within 2 minutes")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func withSearchPath(dsn, schema string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
