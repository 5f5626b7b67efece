package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// sample is one benchmark result line.
type sample struct {
	ns, allocs float64
	hasAllocs  bool
}

// row holds the results of one workload on one database, per side, and
// the paired rounds (impl=paired: both sides timed in one loop, alternately).
type row struct {
	db, op       string
	plain, other []sample
	paired       [][2]float64 // plain-ns/op, bunhook-ns/op
}

type samples struct {
	rows  map[string]*row
	order []string // keys in order of first appearance
}

func newSamples() *samples { return &samples{rows: map[string]*row{}} }

// read parses Go benchmark output. Only names with a "db=", an "op=" and an
// "impl=" element count; other lines are ignored.
func (s *samples) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		s.line(sc.Text())
	}
	return sc.Err()
}

func (s *samples) line(l string) {
	f := strings.Fields(l)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return
	}
	var db, op, impl string
	for _, part := range strings.Split(trimProcs(f[0]), "/") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch k {
		case "db":
			db = v
		case "op":
			op = v
		case "impl":
			impl = v
		}
	}
	if db == "" || op == "" || (impl != "plain" && impl != "bunhook" && impl != "paired") {
		return
	}
	var smp sample
	var pair [2]float64
	seen, paired := false, 0
	for i := 2; i+1 < len(f); i++ {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			continue
		}
		switch f[i+1] {
		case "ns/op":
			smp.ns, seen = v, true
		case "allocs/op":
			smp.allocs, smp.hasAllocs = v, true
		case "plain-ns/op":
			pair[0] = v
			paired++
		case "bunhook-ns/op":
			pair[1] = v
			paired++
		}
	}
	if !seen {
		return
	}
	key := db + "\x00" + op
	r := s.rows[key]
	if r == nil {
		r = &row{db: db, op: op}
		s.rows[key] = r
		s.order = append(s.order, key)
	}
	switch impl {
	case "plain":
		r.plain = append(r.plain, smp)
	case "bunhook":
		r.other = append(r.other, smp)
	default:
		if paired == 2 && pair[0] > 0 {
			r.paired = append(r.paired, pair)
		}
	}
}

// times returns the rounds' times of each side: the paired rounds when
// there are any, else the separate runs of each side (as many rounds as
// the side with fewer).
func (r *row) times() (plain, other []float64) {
	if len(r.paired) > 0 {
		for _, p := range r.paired {
			plain, other = append(plain, p[0]), append(other, p[1])
		}
		return plain, other
	}
	n := min(len(r.plain), len(r.other))
	for i := 0; i < n; i++ {
		plain, other = append(plain, r.plain[i].ns), append(other, r.other[i].ns)
	}
	return plain, other
}

// trimProcs removes the -GOMAXPROCS suffix of a benchmark name.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func medianOf(ss []sample, f func(sample) float64) float64 {
	xs := make([]float64, len(ss))
	for i, x := range ss {
		xs[i] = f(x)
	}
	return median(xs)
}

// result is one line of the table: medians of each side, and the median
// of the per-round ratios. The times come from impl=paired when present
// (both sides timed alternately in one loop); otherwise the i-th result of
// each side, which come from the same round of `make bench-compare`, run
// one after the other.
type result struct {
	db, op                string
	plainNs, otherNs      float64
	ratio                 float64 // median of bunhook/plain per round
	plainAllocs, otherAll float64
	hasAllocs             bool
	n                     int  // rounds
	pairedRounds          bool // times from impl=paired
}

func (r *row) result() (result, bool) {
	plain, other := r.times()
	if len(plain) == 0 {
		return result{}, false
	}
	ratios := make([]float64, len(plain))
	for i := range ratios {
		ratios[i] = other[i] / plain[i]
	}
	res := result{db: r.db, op: r.op, n: len(plain), ratio: median(ratios),
		plainNs: median(plain), otherNs: median(other), pairedRounds: len(r.paired) > 0}
	if len(r.plain) > 0 && len(r.other) > 0 && r.plain[0].hasAllocs && r.other[0].hasAllocs {
		res.hasAllocs = true
		res.plainAllocs = medianOf(r.plain, func(s sample) float64 { return s.allocs })
		res.otherAll = medianOf(r.other, func(s sample) float64 { return s.allocs })
	}
	return res, true
}

// Goals of issue 11.
const (
	goalRatio       = 1.05
	goalTraced      = 1.00
	goalThroughput  = 0.95
	goalExtraAllocs = 2
	goalPerJoinNs   = 200
	goalPerParamNs  = 20
)

// verdict returns the shown ratio, the goal as text and whether it is met.
func (r result) verdict() (ratio, goal string, ok bool) {
	rt := r.ratio
	switch r.op {
	case "parallel16":
		tp := 1 / rt
		return fmt.Sprintf("%.2f (q/s)", tp), fmt.Sprintf("≥ %.2f", goalThroughput), tp >= goalThroughput
	case "point-traced":
		return fmt.Sprintf("%.2f", rt), fmt.Sprintf("≤ %.2f", goalTraced), rt <= goalTraced
	}
	return fmt.Sprintf("%.2f", rt), fmt.Sprintf("≤ %.2f", goalRatio), rt <= goalRatio
}

func (r result) allocsOK() bool {
	return !r.hasAllocs || r.otherAll-r.plainAllocs <= goalExtraAllocs
}

func (s *samples) table(out io.Writer) error {
	var results []result
	for _, k := range s.order {
		if res, ok := s.rows[k].result(); ok {
			results = append(results, res)
		}
	}
	w := &errWriter{w: out}
	w.printf("Medians of %d rounds; the ratio is the median of the per-round ratios%s.\n\n", rounds(results), pairedNote(results))
	w.printf("| db | workload | plain bun | bunhook | ratio | goal | allocs plain → bunhook | met |\n")
	w.printf("|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		ratio, goal, ok := r.verdict()
		allocs := "n/a"
		if r.hasAllocs {
			allocs = fmt.Sprintf("%.0f → %.0f", r.plainAllocs, r.otherAll)
		}
		w.printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.db, r.op, dur(r.plainNs), dur(r.otherNs),
			ratio, goal, allocs, met(ok && r.allocsOK()))
	}
	w.printf("\n")
	w.printf("| db | marginal cost of bunhook | measured | goal | met |\n|---|---|---|---|---|\n")
	for _, m := range marginals(s) {
		w.printf("| %s | %s | %s | ≤ %s | %s |\n", m.db, m.what, dur(m.ns), dur(m.goal), met(m.ns <= m.goal))
	}
	return w.err
}

// marginal is the extra cost bunhook adds per join or per IN parameter,
// from the difference of its extra cost at the two ends of a series.
type marginal struct {
	db, what string
	ns, goal float64
}

func marginals(s *samples) []marginal {
	var dbs []string
	for _, k := range s.order {
		if db := s.rows[k].db; !slices.Contains(dbs, db) {
			dbs = append(dbs, db)
		}
	}
	var ms []marginal
	for _, db := range dbs {
		for _, m := range []struct {
			what, lo, hi string
			steps, goal  float64
		}{
			{"per extra join (joins=0 → 8)", "joins=0", "joins=8", 8, goalPerJoinNs},
			{"per IN parameter (in=1 → 1000)", "in=1", "in=1000", 999, goalPerParamNs},
		} {
			lo, hi := s.rows[db+"\x00"+m.lo], s.rows[db+"\x00"+m.hi]
			if lo == nil || hi == nil {
				continue
			}
			// bunhook's extra time at each end of the series, round by
			// round; the marginal cost is the median of their slopes.
			loP, loO := lo.times()
			hiP, hiO := hi.times()
			n := min(len(loP), len(hiP))
			if n == 0 {
				continue
			}
			slopes := make([]float64, n)
			for i := range slopes {
				slopes[i] = ((hiO[i] - hiP[i]) - (loO[i] - loP[i])) / m.steps
			}
			ms = append(ms, marginal{db: db, what: m.what, ns: median(slopes), goal: m.goal})
		}
	}
	return ms
}

func pairedNote(results []result) string {
	for _, r := range results {
		if !r.pairedRounds {
			return ""
		}
	}
	return " (times of impl=paired: both sides timed alternately in one loop)"
}

// rounds is the smallest number of rounds of any line.
func rounds(results []result) int {
	n := 0
	for i, r := range results {
		if i == 0 || r.n < n {
			n = r.n
		}
	}
	return n
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// dur formats nanoseconds with a unit that keeps three significant digits.
func dur(ns float64) string {
	a := ns
	if a < 0 {
		a = -a
	}
	switch {
	case a >= 1e6:
		return fmt.Sprintf("%.3g ms", ns/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.3g µs", ns/1e3)
	default:
		return fmt.Sprintf("%.3g ns", ns)
	}
}

type errWriter struct {
	w   io.Writer
	err error
}

func (w *errWriter) printf(format string, args ...any) {
	if w.err == nil {
		_, w.err = fmt.Fprintf(w.w, format, args...)
	}
}
