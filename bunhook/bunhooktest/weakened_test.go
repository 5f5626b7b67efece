package bunhooktest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/bunhooktest"
)

// recordingTB records what the kit reports instead of failing the test
// (Errorf, Fatalf), and lets Logf through.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatal  string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}
func (r *recordingTB) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recordingTB) Fatal(args ...any)        { r.Fatalf("%s", fmt.Sprint(args...)) }
func (r *recordingTB) FailNow()                 { r.Fatalf("FailNow") }
func (r *recordingTB) Fail()                    { r.Errorf("Fail") }
func (r *recordingTB) Failed() bool             { return len(r.errors) > 0 || r.fatal != "" }
func (r *recordingTB) Logf(string, ...any)      {}
func (r *recordingTB) Log(...any)               {}
func (r *recordingTB) Skipf(f string, a ...any) { r.Fatalf("skip: "+f, a...) }
func (r *recordingTB) Cleanup(f func())         { r.TB.Cleanup(f) }
func (r *recordingTB) Setenv(k, v string)       { r.TB.Setenv(k, v) }
func (r *recordingTB) TempDir() string          { return r.TB.TempDir() }
func (r *recordingTB) Name() string             { return r.TB.Name() }
func (r *recordingTB) Skipped() bool            { return false }
func (r *recordingTB) Skip(...any)              { r.Fatalf("skip") }
func (r *recordingTB) SkipNow()                 { r.Fatalf("skip") }
func (r *recordingTB) Attr(key, value string)   {}
func (r *recordingTB) ArtifactDir() string      { return r.TB.TempDir() }

// runRecorded runs the kit on a recordingTB in a goroutine of its own (so
// that Fatalf can end it) and returns the recorder and the report.
func runRecorded(t *testing.T, db, raw *bun.DB, ms []bunhooktest.Model, opts ...bunhooktest.Option) (*recordingTB, *bunhooktest.Report) {
	t.Helper()
	rec := &recordingTB{TB: t}
	var rep *bunhooktest.Report
	done := make(chan struct{})
	go func() {
		defer close(done)
		rep = bunhooktest.Run(rec, db, raw, ms, opts...)
	}()
	<-done
	if rec.fatal != "" {
		t.Fatalf("the kit stopped: %s", rec.fatal)
	}
	return rec, rep
}

// weakened checks that the kit reported a leak for every class in want,
// naming it and the SQL, and no class outside want and maybe.
func weakened(t *testing.T, rec *recordingTB, rep *bunhooktest.Report, want, maybe []bunhooktest.Class) {
	t.Helper()
	got := rep.LeakingClasses()
	for _, c := range want {
		if !slices.Contains(got, c) {
			t.Errorf("class %s: no leak reported on the weakened setup (leaking: %v)", c, got)
		}
		found := false
		for _, msg := range rec.errors {
			if strings.HasPrefix(msg, string(c)+"/") && strings.Contains(msg, "LEAK") && strings.Contains(msg, "SQL: ") &&
				!strings.Contains(msg, "(none captured)") {
				found = true
			}
		}
		if !found {
			t.Errorf("class %s: no Errorf names the class, the leak and the SQL", c)
		}
	}
	for _, c := range got {
		if !slices.Contains(want, c) && !slices.Contains(maybe, c) {
			t.Errorf("class %s: unexpected leak on the weakened setup", c)
		}
	}
	if len(rec.errors) != len(rep.Leaks()) {
		t.Errorf("%d Errorf calls for %d leaks", len(rec.errors), len(rep.Leaks()))
	}
	if !t.Failed() {
		return
	}
	for _, e := range rec.errors {
		t.Log(e)
	}
}

// TestWeakenedReportOnly: bunhook in report-only mode lets the would-be
// blocks run; the kit must report the classes that then leak, and the test
// itself must not fail.
func TestWeakenedReportOnly(t *testing.T) {
	d := open(t, "sqlite", bunhook.WithMode(bunhook.ModeReport))
	rec, rep := runRecorded(t, d.db, d.raw, kitModels())
	all := bunhooktest.Classes()
	// Report-only mode still scopes Scan and fills tenants; it lets through
	// what it would block: no tenant bound, OR, joins, raw SQL, subqueries,
	// cross-tenant writes (Relation: the has-many apply function's WhereOr).
	want := []bunhooktest.Class{bunhooktest.NoTenant, bunhooktest.Or, bunhooktest.Join, bunhooktest.RawSQL,
		bunhooktest.Subquery, bunhooktest.CrossTenantWrite, bunhooktest.Bulk}
	weakened(t, rec, rep, want, all)
}

// Unguarded models: the same tables without bunhook.TenantOwned, on plain
// bun.NewDB: no enforcement at all.
type plainCustomer struct {
	bun.BaseModel `bun:"table:customers,alias:customer"`
	ID            int64  `bun:",pk,autoincrement"`
	TenantID      string `bun:",notnull"`
	Name          string `bun:",notnull"`
}

type plainInvoice struct {
	bun.BaseModel `bun:"table:invoices,alias:invoice"`
	ID            int64          `bun:",pk,autoincrement"`
	TenantID      string         `bun:",notnull"`
	Number        string         `bun:",notnull"`
	Amount        int64          `bun:",notnull"`
	CustomerID    int64          `bun:",notnull"`
	Customer      *plainCustomer `bun:"rel:belongs-to,join:customer_id=id"`
}

// TestWeakenedNoEnforcement: plain bun.NewDB and models that forgot
// bunhook.TenantOwned: every class leaks, and the kit names each.
func TestWeakenedNoEnforcement(t *testing.T) {
	dsn := "file:" + filepath.Join(t.TempDir(), "plain.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	db := bunhooktest.OpenRaw(t, sqliteshim.ShimName, dsn, sqlitedialect.New())
	raw := bunhooktest.OpenRaw(t, sqliteshim.ShimName, dsn, sqlitedialect.New())
	createTables(t, db, (*plainCustomer)(nil), (*plainInvoice)(nil))
	rec, rep := runRecorded(t, db, raw, []bunhooktest.Model{
		bunhooktest.For[plainCustomer](nil), bunhooktest.For[plainInvoice](nil),
	})
	// SQLite has no ON DUPLICATE KEY; its ON CONFLICT DO UPDATE without
	// bunhook's WHERE overwrites the other tenant's row.
	weakened(t, rec, rep, bunhooktest.Classes(), nil)
}

// exampleTB is the testing.TB of ExampleRun: it prints failures.
type exampleTB struct {
	recordingTB
	cleanups []func()
}

func (e *exampleTB) Errorf(format string, args ...any) { fmt.Printf("FAIL: "+format+"\n", args...) }
func (e *exampleTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (e *exampleTB) Cleanup(f func())                  { e.cleanups = append(e.cleanups, f) }
func (e *exampleTB) Context() context.Context          { return context.Background() }
func (e *exampleTB) TempDir() string                   { return os.TempDir() }
