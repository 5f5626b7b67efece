package auditverify

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// TestInvalidUTF8 emits records whose strings are not valid UTF-8: the
// JSON line must verify as the bus hashed it.
func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, s string }{
		{"one invalid byte", "a\xffb"},
		{"a run of invalid bytes", "a\xff\xfeb"},
		{"a truncated rune", "a\xe2\x82b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			bus := auditlog.NewBus()
			bus.Register(auditlog.NewJSONSink(&buf))
			bus.Emit(context.Background(), auditlog.Event{Type: auditlog.PolicyDeny, Tenant: tc.s})
			bus.Emit(context.Background(), auditlog.Event{Type: auditlog.PolicyDeny, Attributes: []attribute.KeyValue{attribute.String("k", tc.s)}})
			_ = bus.Shutdown(context.Background())
			r := verifyLines(t, Options{}, strings.Split(strings.TrimSpace(buf.String()), "\n"))
			if !r.Intact {
				t.Errorf("%q", summary(r))
			}
		})
	}
}

// TestInvalidUTF8OTLP: OTelSink sends invalid UTF-8 as the canonical body
// hashes it (each invalid byte as U+FFFD); passed through unchanged, the
// OTLP exporter's protobuf encoding would reject the whole batch ("string
// field contains invalid UTF-8") and the verifier would report a gap.
func TestInvalidUTF8OTLP(t *testing.T) {
	t.Parallel()
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	exp, err := otlploghttp.New(context.Background(), otlploghttp.WithEndpointURL(srv.URL+"/v1/logs"))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	sink, err := auditlog.NewOTelSink(lp)
	if err != nil {
		t.Fatal(err)
	}
	bus := auditlog.NewBus()
	bus.Register(sink)
	bus.Emit(context.Background(), auditlog.Event{Type: auditlog.PolicyDeny, Tenant: "a\xff\xfeb"})
	_ = bus.Shutdown(context.Background())
	_ = lp.Shutdown(context.Background())
	if r := verifyLines(t, Options{}, c.lines); !r.Intact {
		t.Errorf("%q", summary(r))
	}
}
