package auditspool

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// slowSync stands for an fsync that takes long enough for every other
// appender to queue: before each fsync it waits (yielding, not sleeping)
// until every appender still running is either in the batch being written
// or queued behind it. Group commit must then serve each queue with one
// fsync, whatever the speed of the real fsync (tmpfs makes it free).
type slowSync struct {
	sp       *Spool
	entry    int          // framed size of every entry
	active   atomic.Int64 // appenders still running
	inFlight atomic.Int64 // entries of the batch being written
}

func (h *slowSync) beforeWrite(n int) (int, error) {
	h.inFlight.Store(int64(n / h.entry))
	return n, nil
}

func (h *slowSync) beforeSync() error {
	for {
		h.sp.mu.Lock()
		q := int64(len(h.sp.queue))
		h.sp.mu.Unlock()
		if q+h.inFlight.Load() >= h.active.Load() {
			return nil
		}
		runtime.Gosched()
	}
}

func (h *slowSync) beforeTruncate() error { return nil }

func TestGroupCommit(t *testing.T) {
	const goroutines, each = 16, 1000
	h := &slowSync{entry: headerSize + len("g00-0000")}
	h.active.Store(goroutines)
	sp, err := Open(filepath.Join(t.TempDir(), "spool"), withIOHook(h), WithSegmentSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	h.sp = sp
	seqs := make([][]uint64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			defer h.active.Add(-1)
			for i := range each {
				seq, err := sp.Append(context.Background(), fmt.Appendf(nil, "g%02d-%04d", g, i))
				if err != nil {
					t.Error(err)
					return
				}
				seqs[g] = append(seqs[g], seq)
			}
		})
	}
	wg.Wait()
	bySeq := map[uint64]string{}
	for g, ss := range seqs {
		for i, s := range ss {
			if i > 0 && s <= ss[i-1] {
				t.Fatalf("goroutine %d: seq %d after %d", g, s, ss[i-1])
			}
			if _, dup := bySeq[s]; dup {
				t.Fatalf("seq %d assigned twice", s)
			}
			bySeq[s] = fmt.Sprintf("g%02d-%04d", g, i)
		}
	}
	es, err := sp.Next(context.Background(), 2*goroutines*each)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != goroutines*each {
		t.Fatalf("Next returned %d entries, want %d", len(es), goroutines*each)
	}
	for i, e := range es {
		if e.Seq != uint64(i+1) || string(e.Payload) != bySeq[e.Seq] {
			t.Fatalf("entry %d: %d:%s, want %d:%s", i, e.Seq, e.Payload, i+1, bySeq[uint64(i+1)])
		}
	}
	st := sp.Stats()
	t.Logf("Appended %d, Fsyncs %d, Segments %d", st.Appended, st.Fsyncs, st.Segments)
	// Before each fsync, every running appender is in the batch or queued
	// for the next one, so two consecutive batches hold about 16 entries:
	// about 2 000 fsyncs, plus one per new segment's directory entry. One
	// fsync per record would make it 16 000.
	if st.Appended != goroutines*each || st.Fsyncs > st.Appended/4 {
		t.Errorf("Appended %d, Fsyncs %d: want Fsyncs <= Appended/4", st.Appended, st.Fsyncs)
	}
}
