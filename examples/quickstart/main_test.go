package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestQuickstart(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("quickstart failed: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"2 rows [ACME-1 ACME-2], Count()=2",
		"acme moves ACME-1 to globex                  blocked",
		"count with no tenant bound                   blocked",
		"total=101000",
		"ENFORCEMENT_VIOLATION tenant=acme    op=UPDATE table=invoices attempted=globex outcome=blocked",
		`ENFORCEMENT_BYPASS    tenant=-       op=SELECT table=invoices outcome=bypassed reason="monthly revenue report"`,
		"summary: 4 steps, 2 blocked; 12 audit records (2 violations, 2 bypasses, 4 scopes bound)",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}
