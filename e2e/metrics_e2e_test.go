//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestServiceMetrics runs the example service with -observability on
// against a Collector of the test's own, makes decisions and rejections
// happen, and finds them, with the audit delivery instruments, in the
// Collector's metrics file (otelcol-config.yaml's metrics pipeline).
func TestServiceMetrics(t *testing.T) {
	getStack(t) // its Jaeger receives the traces of the test's Collector
	id := nonce(t)
	name := "tenantshield-e2e-metrics-" + id
	tenant := "acme-" + id
	col := newCollector(t)
	metricsFile := filepath.Join(t.TempDir(), "otel-metrics.jsonl")
	col.extra = append(col.extra, "--set=exporters::file/metrics::path="+metricsFile)
	col.start(t)
	svc := startServiceEnv(t, name, "http://"+col.httpAddr, []string{"OTEL_METRIC_EXPORT_INTERVAL=500"},
		"-observability", "on", "-audit", "otlp")

	idA, _ := createInvoice(t, svc, tenant, "1")                                                                    // scoped INSERT
	svc.expect(t, http.StatusOK, "GET", "/invoices", tenant, "")                                                    // scoped SELECT
	svc.expect(t, http.StatusForbidden, "PATCH", fmt.Sprintf("/invoices/%d", idA), tenant, `{"tenant_id":"other"}`) // blocked
	svc.expect(t, http.StatusBadRequest, "GET", "/invoices", "", "")                                                // missing_tenant
	svc.expect(t, http.StatusBadRequest, "GET", "/invoices", "bad id", "")                                          // invalid_tenant
	svc.stop(t)                                                                                                     // the MeterProvider's Shutdown exports the last values

	// Cumulative counters: the last data point of each series is its total.
	want := []struct {
		metric string
		attrs  map[string]string
		min    int64
	}{
		{"tenantshield.decisions", map[string]string{"tenant.decision": "bypassed"}, 1}, // the migration,
		{"tenantshield.decisions", map[string]string{"tenant.decision": "scoped", "db.operation.name": "INSERT",
			"db.collection.name": "invoices", "db.system.name": "sqlite"}, 1},
		{"tenantshield.decisions", map[string]string{"tenant.decision": "scoped", "db.operation.name": "SELECT"}, 1},
		{"tenantshield.decisions", map[string]string{"tenant.decision": "blocked", "db.operation.name": "UPDATE"}, 1},
		{"tenantshield.middleware.rejections", map[string]string{"tenant.rejection.reason": "missing_tenant",
			"http.response.status_code": "400"}, 1},
		{"tenantshield.middleware.rejections", map[string]string{"tenant.rejection.reason": "invalid_tenant"}, 1},
		{"tenantshield.audit.records.emitted", nil, 1},
		{"tenantshield.audit.records.exported", nil, 1},
		{"tenantshield.audit.queue.size", map[string]string{"audit.queue": "spool"}, 0},
	}
	var got map[string][]metricPoint
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = readMetrics(t, metricsFile, name)
		missing := ""
		for _, w := range want {
			if v, ok := lastValue(got[w.metric], w.attrs); !ok || v < w.min {
				missing = fmt.Sprintf("%s %v: %d (found %v), want at least %d", w.metric, w.attrs, v, ok, w.min)
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Collector's metrics file lacks %s; it holds %d series of the service", missing, len(got))
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, p := range got["tenantshield.decisions"] {
		if _, ok := p.attrs["tenant.id"]; ok {
			t.Errorf("tenant.id on a decision without the opt-in: %v", p.attrs)
		}
	}
	if len(got["tenantshield.guard.duration"]) == 0 {
		t.Log("no guard duration was sampled (one decision in 16 is measured)")
	}
}

type metricPoint struct {
	attrs map[string]string
	value int64
	time  uint64
}

// readMetrics returns the int64 sum data points of the service's resource
// in the file exporter's OTLP/JSON lines, by metric name, in file order.
func readMetrics(t *testing.T, path, service string) map[string][]metricPoint {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	out := map[string][]metricPoint{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var line otlpMetricsLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, rm := range line.ResourceMetrics {
			if kvs(rm.Resource.Attributes)["service.name"] != service {
				continue
			}
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Sum == nil {
						out[m.Name] = append(out[m.Name], metricPoint{}) // present (a histogram)
						continue
					}
					for _, dp := range m.Sum.DataPoints {
						v, _ := strconv.ParseInt(dp.AsInt, 10, 64)
						ts, _ := strconv.ParseUint(dp.TimeUnixNano, 10, 64)
						out[m.Name] = append(out[m.Name], metricPoint{attrs: kvs(dp.Attributes), value: v, time: ts})
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// lastValue is the latest value of the series whose attributes include
// want (cumulative temporality: the latest is the total).
func lastValue(points []metricPoint, want map[string]string) (int64, bool) {
	var best metricPoint
	found := false
next:
	for _, p := range points {
		if p.attrs == nil && len(want) > 0 {
			continue
		}
		for k, v := range want {
			if p.attrs[k] != v {
				continue next
			}
		}
		if !found || p.time >= best.time {
			best, found = p, true
		}
	}
	return best.value, found
}

type otlpMetricsLine struct {
	ResourceMetrics []struct {
		Resource struct {
			Attributes []otlpKV `json:"attributes"`
		} `json:"resource"`
		ScopeMetrics []struct {
			Metrics []struct {
				Name string `json:"name"`
				Sum  *struct {
					DataPoints []struct {
						Attributes   []otlpKV `json:"attributes"`
						AsInt        string   `json:"asInt"`
						TimeUnixNano string   `json:"timeUnixNano"`
					} `json:"dataPoints"`
				} `json:"sum"`
			} `json:"metrics"`
		} `json:"scopeMetrics"`
	} `json:"resourceMetrics"`
}
