package auditverify_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/auditlog/auditverify"
)

// Verify a trail of JSON lines from which a record was deleted.
func ExampleVerify() {
	var file bytes.Buffer
	bus := auditlog.NewBus()
	bus.SetHMACKey("k1", []byte("a secret key of the audit service"))
	bus.Register(auditlog.NewJSONSink(&file))
	for _, tenant := range []string{"globex", "initech", "umbrella"} {
		bus.Emit(context.Background(), auditlog.Event{Type: auditlog.EnforcementViolation, Tenant: "acme",
			AttemptedTenant: tenant, Table: "orders", Operation: "UPDATE", Outcome: auditlog.OutcomeBlocked})
	}
	_ = bus.Shutdown(context.Background()) // the final CHECKPOINT, seq 4

	lines := strings.SplitAfter(file.String(), "\n")
	tampered := strings.Join(append(lines[:1:1], lines[2:]...), "") // seq 2 deleted

	r, err := auditverify.Verify(auditverify.Options{HMACKeys: map[string][]byte{"k1": []byte("a secret key of the audit service")}},
		auditverify.Input{Name: "audit.jsonl", R: strings.NewReader(tampered)})
	if err != nil {
		panic(err)
	}
	s := r.Streams[0]
	fmt.Println("intact:", r.Intact, "records:", s.Records, "gaps:", s.Gaps, "final checkpoint:", s.FinalCheckpoint)
	for _, f := range s.Findings {
		fmt.Println(f.Kind, f.Range, f.Message)
	}
	// Output:
	// intact: false records: 3 gaps: [2] final checkpoint: true
	// gap 2 1 record missing: deleted, or lost before reaching these files
}
