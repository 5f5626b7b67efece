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
	"regexp"
	"slices"
	"strconv"
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
	traceID string // the Traceparent-Id header
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
	return response{status: resp.StatusCode, traceID: strings.ToLower(resp.Header.Get("Traceparent-Id")), body: b,
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
			t.Fatalf("%s: Traceparent-Id %q is not a trace id", rq.what, rq.traceID)
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

// TestServicePipelinesAreIndependent switches each pipeline off in turn.
func TestServicePipelinesAreIndependent(t *testing.T) {
	st := getStack(t)
	t.Run("observability off, audit otlp", func(t *testing.T) {
		id := nonce(t)
		name := "tenantshield-e2e-noobs-" + id
		tenant := "acme-" + id
		svc := startService(t, name, st.otlpHTTPBase, "-observability", "off", "-audit", "otlp")
		_, r := createInvoice(t, svc, tenant, "1")
		if r.traceID != zeroTraceID {
			t.Errorf("Traceparent-Id %q with observability off, want the zero trace id", r.traceID)
		}
		svc.expect(t, http.StatusOK, "GET", "/invoices", tenant, "")
		svc.stop(t)

		// 1 bypass (migration) + 2 requests x BOUND/RELEASED.
		audit := waitRecords(t, st.auditFile, serviceRecords(name), 5)
		for _, ty := range []auditlog.Type{auditlog.ContextBound, auditlog.ContextReleased} {
			if n := len(findRecords(audit.records, ty, tenant, "")); n != 2 {
				t.Errorf("%d %s records for %s (without trace id), want 2", n, ty, tenant)
			}
		}
		// The Collector has answered the service's last export before the
		// service exited; traces go out through a 200 ms batch. Give a trace,
		// had one been sent, ample time to show up.
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if slices.Contains(jaegerServices(t, st.jaegerURL), name) {
				t.Fatalf("Jaeger lists the service %s, which ran with observability off", name)
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
	t.Run("observability on, audit off", func(t *testing.T) {
		id := nonce(t)
		name := "tenantshield-e2e-noaudit-" + id
		tenant := "acme-" + id
		svc := startService(t, name, st.otlpHTTPBase, "-observability", "on", "-audit", "off")
		_, r1 := createInvoice(t, svc, tenant, "1")
		r2 := svc.expect(t, http.StatusOK, "GET", "/invoices", tenant, "")
		svc.stop(t)
		for _, r := range []response{r1, r2} {
			spans, raw := traceSpans(t, st.jaegerURL, r.traceID, tenantEvidence(tenant))
			noAuditInTrace(t, r.traceID, spans, raw)
		}
		if !slices.Contains(jaegerServices(t, st.jaegerURL), name) {
			t.Errorf("Jaeger does not list the service %s", name)
		}
		// The traces arrived after the service exited; an audit export, had
		// there been one, was answered before it exited.
		audit, err := readRecords(st.auditFile, serviceRecords(name))
		if err != nil {
			t.Fatal(err)
		}
		if len(audit.records) != 0 {
			t.Errorf("%d audit records of %s, which ran with -audit off", len(audit.records), name)
		}
	})
}

// collector is a Collector of the test's own (same otelcol-config.yaml, other
// ports and files), so that the shared stack is never disturbed.
type collector struct {
	httpAddr, grpcAddr, healthAddr string
	auditFile, otherFile           string
	cmd                            *exec.Cmd
	out                            *lockedBuffer
	done                           chan error
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	dir := t.TempDir()
	return &collector{
		httpAddr: freeAddr(t), grpcAddr: freeAddr(t), healthAddr: freeAddr(t),
		auditFile: filepath.Join(dir, "audit.jsonl"), otherFile: filepath.Join(dir, "otel-logs.jsonl"),
	}
}

func (c *collector) start(t *testing.T) {
	t.Helper()
	bin := os.Getenv("OTELCOL_BIN")
	if bin == "" {
		t.Fatal("OTELCOL_BIN is not set: run these tests with `make e2e`")
	}
	c.cmd = exec.Command(bin,
		"--config="+filepath.Join(repoRoot(t), "otelcol-config.yaml"),
		"--set=receivers::otlp::protocols::http::endpoint="+c.httpAddr,
		"--set=receivers::otlp::protocols::grpc::endpoint="+c.grpcAddr,
		"--set=extensions::health_check::endpoint="+c.healthAddr,
	)
	c.cmd.Env = append(os.Environ(), "TS_AUDIT_FILE="+c.auditFile, "TS_OTHER_LOGS_FILE="+c.otherFile)
	c.out, c.done = &lockedBuffer{}, make(chan error, 1)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd, done := c.cmd, c.done
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-done:
				_ = err // a SIGTERM exit status
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				if err := <-done; err != nil {
					t.Logf("Collector killed at cleanup: %v", err)
				}
			}
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if status, _, err := get("http://" + c.healthAddr + "/"); err == nil && status == http.StatusOK {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("Collector exited (%v):\n%s", err, c.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("Collector not healthy after 30s:\n%s", c.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

var auditStatsLine = regexp.MustCompile(`audit export emitted=(\d+) exported=(\d+) failed=(\d+) dropped=(\d+)`)

// TestServiceCollectorOutage runs the service while its Collector is down,
// then brings the Collector up: no request fails because of telemetry, and
// every audit record emitted during the outage is either delivered or counted
// as lost by the service.
//
// It runs once per audit OTLP protocol: the HTTP exporter does not retry a
// refused connection (only 429/502/503/504 answers and temporary network
// errors), the gRPC exporter retries Unavailable with backoff.
func TestServiceCollectorOutage(t *testing.T) {
	getStack(t) // its Jaeger receives the traces of the test's Collector
	for _, proto := range []string{"http/protobuf", "grpc"} {
		t.Run(strings.ReplaceAll(proto, "/", "-"), func(t *testing.T) { collectorOutage(t, proto) })
	}
}

func collectorOutage(t *testing.T, proto string) {
	const n = 200
	id := nonce(t)
	name := "tenantshield-e2e-outage-" + id
	col := newCollector(t)
	// Export every 200 ms (default 1 s) so that several exports are attempted
	// while the Collector is down.
	env := []string{"OTEL_BLRP_SCHEDULE_DELAY=200"}
	if proto == "grpc" {
		env = append(env, "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=http://"+col.grpcAddr)
	}
	svc := startServiceEnv(t, name, "http://"+col.httpAddr, env, "-observability", "on", "-audit", "otlp")
	tenants := []string{"acme-" + id, "globex-" + id}

	// pace spreads the requests of a phase so that the outage lasts a few
	// seconds (the requests themselves take about a millisecond).
	phase := func(label string, pace time.Duration) ([]time.Duration, []string) {
		var lat []time.Duration
		var traceIDs []string
		for i := 0; i < n; i++ {
			time.Sleep(pace)
			tenant := tenants[i%2]
			var r response
			if i%4 < 2 {
				r = svc.expect(t, http.StatusCreated, "POST", "/invoices", tenant, `{"number":"`+label+strconv.Itoa(i)+`","amount":1}`)
			} else {
				r = svc.expect(t, http.StatusOK, "GET", "/invoices", tenant, "")
			}
			lat = append(lat, r.elapsed)
			traceIDs = append(traceIDs, r.traceID)
		}
		return lat, traceIDs
	}
	downLat, downTraces := phase("down-", 15*time.Millisecond)
	col.start(t)
	upLat, _ := phase("up-", 0)
	p := func(ds []time.Duration) string {
		return fmt.Sprintf("p50 %v p99 %v max %v", percentile(ds, 0.50), percentile(ds, 0.99), slices.Max(ds))
	}
	t.Logf("audit over %s: latency over %d requests, Collector DOWN: %s", proto, n, p(downLat))
	t.Logf("audit over %s: latency over %d requests, Collector UP:   %s", proto, n, p(upLat))
	// Telemetry is asynchronous: an unreachable Collector must not make
	// requests wait for its timeouts and retries (seconds).
	if d := percentile(downLat, 0.99); d > 2*time.Second {
		t.Errorf("p99 latency with the Collector down is %v: requests wait for telemetry", d)
	}

	stopStart := time.Now()
	out := svc.stop(t)
	t.Logf("service stopped in %v; output:\n%s", time.Since(stopStart), out)
	m := auditStatsLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the service did not log its audit export counters at shutdown")
	}
	num := func(s string) int { v, _ := strconv.Atoi(s); return v }
	emitted, exported, failed, lost := num(m[1]), num(m[2]), num(m[3]), num(m[4])
	// 1 bypass (migration) + BOUND/RELEASED per request.
	if want := 1 + 2*2*n; emitted != want {
		t.Errorf("emitted = %d, want %d", emitted, want)
	}

	all, err := readRecords(col.auditFile, serviceRecords(name))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range all.records {
		ids[r.attr("audit.event.id")] = true
	}
	delivered := len(ids)
	// Records of the requests made while the Collector was down.
	inOutage := map[string]bool{}
	for _, tid := range downTraces {
		inOutage[tid] = true
	}
	outageDelivered := 0
	for _, r := range all.records {
		if inOutage[strings.ToLower(r.TraceID)] {
			outageDelivered++
		}
	}
	t.Logf("audit over %s: records emitted %d, exported %d, failed %d, lost %d; in the Collector's file %d distinct "+
		"(of the %d emitted during the outage: %d delivered)", proto, emitted, exported, failed, lost, delivered, 2*n, outageDelivered)
	if delivered < exported {
		t.Errorf("the service counts %d records exported, the file has %d", exported, delivered)
	}
	if delivered+lost < emitted {
		t.Errorf("%d records vanished: emitted %d, delivered %d, counted lost %d", emitted-delivered-lost, emitted, delivered, lost)
	}
	if outageDelivered < 2*n && lost == 0 {
		t.Errorf("%d of the outage's %d records are missing and none is counted as lost", 2*n-outageDelivered, 2*n)
	}
	if failed > lost {
		t.Errorf("failed %d > lost %d", failed, lost)
	}
}

// TestServiceCollectorNeverUp: the Collector never comes up. Shutdown gives
// up, and every audit record is counted as lost and reported, not silently
// dropped.
func TestServiceCollectorNeverUp(t *testing.T) {
	const n = 20
	id := nonce(t)
	name := "tenantshield-e2e-neverup-" + id
	dead := "http://" + freeAddr(t)
	// A short export timeout, so that the exports fail (after their retries)
	// within the service's 10 s shutdown.
	svc := startServiceEnv(t, name, dead, []string{"OTEL_BLRP_EXPORT_TIMEOUT=1000", "OTEL_BSP_EXPORT_TIMEOUT=1000"},
		"-observability", "on", "-audit", "otlp")
	for i := 0; i < n; i++ {
		svc.expect(t, http.StatusCreated, "POST", "/invoices", "acme-"+id, `{"number":"x","amount":1}`)
	}
	out := svc.stop(t)
	t.Logf("output:\n%s", out)
	m := auditStatsLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the service did not log its audit export counters at shutdown")
	}
	num := func(s string) int { v, _ := strconv.Atoi(s); return v }
	emitted, exported, failed, lost := num(m[1]), num(m[2]), num(m[3]), num(m[4])
	if want := 1 + 2*n; emitted != want || exported != 0 || lost != emitted {
		t.Errorf("emitted %d exported %d failed %d lost %d; want %d emitted, all lost", emitted, exported, failed, lost, want)
	}
	if failed == 0 || !strings.Contains(out, "audit record(s) dropped: export failed") {
		t.Errorf("no export failure reported (failed = %d)", failed)
	}
	if !strings.Contains(out, "ERROR audit export") {
		t.Errorf("the lost records are not logged as an error")
	}
}
