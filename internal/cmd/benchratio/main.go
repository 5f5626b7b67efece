// Command benchratio prints the ratio table of BenchmarkCompare (bunhook):
// for every database and workload, the median time and allocations of
// plain bun (impl=plain) and of bunhook (impl=bunhook), their ratio (the
// median of the ratios of each round, whose two sides ran one after the
// other), the goal of issue 11 and whether it is met. It reads Go benchmark output
// (several runs of the same benchmarks, as `make bench-compare` writes) on
// standard input or from the files named as arguments, and writes a
// Markdown table.
//
// Goals: time ratio ≤ 1.05 (point-traced: ≤ 1.00, bunhook with its spans
// against plain bun with bunotel), 16-goroutine throughput ≥ 0.95 of plain,
// at most 2 allocations more than plain per query, and two marginal costs
// derived from the series: per extra join (joins=8 against joins=0)
// ≤ 0.2 µs, per IN-list parameter (in=1000 against in=1) ≤ 20 ns.
//
// Usage:
//
//	go test -run '^$' -bench Compare -benchmem ./bunhook/ | go run ./internal/cmd/benchratio
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
}

func run(files []string, stdin io.Reader, out io.Writer) error {
	var rs []io.Reader
	if len(files) == 0 {
		rs = append(rs, stdin)
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		rs = append(rs, f)
	}
	set := newSamples()
	for _, r := range rs {
		if err := set.read(r); err != nil {
			return err
		}
	}
	if len(set.order) == 0 {
		return fmt.Errorf("no BenchmarkCompare results with impl=plain and impl=bunhook in the input")
	}
	return set.table(out)
}
