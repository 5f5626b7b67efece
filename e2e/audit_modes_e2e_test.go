//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/auditlog/auditverify"
)

var (
	burstOnce sync.Once
	burstBin  string
	burstErr  error
)

// burstBinary builds internal/cmd/auditburst once per test binary run.
func burstBinary(t *testing.T) string {
	t.Helper()
	burstOnce.Do(func() {
		burstBin = filepath.Join(buildDir, "auditburst")
		cmd := exec.Command(envOr("GO", "go"), "build", "-o", burstBin, "./internal/cmd/auditburst")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			burstErr = fmt.Errorf("go build ./internal/cmd/auditburst: %w\n%s", err, out)
		}
	})
	if burstErr != nil {
		t.Fatal(burstErr)
	}
	return burstBin
}

// burstResult is what auditburst prints.
type burstResult struct {
	Emitted, Exported, Failed, Dropped uint64
	Pending                            int
	Seconds                            float64 `json:"burst_seconds"`
	Stream                             string  `json:"stream_id"`
	Error                              string  `json:"shutdown_error"`
}

const burstRecords = 100_000

// TestAuditBurst emits 100 000 records as fast as 8 goroutines can, in the
// durable and in the batch mode, over each OTLP protocol, to the real
// Collector, then shuts down gracefully. Durable: the Collector's file
// holds the whole stream, every record and checkpoint, without a gap,
// ending with the final checkpoint. Batch: what it could not queue is
// counted (Dropped, Failed), exactly as many sequence numbers are missing
// from the Collector's file, and every gap is named by a loss record.
func TestAuditBurst(t *testing.T) {
	getStack(t)
	for _, proto := range []string{"http/protobuf", "grpc"} {
		for _, mode := range []string{"durable", "batch"} {
			t.Run(mode+"/"+strings.ReplaceAll(proto, "/", "-"), func(t *testing.T) {
				name := "tenantshield-e2e-burst-" + mode + "-" + nonce(t)
				col := newCollector(t)
				// 100 000 records are about 120 MB of OTLP/JSON: keep
				// them in one file.
				col.extra = []string{"--set=exporters::file/audit::rotation::max_megabytes=4000"}
				col.start(t)
				endpoint := "http://" + col.httpAddr
				if proto == "grpc" {
					endpoint = "http://" + col.grpcAddr
				}
				cmd := exec.Command(burstBinary(t), "-n", strconv.Itoa(burstRecords), "-delivery", mode,
					"-spool", filepath.Join(t.TempDir(), "spool"))
				cmd.Env = append(cleanEnv(), "OTEL_EXPORTER_OTLP_ENDPOINT="+endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL="+proto,
					"OTEL_SERVICE_NAME="+name)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("auditburst: %v\n%s", err, stderr.String())
				}
				var r burstResult
				if err := json.Unmarshal(out, &r); err != nil {
					t.Fatalf("auditburst printed %q: %v", out, err)
				}
				t.Logf("%s over %s: %d records in %.2fs; emitted %d, exported %d, failed %d, dropped %d, pending %d",
					mode, proto, burstRecords, r.Seconds, r.Emitted, r.Exported, r.Failed, r.Dropped, r.Pending)
				// The burst, a checkpoint per 1000 records, the final one.
				if mode == "durable" {
					want := burstRecords + burstRecords/1000 + 1
					if r.Error != "" || r.Failed != 0 || r.Dropped != 0 || r.Pending != 0 || int(r.Emitted) != want {
						t.Fatalf("durable: %+v, want %d emitted and nothing failed, dropped or pending", r, want)
					}
					lines := waitServiceLines(t, col.auditFile, name, want)
					rep, err := auditverify.Verify(auditverify.Options{}, auditverify.Input{Name: col.auditFile, R: bytes.NewReader(lines)})
					if err != nil {
						t.Fatal(err)
					}
					var text bytes.Buffer
					_ = rep.WriteText(&text)
					if !rep.Intact || len(rep.Streams) != 1 || rep.Streams[0].Records != want || !rep.Streams[0].FinalCheckpoint ||
						rep.Streams[0].Stream != r.Stream {
						t.Fatalf("want one intact stream %s of %d records ending with its final checkpoint:\n%s", r.Stream, want, text.String())
					}
					t.Logf("%s", text.String())
					return
				}
				all := waitFinal(t, col.auditFile, name)
				rep, missing := gapsNamed(t, col.auditFile, name, all)
				if uint64(missing) != r.Dropped+r.Failed {
					t.Errorf("batch: %d sequence numbers missing from the Collector's file, %d counted (dropped %d + failed %d)",
						missing, r.Dropped+r.Failed, r.Dropped, r.Failed)
				}
				if !rep.FinalCheckpoint || rep.Stream != r.Stream {
					t.Errorf("batch: the stream %s does not end with its final checkpoint", rep.Stream)
				}
			})
		}
	}
}

// cleanEnv is the test's environment without TS_* and OTEL_* variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TS_") && !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitFinal waits until the Collector's file holds the final checkpoint of
// service name's stream and returns its records.
func waitFinal(t *testing.T, file, name string) []logRecord {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		all, err := readRecords(file, serviceRecords(name))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range all.records {
			if r.EventName == string(auditlog.Checkpoint) && r.attr("audit.checkpoint.final") == "true" {
				return all.records
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no final checkpoint of %s after %s (%d records)", file, name, deliveryTimeout, len(all.records))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBlockingAuditEndToEnd runs the example service in the blocking mode
// with a small spool (64 KiB) and the Collector down: requests succeed
// while their records fit in the spool, then are refused with 503
// problem+json (audit-unavailable) and change nothing; once the Collector
// is up and the spool drains, requests succeed again. Every refused
// request is missing from the database, and the Collector's file names
// every gap of the stream in a loss record.
func TestBlockingAuditEndToEnd(t *testing.T) {
	getStack(t)
	id := nonce(t)
	name := "tenantshield-e2e-blocking-" + id
	tenant := "acme-" + id
	col := newCollector(t)
	svc := startServiceEnv(t, name, "http://"+col.httpAddr, nil, "-audit", "otlp", "-audit-delivery", "blocking",
		"-audit-spool-max", "65536")
	created, refused, n := 0, 0, 0
	post := func() response {
		r := svc.do(t, "POST", "/invoices", tenant, `{"number":"b`+strconv.Itoa(n)+`","amount":1}`)
		n++
		switch r.status {
		case http.StatusCreated:
			created++
		case http.StatusServiceUnavailable:
			refused++
			var p struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
			}
			if err := json.Unmarshal(r.body, &p); err != nil || p.Type != "https://tenantshield.dev/problems/audit-unavailable" || p.Status != 503 {
				t.Fatalf("a refused request's body: %s", r.body)
			}
		default:
			t.Fatalf("POST: %d %s", r.status, r.body)
		}
		return r
	}
	for refused < 10 {
		if n == 1000 {
			t.Fatalf("no request refused after %d with a 64 KiB spool and the Collector down", n)
		}
		post()
	}
	createdDown := created
	col.start(t)
	deadline := time.Now().Add(2 * deliveryTimeout)
	for ok := 0; ok < 20; {
		if time.Now().After(deadline) {
			t.Fatalf("requests still refused %s after the Collector came up", 2*deliveryTimeout)
		}
		if post().status == http.StatusCreated {
			ok++
		} else {
			ok = 0
			time.Sleep(50 * time.Millisecond)
		}
	}
	var list struct {
		Total int `json:"total"`
	}
	if err := json.Unmarshal(svc.expect(t, http.StatusOK, "GET", "/invoices", tenant, "").body, &list); err != nil {
		t.Fatal(err)
	}
	if list.Total != created {
		t.Fatalf("%d invoices stored, %d requests answered 201 (%d refused): a refused request changed the data", list.Total, created, refused)
	}
	svc.stop(t)
	all := waitFinal(t, col.auditFile, name)
	rep, missing := gapsNamed(t, col.auditFile, name, all)
	// A refused request loses its CONTEXT_BOUND record and the SINK_FAILURE
	// about it; the loss records name both.
	if missing < 2*refused {
		t.Errorf("%d sequence numbers missing for %d refused requests", missing, refused)
	}
	if !rep.FinalCheckpoint {
		t.Error("the stream does not end with its final checkpoint")
	}
	t.Logf("blocking: %d requests created while the Collector was down, %d refused, %d created in all; %d sequence numbers missing, all named",
		createdDown, refused, created, missing)
}

// TestAuditDeliveryLatencyCollectorDown measures the example service's
// request latency in each delivery mode (and durable with the spool fsynced
// at most every 100 ms) while its Collector is down: 300 POSTs, one at a
// time. It asserts no duration (the machine is shared);
// it logs the p50/p99 of each mode, for the README.
func TestAuditDeliveryLatencyCollectorDown(t *testing.T) {
	getStack(t)
	dead := "http://" + freeAddr(t)
	var report []string
	for _, mode := range []string{"batch", "durable", "durable+sync100ms", "blocking"} {
		id := nonce(t)
		delivery, interval, _ := strings.Cut(mode, "+sync")
		args := []string{"-audit", "otlp", "-audit-delivery", delivery}
		if interval != "" {
			args = append(args, "-audit-sync-interval", interval)
		}
		svc := startServiceEnv(t, "tenantshield-e2e-latency-"+delivery+"-"+id, dead, nil, args...)
		var lat []time.Duration
		for i := range 300 {
			r := svc.expect(t, http.StatusCreated, "POST", "/invoices", "acme-"+id, `{"number":"l`+strconv.Itoa(i)+`","amount":1}`)
			lat = append(lat, r.elapsed)
		}
		report = append(report, fmt.Sprintf("%s p50 %v p99 %v", mode, percentile(lat, 0.50), percentile(lat, 0.99)))
		_ = svc.cmd.Process.Kill() // nothing to flush: the Collector is down
		if err := <-svc.done; err == nil {
			t.Logf("%s: the killed service exited cleanly", mode)
		}
	}
	t.Logf("request latency with the Collector down: %s", strings.Join(report, "; "))
}

// TestBatchAuditThroughKills runs the batch mode through the two kills of
// the fault matrix, over each OTLP protocol: the Collector SIGKILLed for
// 20 s mid-run and restarted, then the service itself SIGKILLed. Every gap
// the verifier finds before the service's last request record is named by a
// loss record (the Collector's outage); what the killed service still held
// is a lost tail, which the verifier names by the missing final checkpoint
// (a process killed with SIGKILL cannot count anything).
func TestBatchAuditThroughKills(t *testing.T) {
	getStack(t)
	for _, proto := range []string{"http/protobuf", "grpc"} {
		t.Run(strings.ReplaceAll(proto, "/", "-"), func(t *testing.T) {
			id := nonce(t)
			name := "tenantshield-e2e-batch-kills-" + id
			col := newCollector(t)
			col.start(t)
			env := []string{"OTEL_BLRP_SCHEDULE_DELAY=200", "OTEL_EXPORTER_OTLP_PROTOCOL=" + proto}
			endpoint := "http://" + col.httpAddr
			if proto == "grpc" {
				endpoint = "http://" + col.grpcAddr
			}
			svc := startServiceEnv(t, name, endpoint, env, "-audit", "otlp", "-audit-delivery", "batch")
			n := 0
			post := func() {
				svc.expect(t, http.StatusCreated, "POST", "/invoices", "acme-"+id, `{"number":"k`+strconv.Itoa(n)+`","amount":1}`)
				n++
			}
			for range 50 {
				post()
			}
			// The migration's bypass and a bound and a released record per
			// request reach the Collector before it is killed.
			waitServiceLines(t, col.auditFile, name, 1+2*50)
			if err := col.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := <-col.done; err == nil {
				t.Fatal("the SIGKILLed Collector exited cleanly")
			}
			for end := time.Now().Add(20 * time.Second); time.Now().Before(end); {
				post()
				time.Sleep(100 * time.Millisecond)
			}
			col.start(t)
			// Exports succeed again (over gRPC once the client's reconnect
			// backoff has run out): the loss records follow.
			for deadline := time.Now().Add(2 * deliveryTimeout); ; {
				post()
				time.Sleep(200 * time.Millisecond)
				all, err := readRecords(col.auditFile, serviceRecords(name))
				if err != nil {
					t.Fatal(err)
				}
				if slices.ContainsFunc(all.records, func(r logRecord) bool { return r.attr("audit.loss.first_sequence") != "" }) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no loss record reached the restarted Collector within %s", 2*deliveryTimeout)
				}
			}
			for range 20 {
				post() // records the kill will take with it
			}
			if err := svc.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := <-svc.done; err == nil {
				t.Fatal("the SIGKILLed service exited cleanly")
			}

			// The records of the last requests reach the file within the
			// delivery timeout, or never: wait until the file stops growing.
			var all fileContent
			for last, deadline := -1, time.Now().Add(deliveryTimeout); ; {
				var err error
				if all, err = readRecords(col.auditFile, serviceRecords(name)); err != nil {
					t.Fatal(err)
				}
				if len(all.records) == last || time.Now().After(deadline) {
					break
				}
				last = len(all.records)
				time.Sleep(time.Second)
			}
			lines, _ := serviceLines(t, col.auditFile, name)
			rep, err := auditverify.Verify(auditverify.Options{}, auditverify.Input{Name: col.auditFile, R: bytes.NewReader(lines)})
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			_ = rep.WriteText(&text)
			if len(rep.Streams) != 1 {
				t.Fatalf("want one stream:\n%s", text.String())
			}
			st := rep.Streams[0]
			named := map[int64]bool{}
			var lastRequest int64
			for _, r := range all.records {
				seq, _ := strconv.ParseInt(r.attr("audit.sequence"), 10, 64)
				if f := r.attr("audit.loss.first_sequence"); f != "" {
					first, _ := strconv.ParseInt(f, 10, 64)
					last, _ := strconv.ParseInt(r.attr("audit.loss.last_sequence"), 10, 64)
					for s := first; s <= last; s++ {
						named[s] = true
					}
					continue
				}
				lastRequest = max(lastRequest, seq)
			}
			missing := 0
			for _, g := range st.Gaps {
				a, b, _ := strings.Cut(g, "-")
				first, _ := strconv.ParseInt(a, 10, 64)
				last := first
				if b != "" {
					last, _ = strconv.ParseInt(b, 10, 64)
				}
				for s := first; s <= last; s++ {
					missing++
					if s < lastRequest && !named[s] {
						t.Fatalf("sequence %d is missing before the last request record (%d) and no loss record names it:\n%s", s, lastRequest, text.String())
					}
				}
			}
			if st.FinalCheckpoint || st.Intact {
				t.Fatalf("the killed service's stream must be reported open (a possible lost tail):\n%s", text.String())
			}
			found := false
			for _, f := range st.Findings {
				found = found || f.Kind == auditverify.KindMissingFinal
			}
			if !found {
				t.Fatalf("the verifier does not name the missing final checkpoint:\n%s", text.String())
			}
			t.Logf("batch over %s: %d requests, %d sequence numbers missing, %d named by loss records; the verifier:\n%s",
				proto, n, missing, len(named), text.String())
		})
	}
}
