package bunhook_test

import (
	"testing"
)

// extraAllocs is what bunhook may allocate per statement beyond plain bun
// with the hand-written predicate (issue 11's goal: at most 2), by
// workload. A read allocates one thing more: the statement's decision
// context, which carries the guard's decision to the driver layer (a bun
// QueryHook cannot return an error, so the veto travels there). (bun's
// QueryEvent, allocated only when a query hook is installed, balances the
// hand-written predicate's argument list, which bunhook shares between the
// statements of a tenant.) A write also reads bun's column list.
var extraAllocs = map[string]float64{
	"point": 1, "joins=2": 1, "in=10": 1, "in=1000": 1, "rows=100": 1,
	"insert": 2, "update": 2,
}

// TestAllocationsPerStatement counts the allocations of the workloads of
// BenchmarkCompare on every database, plain bun against bunhook (tracing
// and audit off), and fails when bunhook allocates more than
// extraAllocs more per statement. Allocation counts do not depend on
// the machine's load, unlike times.
func TestAllocationsPerStatement(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector: allocation counts are not meaningful")
	}
	if testing.Short() {
		t.Skip("seeds 12 000 rows per database")
	}
	for _, kind := range dbKinds {
		t.Run(kind, func(t *testing.T) {
			e := newCmpEnv(t, kind)
			for _, w := range cmpWorkloads() {
				limit, counted := extraAllocs[w.name]
				if !counted {
					continue
				}
				allocs := func(lib bool) float64 {
					i := 0
					run := func() {
						i++
						if err := w.run(e, lib, i); err != nil {
							t.Fatalf("%s (bunhook %v): %v", w.name, lib, err)
						}
					}
					run() // warm caches and pools
					return testing.AllocsPerRun(200, run)
				}
				plain, lib := allocs(false), allocs(true)
				t.Logf("%-8s plain %3.0f  bunhook %3.0f", w.name, plain, lib)
				if lib-plain > limit {
					t.Errorf("%s: bunhook allocates %.0f times per statement, plain bun %.0f: more than %.0f extra",
						w.name, lib, plain, limit)
				}
			}
		})
	}
}
