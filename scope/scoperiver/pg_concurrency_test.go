package scoperiver_test

import (
	"context"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
)

// TestPGConcurrentTenants works 1 000 jobs of 4 tenants with 8 workers:
// every job's note, written through bunhook and read back through the raw
// connection, belongs to the tenant that enqueued the job, and the worker
// saw exactly that tenant bound.
func TestPGConcurrentTenants(t *testing.T) {
	const (
		perTenant = 250
		batch     = 50
		workers   = 8
	)
	h := newPG(t)
	ctx := context.Background()
	inserter := h.client(t, nil, 0)
	expect := map[int]scope.Tenant{}
	seq := 0
	for round := 0; round < perTenant/batch; round++ {
		for _, tn := range tenants { // batches of the tenants interleaved
			params := make([]river.InsertManyParams, batch)
			for i := range params {
				seq++
				expect[seq] = tn
				params[i] = river.InsertManyParams{Args: noteArgs{Seq: seq, Expect: tn.String()}}
			}
			err := scope.Run(ctx, tn, func(ctx context.Context) error {
				_, err := inserter.InsertMany(ctx, params)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	total := len(expect)
	if total < 1000 {
		t.Fatalf("only %d jobs", total)
	}

	worker := h.client(t, h.noteWorker(), workers)
	h.start(t, worker)
	if states := h.waitStates(t, total); states["completed"] != total {
		t.Fatalf("job states %v, want %d completed", states, total)
	}

	notes := h.notes(t)
	if len(notes) != total {
		t.Fatalf("%d notes, want %d", len(notes), total)
	}
	jobs := map[int64]bool{}
	for s, tn := range expect {
		ns := notes[s]
		if len(ns) != 1 {
			t.Fatalf("job %d wrote %d notes", s, len(ns))
		}
		if ns[0].TenantID != tn.String() || ns[0].Observed != tn.String() {
			t.Errorf("job %d of %s: note of tenant %q, worker saw %q", s, tn, ns[0].TenantID, ns[0].Observed)
		}
		jobs[ns[0].JobID] = true
	}
	if len(jobs) != total {
		t.Fatalf("%d distinct job ids for %d jobs", len(jobs), total)
	}
	bound := h.sink.Events(auditlog.ContextBound)
	released := h.sink.Events(auditlog.ContextReleased)
	if len(bound) != total || len(released) != total || len(h.sink.Events(auditlog.EnforcementViolation)) != 0 {
		t.Fatalf("%d CONTEXT_BOUND, %d CONTEXT_RELEASED, violations %v", len(bound), len(released), h.sink.Events(auditlog.EnforcementViolation))
	}
	perTenantBound := map[string]int{}
	for _, e := range bound {
		perTenantBound[e.Tenant]++
	}
	for _, tn := range tenants {
		if perTenantBound[tn.String()] != perTenant {
			t.Errorf("%d CONTEXT_BOUND for %s, want %d", perTenantBound[tn.String()], tn, perTenant)
		}
	}
}

// TestPGOneWorkerAlternatingTenants works jobs of 4 tenants in turn, with
// a job that has no claim after every fourth, on a single worker: the jobs
// run one after another, consecutive jobs belong to different tenants, and
// none carries the tenant of the job before it, the refused jobs included
// (the bug of a job that cannot load its tenant and runs under the previous
// one's).
func TestPGOneWorkerAlternatingTenants(t *testing.T) {
	const jobs = 60
	h := newPG(t)
	ctx := context.Background()
	tagged := h.client(t, nil, 0)
	bare := h.client(t, nil, 0, []rivertype.Middleware{}...)
	expect := map[int]scope.Tenant{}
	refused := 0
	for s := 1; s <= jobs; s++ {
		tn := tenants[s%len(tenants)]
		expect[s] = tn
		insertAs(t, tagged, tn, noteArgs{Seq: s, Expect: tn.String()})
		if s%4 == 0 {
			refused++
			if _, err := bare.Insert(ctx, noteArgs{Seq: 1000 + s, Expect: tn.String()}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	worker := h.client(t, h.noteWorker(), 1)
	h.start(t, worker)
	states := h.waitStates(t, jobs+refused)
	if states["completed"] != jobs || states["cancelled"] != refused {
		t.Fatalf("job states %v, want %d completed and %d cancelled", states, jobs, refused)
	}

	// The order the single worker ran them in, from River's own record.
	rows, err := h.raw.QueryContext(ctx, "SELECT n.seq, n.tenant_id, n.observed FROM "+h.schema+".river_notes n JOIN "+
		h.schema+".river_job j ON j.id = n.job_id ORDER BY j.attempted_at, j.id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	prev, changes, n := "", 0, 0
	for rows.Next() {
		var s int
		var tenant, observed string
		if err := rows.Scan(&s, &tenant, &observed); err != nil {
			t.Fatal(err)
		}
		n++
		if tenant != expect[s].String() || observed != tenant {
			t.Errorf("job %d of %s: note of %q, worker saw %q", s, expect[s], tenant, observed)
		}
		if prev != "" && tenant != prev {
			changes++
		}
		prev = tenant
	}
	if n != jobs {
		t.Fatalf("%d notes, want %d (the refused jobs must write none)", n, jobs)
	}
	if changes < jobs/2 {
		t.Fatalf("only %d tenant changes between consecutive jobs: the test did not alternate", changes)
	}
	if v := h.sink.Events(auditlog.EnforcementViolation); len(v) != refused {
		t.Fatalf("%d ENFORCEMENT_VIOLATION, want %d", len(v), refused)
	}
}
