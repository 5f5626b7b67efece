package auditlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// Registering a sink turns audit on. A JSON sink writes one object per line.
func Example() {
	var buf bytes.Buffer
	mem := auditlog.NewMemorySink()
	bus := auditlog.NewBus() // auditlog.Register(...) uses the process-wide bus
	bus.Register(auditlog.NewJSONSink(&buf))
	bus.Register(mem)

	ctx := context.Background()
	bus.Emit(ctx, auditlog.Event{Type: auditlog.ContextBound, Tenant: "acme", Operation: "bind", Outcome: auditlog.OutcomeSuccess})
	bus.Emit(ctx, auditlog.Event{
		Type: auditlog.EnforcementViolation, Tenant: "acme", AttemptedTenant: "globex",
		Table: "orders", Operation: "UPDATE", Outcome: auditlog.OutcomeBlocked,
	})

	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var e struct {
			Type      string `json:"type"`
			Tenant    string `json:"tenant_id"`
			Attempted string `json:"attempted_tenant_id"`
		}
		_ = json.Unmarshal([]byte(line), &e)
		fmt.Println(strings.TrimSpace(e.Type + " " + e.Tenant + " " + e.Attempted))
	}
	for _, e := range mem.Events() {
		fmt.Println(e.Seq, e.Type)
	}
	// Output:
	// CONTEXT_BOUND acme
	// ENFORCEMENT_VIOLATION acme globex
	// 1 CONTEXT_BOUND
	// 2 ENFORCEMENT_VIOLATION
}

type brokenSink struct{}

func (brokenSink) Emit(context.Context, auditlog.Event) error {
	return errors.New("collector unreachable")
}

// A failing sink never breaks the caller: the other sinks receive a
// SINK_FAILURE event, and the bus's error handler is told.
func ExampleBus_Emit_sinkFailure() {
	mem := auditlog.NewMemorySink()
	bus := auditlog.NewBus(auditlog.WithErrorHandler(func(err error) { fmt.Println("handler:", errors.Is(err, auditlog.ErrSinkFailed)) }))
	bus.Register(brokenSink{})
	bus.Register(mem)

	bus.Emit(context.Background(), auditlog.Event{Type: auditlog.PolicyDeny, Tenant: "acme"})
	for _, e := range mem.Events() {
		if orig, ok := e.Attr(auditlog.AttrOriginalEventType); ok {
			fmt.Println(e.Type, "about", orig.AsString())
			continue
		}
		fmt.Println(e.Type)
	}
	fmt.Println("failures:", bus.Failures())
	// Output:
	// handler: true
	// POLICY_DENY
	// SINK_FAILURE about POLICY_DENY
	// failures: 1
}
