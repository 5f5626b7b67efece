package scoperiver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scoperiver"
)

// insertAs enqueues args through c in a context with tn bound.
func insertAs(t *testing.T, c interface {
	Insert(context.Context, river.JobArgs, *river.InsertOpts) (*rivertype.JobInsertResult, error)
}, tn scope.Tenant, args river.JobArgs,
) int64 {
	t.Helper()
	var id int64
	err := scope.NewBinder(scope.WithAuditBus(auditlog.NewBus())).Run(context.Background(), tn, func(ctx context.Context) error {
		res, err := c.Insert(ctx, args, nil)
		if err == nil {
			id = res.Job.ID
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPGInsertWithoutTenantFails(t *testing.T) {
	h := newPG(t)
	c := h.client(t, nil, 0)
	_, err := c.Insert(context.Background(), noteArgs{Seq: 1, Expect: "acme"}, nil)
	var ie *scoperiver.InsertError
	if !errors.Is(err, scope.ErrNoTenant) || !errors.As(err, &ie) {
		t.Fatalf("err = %v, want an *InsertError matching scope.ErrNoTenant", err)
	}
	var n int
	if err := h.raw.QueryRowContext(context.Background(), "SELECT count(*) FROM "+h.schema+".river_job").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d jobs in river_job (%v), want 0", n, err)
	}
	if v := h.sink.Events(auditlog.EnforcementViolation); len(v) != 1 || v[0].Operation != scoperiver.OperationInsert {
		t.Fatalf("ENFORCEMENT_VIOLATION = %+v", v)
	}
}

// TestPGUntrustedJobsFailClosed enqueues jobs whose claim is missing,
// invalid, forged, signed by an unknown key, edited in the database or
// copied from another job, between good jobs, and works them with one
// worker: each untrusted job is cancelled with its reason and audited, its
// worker never runs, and the good jobs around it run for their own tenant.
func TestPGUntrustedJobsFailClosed(t *testing.T) {
	h := newPG(t)
	ctx := context.Background()
	tagged := h.client(t, nil, 0)                            // with the middleware
	bare := h.client(t, nil, 0, []rivertype.Middleware{}...) // without: any metadata
	kind := noteArgs{}.Kind()
	sign := func(kr *scoperiver.Keyring, tenant string, args noteArgs) []byte {
		enc, _ := json.Marshal(args)
		md, err := scoperiver.SignedMetadata(kr, tenant, false, kind, enc)
		if err != nil {
			t.Fatal(err)
		}
		return md
	}
	bareInsert := func(args noteArgs, md []byte) int64 {
		res, err := bare.Insert(ctx, args, &river.InsertOpts{Metadata: md})
		if err != nil {
			t.Fatal(err)
		}
		return res.Job.ID
	}

	good := map[int64]scope.Tenant{}
	want := map[int64]error{}
	good[insertAs(t, tagged, acme, noteArgs{Seq: 1, Expect: "acme"})] = acme
	want[bareInsert(noteArgs{Seq: 2, Expect: "acme"}, nil)] = scoperiver.ErrNoClaim
	want[bareInsert(noteArgs{Seq: 3, Expect: "bad tenant"}, sign(h.keys, "bad tenant", noteArgs{Seq: 3, Expect: "bad tenant"}))] = scope.ErrInvalidTenant
	forged := fmt.Sprintf(`{"tenantshield":{"v":1,"tenant":"acme","kid":"k1","tag":"%s"}}`, strings.Repeat("Q", 43))
	want[bareInsert(noteArgs{Seq: 4, Expect: "acme"}, []byte(forged))] = scoperiver.ErrTagMismatch
	want[bareInsert(noteArgs{Seq: 5, Expect: "acme"}, sign(keyring(t, "k-retired", 7), "acme", noteArgs{Seq: 5, Expect: "acme"}))] = scoperiver.ErrUnknownKey
	good[insertAs(t, tagged, globex, noteArgs{Seq: 6, Expect: "globex"})] = globex

	// A job of acme whose stored tenant is changed to globex in the database.
	edited := insertAs(t, tagged, acme, noteArgs{Seq: 7, Expect: "acme"})
	want[edited] = scoperiver.ErrTagMismatch
	if _, err := h.raw.ExecContext(ctx, "UPDATE "+h.schema+".river_job SET metadata = jsonb_set(metadata, '{tenantshield,tenant}', '\"globex\"') WHERE id = $1", edited); err != nil {
		t.Fatal(err)
	}
	// A job of acme given the claim of a job of globex.
	donor := insertAs(t, tagged, globex, noteArgs{Seq: 8, Expect: "globex"})
	good[donor] = globex
	copied := insertAs(t, tagged, acme, noteArgs{Seq: 9, Expect: "acme"})
	want[copied] = scoperiver.ErrTagMismatch
	if _, err := h.raw.ExecContext(ctx, "UPDATE "+h.schema+".river_job SET metadata = (SELECT metadata FROM "+h.schema+".river_job WHERE id = $1) WHERE id = $2", donor, copied); err != nil {
		t.Fatal(err)
	}
	good[insertAs(t, tagged, initech, noteArgs{Seq: 10, Expect: "initech"})] = initech

	worker := h.client(t, h.noteWorker(), 1)
	h.start(t, worker)
	h.waitStates(t, len(good)+len(want))

	for id, sentinel := range want {
		job, err := worker.JobGet(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if job.State != rivertype.JobStateCancelled || len(job.Errors) != 1 || !strings.Contains(job.Errors[0].Error, sentinel.Error()) {
			t.Errorf("job %d: state %s, errors %+v; want cancelled once with %q", id, job.State, job.Errors, sentinel)
		}
	}
	notes := h.notes(t)
	if int(h.ran.Load()) != len(good) || len(notes) != len(good) {
		t.Fatalf("%d worker runs, %d notes; want %d (only the trusted jobs)", h.ran.Load(), len(notes), len(good))
	}
	for _, ns := range notes {
		n := ns[0]
		if tn, ok := good[n.JobID]; !ok || len(ns) != 1 || n.TenantID != tn.String() || n.Observed != tn.String() {
			t.Errorf("note %+v: want exactly one note of tenant %q", ns, tn)
		}
	}
	violations := h.sink.Events(auditlog.EnforcementViolation)
	if len(violations) != len(want) {
		t.Fatalf("%d ENFORCEMENT_VIOLATION records, want %d: %+v", len(violations), len(want), violations)
	}
	for _, v := range violations {
		var id int64
		_, _ = fmt.Sscan(attrOf(v, "river.job.id"), &id)
		if sentinel, ok := want[id]; !ok || v.Operation != scoperiver.OperationWork || !strings.Contains(v.Reason, sentinel.Error()) {
			t.Errorf("violation %+v does not name an untrusted job and its reason", v)
		}
	}
	if b := h.sink.Events(auditlog.ContextBound); len(b) != len(good) {
		t.Fatalf("%d CONTEXT_BOUND, want %d", len(b), len(good))
	}
}
