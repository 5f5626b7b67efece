package auditspool_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tenantshield/tenantshield-go/auditlog/auditspool"
)

// fullSpool returns a spool holding 8 entries of 64 bytes, which is its
// WithMaxBytes.
func fullSpool(t *testing.T, p auditspool.FullPolicy) *auditspool.Spool {
	t.Helper()
	sp := open(t, spoolDir(t), auditspool.WithSegmentSize(256), auditspool.WithMaxBytes(512), auditspool.WithFullPolicy(p))
	appendAll(t, sp, payloads(strings.Repeat("x", 40), 8)...)
	if st := sp.Stats(); st.DiskBytes != 512 || st.Segments != 2 {
		t.Fatalf("Stats %+v, want 512 bytes in 2 segments", st)
	}
	return sp
}

func TestFull(t *testing.T) {
	for _, tc := range []struct {
		policy  auditspool.FullPolicy
		ctxErr  error
		timeout time.Duration // of the Append's context
	}{
		{auditspool.FullDrop, nil, time.Hour},
		{auditspool.FullBlock, context.DeadlineExceeded, 20 * time.Millisecond},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			sp := fullSpool(t, tc.policy)
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			payload := []byte(strings.Repeat("x", 44))
			seq, err := sp.Append(ctx, payload)
			isErr(t, err, auditspool.ErrFull)
			var fe *auditspool.FullError
			if !errors.As(err, &fe) || fe.Policy != tc.policy || fe.Max != 512 || seq != 0 {
				t.Fatalf("Append on a full spool: %d, %v", seq, err)
			}
			if tc.ctxErr != nil {
				isErr(t, err, tc.ctxErr)
			}
			if !strings.Contains(err.Error(), "Ack") || !strings.Contains(err.Error(), "WithMaxBytes") {
				t.Errorf("error %q does not say what to do", err)
			}
			if st := sp.Stats(); st.Dropped != 1 || st.Appended != 8 {
				t.Errorf("Stats %+v", st)
			}
			// Acknowledging the first segment frees it.
			if err := sp.Ack(4); err != nil {
				t.Fatal(err)
			}
			if seq, err := sp.Append(context.Background(), payload); err != nil || seq != 9 {
				t.Fatalf("Append after Ack: %d, %v", seq, err)
			}
		})
	}
}

func TestFullBlockWaitsForAck(t *testing.T) {
	sp := fullSpool(t, auditspool.FullBlock)
	type result struct {
		seq uint64
		err error
	}
	done := make(chan result)
	go func() {
		seq, err := sp.Append(context.Background(), []byte("waits"))
		done <- result{seq, err}
	}()
	if err := sp.Ack(4); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || r.seq != 9 {
		t.Fatalf("blocked Append: %d, %v; want 9", r.seq, r.err)
	}
}

func TestFullBlockClose(t *testing.T) {
	sp := fullSpool(t, auditspool.FullBlock)
	done := make(chan error)
	go func() {
		_, err := sp.Append(context.Background(), []byte("waits"))
		done <- err
	}()
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	isErr(t, <-done, auditspool.ErrClosed)
}
