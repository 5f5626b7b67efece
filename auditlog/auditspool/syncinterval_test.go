package auditspool_test

import (
	"testing"
	"time"

	"github.com/tenantshield/tenantshield-go/auditlog/auditspool"
)

// TestSyncIntervalDefersFsync: with WithSyncInterval, appends return
// without an fsync each (only the first batch, whose last fsync is "long
// ago", pays one), the entries are readable at once, Close fsyncs what is
// left, and a new Open replays every entry.
func TestSyncIntervalDefersFsync(t *testing.T) {
	t.Parallel()
	dir := spoolDir(t)
	sp := open(t, dir, auditspool.WithSyncInterval(time.Hour))
	base := sp.Stats().Fsyncs
	ps := payloads("p", 100)
	appendAll(t, sp, ps...)
	if n := sp.Stats().Fsyncs - base; n > 1 {
		t.Fatalf("%d fsyncs for 100 serial appends with a one-hour sync interval, want at most 1", n)
	}
	equal(t, "read before any fsync", show(drain(t, sp)), want(1, ps))
	before := sp.Stats().Fsyncs
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if sp.Stats().Fsyncs == before {
		t.Fatal("Close did not fsync the unsynced batches")
	}
	sp = open(t, dir)
	defer sp.Close()
	equal(t, "replayed", show(drain(t, sp)), want(1, ps))
}

// TestSyncIntervalFlushesWhenIdle: an unsynced batch is fsynced by the
// timer once the interval has passed, with no further append.
func TestSyncIntervalFlushesWhenIdle(t *testing.T) {
	t.Parallel()
	sp := open(t, spoolDir(t), auditspool.WithSyncInterval(20*time.Millisecond))
	defer sp.Close()
	appendAll(t, sp, "first") // fsynced: no fsync yet in this interval
	base := sp.Stats().Fsyncs
	appendAll(t, sp, "second") // within the interval: left to the timer
	for i := 0; sp.Stats().Fsyncs == base; i++ {
		if i == 1000 {
			t.Fatal("the unsynced batch was never fsynced")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The flush gave the lead back: appends go on.
	appendAll(t, sp, "third")
}

// TestSyncIntervalSyncsClosedSegments: a segment is fsynced before it is
// closed, so only the active segment may lag behind.
func TestSyncIntervalSyncsClosedSegments(t *testing.T) {
	t.Parallel()
	dir := spoolDir(t)
	sp := open(t, dir, auditspool.WithSyncInterval(time.Hour), auditspool.WithSegmentSize(1024), auditspool.WithMaxBytes(1<<20))
	base := sp.Stats().Fsyncs
	ps := payloads("rotating-payload-", 200)
	appendAll(t, sp, ps...)
	segs := len(segments(t, dir))
	if segs < 3 {
		t.Fatalf("%d segments, want rotation", segs)
	}
	// Per rotation: the closed segment and the directory.
	if n := sp.Stats().Fsyncs - base; n < uint64(2*(segs-1)) {
		t.Fatalf("%d fsyncs for %d rotations, want the closed segment and the directory each time", n, segs-1)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	sp = open(t, dir)
	defer sp.Close()
	equal(t, "replayed", show(drain(t, sp)), want(1, ps))
}
