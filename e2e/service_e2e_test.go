//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// The example service (examples/service), built and run as a real process
// against the stack: every byte of telemetry goes through its OTLP exporters,
// the Collector, and Jaeger or the audit file.

const zeroTraceID = "00000000000000000000000000000000"

// repoRoot is the checkout root (the e2e module lives in <root>/e2e).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var (
	buildDir  string // removed by TestMain
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tenantshield-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// serviceBinary builds examples/service once per test binary run.
func serviceBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		builtBin = filepath.Join(buildDir, "service")
		cmd := exec.Command(envOr("GO", "go"), "build", "-o", builtBin, "./examples/service")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./examples/service: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// freeAddr returns a 127.0.0.1 address nothing listens on (at the moment).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type service struct {
	name   string // OTEL_SERVICE_NAME
	base   string // http://addr
	cmd    *exec.Cmd
	out    *lockedBuffer
	done   chan error
	client *http.Client
}

// startService runs the example service on a free port with a fresh SQLite
// file, OTLP to otlpEndpoint, and waits until /healthz answers. The process
// is killed at the end of the test if stop was not called.
func startService(t *testing.T, name, otlpEndpoint string, args ...string) *service {
	t.Helper()
	return startServiceEnv(t, name, otlpEndpoint, nil, args...)
}

// startServiceEnv is startService with extra environment variables.
func startServiceEnv(t *testing.T, name, otlpEndpoint string, env []string, args ...string) *service {
	t.Helper()
	bin := serviceBinary(t)
	addr := freeAddr(t)
	db := filepath.Join(t.TempDir(), "invoices.db")
	cmd := exec.Command(bin, append([]string{"-addr", addr, "-db", "sqlite:" + db}, args...)...)
	cmd.Dir = filepath.Dir(db) // the default audit spool goes there
	// The service reads TS_* and OTEL_*: start from an environment without
	// them, so that nothing of the test's own environment leaks in.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TS_") && !strings.HasPrefix(kv, "OTEL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+otlpEndpoint,
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_SERVICE_NAME="+name,
	)
	cmd.Env = append(cmd.Env, env...)
	s := &service{name: name, base: "http://" + addr, cmd: cmd, out: &lockedBuffer{}, done: make(chan error, 1),
		client: &http.Client{Timeout: 10 * time.Second}}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			if err := <-s.done; err != nil {
				t.Logf("service killed at cleanup: %v", err)
			}
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := s.client.Get(s.base + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("service exited before it served (%v):\n%s", err, s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("service not healthy at %s after 30s:\n%s", s.base, s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM (graceful shutdown flushes both pipelines) and waits for
// the process to exit 0; it returns the process output.
func (s *service) stop(t *testing.T) string {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("service exited with %v:\n%s", err, s.out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("service did not exit within 60s of SIGTERM:\n%s", s.out.String())
	}
	return s.out.String()
}

type response struct {
	status  int
	traceID string // from the W3C traceresponse header; "" without one
	body    []byte
	elapsed time.Duration
}

// do sends one request; tenant "" sends no X-Tenant-Id header.
func (s *service) do(t *testing.T, method, path, tenant, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tenant != "" {
		req.Header.Set("X-Tenant-Id", tenant)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var traceID string
	if parts := strings.Split(resp.Header.Get("traceresponse"), "-"); len(parts) == 4 {
		traceID = strings.ToLower(parts[1])
	}
	return response{status: resp.StatusCode, traceID: traceID, body: b,
		elapsed: time.Since(start)}
}

// expect sends one request and checks its status.
func (s *service) expect(t *testing.T, want int, method, path, tenant, body string) response {
	t.Helper()
	r := s.do(t, method, path, tenant, body)
	if r.status != want {
		t.Fatalf("%s %s (tenant %q): %d, want %d: %s", method, path, tenant, r.status, want, r.body)
	}
	return r
}

func createInvoice(t *testing.T, s *service, tenant, number string) (int64, response) {
	t.Helper()
	r := s.expect(t, http.StatusCreated, "POST", "/invoices", tenant, `{"number":"`+number+`","amount":100}`)
	var inv struct {
		ID       int64  `json:"id"`
		TenantID string `json:"tenant_id"`
	}
	if err := json.Unmarshal(r.body, &inv); err != nil {
		t.Fatalf("POST /invoices: %v: %s", err, r.body)
	}
	if inv.TenantID != tenant || inv.ID == 0 {
		t.Fatalf("POST /invoices for %s created %+v", tenant, inv)
	}
	return inv.ID, r
}

// tracedRequest is a request whose trace the test looks for.
type tracedRequest struct {
	what    string
	tenant  string // the tenant bound, "" for none
	traceID string
}

// auditTypes are the audit event types of the catalogue.
func auditTypes() []string {
	var out []string
	for _, ty := range auditlog.Types() {
		out = append(out, string(ty))
	}
	return out
}

func serviceRecords(name string) func(logRecord) bool {
	return func(r logRecord) bool { return r.resource["service.name"] == name }
}

// findRecord returns the records of type ty for tenant in trace traceID.
func findRecords(records []logRecord, ty auditlog.Type, tenant, traceID string) []logRecord {
	var out []logRecord
	for _, r := range records {
		if r.EventName == string(ty) && r.attr("tenant.id") == tenant && strings.ToLower(r.TraceID) == traceID {
			out = append(out, r)
		}
	}
	return out
}

// traceSpans polls Jaeger until the trace has spans for which ok returns nil
// (spans of one trace can arrive in several Collector batches).
func traceSpans(t *testing.T, jaegerURL, traceID string, ok func([]jaegerSpan) error) ([]jaegerSpan, []byte) {
	t.Helper()
	url := jaegerURL + "/api/v3/traces/" + traceID
	deadline := time.Now().Add(deliveryTimeout)
	var last error
	for {
		status, body, err := get(url)
		if err == nil && status == http.StatusOK {
			var v3 jaegerV3
			if err := json.Unmarshal(body, &v3); err != nil {
				t.Fatalf("GET %s: %v: %s", url, err, body)
			}
			var spans []jaegerSpan
			for _, rs := range v3.Result.ResourceSpans {
				for _, ss := range rs.ScopeSpans {
					spans = append(spans, ss.Spans...)
				}
			}
			if last = ok(spans); last == nil {
				return spans, body
			}
		} else {
			last = fmt.Errorf("GET %s: status %d", url, status)
			if err != nil {
				last = fmt.Errorf("GET %s: %w", url, err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s in Jaeger after %s: %v", traceID, deliveryTimeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// tenantEvidence checks that the trace carries tenant.* spans or span events
// with tenant.id == tenant, and no tenant.id of another tenant.
func tenantEvidence(tenant string) func([]jaegerSpan) error {
	return func(spans []jaegerSpan) error {
		found := 0
		for _, sp := range spans {
			if strings.HasPrefix(sp.Name, "tenant.") {
				if got := kvs(sp.Attributes)["tenant.id"]; got == tenant {
					found++
				} else if got != "" {
					return fmt.Errorf("span %s has tenant.id %q, want %q", sp.Name, got, tenant)
				}
			}
			for _, ev := range sp.Events {
				if !strings.HasPrefix(ev.Name, "tenant.") {
					continue
				}
				if got := kvs(ev.Attributes)["tenant.id"]; got == tenant {
					found++
				} else if got != "" {
					return fmt.Errorf("event %s has tenant.id %q, want %q", ev.Name, got, tenant)
				}
			}
		}
		if found == 0 {
			return fmt.Errorf("no tenant.* span or event with tenant.id %q in %d span(s)", tenant, len(spans))
		}
		return nil
	}
}

// noAuditInTrace fails if a span or event of the trace is named like an audit
// event type, or if the trace carries audit-only attributes.
func noAuditInTrace(t *testing.T, traceID string, spans []jaegerSpan, raw []byte) {
	t.Helper()
	types := auditTypes()
	for _, sp := range spans {
		if slices.Contains(types, sp.Name) {
			t.Errorf("trace %s has a span named %s (an audit type)", traceID, sp.Name)
		}
		for _, ev := range sp.Events {
			if slices.Contains(types, ev.Name) {
				t.Errorf("trace %s has an event named %s (an audit type)", traceID, ev.Name)
			}
		}
	}
	for _, s := range []string{"audit.event.id", "audit.sequence", "audit.outcome", auditlog.ScopeName + `"`} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("trace %s in Jaeger contains %q, which belongs to the audit trail", traceID, s)
		}
	}
}

func jaegerServices(t *testing.T, jaegerURL string) []string {
	t.Helper()
	var v struct {
		Data []string `json:"data"`
	}
	body := httpGet(t, jaegerURL+"/api/services")
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("GET /api/services: %v: %s", err, body)
	}
	return v.Data
}

// TestServiceEndToEnd runs the example service with both pipelines on, sends
// interleaved requests of two tenants, a cross-tenant write, a request
// without tenant, stops it with SIGTERM and checks Jaeger and the audit file.
func TestServiceEndToEnd(t *testing.T) {
	st := getStack(t)
	id := nonce(t)
	name := "tenantshield-e2e-service-" + id
	a, b := "acme-"+id, "globex-"+id
	svc := startService(t, name, st.otlpHTTPBase, "-observability", "on", "-audit", "otlp")

	var reqs []tracedRequest
	add := func(what, tenant string, r response) {
		reqs = append(reqs, tracedRequest{what: what, tenant: tenant, traceID: r.traceID})
	}
	idA, r := createInvoice(t, svc, a, "A-1")
	add("POST a", a, r)
	idB, r := createInvoice(t, svc, b, "B-1")
	add("POST b", b, r)
	_, r = createInvoice(t, svc, a, "A-2")
	add("POST a 2", a, r)
	add("GET list a", a, svc.expect(t, http.StatusOK, "GET", "/invoices", a, ""))
	add("GET list b", b, svc.expect(t, http.StatusOK, "GET", "/invoices", b, ""))
	add("GET own a", a, svc.expect(t, http.StatusOK, "GET", fmt.Sprintf("/invoices/%d", idA), a, ""))
	add("GET b's invoice as a", a, svc.expect(t, http.StatusNotFound, "GET", fmt.Sprintf("/invoices/%d", idB), a, ""))
	add("GET a's invoice as b", b, svc.expect(t, http.StatusNotFound, "GET", fmt.Sprintf("/invoices/%d", idA), b, ""))
	cross := svc.expect(t, http.StatusForbidden, "PATCH", fmt.Sprintf("/invoices/%d", idA), a, `{"tenant_id":"`+b+`"}`)
	add("PATCH move to b", a, cross)
	noTenant := svc.expect(t, http.StatusBadRequest, "GET", "/invoices", "", "")
	// The lists: each tenant sees only its own invoices.
	for _, c := range []struct {
		tenant string
		want   int
	}{{a, 2}, {b, 1}} {
		r := svc.expect(t, http.StatusOK, "GET", "/invoices", c.tenant, "")
		add("GET list again", c.tenant, r)
		var l struct {
			Total    int `json:"total"`
			Invoices []struct {
				TenantID string `json:"tenant_id"`
			} `json:"invoices"`
		}
		if err := json.Unmarshal(r.body, &l); err != nil {
			t.Fatal(err)
		}
		if l.Total != c.want || len(l.Invoices) != c.want {
			t.Errorf("tenant %s lists %d invoices, want %d: %s", c.tenant, l.Total, c.want, r.body)
		}
		for _, inv := range l.Invoices {
			if inv.TenantID != c.tenant {
				t.Errorf("tenant %s lists an invoice of %s", c.tenant, inv.TenantID)
			}
		}
	}
	for _, rq := range append(reqs, tracedRequest{what: "no tenant", traceID: noTenant.traceID}) {
		if len(rq.traceID) != 32 || rq.traceID == zeroTraceID {
			t.Fatalf("%s: traceresponse trace id %q is not a trace id", rq.what, rq.traceID)
		}
	}
	out := svc.stop(t)
	t.Logf("service %s stopped; output:\n%s", name, out)
	if !strings.Contains(out, "failed=0 dropped=0") {
		t.Errorf("the service reports lost audit records at shutdown")
	}

	// --- The audit file: everything of this service.
	// 1 ENFORCEMENT_BYPASS (migration) + BOUND/RELEASED per tenant request +
	// 1 violation + 1 POLICY_DENY (no tenant).
	wantMin := 1 + 2*len(reqs) + 1 + 1
	audit := waitRecords(t, st.auditFile, serviceRecords(name), wantMin)
	types := auditTypes()
	for _, r := range audit.records {
		if r.scope != auditlog.ScopeName || !slices.Contains(types, r.EventName) || r.attr("audit.event.id") == "" {
			t.Errorf("a record of %s in the audit file is not an audit record: scope %q event %q attrs %v",
				name, r.scope, r.EventName, r.attrs)
		}
	}
	for _, rq := range reqs {
		for _, ty := range []auditlog.Type{auditlog.ContextBound, auditlog.ContextReleased} {
			if n := len(findRecords(audit.records, ty, rq.tenant, rq.traceID)); n != 1 {
				t.Errorf("%s: %d %s records for %s in trace %s, want 1", rq.what, n, ty, rq.tenant, rq.traceID)
			}
		}
	}
	violations := findRecords(audit.records, auditlog.EnforcementViolation, a, cross.traceID)
	if len(violations) != 1 {
		t.Fatalf("%d %s records for %s in the cross-tenant request's trace %s, want 1",
			len(violations), auditlog.EnforcementViolation, a, cross.traceID)
	}
	if got := violations[0].attr("tenant.attempted_id"); got != b {
		t.Errorf("violation tenant.attempted_id = %q, want %q", got, b)
	}
	if got := violations[0].attr("audit.outcome"); got != string(auditlog.OutcomeBlocked) {
		t.Errorf("violation audit.outcome = %q", got)
	}
	var allViolations int
	for _, r := range audit.records {
		if r.EventName == string(auditlog.EnforcementViolation) {
			allViolations++
		}
	}
	if allViolations != 1 {
		t.Errorf("%d violations for %s, want exactly 1", allViolations, name)
	}
	denied := false
	for _, r := range audit.records {
		if r.EventName == string(auditlog.PolicyDeny) && strings.ToLower(r.TraceID) == noTenant.traceID {
			denied = true
		}
	}
	if !denied {
		t.Errorf("no %s record in the trace %s of the request without tenant", auditlog.PolicyDeny, noTenant.traceID)
	}
	// No trace data in the audit file: the lines of this service are log
	// requests only.
	for _, line := range bytes.Split(audit.raw, []byte("\n")) {
		if bytes.Contains(line, []byte(name)) && (bytes.Contains(line, []byte(`"resourceSpans"`)) || bytes.Contains(line, []byte(`"spans"`))) {
			t.Errorf("the audit file has trace data of %s: %.300s", name, line)
		}
	}
	// Nothing of this service among the ordinary logs (it sends none over
	// OTLP, and audit records must not land there).
	if other, err := readRecords(st.otherFile, serviceRecords(name)); err != nil {
		t.Fatal(err)
	} else if len(other.records) != 0 {
		t.Errorf("%d records of %s in the other-logs file %s", len(other.records), name, st.otherFile)
	}

	// --- Jaeger: every request's trace has its tenant.* evidence, and no
	// audit record.
	for _, rq := range reqs {
		spans, raw := traceSpans(t, st.jaegerURL, rq.traceID, tenantEvidence(rq.tenant))
		noAuditInTrace(t, rq.traceID, spans, raw)
	}
	crossSpans, raw := traceSpans(t, st.jaegerURL, cross.traceID, func(spans []jaegerSpan) error {
		for _, sp := range spans {
			for _, ev := range sp.Events {
				at := kvs(ev.Attributes)
				if ev.Name == "tenant.write.blocked" && at["tenant.id"] == a && at["tenant.attempted_id"] == b {
					return nil
				}
			}
		}
		return fmt.Errorf("no tenant.write.blocked event with tenant.id %s and tenant.attempted_id %s", a, b)
	})
	noAuditInTrace(t, cross.traceID, crossSpans, raw)
	noSpans, raw := traceSpans(t, st.jaegerURL, noTenant.traceID, func(spans []jaegerSpan) error {
		for _, sp := range spans {
			for _, ev := range sp.Events {
				if ev.Name == "tenant.middleware.request_rejected" {
					return nil
				}
			}
		}
		return fmt.Errorf("no tenant.middleware.request_rejected event")
	})
	noAuditInTrace(t, noTenant.traceID, noSpans, raw)
	// The audit event IDs of this service appear nowhere in its traces.
	traces := httpGet(t, st.jaegerURL+"/api/traces?service="+name+"&limit=100")
	for _, r := range audit.records {
		if id := r.attr("audit.event.id"); bytes.Contains(traces, []byte(id)) {
			t.Errorf("audit event id %s is in the traces of %s", id, name)
		}
	}
}
