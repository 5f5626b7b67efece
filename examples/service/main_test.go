package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
)

func call(t *testing.T, h http.Handler, method, path, tenant, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if tenant != "" {
		req.Header.Set("X-Tenant-Id", tenant)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestServiceIsolation drives the handler with tracing and audit on, through
// the process-wide defaults the service uses (so it is not parallel).
func TestServiceIsolation(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	prevTP := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	otelobs.Configure(true)
	sink := auditlog.NewMemorySink()
	auditlog.Register(sink)
	t.Cleanup(func() {
		auditlog.Unregister(sink)
		otelobs.Configure(false)
		otel.SetTracerProvider(prevTP)
		_ = tp.Shutdown(context.Background())
	})

	db, err := openDB("sqlite:" + filepath.Join(t.TempDir(), "svc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(db)
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		for _, tenant := range []string{"acme", "globex"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec := call(t, h, http.MethodPost, "/invoices", tenant, fmt.Sprintf(`{"number":"%s-%d","amount":%d}`, tenant, i, i))
				if rec.Code != http.StatusCreated {
					t.Errorf("create: %d %s", rec.Code, rec.Body)
				}
			}()
		}
	}
	wg.Wait()
	var list struct {
		Total    int       `json:"total"`
		Invoices []Invoice `json:"invoices"`
	}
	rec := call(t, h, http.MethodGet, "/invoices", "acme", "")
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || list.Total != 10 || len(list.Invoices) != 10 {
		t.Fatalf("acme's list: %d %v %s", rec.Code, err, rec.Body)
	}
	var globexID int64
	for _, inv := range list.Invoices {
		if inv.TenantID != "acme" {
			t.Fatalf("acme saw %+v", inv)
		}
	}
	rec = call(t, h, http.MethodGet, "/invoices", "globex", "")
	_ = json.Unmarshal(rec.Body.Bytes(), &list)
	globexID = list.Invoices[0].ID

	if rec := call(t, h, http.MethodGet, fmt.Sprintf("/invoices/%d", globexID), "acme", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("acme reads globex's invoice: %d", rec.Code)
	}
	if rec := call(t, h, http.MethodDelete, fmt.Sprintf("/invoices/%d", globexID), "acme", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("acme deletes globex's invoice: %d", rec.Code)
	}
	sink.Reset()
	sr.Reset()
	rec = call(t, h, http.MethodPatch, fmt.Sprintf("/invoices/%d", list.Invoices[1].ID), "globex", `{"tenant_id":"acme"}`)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("cross-tenant move: %d %s", rec.Code, rec.Body)
	}
	viol := sink.Events(auditlog.EnforcementViolation)
	if len(viol) != 1 || viol[0].Tenant != "globex" || viol[0].AttemptedTenant != "acme" {
		t.Fatalf("violation record: %+v", viol)
	}
	traceID := traceOf(t, rec.Header())
	if viol[0].TraceID != traceID || traceID == "" {
		t.Fatalf("violation trace %q, request trace %q", viol[0].TraceID, traceID)
	}
	if rec := call(t, h, http.MethodGet, "/invoices", "", ""); rec.Code != http.StatusBadRequest {
		t.Fatalf("no tenant: %d", rec.Code)
	}
	// Every error answer is problem+json and gives away no table, column,
	// tenant or internal name (the cross-tenant 403 included).
	for _, tc := range []struct {
		what, method, path, tenant, body string
		status                           int
	}{
		{"another tenant's invoice", http.MethodGet, fmt.Sprintf("/invoices/%d", globexID), "acme", "", http.StatusNotFound},
		{"delete another tenant's invoice", http.MethodDelete, fmt.Sprintf("/invoices/%d", globexID), "acme", "", http.StatusNotFound},
		{"cross-tenant move", http.MethodPatch, fmt.Sprintf("/invoices/%d", list.Invoices[1].ID), "globex", `{"tenant_id":"acme"}`, http.StatusForbidden},
		{"invalid JSON", http.MethodPost, "/invoices", "acme", "{", http.StatusBadRequest},
		{"invalid id", http.MethodGet, "/invoices/x", "acme", "", http.StatusBadRequest},
		{"empty patch", http.MethodPatch, fmt.Sprintf("/invoices/%d", list.Invoices[1].ID), "globex", `{}`, http.StatusBadRequest},
	} {
		rec := call(t, h, tc.method, tc.path, tc.tenant, tc.body)
		var p struct {
			Type   string `json:"type"`
			Title  string `json:"title"`
			Status int    `json:"status"`
		}
		if rec.Code != tc.status || rec.Header().Get("Content-Type") != "application/problem+json" ||
			json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != tc.status || p.Type == "" || p.Title == "" {
			t.Errorf("%s: %d %q %s, want a %d problem+json", tc.what, rec.Code, rec.Header().Get("Content-Type"), rec.Body, tc.status)
		}
		body := strings.ToLower(rec.Body.String())
		for _, leak := range []string{"invoices", "tenant_id", "acme", "globex", "bunhook", "sqlguard", "select", "update"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s: the %d body names %q: %s", tc.what, rec.Code, leak, rec.Body)
			}
		}
	}
	if rec := call(t, h, http.MethodGet, "/healthz", "", ""); rec.Code != http.StatusOK {
		t.Fatalf("healthz: %d", rec.Code)
	}
}

// TestRunServesAndShutsDown runs the whole service on a free port with audit
// records written as JSON lines, then stops it.
func TestRunServesAndShutsDown(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	cfg := config{addr: "127.0.0.1:0", db: "sqlite:" + filepath.Join(t.TempDir(), "run.db"), audit: "stdout"}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, lockedWriter{&mu, &out}, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("service did not start")
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/invoices", strings.NewReader(`{"number":"x-1","amount":5}`))
	req.Header.Set("X-Tenant-Id", "acme")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		types = append(types, e.Type)
	}
	// The stream ends with the final checkpoint of a clean shutdown.
	if got := strings.Join(types, ","); got != "ENFORCEMENT_BYPASS,CONTEXT_BOUND,CONTEXT_RELEASED,CHECKPOINT" {
		t.Fatalf("audit records: %s", got)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestDurableAuditWithTheCollectorDown: with -audit otlp -audit-spool, the
// records of a run whose Collector never answers are on disk in the spool
// when it stops, and shutting down says so instead of dropping them.
func TestDurableAuditWithTheCollectorDown(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	spool := filepath.Join(t.TempDir(), "spool")
	cfg, err := parseConfig([]string{"-audit", "otlp", "-audit-spool", spool})
	if err != nil {
		t.Fatal(err)
	}
	tel, err := setupTelemetry(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		auditlog.Emit(context.Background(), auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = tel.shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "stay in "+spool) {
		t.Fatalf("shutdown with the Collector down: %v; want the records kept in the spool", err)
	}
	segs, _ := filepath.Glob(filepath.Join(spool, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no spool segment on disk")
	}
}

// TestAuditDeliveryFlags: durable is the default delivery with a spool in
// the working directory; a mode without a spool, an unknown mode or a bad
// size is refused with an error that names the flag.
func TestAuditDeliveryFlags(t *testing.T) {
	for _, k := range []string{"TS_AUDIT", "TS_AUDIT_DELIVERY", "TS_AUDIT_SPOOL", "TS_AUDIT_SPOOL_MAX", "TS_AUDIT_SYNC_INTERVAL"} {
		t.Setenv(k, "")
	}
	cfg, err := parseConfig([]string{"-audit", "otlp"})
	if err != nil || cfg.delivery != "durable" || cfg.auditSpool != "audit-spool" || cfg.spoolMax != 0 {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	cfg, err = parseConfig([]string{"-audit", "otlp", "-audit-delivery", "blocking", "-audit-spool-max", "1048576"})
	if err != nil || cfg.delivery != "blocking" || cfg.spoolMax != 1<<20 || cfg.syncEvery != 0 {
		t.Fatalf("blocking with a limit: %+v, %v", cfg, err)
	}
	if cfg, err = parseConfig([]string{"-audit", "otlp", "-audit-sync-interval", "100ms"}); err != nil || cfg.syncEvery != 100*time.Millisecond {
		t.Fatalf("-audit-sync-interval 100ms: %+v, %v", cfg, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-audit-delivery", "sometimes"}, "-audit-delivery"},
		{[]string{"-audit-delivery", "durable", "-audit-spool", ""}, "-audit-spool DIR"},
		{[]string{"-audit-delivery", "blocking", "-audit-spool", ""}, "-audit-spool DIR"},
		{[]string{"-audit-spool-max", "1GiB"}, "-audit-spool-max"},
		{[]string{"-audit-spool-max", "-5"}, "-audit-spool-max"},
		{[]string{"-audit-sync-interval", "often"}, "-audit-sync-interval"},
		{[]string{"-audit-sync-interval", "-1s"}, "-audit-sync-interval"},
	} {
		if _, err := parseConfig(append([]string{"-audit", "otlp"}, tc.args...)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
}

// traceOf returns the trace id of a W3C traceresponse header
// (version-traceid-spanid-flags).
func traceOf(t *testing.T, h http.Header) string {
	t.Helper()
	parts := strings.Split(h.Get("traceresponse"), "-")
	if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		t.Fatalf("traceresponse %q is not version 00 with a trace id, a span id and flags", h.Get("traceresponse"))
	}
	return parts[1]
}

// TestServiceResource: both pipelines describe the process with
// service.version, service.instance.id (the audit stream's id) and
// host.name; the environment names the service.
func TestServiceResource(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "invoices-test")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	res, err := serviceResource(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range res.Attributes() {
		got[string(kv.Key)] = kv.Value.String()
	}
	if got["service.name"] != "invoices-test" || got["service.version"] == "" || got["host.name"] == "" ||
		got["service.instance.id"] != auditlog.Default().Stream() {
		t.Fatalf("resource %v", got)
	}
}
