package scoperiver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scoperiver"
)

type noteArgs struct {
	Seq    int    `json:"seq"`
	Expect string `json:"expect"` // the tests' oracle, never used for binding
}

func (noteArgs) Kind() string { return "scoperiver_note" }

type sweepArgs struct{}

func (sweepArgs) Kind() string              { return "scoperiver_sweep" }
func (sweepArgs) MaintenanceReason() string { return "nightly retention sweep across tenants" }

type blankSweepArgs struct{}

func (blankSweepArgs) Kind() string              { return "scoperiver_blank_sweep" }
func (blankSweepArgs) MaintenanceReason() string { return " " }

// insertParams returns River's insert parameters for args, as River builds
// them before its middleware runs.
func insertParams(t testing.TB, args river.JobArgs, metadata string) *rivertype.JobInsertParams {
	t.Helper()
	enc, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	return &rivertype.JobInsertParams{Args: args, Kind: args.Kind(), EncodedArgs: enc, Metadata: []byte(metadata)}
}

// insert runs the middleware's insert side on params and returns the job
// rows River would store (metadata as stamped).
func insert(ctx context.Context, mw *scoperiver.Middleware, params ...*rivertype.JobInsertParams) ([]*rivertype.JobRow, error) {
	var rows []*rivertype.JobRow
	_, err := mw.InsertMany(ctx, params, func(context.Context) ([]*rivertype.JobInsertResult, error) {
		for i, p := range params {
			rows = append(rows, &rivertype.JobRow{ID: int64(i + 1), Kind: p.Kind, EncodedArgs: p.EncodedArgs, Metadata: p.Metadata})
		}
		return nil, nil
	})
	return rows, err
}

func TestInsertStampsTheContextsTenant(t *testing.T) {
	t.Parallel()
	kr := keyring(t, "k1", 1)
	a := newAudit(t)
	mw := newMiddleware(t, kr, a)
	ctx := scope.NewContext(context.Background(), acme)

	// The caller's metadata tries to name another tenant; it is replaced,
	// and its other keys are kept.
	forged, _ := json.Marshal(map[string]any{scoperiver.MetadataKey: map[string]any{"v": 1, "tenant": "globex", "kid": "k1", "tag": "x"}, "origin": "api"})
	rows, err := insert(ctx, mw, insertParams(t, noteArgs{Seq: 1, Expect: "globex"}, string(forged)), insertParams(t, sweepArgs{}, ""))
	if err != nil {
		t.Fatal(err)
	}
	got, err := scoperiver.Verify(kr, rows[0].Metadata, rows[0].Kind, rows[0].EncodedArgs)
	if err != nil || got != "acme" {
		t.Fatalf("stored tenant = %q, %v; want acme", got, err)
	}
	var md map[string]any
	if err := json.Unmarshal(rows[0].Metadata, &md); err != nil || md["origin"] != "api" {
		t.Fatalf("the caller's other metadata was lost: %s", rows[0].Metadata)
	}
	if got, err := scoperiver.Verify(kr, rows[1].Metadata, rows[1].Kind, rows[1].EncodedArgs); err != nil || got != (sweepArgs{}).MaintenanceReason() {
		t.Fatalf("maintenance claim = %q, %v", got, err)
	}
	if n := a.sink.Len(); n != 0 {
		t.Fatalf("a stamped insert emitted %d audit events", n)
	}
}

func TestInsertRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ctx    context.Context
		params func(t testing.TB) []*rivertype.JobInsertParams
		want   error
	}{
		{"no tenant bound", context.Background(), func(t testing.TB) []*rivertype.JobInsertParams {
			return []*rivertype.JobInsertParams{insertParams(t, noteArgs{Seq: 1, Expect: "acme"}, "")}
		}, scope.ErrNoTenant},
		{"bypass but no tenant", func() context.Context {
			ctx, _ := scope.WithBypass(context.Background(), "admin tool")
			return ctx
		}(), func(t testing.TB) []*rivertype.JobInsertParams {
			return []*rivertype.JobInsertParams{insertParams(t, noteArgs{Seq: 1}, "")}
		}, scope.ErrNoTenant},
		{"conflicting binding", scope.NewContext(scope.NewContext(context.Background(), acme), globex), func(t testing.TB) []*rivertype.JobInsertParams {
			return []*rivertype.JobInsertParams{insertParams(t, noteArgs{Seq: 1}, "")}
		}, scope.ErrTenantConflict},
		{"blank maintenance reason", context.Background(), func(t testing.TB) []*rivertype.JobInsertParams {
			return []*rivertype.JobInsertParams{insertParams(t, blankSweepArgs{}, "")}
		}, scope.ErrInvalidBypass},
		{"one bad job in a batch", context.Background(), func(t testing.TB) []*rivertype.JobInsertParams {
			return []*rivertype.JobInsertParams{insertParams(t, sweepArgs{}, ""), insertParams(t, noteArgs{Seq: 2}, "")}
		}, scope.ErrNoTenant},
		{"huge exponent in the args", scope.NewContext(context.Background(), acme), func(t testing.TB) []*rivertype.JobInsertParams {
			p := insertParams(t, noteArgs{Seq: 1}, "")
			p.EncodedArgs = []byte(`{"seq":1e999999999}`)
			return []*rivertype.JobInsertParams{p}
		}, scoperiver.ErrMalformedArgs},
		{"metadata not an object", scope.NewContext(context.Background(), acme), func(t testing.TB) []*rivertype.JobInsertParams {
			return []*rivertype.JobInsertParams{insertParams(t, noteArgs{Seq: 1}, "[]")}
		}, scoperiver.ErrMalformedClaim},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAudit(t)
			mw := newMiddleware(t, keyring(t, "k1", 1), a)
			inner := false
			params := tc.params(t)
			_, err := mw.InsertMany(tc.ctx, params, func(context.Context) ([]*rivertype.JobInsertResult, error) {
				inner = true
				return nil, nil
			})
			var ie *scoperiver.InsertError
			if !errors.Is(err, tc.want) || !errors.As(err, &ie) {
				t.Fatalf("err = %v, want an *InsertError matching %v", err, tc.want)
			}
			if inner {
				t.Fatal("the insert went on after the refusal")
			}
			for _, p := range params {
				if strings.Contains(string(p.Metadata), scoperiver.MetadataKey) {
					t.Fatalf("a refused batch was stamped: %s", p.Metadata)
				}
			}
			v := a.sink.Events()
			if len(v) != 1 || v[0].Type != auditlog.EnforcementViolation || v[0].Operation != scoperiver.OperationInsert ||
				v[0].Outcome != auditlog.OutcomeBlocked || v[0].Reason != err.Error() || attrOf(v[0], "river.job.kind") != ie.Kind {
				t.Fatalf("want one blocked ENFORCEMENT_VIOLATION naming the job kind, got %+v", v)
			}
		})
	}
}

// untrustedJobs are job rows the worker side must refuse, each with the
// sentinel its refusal matches.
func untrustedJobs(t testing.TB, kr *scoperiver.Keyring) []struct {
	name string
	job  *rivertype.JobRow
	want error
} {
	t.Helper()
	args, _ := json.Marshal(noteArgs{Seq: 7, Expect: "acme"})
	other, _ := json.Marshal(noteArgs{Seq: 8, Expect: "globex"})
	kind := noteArgs{}.Kind()
	sign := func(kr *scoperiver.Keyring, tenant string, bypass bool, kind string, args []byte) []byte {
		md, err := scoperiver.SignedMetadata(kr, tenant, bypass, kind, args)
		if err != nil {
			t.Fatal(err)
		}
		return md
	}
	good := sign(kr, "acme", false, kind, args)
	edited := strings.Replace(string(good), `"tenant":"acme"`, `"tenant":"globex"`, 1)
	forged := fmt.Sprintf(`{%q:{"v":1,"tenant":"acme","kid":"k1","tag":"%s"}}`, scoperiver.MetadataKey, strings.Repeat("A", 43))
	row := func(md []byte, a []byte) *rivertype.JobRow {
		return &rivertype.JobRow{ID: 42, Kind: kind, EncodedArgs: a, Metadata: md}
	}
	return []struct {
		name string
		job  *rivertype.JobRow
		want error
	}{
		{"no claim", row([]byte(`{}`), args), scoperiver.ErrNoClaim},
		{"null claim", row([]byte(`{"tenantshield":null}`), args), scoperiver.ErrNoClaim},
		{"metadata not JSON", row([]byte(`not json`), args), scoperiver.ErrMalformedClaim},
		{"claim not an object", row([]byte(`{"tenantshield":"acme"}`), args), scoperiver.ErrMalformedClaim},
		{"claim with tenant and bypass", row([]byte(`{"tenantshield":{"v":1,"tenant":"acme","bypass":"x","kid":"k1","tag":"x"}}`), args), scoperiver.ErrMalformedClaim},
		{"invalid tenant, valid tag", row(sign(kr, "bad tenant", false, kind, args), args), scope.ErrInvalidTenant},
		{"forged tag", row([]byte(forged), args), scoperiver.ErrTagMismatch},
		{"tag not base64", row([]byte(`{"tenantshield":{"v":1,"tenant":"acme","kid":"k1","tag":"!!"}}`), args), scoperiver.ErrTagMismatch},
		{"unknown key", row(sign(keyring(t, "k-retired", 9), "acme", false, kind, args), args), scoperiver.ErrUnknownKey},
		{"tenant edited", row([]byte(edited), args), scoperiver.ErrTagMismatch},
		{"claim copied onto other args", row(good, other), scoperiver.ErrTagMismatch},
		{"claim of another kind", row(sign(kr, "acme", false, "other_kind", args), args), scoperiver.ErrTagMismatch},
		{"tenant claim turned into a bypass", row([]byte(strings.Replace(string(good), `"tenant":`, `"bypass":`, 1)), args), scoperiver.ErrTagMismatch},
		{"blank bypass reason, valid tag", row(sign(kr, " ", true, kind, args), args), scope.ErrInvalidBypass},
	}
}

func TestWorkRefusesUntrustedClaims(t *testing.T) {
	t.Parallel()
	kr := keyring(t, "k1", 1)
	for _, tc := range untrustedJobs(t, kr) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAudit(t)
			mw := newMiddleware(t, kr, a)
			ran := false
			err := mw.Work(context.Background(), tc.job, func(context.Context) error { ran = true; return nil })
			if ran {
				t.Fatal("the worker ran")
			}
			var ce *rivertype.JobCancelError
			var je *scoperiver.JobError
			if !errors.As(err, &ce) || !errors.As(err, &je) || !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want a river.JobCancel of a *JobError matching %v", err, tc.want)
			}
			if je.JobID != 42 || je.Kind != tc.job.Kind {
				t.Fatalf("JobError = %+v", je)
			}
			v := a.sink.Events()
			if len(v) != 1 || v[0].Type != auditlog.EnforcementViolation || v[0].Operation != scoperiver.OperationWork ||
				v[0].Outcome != auditlog.OutcomeBlocked || v[0].Reason != je.Error() || attrOf(v[0], "river.job.id") != "42" {
				t.Fatalf("want one blocked ENFORCEMENT_VIOLATION for job 42, got %+v", v)
			}
		})
	}
}

// TestWorkContextsArePerJob runs jobs of different tenants one after another
// from the same base context, as one worker goroutine would: each job sees
// its own tenant, a refused job sees nothing, and nothing of a job's tenant
// is left on the base context.
func TestWorkContextsArePerJob(t *testing.T) {
	t.Parallel()
	kr := keyring(t, "k1", 1)
	a := newAudit(t)
	mw := newMiddleware(t, kr, a)
	base, _ := scope.WithBypass(context.Background(), "inherited by mistake from the client's context")

	var jobs []*rivertype.JobRow
	var want []string
	for i, tn := range []scope.Tenant{acme, globex, acme, initech, globex} {
		rows, err := insert(scope.NewContext(context.Background(), tn), mw, insertParams(t, noteArgs{Seq: i, Expect: tn.String()}, ""))
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, rows[0])
		want = append(want, tn.String())
		if i == 2 { // an untrusted job between two tenants' jobs
			jobs = append(jobs, &rivertype.JobRow{ID: 99, Kind: "scoperiver_note", EncodedArgs: []byte(`{}`), Metadata: []byte(`{}`)})
			want = append(want, "refused")
		}
	}
	var got []string
	for _, job := range jobs {
		err := mw.Work(base, job, func(ctx context.Context) error {
			tn, ok := scope.FromContext(ctx)
			if _, bypassed := scope.BypassFromContext(ctx); bypassed || !ok {
				return fmt.Errorf("job %d: tenant %q bound %v, bypass %v", job.ID, tn, ok, bypassed)
			}
			got = append(got, tn.String())
			return nil
		})
		if err != nil {
			got = append(got, "refused")
		}
		if _, ok := scope.FromContext(base); ok {
			t.Fatal("a job's tenant leaked into the base context")
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("tenants observed = %v, want %v", got, want)
	}
	bound := a.sink.Events(auditlog.ContextBound)
	released := a.sink.Events(auditlog.ContextReleased)
	if len(bound) != 5 || len(released) != 5 {
		t.Fatalf("%d CONTEXT_BOUND, %d CONTEXT_RELEASED; want 5 each", len(bound), len(released))
	}
}

func TestMaintenanceJobRunsUnderAuditedBypass(t *testing.T) {
	t.Parallel()
	kr := keyring(t, "k1", 1)
	a := newAudit(t)
	mw := newMiddleware(t, kr, a)
	rows, err := insert(context.Background(), mw, insertParams(t, sweepArgs{}, ""))
	if err != nil {
		t.Fatal(err)
	}
	var reason string
	err = mw.Work(scope.NewContext(context.Background(), acme), rows[0], func(ctx context.Context) error {
		b, ok := scope.BypassFromContext(ctx)
		if !ok {
			return errors.New("no bypass")
		}
		reason = b.Reason
		return nil
	})
	if err != nil || reason != (sweepArgs{}).MaintenanceReason() {
		t.Fatalf("err %v, reason %q", err, reason)
	}
	ev := a.sink.Events(auditlog.EnforcementBypass)
	if len(ev) != 1 || ev[0].Reason != reason || ev[0].Outcome != auditlog.OutcomeBypassed || attrOf(ev[0], "river.job.kind") != "scoperiver_sweep" {
		t.Fatalf("ENFORCEMENT_BYPASS = %+v", ev)
	}
}

func TestNewKeyring(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		signing scoperiver.Key
		others  []scoperiver.Key
		ok      bool
	}{
		{"one key", scoperiver.Key{ID: "k1", Secret: secret(1)}, nil, true},
		{"rotation", scoperiver.Key{ID: "k2", Secret: secret(2)}, []scoperiver.Key{{ID: "k1", Secret: secret(1)}}, true},
		{"short secret", scoperiver.Key{ID: "k1", Secret: secret(1)[:31]}, nil, false},
		{"empty id", scoperiver.Key{Secret: secret(1)}, nil, false},
		{"id with space", scoperiver.Key{ID: "k 1", Secret: secret(1)}, nil, false},
		{"duplicate id", scoperiver.Key{ID: "k1", Secret: secret(1)}, []scoperiver.Key{{ID: "k1", Secret: secret(2)}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kr, err := scoperiver.NewKeyring(tc.signing, tc.others...)
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, scoperiver.ErrInvalidKeyring)) {
				t.Fatalf("NewKeyring: %v", err)
			}
			if tc.ok && kr.SigningKeyID() != tc.signing.ID {
				t.Fatalf("signing key %q", kr.SigningKeyID())
			}
		})
	}
	if _, err := scoperiver.NewMiddleware(nil); !errors.Is(err, scoperiver.ErrInvalidKeyring) {
		t.Fatalf("NewMiddleware(nil): %v", err)
	}
}

// TestRotation: a job tagged by the old key verifies while the old key is a
// verify-only key, and is refused once it is dropped.
func TestRotation(t *testing.T) {
	t.Parallel()
	old := scoperiver.Key{ID: "k1", Secret: secret(1)}
	cur := scoperiver.Key{ID: "k2", Secret: secret(2)}
	oldRing, _ := scoperiver.NewKeyring(old)
	during, _ := scoperiver.NewKeyring(cur, old)
	after, _ := scoperiver.NewKeyring(cur)
	args := []byte(`{"seq":1}`)
	md, err := scoperiver.SignedMetadata(oldRing, "acme", false, "k", args)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := scoperiver.Verify(during, md, "k", args); err != nil || got != "acme" {
		t.Fatalf("during rotation: %q, %v", got, err)
	}
	if _, err := scoperiver.Verify(after, md, "k", args); !errors.Is(err, scoperiver.ErrUnknownKey) {
		t.Fatalf("after rotation: %v", err)
	}
}
