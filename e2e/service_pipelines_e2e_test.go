//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/auditlog/auditverify"
)

// The example service with one telemetry pipeline off, and with its
// Collector down or never up (service_e2e_test.go has the harness).

// TestServicePipelinesAreIndependent switches each pipeline off in turn.
func TestServicePipelinesAreIndependent(t *testing.T) {
	st := getStack(t)
	t.Run("observability off, audit otlp", func(t *testing.T) {
		id := nonce(t)
		name := "tenantshield-e2e-noobs-" + id
		tenant := "acme-" + id
		svc := startService(t, name, st.otlpHTTPBase, "-observability", "off", "-audit", "otlp")
		_, r := createInvoice(t, svc, tenant, "1")
		if r.traceID != "" {
			t.Errorf("traceresponse trace id %q with observability off, want no traceresponse header", r.traceID)
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
	extra                          []string // more --set flags
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
	c.cmd.Args = append(c.cmd.Args, c.extra...)
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
	svc := startServiceEnv(t, name, "http://"+col.httpAddr, env, "-observability", "on", "-audit", "otlp", "-audit-delivery", "batch")
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
	all, err := readRecords(col.auditFile, serviceRecords(name))
	if err != nil {
		t.Fatal(err)
	}
	// 1 bypass (migration) + BOUND/RELEASED per request + the stream's
	// final CHECKPOINT at shutdown + the loss records (SINK_FAILURE) that
	// name what the outage lost.
	lossRecords := 0
	for _, r := range all.records {
		if r.EventName == string(auditlog.SinkFailure) && r.attr("audit.loss.first_sequence") != "" {
			lossRecords++
		}
	}
	if want := 1 + 2*2*n + 1 + lossRecords; emitted != want {
		t.Errorf("emitted = %d, want %d", emitted, want)
	}
	gapsNamed(t, col.auditFile, name, all.records)
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
		"-observability", "on", "-audit", "otlp", "-audit-delivery", "batch")
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
	if want := 1 + 2*n + 1; emitted != want || exported != 0 || lost != emitted { // + the final CHECKPOINT
		t.Errorf("emitted %d exported %d failed %d lost %d; want %d emitted, all lost", emitted, exported, failed, lost, want)
	}
	if failed == 0 || !strings.Contains(out, "audit record(s) dropped: export failed") {
		t.Errorf("no export failure reported (failed = %d)", failed)
	}
	if !strings.Contains(out, "ERROR audit export") {
		t.Errorf("the lost records are not logged as an error")
	}
}

// gapsNamed verifies the service's records in the Collector's file: every
// gap the verifier finds in its stream must be named by a loss record
// (SINK_FAILURE with audit.loss.first_sequence..last_sequence).
// It returns the stream's report and how many sequence numbers are missing.
func gapsNamed(t *testing.T, file, name string, records []logRecord) (auditverify.StreamReport, int) {
	t.Helper()
	lines, _ := serviceLines(t, file, name)
	rep, err := auditverify.Verify(auditverify.Options{}, auditverify.Input{Name: file, R: bytes.NewReader(lines)})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	_ = rep.WriteText(&text)
	if len(rep.Streams) != 1 {
		t.Fatalf("want one stream:\n%s", text.String())
	}
	type span struct{ first, last int }
	var named []span
	for _, r := range records {
		if f := r.attr("audit.loss.first_sequence"); f != "" {
			first, _ := strconv.Atoi(f)
			last, _ := strconv.Atoi(r.attr("audit.loss.last_sequence"))
			named = append(named, span{first, last})
		}
	}
	missing := 0
	for _, g := range rep.Streams[0].Gaps {
		a, b, _ := strings.Cut(g, "-")
		first, _ := strconv.Atoi(a)
		last := first
		if b != "" {
			last, _ = strconv.Atoi(b)
		}
		missing += last - first + 1
		for s := first; s <= last; s++ {
			ok := false
			for _, n := range named {
				ok = ok || (s >= n.first && s <= n.last)
			}
			if !ok {
				t.Fatalf("sequence %d is missing and no loss record names it (loss records %v):\n%s", s, named, text.String())
			}
		}
	}
	for _, f := range rep.Streams[0].Findings {
		if f.Failure && f.Kind != auditverify.KindGap {
			t.Fatalf("the stream has a failure other than gaps:\n%s", text.String())
		}
	}
	t.Logf("the verifier on the Collector's file (%d loss records):\n%s", len(named), text.String())
	return rep.Streams[0], missing
}
