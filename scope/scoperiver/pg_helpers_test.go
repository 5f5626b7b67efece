package scoperiver_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/pgdb"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scoperiver"
)

// defaultPGDSN is the PostgreSQL of every development and CI machine of the
// project; TS_PG_DSN overrides it.
const defaultPGDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Note is the tenant table the test jobs write, through bunhook.
type Note struct {
	bun.BaseModel `bun:"table:river_notes,alias:note"`
	bunhook.TenantOwned
	ID       int64  `bun:",pk,autoincrement"`
	TenantID string `bun:",notnull"`
	Seq      int    `bun:",notnull"`
	JobID    int64  `bun:",notnull"`
	Observed string `bun:",notnull"` // the tenant the worker saw bound
}

// pgHarness is one test run on the real PostgreSQL: River's tables and the
// tenant table in a schema of their own (river_<random>), dropped at the
// end, so that concurrent runs on the same database never meet.
type pgHarness struct {
	*audit
	schema string
	pool   *pgxpool.Pool // River's own pool, not wrapped by bunhook
	db     *bun.DB       // the application's enforced handle
	raw    *sql.DB       // unscoped: the truth
	keys   *scoperiver.Keyring
	mw     *scoperiver.Middleware
	ran    atomic.Int64 // worker bodies entered
}

func randSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func withSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("TS_PG_DSN: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func newPG(t *testing.T) *pgHarness {
	t.Helper()
	ctx := context.Background()
	dsn := os.Getenv("TS_PG_DSN")
	if dsn == "" {
		dsn = defaultPGDSN
	}
	h := &pgHarness{audit: newAudit(t), schema: "river_" + randSuffix(), keys: keyring(t, "k1", 1)}
	h.mw = newMiddleware(t, h.keys, h.audit)

	pool, err := pgxpool.New(ctx, dsn)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = pool.Exec(pctx, "CREATE SCHEMA "+h.schema)
		cancel()
		if err != nil {
			pool.Close()
		}
	}
	if err != nil {
		if os.Getenv("TS_REQUIRE_DBS") != "" {
			t.Fatalf("PostgreSQL at TS_PG_DSN is unreachable or refused CREATE SCHEMA (TS_REQUIRE_DBS is set, so this tier must run): %v", err)
		}
		t.Skipf("PostgreSQL at TS_PG_DSN is unreachable or refused CREATE SCHEMA: skipping (set TS_REQUIRE_DBS=1 to fail instead): %v", err)
	}
	h.pool = pool
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP SCHEMA "+h.schema+" CASCADE")
		pool.Close()
	})
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: h.schema, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		t.Fatalf("migrating River into %s: %v", h.schema, err)
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE "+h.schema+".river_notes (id bigserial PRIMARY KEY, tenant_id text NOT NULL, "+
		"seq int NOT NULL, job_id bigint NOT NULL, observed text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	sdsn := withSearchPath(t, dsn, h.schema)
	h.db, err = pgdb.Open(sdsn, bunhook.WithModels((*Note)(nil)), bunhook.WithAuditBus(h.bus))
	if err != nil {
		t.Fatal(err)
	}
	h.raw = sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(sdsn)))
	t.Cleanup(func() {
		_ = h.db.Close()
		_ = h.raw.Close()
	})
	return h
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// client returns a River client on the harness's schema. With workers it
// works the default queue with maxWorkers goroutines (call start); without,
// it only inserts. mws replaces the harness's middleware.
func (h *pgHarness) client(t *testing.T, workers *river.Workers, maxWorkers int, mws ...rivertype.Middleware) *river.Client[pgx.Tx] {
	t.Helper()
	if mws == nil {
		mws = []rivertype.Middleware{h.mw}
	}
	cfg := &river.Config{
		Schema:            h.schema,
		Middleware:        mws,
		Logger:            quietLogger(),
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		MaxAttempts:       3,
	}
	if workers != nil {
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}}
	}
	c, err := river.NewClient(riverpgxv5.New(h.pool), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *pgHarness) start(t *testing.T, c *river.Client[pgx.Tx]) {
	t.Helper()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("stopping the River client: %v", err)
		}
	})
}

// noteWorker writes one Note through bunhook for every job, recording the
// tenant bound in its context.
func (h *pgHarness) noteWorker() *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, river.WorkFunc(func(ctx context.Context, job *river.Job[noteArgs]) error {
		h.ran.Add(1)
		observed, _ := scope.FromContext(ctx)
		_, err := h.db.NewInsert().Model(&Note{Seq: job.Args.Seq, JobID: job.ID, Observed: observed.String()}).Exec(ctx)
		return err
	}))
	return w
}

// waitStates polls River's table until n jobs are in a final state, or
// fails after a generous bound. It returns the count per state.
func (h *pgHarness) waitStates(t *testing.T, n int) map[string]int {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got := map[string]int{}
		rows, err := h.raw.QueryContext(context.Background(), "SELECT state::text, count(*) FROM "+h.schema+".river_job GROUP BY state")
		if err != nil {
			t.Fatal(err)
		}
		final := 0
		for rows.Next() {
			var s string
			var c int
			if err := rows.Scan(&s, &c); err != nil {
				t.Fatal(err)
			}
			got[s] = c
			if s == "completed" || s == "cancelled" || s == "discarded" {
				final += c
			}
		}
		_ = rows.Close()
		if final >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 3 minutes %d of %d jobs are final: %v", final, n, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// notes reads every Note through the raw connection, by sequence number.
func (h *pgHarness) notes(t *testing.T) map[int][]Note {
	t.Helper()
	rows, err := h.raw.QueryContext(context.Background(), "SELECT tenant_id, seq, job_id, observed FROM "+h.schema+".river_notes")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int][]Note{}
	for rows.Next() {
		var n Note
		if err := rows.Scan(&n.TenantID, &n.Seq, &n.JobID, &n.Observed); err != nil {
			t.Fatal(err)
		}
		out[n.Seq] = append(out[n.Seq], n)
	}
	return out
}
