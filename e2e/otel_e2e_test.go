//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/auditlog/auditotlp"
)

// How long to wait for data to travel SDK -> Collector -> file or Jaeger.
const deliveryTimeout = 20 * time.Second

// stack is where the running stack listens and writes (from stack.env, which
// e2e/run.sh exports).
type stack struct {
	auditFile, otherFile   string
	jaegerURL, healthURL   string
	otlpGRPC, otlpHTTPBase string
}

func getStack(t *testing.T) stack {
	t.Helper()
	s := stack{
		auditFile:    os.Getenv("TS_AUDIT_FILE"),
		otherFile:    os.Getenv("TS_OTHER_LOGS_FILE"),
		jaegerURL:    envOr("TS_JAEGER_QUERY_URL", "http://127.0.0.1:16686"),
		healthURL:    envOr("TS_COLLECTOR_HEALTH_URL", "http://127.0.0.1:13133/"),
		otlpGRPC:     envOr("TS_OTLP_GRPC_ENDPOINT", "127.0.0.1:4317"),
		otlpHTTPBase: envOr("TS_OTLP_HTTP_ENDPOINT", "http://127.0.0.1:4318"),
	}
	if s.auditFile == "" || s.otherFile == "" {
		t.Fatal("TS_AUDIT_FILE and TS_OTHER_LOGS_FILE are not set: run these tests with `make e2e` " +
			"(or start the stack with `make stack` and export the variables of .stack/stack.env)")
	}
	for _, u := range []string{s.healthURL, s.jaegerURL + "/api/services"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("the telemetry stack is not reachable (%v): start it with `make stack`, or run `make e2e`", err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s: is the telemetry stack healthy? (`make stack`)", u, resp.Status)
		}
	}
	return s
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func nonce(t *testing.T) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// TestAuditAndTracesThroughCollector sends one span, one audit event (through
// auditotlp.NewLoggerProvider and auditlog.NewOTelSink) and one ordinary log
// record (through a separate LoggerProvider) to the Collector, then checks
// where each of them landed:
//   - the span in Jaeger (query API), with nothing of the audit record;
//   - the audit record in the audit file, with its EventName, attributes and
//     the span's trace and span IDs, and not in the other-logs file;
//   - the ordinary record in the other-logs file and not in the audit file.
//
// Two probes check the two halves of the Collector's audit selection rule
// (otelcol-config.yaml): a record with an audit EventName from another
// logger, and a record of the audit logger's scope with an EventName that is
// not (yet) in the catalogue. Both must be in the audit file only.
func TestAuditAndTracesThroughCollector(t *testing.T) {
	st := getStack(t)
	ctx := context.Background()
	id := nonce(t)
	service := "tenantshield-e2e-" + id
	tenant := "tenant-" + id
	attempted := "intruder-" + id
	reason := "e2e cross-tenant write " + id
	ordinaryBody := "ordinary application log " + id
	foreignBody := "foreign logger using an audit event name " + id
	futureBody := "audit scope, event type unknown to the Collector config " + id
	const futureEvent = "TENANTSHIELD_E2E_FUTURE_TYPE"
	res := resource.NewSchemaless(attribute.String("service.name", service))

	// Traces: OTLP/gRPC to the Collector.
	texp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(st.otlpGRPC), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(texp), sdktrace.WithResource(res))

	// Audit: the library's dedicated LoggerProvider, configured the way users
	// configure it, through the standard OTLP environment variables.
	t.Setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", st.otlpHTTPBase+"/v1/logs")
	t.Setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", auditotlp.ProtocolHTTP)
	t.Setenv("OTEL_SERVICE_NAME", service)
	alp, err := auditotlp.NewLoggerProvider(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := auditlog.NewOTelSink(alp)
	if err != nil {
		t.Fatal(err)
	}
	bus := auditlog.NewBus(auditlog.WithErrorHandler(func(err error) { t.Errorf("audit sink failed: %v", err) }))
	bus.Register(sink)

	// Ordinary logs: a separate LoggerProvider, as an application has.
	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(st.otlpHTTPBase+"/v1/logs"))
	if err != nil {
		t.Fatal(err)
	}
	olp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)), sdklog.WithResource(res))

	// One request: a span, and inside it one audit event and one ordinary log.
	sctx, span := tp.Tracer("github.com/tenantshield/tenantshield-go/e2e").Start(ctx, "tenant.e2e.request",
		trace.WithAttributes(attribute.String("tenant.id", tenant)))
	traceID, spanID := span.SpanContext().TraceID().String(), span.SpanContext().SpanID().String()
	bus.Emit(sctx, auditlog.Event{
		Type:            auditlog.EnforcementViolation,
		Tenant:          tenant,
		AttemptedTenant: attempted,
		Table:           "orders",
		Operation:       "UPDATE",
		Reason:          reason,
		Outcome:         auditlog.OutcomeBlocked,
	})
	emit(sctx, olp.Logger("github.com/tenantshield/tenantshield-go/e2e/app"), "app.request.done", ordinaryBody, tenant)
	// The probes of the selection rule.
	emit(sctx, olp.Logger("github.com/tenantshield/tenantshield-go/e2e/foreign"), string(auditlog.PolicyDeny), foreignBody, tenant)
	emit(sctx, alp.Logger(auditlog.ScopeName), futureEvent, futureBody, tenant)
	span.End()

	// Shutdown flushes every provider; the file exporter has written the
	// records when the Collector answers the OTLP request.
	for name, shutdown := range map[string]func(context.Context) error{
		"tracer provider": tp.Shutdown, "audit logger provider": alp.Shutdown, "app logger provider": olp.Shutdown,
	} {
		if err := shutdown(ctx); err != nil {
			t.Fatalf("%s: Shutdown: %v (is the Collector running?)", name, err)
		}
	}
	t.Logf("service %s, trace %s, span %s", service, traceID, spanID)

	// --- The audit file.
	mine := func(r logRecord) bool { return r.attr("tenant.id") == tenant }
	audit := waitRecords(t, st.auditFile, mine, 3)
	var violation *logRecord
	bodies := map[string]bool{}
	for i, r := range audit.records {
		bodies[r.body()] = true
		if r.EventName == string(auditlog.EnforcementViolation) {
			if violation != nil {
				t.Errorf("the audit event is in the audit file twice")
			}
			violation = &audit.records[i]
		}
	}
	if violation == nil {
		t.Fatalf("no %s record for %s in %s", auditlog.EnforcementViolation, tenant, st.auditFile)
	}
	v := violation
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("audit record %s = %q, want %q", what, got, want)
		}
	}
	check("scope", v.scope, auditlog.ScopeName)
	check("scope version", v.scopeVersion, auditlog.Version())
	check("resource service.name", v.resource["service.name"], service)
	check("traceId", strings.ToLower(v.TraceID), traceID)
	check("spanId", strings.ToLower(v.SpanID), spanID)
	check("severityText", v.SeverityText, "WARN")
	check("tenant.id", v.attr("tenant.id"), tenant)
	check("tenant.attempted_id", v.attr("tenant.attempted_id"), attempted)
	check("db.collection.name", v.attr("db.collection.name"), "orders")
	check("db.operation.name", v.attr("db.operation.name"), "UPDATE")
	check("audit.outcome", v.attr("audit.outcome"), string(auditlog.OutcomeBlocked))
	check("audit.reason", v.attr("audit.reason"), reason)
	eventID := v.attr("audit.event.id")
	if len(eventID) != 36 {
		t.Errorf("audit record audit.event.id = %q, want a UUID", eventID)
	}
	if v.attr("audit.sequence") == "" {
		t.Errorf("audit record has no audit.sequence")
	}
	if !bodies[foreignBody] {
		t.Errorf("a record with the audit EventName %s from another logger is not in the audit file", auditlog.PolicyDeny)
	}
	if !bodies[futureBody] {
		t.Errorf("a record of the audit scope with EventName %s is not in the audit file", futureEvent)
	}
	if bodies[ordinaryBody] || bytes.Contains(audit.raw, []byte(ordinaryBody)) {
		t.Errorf("the ordinary log record is in the audit file %s", st.auditFile)
	}

	// --- The other-logs file: the ordinary record, and nothing of the audit ones.
	other := waitRecords(t, st.otherFile, mine, 1)
	if len(other.records) != 1 || other.records[0].body() != ordinaryBody {
		var got []string
		for _, r := range other.records {
			got = append(got, r.EventName+": "+r.body())
		}
		t.Errorf("records of %s in %s: %q, want only the ordinary one", tenant, st.otherFile, got)
	} else {
		check("ordinary record traceId (in the other file)", strings.ToLower(other.records[0].TraceID), traceID)
	}
	for _, s := range []string{eventID, reason, foreignBody, futureBody, auditlog.ScopeName} {
		if bytes.Contains(other.raw, []byte(s)) {
			t.Errorf("the other-logs file %s contains %q, which belongs to the audit trail", st.otherFile, s)
		}
	}

	// --- Jaeger: the span arrived, with nothing of the audit record.
	raw := waitJaegerTrace(t, st.jaegerURL, traceID)
	var v3 jaegerV3
	if err := json.Unmarshal(raw, &v3); err != nil {
		t.Fatalf("GET /api/v3/traces/%s: %v: %s", traceID, err, raw)
	}
	var spans []jaegerSpan
	for _, rs := range v3.Result.ResourceSpans {
		check("span resource service.name", kvs(rs.Resource.Attributes)["service.name"], service)
		for _, ss := range rs.ScopeSpans {
			spans = append(spans, ss.Spans...)
		}
	}
	if len(spans) != 1 {
		t.Fatalf("Jaeger has %d spans in trace %s, want 1: %s", len(spans), traceID, raw)
	}
	check("span name", spans[0].Name, "tenant.e2e.request")
	check("span id", strings.ToLower(spans[0].SpanID), spanID)
	check("span tenant.id", kvs(spans[0].Attributes)["tenant.id"], tenant)
	if len(spans[0].Events) != 0 {
		t.Errorf("the span has events %+v, want none", spans[0].Events)
	}
	// The legacy API as well (what the Jaeger UI uses).
	legacy := httpGet(t, st.jaegerURL+"/api/traces/"+traceID)
	for _, body := range [][]byte{raw, legacy} {
		for _, s := range []string{eventID, reason, string(auditlog.EnforcementViolation), "audit.event.id", auditlog.ScopeName, ordinaryBody, foreignBody, futureBody} {
			if bytes.Contains(body, []byte(s)) {
				t.Errorf("the trace in Jaeger contains %q, which is not trace data", s)
			}
		}
	}
	if !bytes.Contains(legacy, []byte(`"serviceName":"`+service+`"`)) {
		t.Errorf("GET /api/traces/%s does not name the service %s: %s", traceID, service, legacy)
	}
}

func emit(ctx context.Context, l otellog.Logger, eventName, body, tenant string) {
	var r otellog.Record
	r.SetEventName(eventName)
	r.SetTimestamp(time.Now())
	r.SetSeverity(otellog.SeverityInfo)
	r.SetSeverityText("INFO")
	r.SetBody(attribute.StringValue(body))
	r.AddAttributes(attribute.String("tenant.id", tenant))
	l.Emit(ctx, r)
}

// --- OTLP/JSON as written by the Collector's file exporter: one
// ExportLogsServiceRequest per line.

type otlpValue map[string]json.RawMessage // {"stringValue": "..."}, {"intValue": "3"}, ...

func (v otlpValue) String() string {
	for _, raw := range v {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return string(raw)
	}
	return ""
}

type otlpKV struct {
	Key   string    `json:"key"`
	Value otlpValue `json:"value"`
}

func kvs(list []otlpKV) map[string]string {
	m := make(map[string]string, len(list))
	for _, kv := range list {
		m[kv.Key] = kv.Value.String()
	}
	return m
}

type otlpLogsLine struct {
	ResourceLogs []struct {
		Resource struct {
			Attributes []otlpKV `json:"attributes"`
		} `json:"resource"`
		ScopeLogs []struct {
			Scope struct {
				Name    string `json:"name"`
				Version string `json:"version"`
			} `json:"scope"`
			LogRecords []logRecord `json:"logRecords"`
		} `json:"scopeLogs"`
	} `json:"resourceLogs"`
}

type logRecord struct {
	EventName    string    `json:"eventName"`
	SeverityText string    `json:"severityText"`
	Body         otlpValue `json:"body"`
	Attributes   []otlpKV  `json:"attributes"`
	TraceID      string    `json:"traceId"`
	SpanID       string    `json:"spanId"`

	scope, scopeVersion string
	resource            map[string]string
	attrs               map[string]string
}

func (r logRecord) attr(k string) string { return r.attrs[k] }
func (r logRecord) body() string         { return r.Body.String() }

type fileContent struct {
	records []logRecord // the records selected
	raw     []byte      // the whole file
}

func readRecords(path string, keep func(logRecord) bool) (fileContent, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileContent{}, nil // nothing written yet
	}
	if err != nil {
		return fileContent{}, err
	}
	fc := fileContent{raw: raw}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var l otlpLogsLine
		if err := json.Unmarshal(line, &l); err != nil {
			return fileContent{}, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		for _, rl := range l.ResourceLogs {
			res := kvs(rl.Resource.Attributes)
			for _, sl := range rl.ScopeLogs {
				for _, r := range sl.LogRecords {
					r.scope, r.scopeVersion, r.resource, r.attrs = sl.Scope.Name, sl.Scope.Version, res, kvs(r.Attributes)
					if keep(r) {
						fc.records = append(fc.records, r)
					}
				}
			}
		}
	}
	return fc, sc.Err()
}

// waitRecords waits until path holds at least n records selected by keep,
// then waits a little longer so that a record that should NOT be there has
// had the time to arrive too.
func waitRecords(t *testing.T, path string, keep func(logRecord) bool, n int) fileContent {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		fc, err := readRecords(path, keep)
		if err != nil {
			t.Fatal(err)
		}
		if len(fc.records) >= n {
			time.Sleep(300 * time.Millisecond)
			if fc, err = readRecords(path, keep); err != nil {
				t.Fatal(err)
			}
			return fc
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of the %d expected records after %s", path, len(fc.records), n, deliveryTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// --- Jaeger query API.

type jaegerSpan struct {
	TraceID    string   `json:"traceId"`
	SpanID     string   `json:"spanId"`
	Name       string   `json:"name"`
	Attributes []otlpKV `json:"attributes"`
	Events     []struct {
		Name       string   `json:"name"`
		Attributes []otlpKV `json:"attributes"`
	} `json:"events"`
}

type jaegerV3 struct {
	Result struct {
		ResourceSpans []struct {
			Resource struct {
				Attributes []otlpKV `json:"attributes"`
			} `json:"resource"`
			ScopeSpans []struct {
				Spans []jaegerSpan `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	} `json:"result"`
}

// waitJaegerTrace polls GET /api/v3/traces/{id} until Jaeger has the trace
// (it answers 404 until then).
func waitJaegerTrace(t *testing.T, base, traceID string) []byte {
	t.Helper()
	url := base + "/api/v3/traces/" + traceID
	deadline := time.Now().Add(deliveryTimeout)
	for {
		status, body, err := get(url)
		if err == nil && status == http.StatusOK {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: still %d %v after %s: %s", url, status, err, deliveryTimeout, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	status, body, err := get(url)
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET %s: %d %v: %s", url, status, err, body)
	}
	return body
}

func get(url string) (int, []byte, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}
