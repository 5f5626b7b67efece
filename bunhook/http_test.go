package bunhook_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

// invoiceAPI is a small JSON API over the enforced DB, written the way an
// application would write it: no tenant filter anywhere in the handlers.
func invoiceAPI(db *bun.DB) http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, err error) {
		switch {
		case errors.Is(err, sql.ErrNoRows):
			http.Error(w, "not found", http.StatusNotFound)
		case errors.Is(err, scope.ErrCrossTenant), errors.Is(err, scope.ErrPolicyDenied):
			http.Error(w, "forbidden", http.StatusForbidden)
		default:
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}
	mux.HandleFunc("GET /invoices", func(w http.ResponseWriter, r *http.Request) {
		var invs []Invoice
		if err := db.NewSelect().Model(&invs).Order("invoice.id").Scan(r.Context()); err != nil {
			fail(w, err)
			return
		}
		_ = json.NewEncoder(w).Encode(invs)
	})
	mux.HandleFunc("GET /invoices/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		inv := &Invoice{ID: id}
		if err := db.NewSelect().Model(inv).WherePK().Scan(r.Context()); err != nil {
			fail(w, err)
			return
		}
		_ = json.NewEncoder(w).Encode(inv)
	})
	mux.HandleFunc("POST /invoices", func(w http.ResponseWriter, r *http.Request) {
		var inv Invoice
		if err := json.NewDecoder(r.Body).Decode(&inv); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		if _, err := db.NewInsert().Model(&inv).Exec(r.Context()); err != nil {
			fail(w, err)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(inv)
	})
	return mux
}

type httpFixture struct {
	td      *testDB
	handler http.Handler
}

func newHTTPFixture(t *testing.T, policy scope.Policy) *httpFixture {
	td := openTestDB(t, "sqlite")
	td.seed(t)
	td.obs.SetEnabled(true)
	header, err := scopehttp.NewHeaderStrategy(scopehttp.HeaderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	binder := scope.NewBinder(scope.WithAuditBus(td.bus), scope.WithObserver(td.obs))
	opts := []scopehttp.Option{scopehttp.WithBinder(binder)}
	if policy != nil {
		opts = append(opts, scopehttp.WithPolicy(policy))
	}
	mw := scopehttp.New(header, opts...)
	// A stand-in for otelhttp: the server span the middleware decorates.
	tracer := td.obs.Tracer()
	server := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracer.Start(r.Context(), r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		mw.Wrap(invoiceAPI(td.db)).ServeHTTP(w, r.WithContext(ctx))
	})
	return &httpFixture{td: td, handler: server}
}

func (f *httpFixture) do(method, path, tenant string, body any) *httptest.ResponseRecorder {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, path, rd)
	if tenant != "" {
		req.Header.Set("X-Tenant-Id", tenant)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

func TestHTTPEndToEnd(t *testing.T) {
	t.Parallel()
	f := newHTTPFixture(t, scope.ReadOnlyTenants("R"))
	ids := map[string][]int64{"A": {1, 2, 3}, "B": {4, 5, 6}}

	// Two tenants' requests interleaved concurrently never see each other's rows.
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 20; i++ {
		for _, tenant := range []string{"A", "B"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec := f.do(http.MethodPost, "/invoices", tenant, map[string]any{"Number": fmt.Sprintf("%s-c%d", tenant, i)})
				if rec.Code != http.StatusCreated {
					errs <- fmt.Errorf("create for %s: %d %s", tenant, rec.Code, rec.Body)
					return
				}
				rec = f.do(http.MethodGet, "/invoices", tenant, nil)
				var invs []Invoice
				if err := json.Unmarshal(rec.Body.Bytes(), &invs); err != nil || rec.Code != http.StatusOK {
					errs <- fmt.Errorf("list for %s: status %d: %w", tenant, rec.Code, err)
					return
				}
				for _, in := range invs {
					if in.TenantID != tenant {
						errs <- fmt.Errorf("%s saw invoice %d of %s", tenant, in.ID, in.TenantID)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	counts := map[string]int{}
	for _, tenant := range f.td.tenantsOf(t, "invoices") {
		counts[tenant]++
	}
	if counts["A"] != 23 || counts["B"] != 23 {
		t.Fatalf("rows per tenant in the database: %v", counts)
	}

	cases := []struct {
		name, method, path, tenant string
		body                       any
		status                     int
	}{
		{"own invoice", http.MethodGet, fmt.Sprintf("/invoices/%d", ids["A"][0]), "A", nil, http.StatusOK},
		{"another tenant's invoice id", http.MethodGet, fmt.Sprintf("/invoices/%d", ids["B"][0]), "A", nil, http.StatusNotFound},
		{"no tenant", http.MethodGet, "/invoices", "", nil, http.StatusBadRequest},
		{"invalid tenant", http.MethodGet, "/invoices", "A B", nil, http.StatusBadRequest},
		{"read-only tenant writes", http.MethodPost, "/invoices", "R", map[string]any{"Number": "x"}, http.StatusForbidden},
		{"create for another tenant", http.MethodPost, "/invoices", "A", map[string]any{"Number": "x", "TenantID": "B"}, http.StatusForbidden},
	}
	for _, c := range cases {
		f.td.sink.Reset()
		f.td.sr.Reset()
		rec := f.do(c.method, c.path, c.tenant, c.body)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, rec.Code, c.status, rec.Body)
			continue
		}
		types := map[auditlog.Type]int{}
		for _, e := range f.td.sink.Events() {
			types[e.Type]++
		}
		switch c.status {
		case http.StatusOK, http.StatusNotFound:
			if types[auditlog.ContextBound] != 1 || types[auditlog.ContextReleased] != 1 || types[auditlog.EnforcementViolation] != 0 {
				t.Errorf("%s: audit %v", c.name, types)
			}
		case http.StatusBadRequest:
			if types[auditlog.PolicyDeny] != 1 || types[auditlog.ContextBound] != 0 {
				t.Errorf("%s: audit %v", c.name, types)
			}
			if ct := rec.Header().Get("Content-Type"); ct != scopehttp.ProblemContentType {
				t.Errorf("%s: content type %q", c.name, ct)
			}
		case http.StatusForbidden:
			if types[auditlog.PolicyDeny]+types[auditlog.EnforcementViolation] != 1 {
				t.Errorf("%s: audit %v", c.name, types)
			}
		}
		// The server span carries the middleware events in order.
		var events []string
		for _, s := range f.td.sr.Ended() {
			if s.SpanKind() == trace.SpanKindServer {
				events = eventNames(s)
			}
		}
		if c.status == http.StatusOK || c.status == http.StatusNotFound {
			want := []string{"tenant.middleware.request_bound", "tenant.scope.entered", "tenant.scope.exited", "tenant.middleware.request_unbound"}
			if fmt.Sprint(events) != fmt.Sprint(want) {
				t.Errorf("%s: server span events %v, want %v", c.name, events, want)
			}
		} else if len(events) == 0 {
			t.Errorf("%s: rejection not traced", c.name)
		}
		assertAllEnded(t, f.td.sr)
	}
	if got := f.td.tenantsOf(t, "invoices"); len(got) != 46 {
		t.Fatalf("rows after rejected writes: %d", len(got))
	}
}
