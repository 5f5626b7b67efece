package bunhook_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/extra/bunotel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
)

func spanAttr(s sdktrace.ReadOnlySpan, key string) (string, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String(), true
		}
	}
	return "", false
}

func eventNames(s sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, e := range s.Events() {
		out = append(out, e.Name)
	}
	return out
}

// decisionSpans returns the ended spans that carry a tenant decision.
func decisionSpans(sr *tracetest.SpanRecorder) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if _, ok := spanAttr(s, "tenant.decision"); ok {
			out = append(out, s)
		}
	}
	return out
}

func assertAllEnded(t *testing.T, sr *tracetest.SpanRecorder) {
	t.Helper()
	if s, e := len(sr.Started()), len(sr.Ended()); s != e {
		var names []string
		ended := map[sdktrace.ReadOnlySpan]bool{}
		for _, sp := range sr.Ended() {
			ended[sp] = true
		}
		for _, sp := range sr.Started() {
			names = append(names, sp.Name())
		}
		t.Fatalf("%d spans started, %d ended (span leak): %v", s, e, names)
	}
}

func TestGuardSpanPerQuery(t *testing.T) {
	for _, withBunotel := range []bool{false, true} {
		name := "alone"
		if withBunotel {
			name = "with-bunotel"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			td := openTestDB(t, "sqlite")
			td.seed(t)
			db := td.db
			if withBunotel {
				tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(td.sr))
				db = db.WithQueryHook(bunotel.NewQueryHook(bunotel.WithTracerProvider(tp)))
			}
			td.obs.SetEnabled(true)
			ctx := tenantCtx(t, "A")

			var invs []Invoice
			if err := db.NewSelect().Model(&invs).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			spans := decisionSpans(td.sr)
			if len(spans) != 1 {
				t.Fatalf("want exactly one span with the tenant decision, got %d", len(spans))
			}
			s := spans[0]
			want := map[string]string{
				"tenant.id": "A", "tenant.decision": "scoped", "db.system.name": "sqlite",
				"db.operation.name": "SELECT", "db.collection.name": "invoices",
			}
			for k, v := range want {
				if got, _ := spanAttr(s, k); got != v {
					t.Errorf("span %s: %s = %q, want %q", s.Name(), k, got, v)
				}
			}
			if s.Name() != "tenant.read SELECT" || !strings.Contains(strings.Join(eventNames(s), ","), "tenant.read.filtered") {
				t.Errorf("span %q events %v", s.Name(), eventNames(s))
			}
			if withBunotel && len(td.sr.Ended()) != 2 {
				t.Errorf("with bunotel: want our span and bunotel's, got %d spans", len(td.sr.Ended()))
			}

			// A blocked statement: the span records the decision and error.type.
			_, err := db.NewUpdate().Model((*Invoice)(nil)).Set("tenant_id = 'B'").Where("id = 1").Exec(ctx)
			if !errors.Is(err, scope.ErrCrossTenant) {
				t.Fatalf("Set tenant: %v", err)
			}
			spans = decisionSpans(td.sr)
			s = spans[len(spans)-1]
			if d, _ := spanAttr(s, "tenant.decision"); d != "blocked" {
				t.Fatalf("blocked span decision %q", d)
			}
			if et, _ := spanAttr(s, "error.type"); et != "tenant.cross_tenant" {
				t.Errorf("error.type = %q", et)
			}
			if s.Status().Code != codes.Error {
				t.Errorf("status %v", s.Status())
			}
			if !strings.Contains(strings.Join(eventNames(s), ","), "tenant.write.blocked") {
				t.Errorf("events %v", eventNames(s))
			}
			// Transactions, counts and statements on other tables.
			err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				_, err := tx.NewSelect().Model((*Invoice)(nil)).Count(ctx)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var cur []Currency
			if err := db.NewSelect().Model(&cur).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			assertAllEnded(t, td.sr)
		})
	}
}

// TestGatingMatrixThroughQueries runs the same workload (a scoped read, a
// blocked cross-tenant write, a bypassed count) in the four cells of the
// observability x audit matrix.
func TestGatingMatrixThroughQueries(t *testing.T) {
	cells := []struct {
		name         string
		obs, sink    bool
		spans, audit bool
	}{
		{"off-none", false, false, false, false},
		{"on-none", true, false, true, false},
		{"off-sink", false, true, false, true},
		{"on-sink", true, true, true, true},
	}
	for _, c := range cells {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			td := openTestDB(t, "sqlite")
			td.seed(t)
			if !c.sink {
				td.bus.Unregister(td.sink)
			}
			td.obs.SetEnabled(c.obs)
			ctx := tenantCtx(t, "A")
			var invs []Invoice
			if err := td.db.NewSelect().Model(&invs).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := td.db.NewInsert().Model(&Invoice{Number: "x", TenantID: "B"}).Exec(ctx); !errors.Is(err, scope.ErrCrossTenant) {
				t.Fatalf("foreign insert: %v", err)
			}
			if _, err := td.db.NewSelect().Model((*Invoice)(nil)).Count(bypassCtx(t)); err != nil {
				t.Fatal(err)
			}
			gotSpans := len(td.sr.Ended()) > 0
			if gotSpans != c.spans {
				t.Errorf("spans: got %d, want any=%v", len(td.sr.Ended()), c.spans)
			}
			if c.sink {
				if n := len(td.sink.Events(auditlog.EnforcementViolation)); n != 1 {
					t.Errorf("violations audited: %d, want 1", n)
				}
				if n := len(td.sink.Events(auditlog.EnforcementBypass)); n != 1 {
					t.Errorf("bypasses audited: %d, want 1", n)
				}
			} else if td.sink.Len() != 0 {
				t.Errorf("audit without a sink: %d events", td.sink.Len())
			}
			if c.spans {
				var blocked, bypass bool
				for _, s := range td.sr.Ended() {
					for _, e := range eventNames(s) {
						blocked = blocked || e == "tenant.write.blocked"
						bypass = bypass || e == "tenant.bypass"
					}
				}
				if !blocked || !bypass {
					t.Errorf("trace lacks blocked (%v) or bypass (%v) events", blocked, bypass)
				}
			}
			assertAllEnded(t, td.sr)
		})
	}
}

// TestDecisionEvents: tenant.write.injected only when bunhook supplied the
// tenant of a write, and one tenant.read.filtered per tenant table read.
func TestDecisionEvents(t *testing.T) {
	eachDB(t, func(t *testing.T, td *testDB) {
		ids := td.seed(t)
		td.obs.SetEnabled(true)
		a := tenantCtx(t, "A")
		events := func(name string, run func() error) []string {
			t.Helper()
			td.sr.Reset()
			if err := run(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			spans := decisionSpans(td.sr)
			if len(spans) != 1 {
				t.Fatalf("%s: %d decision spans", name, len(spans))
			}
			if d, _ := spanAttr(spans[0], "tenant.decision"); d != "scoped" {
				t.Fatalf("%s: decision %q", name, d)
			}
			return eventNames(spans[0])
		}
		want := func(name string, got []string, w ...string) {
			t.Helper()
			if strings.Join(got, ",") != strings.Join(w, ",") {
				t.Errorf("%s: events %v, want %v", name, got, w)
			}
		}
		const injected, filtered = "tenant.write.injected", "tenant.read.filtered"
		want("model INSERT with the tenant left empty", events("insert empty", func() error {
			_, err := td.db.NewInsert().Model(&Customer{ID: 50, Name: "filled"}).Exec(a)
			return err
		}), injected)
		want("model INSERT that carried the bound tenant", events("insert carried", func() error {
			_, err := td.db.NewInsert().Model(&Customer{ID: 51, TenantID: "A", Name: "carried"}).Exec(a)
			return err
		}))
		want("raw INSERT with the tenant literal", events("raw insert", func() error {
			_, err := td.db.NewRaw("INSERT INTO customers (id, tenant_id, name) VALUES (52, 'A', 'raw')").Exec(a)
			return err
		}))
		want("model UPDATE", events("update", func() error {
			_, err := td.db.NewUpdate().Model((*Invoice)(nil)).Set("number = ?", "n").Where("id = ?", ids["A"][0]).Exec(a)
			return err
		}), injected)
		want("raw UPDATE with its own predicate", events("raw update", func() error {
			_, err := td.db.NewRaw("UPDATE invoices SET number = 'm' WHERE tenant_id = 'A' AND id = ?", ids["A"][0]).Exec(a)
			return err
		}))
		want("SELECT over two tenant tables", events("join", func() error {
			var inv []Invoice
			return td.db.NewSelect().Model(&inv).Relation("Customer").Scan(a)
		}), filtered, filtered)
	})
}
