package bunhook_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/pgdb"
	"github.com/tenantshield/tenantshield-go/bunhook/posture"
)

// TestOpenWithPostureCheck: Open fails when a finding reaches FailAt (with
// an error that lists it and matches posture.ErrUnsafe), and passes the
// report of lesser findings to Warn. The suite's schema is bun's default:
// keys without the tenant column on every database.
func TestOpenWithPostureCheck(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		r, err := bunhook.Posture(context.Background(), td.db)
		if err != nil {
			t.Fatal(err)
		}
		if byp := td.events(auditlog.EnforcementBypass); td.kind == "sqlite" && len(byp) == 0 {
			t.Fatal("the posture check's catalog reads that name tenant tables are not audited")
		} else {
			for _, ev := range byp {
				if ev.Reason != bunhook.PostureReason {
					t.Fatalf("bypass audited with reason %q, want bunhook.PostureReason", ev.Reason)
				}
			}
		}
		worst, ok := r.Worst()
		if !ok || len(r.Tables) != 3 {
			t.Fatalf("bun's default schema: want findings on the 3 registered tables, got %d tables:\n%s", len(r.Tables), reportText(r))
		}
		if len(r.AtLeast(posture.Info)) != len(r.Findings) {
			t.Fatal("AtLeast(Info) must return every finding")
		}
		for _, f := range r.Findings {
			if f.Kind == posture.RelationCopy && strings.EqualFold(f.Table, "currencies") {
				t.Fatalf("the shared table currencies is reported as a copy: %+v", f)
			}
		}
		if len(r.Findings) == 0 || !hasKind(r, posture.KeyPrimary) {
			t.Fatalf("bun's default keys are not reported:\n%s", reportText(r))
		}

		_, err = openKind(t, td, bunhook.WithPostureCheck(bunhook.PostureCheck{FailAt: worst}))
		var ue *posture.UnsafeError
		if !errors.Is(err, posture.ErrUnsafe) || !errors.As(err, &ue) || len(ue.Findings) == 0 || !strings.Contains(err.Error(), string(ue.Findings[0].Kind)) {
			t.Fatalf("FailAt %s: want an *UnsafeError naming the findings, got %v", worst, err)
		}

		var warned *posture.Report
		db, err := openKind(t, td, bunhook.WithPostureCheck(bunhook.PostureCheck{FailAt: worst + 1, Warn: func(r *posture.Report) { warned = r }}))
		if err != nil {
			t.Fatalf("FailAt above the worst finding: %v", err)
		}
		_ = db.Close()
		if warned == nil || len(warned.Findings) != len(r.Findings) {
			t.Fatalf("Warn got %v, want the report's %d findings", warned, len(r.Findings))
		}
	})
}

func hasKind(r *posture.Report, k posture.Kind) bool {
	for _, f := range r.Findings {
		if f.Kind == k {
			return true
		}
	}
	return false
}

func reportText(r *posture.Report) string {
	var b strings.Builder
	_ = r.WriteText(&b)
	return b.String()
}

// TestPostureCheckUnreachable: a check that cannot run makes Open fail
// with an error that says what to do, and Posture of a DB bunhook did not
// open fails with ErrNotInstalled.
func TestPostureCheckUnreachable(t *testing.T) {
	_, err := pgdb.Open("postgres://postgres@127.0.0.1:1/test?sslmode=disable",
		bunhook.WithModels(allModels...), bunhook.WithPostureCheck(bunhook.PostureCheck{FailAt: posture.High}))
	if err == nil || !strings.Contains(err.Error(), "posture check could not run") || errors.Is(err, posture.ErrUnsafe) {
		t.Fatalf("want the check's failure to run, got %v", err)
	}
	plain := bun.NewDB(nil, sqlitedialect.New())
	if _, err := bunhook.Posture(context.Background(), plain); !errors.Is(err, bunhook.ErrNotInstalled) {
		t.Fatalf("Posture of a plain bun.DB: %v, want ErrNotInstalled", err)
	}
}

type blockingSink struct{}

func (blockingSink) Emit(context.Context, auditlog.Event) error { return errors.New("spool full") }
func (blockingSink) Blocking() bool                             { return true }

// TestBypassRefusedWhenNotRecorded: in the blocking audit mode a bypassed
// statement whose ENFORCEMENT_BYPASS cannot be recorded does not run.
func TestBypassRefusedWhenNotRecorded(t *testing.T) {
	td := openTestDB(t, "sqlite")
	td.seed(t)
	bus := auditlog.NewBus(auditlog.WithErrorHandler(func(error) {}))
	bus.Register(blockingSink{})
	db, err := openKind(t, td, bunhook.WithAuditBus(bus))
	if err != nil {
		t.Fatal(err)
	}
	before := td.tenantsOf(t, "invoices")
	_, err = db.NewDelete().Model((*Invoice)(nil)).Where("1 = 1").Exec(bypassCtx(t))
	if !errors.Is(err, auditlog.ErrNotRecorded) {
		t.Fatalf("a bypassed DELETE with the audit unavailable: %v, want ErrNotRecorded", err)
	}
	if after := td.tenantsOf(t, "invoices"); len(after) != len(before) {
		t.Fatalf("invoices went from %d to %d rows", len(before), len(after))
	}
}
