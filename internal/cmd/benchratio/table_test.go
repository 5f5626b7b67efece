package main

import (
	"bytes"
	"strings"
	"testing"
)

// input: three runs, interleaved, of point (met), update (too slow, too
// many allocations), parallel16 and the joins/IN series.
const input = `goos: linux
BenchmarkCompare/db=pg/op=point/impl=plain-2     	1000	 80000 ns/op	 5000 B/op	 22 allocs/op
BenchmarkCompare/db=pg/op=point/impl=bunhook-2   	1000	 82000 ns/op	 5100 B/op	 24 allocs/op
BenchmarkCompare/db=pg/op=update/impl=plain-2    	1000	100000 ns/op	 5000 B/op	 13 allocs/op
BenchmarkCompare/db=pg/op=update/impl=bunhook-2  	1000	104000 ns/op	 5000 B/op	 24 allocs/op
BenchmarkCompare/db=pg/op=parallel16/impl=plain-2 	1000	 50000 ns/op
BenchmarkCompare/db=pg/op=parallel16/impl=bunhook-2 	1000	 55000 ns/op
BenchmarkCompare/db=pg/op=joins=0/impl=plain-2   	1000	 10000 ns/op
BenchmarkCompare/db=pg/op=joins=0/impl=bunhook-2 	1000	 11000 ns/op
BenchmarkCompare/db=pg/op=joins=8/impl=plain-2   	1000	 20000 ns/op
BenchmarkCompare/db=pg/op=joins=8/impl=bunhook-2 	1000	 22600 ns/op
BenchmarkCompare/db=pg/op=in=1/impl=plain-2   	1000	 10000 ns/op
BenchmarkCompare/db=pg/op=in=1/impl=bunhook-2 	1000	 10500 ns/op
BenchmarkCompare/db=pg/op=in=1000/impl=plain-2   	1000	 1000000 ns/op
BenchmarkCompare/db=pg/op=in=1000/impl=bunhook-2 	1000	 1010490 ns/op
BenchmarkCompare/db=pg/op=point/impl=plain-2     	1000	 70000 ns/op	 5000 B/op	 22 allocs/op
BenchmarkCompare/db=pg/op=point/impl=bunhook-2   	1000	 99000 ns/op	 5100 B/op	 24 allocs/op
BenchmarkCompare/db=pg/op=point/impl=plain-2     	1000	 90000 ns/op	 5000 B/op	 22 allocs/op
BenchmarkCompare/db=pg/op=point/impl=bunhook-2   	1000	 81000 ns/op	 5100 B/op	 24 allocs/op
BenchmarkCompare/db=pg/op=insert/impl=plain-2    	1000	100000 ns/op
BenchmarkCompare/db=pg/op=insert/impl=bunhook-2  	1000	110000 ns/op
BenchmarkCompare/db=pg/op=insert/impl=plain-2    	1000	200000 ns/op
BenchmarkCompare/db=pg/op=insert/impl=bunhook-2  	1000	210000 ns/op
BenchmarkCompare/db=pg/op=insert/impl=plain-2    	1000	100000 ns/op
BenchmarkCompare/db=pg/op=insert/impl=bunhook-2  	1000	300000 ns/op
BenchmarkOther-2 	1000	 1 ns/op
PASS
`

func TestTable(t *testing.T) {
	var out bytes.Buffer
	if err := run(nil, strings.NewReader(input), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		// medians: plain 80 µs, bunhook 82 µs
		"| pg | point | 80 µs | 82 µs | 1.02 | ≤ 1.05 | 22 → 24 | yes |",
		"| pg | update | 100 µs | 104 µs | 1.04 | ≤ 1.05 | 13 → 24 | **no** |",
		"| pg | parallel16 | 50 µs | 55 µs | 0.91 (q/s) | ≥ 0.95 | n/a | **no** |",
		// per-round ratios 1.1, 1.05, 3: median 1.10 (medians 100 µs and
		// 210 µs would give 2.1)
		"| pg | insert | 100 µs | 210 µs | 1.10 | ≤ 1.05 | n/a | **no** |",
		"Medians of 1 rounds",
		// (2600 - 1000) / 8 = 200 ns per join: met at the goal
		"| pg | per extra join (joins=0 → 8) | 200 ns | ≤ 200 ns | yes |",
		// (10490 - 500) / 999 = 10 ns per parameter
		"| pg | per IN parameter (in=1 → 1000) | 10 ns | ≤ 20 ns | yes |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing line %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "Other") {
		t.Errorf("a benchmark without db/op/impl made it into the table:\n%s", got)
	}
}

func TestNoInput(t *testing.T) {
	err := run(nil, strings.NewReader("PASS\n"), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no BenchmarkCompare results") {
		t.Fatalf("err = %v, want a clear error", err)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestTrimProcs(t *testing.T) {
	for in, want := range map[string]string{
		"BenchmarkX/op=in=1-2": "BenchmarkX/op=in=1",
		"BenchmarkX/a-b":       "BenchmarkX/a-b",
		"BenchmarkX":           "BenchmarkX",
	} {
		if got := trimProcs(in); got != want {
			t.Errorf("trimProcs(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPairedRounds: with impl=paired lines, times and ratios come from
// them; allocations still come from the separate runs of each side.
func TestPairedRounds(t *testing.T) {
	in := `BenchmarkCompare/db=sqlite/op=point/impl=plain-2    1000  30000 ns/op  5000 B/op  29 allocs/op
BenchmarkCompare/db=sqlite/op=point/impl=bunhook-2  1000  90000 ns/op  5100 B/op  30 allocs/op
BenchmarkCompare/db=sqlite/op=point/impl=paired-2   1000  41000 ns/op  21000 bunhook-ns/op  20000 plain-ns/op
BenchmarkCompare/db=sqlite/op=point/impl=plain-2    1000  30000 ns/op  5000 B/op  29 allocs/op
BenchmarkCompare/db=sqlite/op=point/impl=bunhook-2  1000  90000 ns/op  5100 B/op  30 allocs/op
BenchmarkCompare/db=sqlite/op=point/impl=paired-2   1000  82000 ns/op  42000 bunhook-ns/op  40000 plain-ns/op
BenchmarkCompare/db=sqlite/op=point/impl=paired-2   1000  82000 ns/op  44000 bunhook-ns/op  40000 plain-ns/op
`
	var out bytes.Buffer
	if err := run(nil, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	// ratios 1.05, 1.05, 1.10: median 1.05; not the 3.0 of the separate runs
	want := "| sqlite | point | 40 µs | 42 µs | 1.05 | ≤ 1.05 | 29 → 30 | yes |"
	if got := out.String(); !strings.Contains(got, want) || !strings.Contains(got, "impl=paired") {
		t.Errorf("missing %q in\n%s", want, got)
	}
}
