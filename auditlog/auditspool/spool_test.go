package auditspool_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog/auditspool"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []auditspool.Option
	}{
		{"plain", nil},
		{"hmac", []auditspool.Option{auditspool.WithHMAC("k1", testKey)}},
		{"small segments", []auditspool.Option{auditspool.WithSegmentSize(256), auditspool.WithMaxBytes(1 << 20)}},
		{"small segments hmac", []auditspool.Option{auditspool.WithSegmentSize(256), auditspool.WithHMAC("key-2026", testKey)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := spoolDir(t)
			sp := open(t, dir, tc.opts...)
			ps := append([]string{""}, payloads("rec", 30)...)
			seqs := appendAll(t, sp, ps...)
			for i, s := range seqs {
				if s != uint64(i+1) {
					t.Fatalf("seqs %v: not 1, 2, 3...", seqs)
				}
			}
			equal(t, "Next", show(drain(t, sp)), want(1, ps))
			st := sp.Stats()
			if st.Appended != 31 || st.PendingEntries != 31 || st.NextSeq != 32 || st.Acked != 0 {
				t.Errorf("Stats %+v", st)
			}
			if err := sp.Ack(31); err != nil {
				t.Fatal(err)
			}
			if st := sp.Stats(); st.PendingEntries != 0 || st.Acked != 31 || st.Corrupt != 0 {
				t.Errorf("Stats after Ack %+v", st)
			}
			fi, err := os.Stat(dir)
			if err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("dir mode %v, %v; want 0700", fi.Mode(), err)
			}
			for _, name := range append(segments(t, dir), "ack", "lock") {
				fi, err := os.Stat(filepath.Join(dir, name))
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v, %v; want 0600", name, fi.Mode(), err)
				}
			}
		})
	}
}

func TestRestart(t *testing.T) {
	dir := spoolDir(t)
	sp := open(t, dir)
	ps := payloads("a", 10)
	appendAll(t, sp, ps...)
	got, err := sp.Next(context.Background(), 4)
	if err != nil || len(got) != 4 {
		t.Fatalf("Next: %v, %v", got, err)
	}
	if err := sp.Ack(3); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}

	sp = open(t, dir)
	// 4 was returned but not acknowledged: it comes again.
	equal(t, "after restart", show(drain(t, sp)), want(4, ps[3:]))
	if seqs := appendAll(t, sp, "b"); seqs[0] != 11 {
		t.Fatalf("seq after restart %d, want 11", seqs[0])
	}
	if st := sp.Stats(); st.Acked != 3 || st.PendingEntries != 8 {
		t.Errorf("Stats %+v", st)
	}
	if err := sp.Ack(11); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}

	sp = open(t, dir)
	equal(t, "after ack all", show(drain(t, sp)), nil)
	if seqs := appendAll(t, sp, "c"); seqs[0] != 12 {
		t.Fatalf("seq %d, want 12", seqs[0])
	}
	equal(t, "new entry", show(drain(t, sp)), []string{"12:c"})
}

func TestRotationAndDeletion(t *testing.T) {
	dir := spoolDir(t)
	opts := []auditspool.Option{auditspool.WithSegmentSize(256), auditspool.WithMaxBytes(1 << 20)}
	sp := open(t, dir, opts...)
	ps := payloads(string(make([]byte, 43)), 20) // 47-byte payloads, 67 framed: 3 per segment
	appendAll(t, sp, ps...)
	segs := segments(t, dir)
	if len(segs) != 7 || sp.Stats().Segments != 7 {
		t.Fatalf("segments %v (Stats %d), want 7", segs, sp.Stats().Segments)
	}
	for i, name := range segs {
		fi, _ := os.Stat(filepath.Join(dir, name))
		if fi.Size() > 256 {
			t.Errorf("%s: %d bytes, more than the segment size", name, fi.Size())
		}
		if want := fmt.Sprintf("%020d.seg", 1+3*i); name != want {
			t.Errorf("segment %d named %s, want %s", i, name, want)
		}
	}
	if err := sp.Ack(10); err != nil {
		t.Fatal(err)
	}
	// Segments 1-3, 4-6, 7-9 are all acknowledged; 10-12 holds 11.
	segs = segments(t, dir)
	if len(segs) != 4 || segs[0] != fmt.Sprintf("%020d.seg", 10) {
		t.Fatalf("after Ack(10): %v", segs)
	}
	if err := sp.Ack(20); err != nil {
		t.Fatal(err)
	}
	if segs := segments(t, dir); len(segs) != 1 {
		t.Fatalf("after Ack(20): %v, want only the active segment", segs)
	}
	// The active segment, full and all acknowledged, is deleted when the
	// next batch starts a new one.
	appendAll(t, sp, ps[0]) // 21 fills segment 19
	if err := sp.Ack(21); err != nil {
		t.Fatal(err)
	}
	appendAll(t, sp, ps[1]) // 22 starts segment 22
	if segs := segments(t, dir); len(segs) != 1 || segs[0] != fmt.Sprintf("%020d.seg", 22) {
		t.Fatalf("after rotation: %v", segs)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	sp = open(t, dir, opts...)
	equal(t, "after restart", show(drain(t, sp)), want(22, ps[1:2]))
}

func TestConcurrentAppend(t *testing.T) {
	const goroutines, each = 16, 1000
	sp := open(t, spoolDir(t), auditspool.WithSegmentSize(64<<10))
	seqs := make([][]uint64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
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
	es := drain(t, sp)
	if len(es) != goroutines*each {
		t.Fatalf("Next returned %d entries, want %d", len(es), goroutines*each)
	}
	for i, e := range es {
		if e.Seq != uint64(i+1) || string(e.Payload) != bySeq[e.Seq] {
			t.Fatalf("entry %d: %d:%s, want %d:%s", i, e.Seq, e.Payload, i+1, bySeq[uint64(i+1)])
		}
	}
	st := sp.Stats()
	// Group commit shares fsyncs among these appenders, but how much
	// depends on the fsync's speed (TestGroupCommit bounds it).
	t.Logf("Appended %d, Fsyncs %d, Segments %d", st.Appended, st.Fsyncs, st.Segments)
	if st.Appended != goroutines*each {
		t.Errorf("Appended %d", st.Appended)
	}
}

func TestReadyAndClose(t *testing.T) {
	dir := spoolDir(t)
	sp := open(t, dir)
	select {
	case <-sp.Ready():
		t.Fatal("Ready on an empty spool")
	default:
	}
	appendAll(t, sp, "x")
	select {
	case <-sp.Ready():
	default:
		t.Fatal("no Ready after Append")
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, ok := <-sp.Ready(); ok {
		t.Fatal("Ready not closed by Close")
	}
	_, err := sp.Append(context.Background(), []byte("y"))
	isErr(t, err, auditspool.ErrClosed)
	_, err = sp.Next(context.Background(), 1)
	isErr(t, err, auditspool.ErrClosed)
	isErr(t, sp.Ack(1), auditspool.ErrClosed)

	// Pending entries make the reopened spool Ready at once.
	sp = open(t, dir)
	select {
	case <-sp.Ready():
	default:
		t.Fatal("no Ready after Open with pending entries")
	}
}

func TestErrors(t *testing.T) {
	dir := spoolDir(t)
	sp := open(t, dir, auditspool.WithSegmentSize(256), auditspool.WithMaxBytes(1024))
	_, err := sp.Append(context.Background(), make([]byte, 237))
	isErr(t, err, auditspool.ErrTooLarge)
	if _, err := sp.Append(context.Background(), make([]byte, 236)); err != nil {
		t.Fatalf("an entry of exactly the segment size: %v", err)
	}
	isErr(t, sp.Ack(2), auditspool.ErrAckBeyond)
	if err := sp.Ack(0); err != nil {
		t.Fatalf("Ack(0): %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = sp.Append(ctx, []byte("x"))
	isErr(t, err, context.Canceled)
	_, err = auditspool.Open(dir)
	isErr(t, err, auditspool.ErrLocked)

	for _, opts := range [][]auditspool.Option{
		{auditspool.WithSegmentSize(10)},
		{auditspool.WithSegmentSize(1 << 20), auditspool.WithMaxBytes(1 << 20)},
		{auditspool.WithHMAC("", testKey)},
		{auditspool.WithHMAC("k", []byte("short"))},
		{auditspool.WithFullPolicy(7)},
	} {
		_, err := auditspool.Open(spoolDir(t), opts...)
		isErr(t, err, auditspool.ErrInvalidOption)
	}
	_, err = auditspool.Open("")
	isErr(t, err, auditspool.ErrUnsafeDir)
	_, err = auditspool.Open(filepath.Join(t.TempDir(), "missing", "spool"))
	if err == nil || errors.Is(err, auditspool.ErrUnsafeDir) {
		t.Fatalf("Open with a missing parent: %v", err)
	}
}

func TestRewind(t *testing.T) {
	sp := open(t, spoolDir(t))
	ps := payloads("r", 5)
	appendAll(t, sp, ps...)
	drain(t, sp)
	if err := sp.Ack(2); err != nil {
		t.Fatal(err)
	}
	sp.Rewind()
	equal(t, "after Rewind", show(drain(t, sp)), want(3, ps[2:]))
}
