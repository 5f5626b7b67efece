package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/tenantshield/tenantshield-go/scope"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func pgDSN() string {
	if dsn := os.Getenv("TS_PG_DSN"); dsn != "" {
		return dsn
	}
	return defaultDSN
}

// TestWorker runs the example on the real PostgreSQL, in a schema of its
// own: each tenant's jobs saw only that tenant's receipts, the insert with
// no tenant was refused, the sweep counted every receipt under its audited
// bypass.
func TestWorker(t *testing.T) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "river_" + hex.EncodeToString(b[:])
	var out bytes.Buffer
	res, err := run(context.Background(), pgDSN(), schema, &out)
	if err != nil {
		if strings.Contains(err.Error(), "unreachable") && os.Getenv("TS_REQUIRE_DBS") == "" {
			t.Skipf("skipping (set TS_REQUIRE_DBS=1 to fail instead): %v", err)
		}
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	// Each job counts its tenant's receipts right after writing one: with 4
	// workers two jobs of a tenant may count at the same time, but no count
	// exceeds the tenant's own total (3 for acme, 2 for globex; 5 would mean
	// a leak), and the last job of each tenant sees all of its receipts.
	if len(res.Seen) != 2 || len(res.Seen["acme"]) != 3 || len(res.Seen["globex"]) != 2 {
		t.Fatalf("receipt counts seen by the jobs: %v", res.Seen)
	}
	for name, total := range map[string]int{"acme": 3, "globex": 2} {
		seen := res.Seen[name]
		if seen[0] < 1 || slices.Max(seen) != total {
			t.Fatalf("the jobs of %s saw %v receipts, want counts from 1 to %d", name, seen, total)
		}
	}
	if !errors.Is(res.Refused, scope.ErrNoTenant) || res.Violations != 1 {
		t.Fatalf("insert with no tenant: %v, %d violations", res.Refused, res.Violations)
	}
	if res.SweepSaw != 5 || len(res.Bypasses) != 2 || res.Bypasses[0] != (SweepArgs{}).MaintenanceReason() {
		t.Fatalf("sweep saw %d receipts, bypasses %q", res.SweepSaw, res.Bypasses)
	}
	for _, want := range []string{"jobs of acme", "jobs of globex", "maintenance sweep"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestWorkerUnreachable: with PostgreSQL unreachable the example says so
// and fails (main exits non-zero on run's error).
func TestWorkerUnreachable(t *testing.T) {
	_, err := run(context.Background(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", "river_unused", &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL is unreachable") || !strings.Contains(err.Error(), "TS_PG_DSN") {
		t.Fatalf("err = %v", err)
	}
}
