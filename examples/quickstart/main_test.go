package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog/auditverify"
)

func TestQuickstart(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, ""); err != nil {
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

// TestQuickstartAuditFile: -audit writes every record as a JSON line, the
// last one the stream's final CHECKPOINT.
func TestQuickstartAuditFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	var out bytes.Buffer
	if err := run(context.Background(), &out, path); err != nil {
		t.Fatalf("quickstart failed: %v\n%s", err, out.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 13 || !strings.Contains(lines[12], `"type":"CHECKPOINT"`) || !strings.Contains(lines[12], `"audit.checkpoint.final":true`) {
		t.Fatalf("want 12 records and the final checkpoint, got %d lines, last %s", len(lines), lines[len(lines)-1])
	}
	r, err := auditverify.Verify(auditverify.Options{}, auditverify.Input{Name: path, R: bytes.NewReader(b)})
	if err != nil || !r.Intact || len(r.Streams) != 1 || !r.Streams[0].FinalCheckpoint {
		var buf bytes.Buffer
		_ = r.WriteText(&buf)
		t.Fatalf("the trail does not verify (%v):\n%s", err, buf.String())
	}
	if !strings.Contains(out.String(), "audit verify "+path) {
		t.Fatalf("the output does not say how to verify the file:\n%s", out.String())
	}
}
