//go:build linux

package sqlguard

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCPUPerOp measures CPU time per operation of the benchmark statements
// (run with SQLGUARD_CPU=1). On a shared, loaded machine wall-clock
// ns/op includes time spent descheduled; thread CPU time does not.
func TestCPUPerOp(t *testing.T) {
	if os.Getenv("SQLGUARD_CPU") == "" {
		t.Skip()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	g := New(Postgres, corpusTables)
	point, join3, insert10, nonTenant := benchQueries(t)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"CheckPointSelect", func() { g.Check(point, "A") }},
		{"CheckJoin3", func() { g.Check(join3, "A") }},
		{"CheckInsert10", func() { g.Check(insert10, "A") }},
		{"MentionsNonTenant", func() { g.Mentions(nonTenant) }},
		{"CheckNonTenant", func() { g.Check(nonTenant, "A") }},
	} {
		best := time.Duration(1 << 62)
		for r := 0; r < 5; r++ {
			const n = 200000
			start := threadCPU()
			for i := 0; i < n; i++ {
				tc.f()
			}
			if d := (threadCPU() - start) / n; d < best {
				best = d
			}
		}
		t.Logf("%-20s %v CPU/op (best of 5)", tc.name, best)
	}
}
