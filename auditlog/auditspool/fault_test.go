package auditspool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

// faults makes writes fail with ENOSPC after a budget of bytes, fsyncs
// fail after a number of them, truncations fail on demand, and can hold
// the next write until a condition holds.
type faults struct {
	mu           sync.Mutex
	budget       int64 // bytes writable before ENOSPC; < 0: unlimited
	syncs        int   // fsyncs that succeed before ENOSPC; < 0: unlimited
	failTruncate bool
	gate         func() // called once before the next write
}

func (f *faults) set(budget int64, syncs int, failTruncate bool, gate func()) {
	f.mu.Lock()
	f.budget, f.syncs, f.failTruncate, f.gate = budget, syncs, failTruncate, gate
	f.mu.Unlock()
}

func (f *faults) beforeWrite(n int) (int, error) {
	f.mu.Lock()
	gate := f.gate
	f.gate = nil
	f.mu.Unlock()
	if gate != nil {
		gate()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.budget < 0 || int64(n) <= f.budget {
		if f.budget >= 0 {
			f.budget -= int64(n)
		}
		return n, nil
	}
	k := int(f.budget)
	f.budget = 0
	return k, syscall.ENOSPC
}

func (f *faults) beforeSync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.syncs == 0 {
		return syscall.ENOSPC
	}
	if f.syncs > 0 {
		f.syncs--
	}
	return nil
}

func (f *faults) beforeTruncate() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failTruncate {
		return syscall.EIO
	}
	return nil
}

// queued waits until n Appends are queued behind the leader.
func queued(sp *Spool, n int) func() {
	return func() {
		for {
			sp.mu.Lock()
			k := len(sp.queue)
			sp.mu.Unlock()
			if k >= n {
				return
			}
			runtime.Gosched()
		}
	}
}

// TestWriteFailure makes the write or fsync of a batch fail: a blocker
// Append holds the leader's write until the batch's appenders are queued,
// so they share the failing batch.
func TestWriteFailure(t *testing.T) {
	entry := int64(headerSize + 5) // "p-000", "x-000"
	for _, tc := range []struct {
		name         string
		budget       int64 // bytes of the failing batch written before ENOSPC
		failSync     bool
		failTruncate bool
		appenders    int
	}{
		{"nothing written", 0, false, false, 1},
		{"half a header", 10, false, false, 1},
		{"one entry and a half", entry + entry/2, false, false, 2},
		{"batch of 8, one entry and a few bytes", entry + 3, false, false, 8},
		{"all written, fsync fails", -1, true, false, 4},
		{"truncate fails too", entry + entry/2, false, true, 3},
		{"fsync and truncate fail", -1, true, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "spool")
			f := &faults{budget: -1, syncs: -1}
			var reports []CorruptError
			open := func() *Spool {
				sp, err := Open(dir, withIOHook(f), WithOnCorrupt(func(e CorruptError) { reports = append(reports, e) }))
				if err != nil {
					t.Fatal(err)
				}
				return sp
			}
			sp := open()
			for i := range 3 {
				if _, err := sp.Append(context.Background(), fmt.Appendf(nil, "p-%03d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := sp.Ack(1); err != nil {
				t.Fatal(err)
			}

			// The blocker's write (one entry) and fsync succeed; the
			// batch behind it fails.
			budget, syncs := int64(-1), -1
			if tc.budget >= 0 {
				budget = entry + tc.budget
			}
			if tc.failSync {
				syncs = 1
			}
			f.set(budget, syncs, tc.failTruncate, queued(sp, tc.appenders))
			var wg sync.WaitGroup
			wg.Go(func() {
				if seq, err := sp.Append(context.Background(), []byte("b-000")); err != nil || seq != 4 {
					t.Errorf("blocker: %d, %v", seq, err)
				}
			})
			for { // the blocker leads: the appenders queue behind it
				sp.mu.Lock()
				leading := sp.leading
				sp.mu.Unlock()
				if leading {
					break
				}
				runtime.Gosched()
			}
			for i := range tc.appenders {
				wg.Go(func() {
					seq, err := sp.Append(context.Background(), fmt.Appendf(nil, "x-%03d", i))
					var we *WriteError
					if !errors.Is(err, ErrWrite) || !errors.As(err, &we) || seq != 0 {
						t.Errorf("Append during the failure: %d, %v; want a WriteError", seq, err)
					}
					if !errors.Is(err, syscall.ENOSPC) {
						t.Errorf("Append during the failure: %v, want ENOSPC", err)
					}
				})
			}
			wg.Wait()
			size := 4 * entry
			st := sp.Stats()
			if st.WriteErrors != 1 || st.Appended != 4 || st.NextSeq != 5 || st.DiskBytes != size {
				t.Errorf("after the failure: %+v (want DiskBytes %d, one write error)", st, size)
			}
			if fi, err := os.Stat(filepath.Join(dir, segName(1))); !tc.failTruncate && (err != nil || fi.Size() != size) {
				t.Errorf("segment after the failure: %v, %v; want truncated back to %d bytes", fi, err, size)
			}

			f.set(-1, -1, false, nil) // the disk has room again
			seq, err := sp.Append(context.Background(), []byte("p-003"))
			if err != nil || seq != 5 {
				t.Fatalf("Append after recovery: %d, %v; want 5", seq, err)
			}
			if err := sp.Close(); err != nil {
				t.Fatal(err)
			}

			sp = open()
			defer sp.Close()
			es, err := sp.Next(context.Background(), 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				got = append(got, fmt.Sprintf("%d:%s", e.Seq, e.Payload))
			}
			if fmt.Sprint(got) != "[2:p-001 3:p-002 4:b-000 5:p-003]" {
				t.Errorf("after restart: %v; want the durable entries only", got)
			}
			st = sp.Stats()
			if st.TruncatedBytes != 0 || st.Missing != 0 {
				t.Errorf("after restart: %+v", st)
			}
			// A failed truncation leaves the failed batch in the old
			// segment: replay rejects it, as it overlaps the new one.
			if tc.failTruncate != (len(reports) != 0) {
				t.Errorf("reports after restart: %v", reports)
			}
			for _, r := range reports {
				if r.Kind != KindOutOfOrder && r.Kind != KindBadEntry || r.File != segName(1) {
					t.Errorf("report %v: want only the failed batch's bytes in %s", r, segName(1))
				}
			}
		})
	}
}
