package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/auditlog/auditverify"
)

var (
	testHMAC = bytes.Repeat([]byte{0x42}, 32)
	testSign = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
)

// auditFile writes a trail through a real bus (HMAC key "k1", checkpoints
// signed by "sig1" every 3 records, a final one) and returns its path and
// lines.
func auditFile(t *testing.T) (string, []string) {
	t.Helper()
	var buf bytes.Buffer
	bus := auditlog.NewBus()
	bus.SetCheckpoints(3, 0)
	bus.SetHMACKey("k1", testHMAC)
	bus.SetSigningKey("sig1", testSign)
	bus.Register(auditlog.NewJSONSink(&buf))
	for _, tenant := range []string{"acme", "globex", "initech", "umbrella", "hooli"} {
		bus.Emit(context.Background(), auditlog.Event{Type: auditlog.EnforcementViolation, Tenant: "acme", AttemptedTenant: tenant,
			Table: "orders", Operation: "UPDATE", Outcome: auditlog.OutcomeBlocked, Reason: "cross-tenant write"})
	}
	if err := bus.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, strings.Split(strings.TrimSpace(buf.String()), "\n")
}

func writeLines(t *testing.T, lines []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tampered.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAuditVerify(t *testing.T) {
	path, lines := auditFile(t)
	if len(lines) != 5+1+1 { // 5 records, a checkpoint after 3, the final one
		t.Fatalf("%d lines", len(lines))
	}
	hmacFlag := "k1=" + hex.EncodeToString(testHMAC)
	pubFlag := "sig1=" + base64.StdEncoding.EncodeToString(testSign.Public().(ed25519.PublicKey))
	deleted := writeLines(t, append(append([]string(nil), lines[:2]...), lines[3:]...))
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"keys", []string{"-hmac-key", hmacFlag, "-pubkey", pubFlag, "-require-signatures", path}, 0, ": INTACT\n"},
		{"no HMAC key", []string{path}, 1, "FAIL unknown_key"},
		{"no HMAC key, allowed", []string{"-allow-unknown-keys", path}, 0, "note unknown_key"},
		{"signatures required without the public key", []string{"-hmac-key", hmacFlag, "-require-signatures", path}, 1, "FAIL unverified_signature at 4"},
		{"wrong public key", []string{"-hmac-key", hmacFlag, "-pubkey", "sig1=" + base64.StdEncoding.EncodeToString(make([]byte, 32)), path}, 1, "FAIL bad_signature at 4"},
		{"line deleted", []string{"-hmac-key", hmacFlag, deleted}, 1, "FAIL gap 3: 1 record missing"},
		{"the file twice", []string{"-hmac-key", hmacFlag, path, path}, 0, "7 identical duplicates ignored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCmd(t, append([]string{"audit", "verify"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.want) || stderr != "" {
				t.Fatalf("exit %d (want %d), stderr %q, no %q in:\n%s", code, tc.code, stderr, tc.want, out)
			}
		})
	}

	// -json, and - for the standard input.
	data, err := os.ReadFile(deleted)
	if err != nil {
		t.Fatal(err)
	}
	stdin = bytes.NewReader(data)
	defer func() { stdin = os.Stdin }()
	code, out, _ := runCmd(t, "audit", "verify", "-json", "-hmac-key", hmacFlag, "-")
	var r auditverify.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 || r.Intact || len(r.Streams) != 1 ||
		len(r.Streams[0].Gaps) != 1 || r.Streams[0].Gaps[0] != "3" || r.Files[0].Name != "-" {
		t.Fatalf("-json -: exit %d, %v:\n%s", code, err, out)
	}
}

func TestAuditVerifyUsage(t *testing.T) {
	path, _ := auditFile(t)
	for _, args := range [][]string{
		{"audit"},
		{"audit", "check", path},
		{"audit", "verify"},
		{"audit", "verify", "-hmac-key", "k1", path},
		{"audit", "verify", "-hmac-key", "k1=zz", path},
		{"audit", "verify", "-pubkey", "sig1=AAAA", path},
		{"audit", "verify", "-bogus", path},
		{"audit", "verify", filepath.Join(t.TempDir(), "missing.jsonl")},
		{"audit", "verify", "-", "-"},
	} {
		if code, _, stderr := runCmd(t, args...); code != 2 || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
}
