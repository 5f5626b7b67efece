//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantshield/tenantshield-go/auditlog/auditverify"
)

// TestDurableAuditSurvivesOutageAndKill runs the example service in the
// durable audit mode through two faults, over each OTLP protocol: the
// Collector is unreachable from the start, and the service is killed with
// SIGKILL while its records sit in the spool. A second process on the same
// spool, with the Collector up, ships them, then its own, and stops
// gracefully. The Collector's audit file must then hold both streams
// without a gap (duplicates allowed: delivery is at least once), verified
// by auditverify, the second one ending with its final checkpoint.
func TestDurableAuditSurvivesOutageAndKill(t *testing.T) {
	st := getStack(t)
	for _, proto := range []string{"http/protobuf", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			name := "tenantshield-e2e-durable-" + strings.ReplaceAll(proto, "/", "-") + "-" + nonce(t)
			endpoint := st.otlpHTTPBase
			if proto == "grpc" {
				endpoint = "http://" + st.otlpGRPC
			}
			env := []string{"OTEL_EXPORTER_OTLP_PROTOCOL=" + proto}
			spool := filepath.Join(t.TempDir(), "spool")
			dead := "http://" + freeAddr(t) // nothing listens there: the Collector is down

			s1 := startServiceEnv(t, name, dead, env, "-audit", "otlp", "-audit-spool", spool)
			for i := range 20 {
				createInvoice(t, s1, "acme", fmt.Sprintf("D1-%d", i))
			}
			if err := s1.cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown, no flush
				t.Fatal(err)
			}
			if err := <-s1.done; err == nil {
				t.Fatal("the killed service exited cleanly")
			}
			segs, _ := filepath.Glob(filepath.Join(spool, "*.seg"))
			if len(segs) == 0 {
				t.Fatal("the killed service left no spool segment")
			}

			s2 := startServiceEnv(t, name, endpoint, env, "-audit", "otlp", "-audit-spool", spool)
			for i := range 10 {
				createInvoice(t, s2, "globex", fmt.Sprintf("D2-%d", i))
			}
			s2.stop(t)

			// Each process: 1 bypass (the migration) and a bound and a
			// released record per request; the second also its final
			// checkpoint.
			const want = (1 + 2*20) + (1 + 2*10 + 1)
			lines := waitServiceLines(t, st.auditFile, name, want)
			rep, err := auditverify.Verify(auditverify.Options{AllowOpen: true},
				auditverify.Input{Name: st.auditFile, R: bytes.NewReader(lines)})
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			_ = rep.WriteText(&text)
			if !rep.Intact || len(rep.Streams) != 2 {
				t.Fatalf("the service's audit records in the Collector's file:\n%s", text.String())
			}
			finals := 0
			for _, s := range rep.Streams {
				if len(s.Gaps) != 0 || s.FirstSeq != 1 || uint64(s.Records) != s.LastSeq {
					t.Fatalf("stream %s is not whole:\n%s", s.Stream, text.String())
				}
				if s.FinalCheckpoint {
					finals++
				}
			}
			if finals != 1 {
				t.Fatalf("want the second process's final checkpoint and none for the killed one:\n%s", text.String())
			}
			t.Logf("%s", text.String())
		})
	}
}

// waitServiceLines returns the OTLP/JSON lines of the Collector's file whose
// resource is service name, once they hold at least n audit records.
func waitServiceLines(t *testing.T, path, name string, n int) []byte {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		lines, count := serviceLines(t, path, name)
		if count >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of the %d audit records of %s after %s", path, count, n, name, deliveryTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func serviceLines(t *testing.T, path, name string) ([]byte, int) {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0 // the Collector has written nothing yet
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	count := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var req struct {
			ResourceLogs []struct {
				Resource struct {
					Attributes []otlpKV `json:"attributes"`
				} `json:"resource"`
				ScopeLogs []struct {
					LogRecords []json.RawMessage `json:"logRecords"`
				} `json:"scopeLogs"`
			} `json:"resourceLogs"`
		}
		if json.Unmarshal(sc.Bytes(), &req) != nil {
			continue
		}
		mine := false
		for _, rl := range req.ResourceLogs {
			if kvs(rl.Resource.Attributes)["service.name"] == name {
				mine = true
				for _, sl := range rl.ScopeLogs {
					count += len(sl.LogRecords)
				}
			}
		}
		if mine {
			out.Write(sc.Bytes())
			out.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), count
}

// TestDurableCollectorOutage is TestServiceCollectorOutage in the durable
// mode, with the Collector also SIGKILLed mid-run: down from the start for
// 200 requests, up for 100, killed with SIGKILL for 20 s of requests, up
// again for 100.
// Nothing is lost: the service's stream reaches the Collector's file
// without a gap (a record resent after the kill is a duplicate, which the
// verifier ignores). It logs the request latency of each phase, to set
// against the batch mode's (TestServiceCollectorOutage).
func TestDurableCollectorOutage(t *testing.T) {
	getStack(t)
	for _, proto := range []string{"http/protobuf", "grpc"} {
		t.Run(strings.ReplaceAll(proto, "/", "-"), func(t *testing.T) {
			id := nonce(t)
			name := "tenantshield-e2e-durable-outage-" + id
			col := newCollector(t)
			env := []string{"OTEL_EXPORTER_OTLP_PROTOCOL=" + proto}
			endpoint := "http://" + col.httpAddr
			if proto == "grpc" {
				endpoint = "http://" + col.grpcAddr
			}
			svc := startServiceEnv(t, name, endpoint, env, "-audit", "otlp", "-audit-spool", filepath.Join(t.TempDir(), "spool"))
			requests := 0
			phase := func(n int, pace time.Duration) []time.Duration {
				var lat []time.Duration
				for i := 0; i < n; i++ {
					time.Sleep(pace)
					r := svc.expect(t, http.StatusCreated, "POST", "/invoices", "acme-"+id, `{"number":"n`+strconv.Itoa(requests)+`","amount":1}`)
					requests++
					lat = append(lat, r.elapsed)
				}
				return lat
			}
			p := func(ds []time.Duration) string {
				return fmt.Sprintf("p50 %v p99 %v max %v", percentile(ds, 0.50), percentile(ds, 0.99), slices.Max(ds))
			}
			down := phase(200, 5*time.Millisecond)
			col.start(t)
			up := phase(100, 0)
			if err := col.cmd.Process.Kill(); err != nil { // SIGKILL mid-run
				t.Fatal(err)
			}
			if err := <-col.done; err == nil {
				t.Fatal("the SIGKILLed Collector exited cleanly")
			}
			// The Collector stays dead for 20 s of requests.
			var killed []time.Duration
			for end := time.Now().Add(20 * time.Second); time.Now().Before(end); {
				killed = append(killed, phase(10, 100*time.Millisecond)...)
			}
			col.start(t)
			again := phase(100, 0)
			svc.stop(t)
			t.Logf("durable audit over %s, request latency: Collector down %s; up %s; SIGKILLed %s; up again %s",
				proto, p(down), p(up), p(killed), p(again))

			// The migration's bypass, bound and released per request; a
			// checkpoint after every 1000 of them, and the final one.
			events := 1 + 2*requests
			want := events + events/1000 + 1
			lines := waitServiceLines(t, col.auditFile, name, want)
			rep, err := auditverify.Verify(auditverify.Options{}, auditverify.Input{Name: col.auditFile, R: bytes.NewReader(lines)})
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			_ = rep.WriteText(&text)
			if !rep.Intact || len(rep.Streams) != 1 || rep.Streams[0].Records != want || !rep.Streams[0].FinalCheckpoint {
				t.Fatalf("want one intact stream of %d records ending with its final checkpoint:\n%s", want, text.String())
			}
			t.Logf("%s", text.String())
		})
	}
}
