package auditverify

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/internal/telemetry"
)

// record is one audit record read from a line: its place in the chain, its
// canonical body and, for a CHECKPOINT, what it vouches for.
type record struct {
	stream, prev, hash, keyID string
	seq                       uint64
	body                      []byte // auditlog.CanonicalBody of the record's object
	where                     string // file:line
	checkpoint                *checkpoint
}

// checkpoint is what a CHECKPOINT record's attributes say.
type checkpoint struct {
	seq       uint64
	hash      string
	final     bool
	signature string
	signKeyID string
	malformed string // why the attributes do not make a checkpoint, if they do not
}

// Formats of a line.
const (
	formatJSON = "json" // a line of auditlog.JSONSink
	formatOTLP = "otlp" // an ExportLogsServiceRequest of the Collector's file exporter
)

// parsed is what one line holds.
type parsed struct {
	format  string
	records []record
	skipped int      // OTLP records of other scopes
	errs    []string // records of the line that could not be read
}

// parseLine reads one non-empty line. A line that is not JSON, or neither
// format, is an error; an OTLP line whose audit records are partly
// unreadable returns the readable ones and an error for each other.
func parseLine(line []byte, where string) (parsed, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return parsed{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return parsed{}, errors.New("more than one JSON value on the line")
	}
	if m == nil {
		return parsed{}, errors.New("not a JSON object")
	}
	if rl, ok := field(m, "resourceLogs", "resource_logs"); ok {
		return parseOTLP(rl, where)
	}
	if _, ok := m["stream_id"]; ok {
		r, err := parseJSONLine(m, where)
		if err != nil {
			return parsed{}, err
		}
		return parsed{format: formatJSON, records: []record{r}}, nil
	}
	if v, ok := m["schema_version"]; ok {
		return parsed{}, fmt.Errorf("an audit record of schema_version %v, which has no hash chain (want %d)", v, auditlog.SchemaVersion)
	}
	return parsed{}, errors.New(`neither an audit JSON line (no "stream_id") nor an OTLP logs request (no "resourceLogs")`)
}

// parseJSONLine reads a line of auditlog.JSONSink.
func parseJSONLine(m map[string]any, where string) (record, error) {
	var r record
	if err := checkSchema(m["schema_version"]); err != nil {
		return r, err
	}
	var err error
	if r.seq, err = toUint(m["seq"]); err != nil {
		return r, fmt.Errorf("seq: %w", err)
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"stream_id", &r.stream}, {"prev_hash", &r.prev}, {"hash", &r.hash}, {"key_id", &r.keyID}} {
		v, ok := m[f.name]
		if !ok {
			continue
		}
		s, isString := v.(string)
		if !isString {
			return r, fmt.Errorf("%s is not a string", f.name)
		}
		*f.dst = s
	}
	if err := checkHeader(&r); err != nil {
		return r, err
	}
	for _, k := range auditlog.BodyFields() {
		delete(m, k)
	}
	r.where = where
	r.body = auditlog.CanonicalBody(m)
	if m["type"] == string(auditlog.Checkpoint) {
		a, _ := m["attributes"].(map[string]any)
		r.checkpoint = readCheckpoint(a)
	}
	return r, nil
}

func checkSchema(v any) error {
	n, err := toUint(v)
	if err != nil {
		return fmt.Errorf("schema_version: %w", err)
	}
	if n != auditlog.SchemaVersion {
		return fmt.Errorf("schema_version %d, want %d", n, auditlog.SchemaVersion)
	}
	return nil
}

func checkHeader(r *record) error {
	switch {
	case r.stream == "":
		return errors.New("no stream id")
	case r.seq == 0:
		return errors.New("no sequence number")
	case r.hash == "":
		return errors.New("no hash")
	}
	return nil
}

// readCheckpoint reads a CHECKPOINT's attributes (as JSON-compatible
// values: json.Number or int64 for the sequence).
func readCheckpoint(a map[string]any) *checkpoint {
	c := &checkpoint{}
	seq, err := toCount(a[string(auditlog.AttrCheckpointSeq)], true)
	hash, okHash := a[string(auditlog.AttrCheckpointHash)].(string)
	final, okFinal := a[string(auditlog.AttrCheckpointFinal)].(bool)
	c.seq, c.hash, c.final = seq, hash, final
	switch {
	case err != nil:
		c.malformed = "no valid " + string(auditlog.AttrCheckpointSeq)
	case !okHash:
		c.malformed = "no " + string(auditlog.AttrCheckpointHash)
	case !okFinal:
		c.malformed = "no " + string(auditlog.AttrCheckpointFinal)
	}
	if s, ok := a[string(auditlog.AttrCheckpointSignature)].(string); ok {
		c.signature = s
	}
	if s, ok := a[string(auditlog.AttrCheckpointSignKeyID)].(string); ok {
		c.signKeyID = s
	}
	return c
}

// toUint reads a positive integer: a json.Number, an int64 or a string.
func toUint(v any) (uint64, error) { return toCount(v, false) }

// toCount reads a non-negative integer (positive unless zero is allowed).
func toCount(v any, zero bool) (uint64, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case string:
		s = x
	case int64:
		if x < 0 || (x == 0 && !zero) {
			return 0, fmt.Errorf("not a positive integer: %d", x)
		}
		return uint64(x), nil
	case nil:
		return 0, errors.New("missing")
	default:
		return 0, fmt.Errorf("not an integer: %v", v)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || (n == 0 && !zero) {
		return 0, fmt.Errorf("not a positive integer: %q", s)
	}
	return n, nil
}

// field returns m's value under the lowerCamelCase or the snake_case name
// (protobuf JSON parsers accept both).
func field(m map[string]any, camel, snake string) (any, bool) {
	if v, ok := m[camel]; ok {
		return v, true
	}
	v, ok := m[snake]
	return v, ok
}

func list(m map[string]any, camel, snake string) []any {
	v, _ := field(m, camel, snake)
	l, _ := v.([]any)
	return l
}

func object(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// parseOTLP reads the audit records of an ExportLogsServiceRequest.
func parseOTLP(resourceLogs any, where string) (parsed, error) {
	rls, ok := resourceLogs.([]any)
	if !ok {
		return parsed{}, errors.New("resourceLogs is not an array")
	}
	p := parsed{format: formatOTLP}
	n := 0
	for _, rl := range rls {
		for _, sl := range list(object(rl), "scopeLogs", "scope_logs") {
			slm := object(sl)
			scope := object(slm["scope"])
			lrs := list(slm, "logRecords", "log_records")
			if name, _ := scope["name"].(string); name != auditlog.ScopeName {
				p.skipped += len(lrs)
				continue
			}
			for _, lr := range lrs {
				n++
				r, err := otlpRecord(object(lr), where)
				if err != nil {
					p.errs = append(p.errs, fmt.Sprintf("audit record %d of the line: %v", n, err))
					continue
				}
				p.records = append(p.records, r)
			}
		}
	}
	return p, nil
}

// OTLP attributes that are fields of the record's JSON object.
var otlpFields = map[string]string{
	string(telemetry.AuditEventID):    "event_id",
	string(telemetry.AuditOutcome):    "outcome",
	string(telemetry.AuditReason):     "reason",
	string(telemetry.TenantID):        "tenant_id",
	string(telemetry.AttemptedTenant): "attempted_tenant_id",
	string(telemetry.DBCollection):    "table",
	string(telemetry.AuditModel):      "model",
	string(telemetry.DBOperation):     "operation",
}

// otlpRecord rebuilds a record's JSON object (as auditlog.JSONSink writes
// it) from an OTLP log record made by auditlog.OTelSink.
func otlpRecord(lr map[string]any, where string) (record, error) {
	r := record{where: where}
	if lr == nil {
		return r, errors.New("not an object")
	}
	m := map[string]any{}
	attrs := map[string]any{}
	caller := map[string]any{}
	var schema any
	var seq any
	for _, kv := range list(lr, "attributes", "attributes") {
		kvm := object(kv)
		k, ok := kvm["key"].(string)
		if !ok {
			return r, errors.New("an attribute without a key")
		}
		v, err := anyValue(kvm["value"])
		if err != nil {
			return r, fmt.Errorf("attribute %s: %w", k, err)
		}
		if name, ok := otlpFields[k]; ok {
			m[name] = v
			continue
		}
		switch k {
		case string(telemetry.AuditSchemaVersion):
			schema = v
		case string(telemetry.AuditSequence):
			seq = v
		case string(auditlog.AttrStream), string(auditlog.AttrPrevHash), string(auditlog.AttrHash), string(auditlog.AttrKeyID):
			s, ok := v.(string)
			if !ok {
				return r, fmt.Errorf("attribute %s is not a string", k)
			}
			switch attribute.Key(k) {
			case auditlog.AttrStream:
				r.stream = s
			case auditlog.AttrPrevHash:
				r.prev = s
			case auditlog.AttrHash:
				r.hash = s
			default:
				r.keyID = s
			}
		case string(telemetry.CodeFile):
			caller["file"] = v
		case string(telemetry.CodeLine):
			caller["line"] = v
		case string(telemetry.CodeFunction):
			caller["function"] = v
		default:
			attrs[k] = v
		}
	}
	if err := checkSchema(schema); err != nil {
		return r, err
	}
	var err error
	if r.seq, err = toUint(seq); err != nil {
		return r, fmt.Errorf("%s: %w", telemetry.AuditSequence, err)
	}
	if err := checkHeader(&r); err != nil {
		return r, err
	}
	if len(caller) > 0 {
		if _, ok := caller["file"]; !ok {
			caller["file"] = ""
		}
		if _, ok := caller["line"]; !ok {
			caller["line"] = int64(0)
		}
		m["caller"] = caller
	}
	if len(attrs) > 0 {
		m["attributes"] = attrs
	}
	if name, _ := field(lr, "eventName", "event_name"); name != nil && name != "" {
		m["type"] = name
	}
	ns, _ := field(lr, "timeUnixNano", "time_unix_nano")
	t, err := toInt(ns)
	if err != nil {
		return r, fmt.Errorf("timeUnixNano: %w", err)
	}
	m["time"] = time.Unix(0, t).UTC().Format(time.RFC3339Nano)
	for _, id := range []struct{ camel, snake, key string }{{"traceId", "trace_id", "trace_id"}, {"spanId", "span_id", "span_id"}} {
		v, _ := field(lr, id.camel, id.snake)
		h, err := hexID(v)
		if err != nil {
			return r, fmt.Errorf("%s: %w", id.camel, err)
		}
		if h != "" {
			m[id.key] = h
		}
	}
	r.body = auditlog.CanonicalBody(m)
	if m["type"] == string(auditlog.Checkpoint) {
		r.checkpoint = readCheckpoint(attrs)
	}
	return r, nil
}

// toInt reads an integer that protobuf JSON writes as a string or a number
// (0 when absent).
func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case json.Number:
		return strconv.ParseInt(string(x), 10, 64)
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, fmt.Errorf("not an integer: %v", v)
}

// hexID reads a trace or span ID: hex as the Collector writes it, or
// base64 as protojson does; "" for none (absent or all zeros).
func hexID(v any) (string, error) {
	s, ok := v.(string)
	if v == nil || (ok && s == "") {
		return "", nil
	}
	if !ok {
		return "", errors.New("not a string")
	}
	b, err := hex.DecodeString(s)
	if err != nil || (len(b) != 16 && len(b) != 8) {
		if b, err = base64.StdEncoding.DecodeString(s); err != nil || (len(b) != 16 && len(b) != 8) {
			return "", fmt.Errorf("%q is neither hex nor base64 of 8 or 16 bytes", s)
		}
	}
	for _, c := range b {
		if c != 0 {
			return hex.EncodeToString(b), nil
		}
	}
	return "", nil
}

// anyValue converts an OTLP AnyValue to the JSON-compatible Go value
// attribute.Value.AsInterface gives: string, int64, float64, bool, a slice.
func anyValue(v any) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		if v == nil {
			return nil, nil
		}
		return nil, errors.New("not an AnyValue object")
	}
	for k, x := range m {
		switch k {
		case "stringValue", "string_value", "bytesValue", "bytes_value":
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%s is not a string", k)
			}
			return s, nil
		case "boolValue", "bool_value":
			b, ok := x.(bool)
			if !ok {
				return nil, fmt.Errorf("%s is not a boolean", k)
			}
			return b, nil
		case "intValue", "int_value":
			return toInt(x)
		case "doubleValue", "double_value":
			return toFloat(x)
		case "arrayValue", "array_value":
			vals := list(object(x), "values", "values")
			out := make([]any, 0, len(vals))
			for _, e := range vals {
				ev, err := anyValue(e)
				if err != nil {
					return nil, err
				}
				out = append(out, ev)
			}
			return out, nil
		case "kvlistValue", "kvlist_value":
			out := map[string]any{}
			for _, kv := range list(object(x), "values", "values") {
				kvm := object(kv)
				key, _ := kvm["key"].(string)
				ev, err := anyValue(kvm["value"])
				if err != nil {
					return nil, err
				}
				out[key] = ev
			}
			return out, nil
		}
	}
	return nil, nil
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		return strconv.ParseFloat(string(x), 64)
	case string:
		switch x {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		return strconv.ParseFloat(x, 64)
	}
	return 0, fmt.Errorf("not a number: %v", v)
}
