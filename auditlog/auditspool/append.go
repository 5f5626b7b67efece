package auditspool

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// request is one Append waiting in the queue.
type request struct {
	payload []byte
	size    int64 // framed size
	seq     uint64
	err     error
	done    bool          // guarded by s.mu
	lead    bool          // guarded by s.mu: the previous leader handed over
	wake    chan struct{} // receives once: done, or lead
}

// Append stores payload and returns its sequence number once the entry is
// durable (written and fsynced). Concurrent Appends share one write and one
// fsync (group commit).
//
// ctx is honoured while the spool is full (FullBlock): Append then returns
// a FullError matching ErrFull and ctx's error. Once an entry is queued,
// Append waits for its batch to be written, whatever ctx says, so that an
// entry reported as failed is never stored. On a write or fsync failure
// (a full disk), Append returns a WriteError for every entry of the batch
// and the spool stays usable.
//
// The spool does not copy payload: it must not be modified until Append
// returns.
func (s *Spool) Append(ctx context.Context, payload []byte) (uint64, error) {
	size := int64(s.codec.overhead() + len(payload))
	if size > s.opts.segSize {
		return 0, fmt.Errorf("%w: %d bytes with framing, more than the segment size %d: raise WithSegmentSize or split the record",
			ErrTooLarge, size, s.opts.segSize)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	for {
		if s.closed {
			s.mu.Unlock()
			return 0, ErrClosed
		}
		used := s.disk + s.queued
		if used+size <= s.opts.maxBytes {
			break
		}
		if s.opts.policy == FullDrop {
			s.st.Dropped++
			s.mu.Unlock()
			return 0, &FullError{Used: used, Max: s.opts.maxBytes, Policy: FullDrop}
		}
		ch := s.space
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
		case <-ctx.Done():
			s.mu.Lock()
			s.st.Dropped++
			used := s.disk + s.queued
			s.mu.Unlock()
			return 0, &FullError{Used: used, Max: s.opts.maxBytes, Policy: FullBlock, Err: ctx.Err()}
		}
	}
	s.queued += size
	r := &request{payload: payload, size: size, wake: make(chan struct{}, 1)}
	s.queue = append(s.queue, r)
	if !s.leading {
		s.leading = true
		s.lead()
	}
	for !r.done {
		if r.lead {
			r.lead = false
			s.lead()
			continue
		}
		s.mu.Unlock()
		<-r.wake
		s.mu.Lock()
	}
	s.mu.Unlock()
	return r.seq, r.err
}

// lead writes one batch taken from the head of the queue (whose first
// request is the caller's), then hands the lead to the next queued request
// or gives it up. Called and returns with s.mu held and s.leading set.
func (s *Spool) lead() {
	var bytes int64
	n := 0
	for _, r := range s.queue {
		if n > 0 && bytes+r.size > s.opts.segSize {
			break
		}
		bytes += r.size
		n++
	}
	batch := slices.Clone(s.queue[:n])
	s.queue = slices.Delete(s.queue, 0, n)
	first := s.nextSeq
	s.nextSeq += uint64(n)
	g := s.segs[len(s.segs)-1]
	activeSize := g.size
	s.mu.Unlock()

	rotated, err := s.writeBatch(first, batch, activeSize, bytes)

	s.mu.Lock()
	s.queued -= bytes
	if err != nil {
		s.nextSeq = first
		s.st.WriteErrors++
		s.freed()
	} else {
		g = s.segs[len(s.segs)-1]
		g.size += bytes
		g.last = first + uint64(n) - 1
		s.disk += bytes
		s.lastSeq = g.last
		s.st.Appended += uint64(n)
		if rotated {
			_ = s.removeAcked() // the previous segment may be all acknowledged; else retried by Ack
		}
		select {
		case s.ready <- struct{}{}:
		default:
		}
	}
	for i, r := range batch {
		r.done = true
		if err != nil {
			r.err = err
		} else {
			r.seq = first + uint64(i)
		}
		if i > 0 {
			r.wake <- struct{}{}
		}
	}
	s.releaseLead()
}

// releaseLead hands the lead to the next queued request or gives it up.
// Called with s.mu held by the leader.
func (s *Spool) releaseLead() {
	if len(s.queue) > 0 {
		next := s.queue[0]
		next.lead = true
		next.wake <- struct{}{}
		return
	}
	s.leading = false
	s.idle.Broadcast()
}

// writeBatch appends the entries of batch (seqs from first) to the active
// segment, starting a new segment first if this one is full or broken, and
// fsyncs. On failure it truncates the segment back to activeSize; if that
// fails too, the segment is replaced before the next batch. Leader only.
func (s *Spool) writeBatch(first uint64, batch []*request, activeSize, bytes int64) (rotated bool, err error) {
	if s.broken || (activeSize > 0 && activeSize+bytes > s.opts.segSize) {
		if s.dirty && !s.broken {
			// WithSyncInterval: the segment being closed is made
			// durable first; only the active one may lag.
			if err := s.sync(); err != nil {
				return false, &WriteError{Op: "fsync", Segment: segName(s.segs[len(s.segs)-1].first), Err: err}
			}
		}
		if err := s.newSegment(first); err != nil {
			return false, err
		}
		s.broken, rotated, activeSize, s.dirty = false, true, 0, false
	}
	s.buf = s.buf[:0]
	for i, r := range batch {
		s.buf = s.codec.appendEntry(s.buf, first+uint64(i), r.payload)
	}
	defer func() {
		if cap(s.buf) > 4<<20 {
			s.buf = nil
		}
	}()
	op := "write"
	err = s.write(s.buf)
	if err == nil {
		op = "fsync"
		err = s.syncBatch()
	}
	if err == nil {
		return rotated, nil
	}
	name := segName(first)
	if fi, e := s.active.Stat(); e == nil {
		name = fi.Name()
	}
	if s.truncateActive(activeSize) != nil || s.sync() != nil {
		s.broken = true
	}
	return rotated, &WriteError{Op: op, Segment: name, Err: err}
}

// write writes b to the active segment, through the test hook if any.
func (s *Spool) write(b []byte) error {
	var hookErr error
	if s.opts.hook != nil {
		var n int
		n, hookErr = s.opts.hook.beforeWrite(len(b))
		b = b[:n]
	}
	if _, err := s.active.Write(b); err != nil {
		return err
	}
	return hookErr
}

// sync fsyncs the active segment, through the test hook if any.
func (s *Spool) sync() error {
	s.countFsync()
	if s.opts.hook != nil {
		if err := s.opts.hook.beforeSync(); err != nil {
			return err
		}
	}
	return s.active.Sync()
}

// syncBatch fsyncs the batch just written; with WithSyncInterval only when
// the last fsync is that old, else it arms the flush timer. Leader only.
func (s *Spool) syncBatch() error {
	every := s.opts.syncEvery
	if every == 0 {
		return s.sync()
	}
	now := time.Now()
	if since := now.Sub(s.lastSync); since >= every {
		if err := s.sync(); err != nil {
			return err
		}
		s.dirty, s.lastSync = false, now
		return nil
	}
	s.dirty = true
	s.mu.Lock()
	if !s.flushArmed && !s.closed {
		s.flushArmed = true
		wait := every - now.Sub(s.lastSync)
		if s.flushTimer == nil {
			s.flushTimer = time.AfterFunc(wait, s.flushDirty)
		} else {
			s.flushTimer.Reset(wait)
		}
	}
	s.mu.Unlock()
	return nil
}

// flushDirty is the WithSyncInterval timer: it takes the lead when no batch
// is being written, fsyncs the active segment if a batch left it unsynced,
// and hands the lead on.
func (s *Spool) flushDirty() {
	s.mu.Lock()
	s.flushArmed = false
	for s.leading && !s.closed {
		s.idle.Wait()
	}
	if s.closed {
		s.mu.Unlock() // Close fsyncs
		return
	}
	s.leading = true
	s.mu.Unlock()
	var err error
	if s.dirty {
		if err = s.sync(); err == nil {
			s.dirty, s.lastSync = false, time.Now()
		}
	}
	s.mu.Lock()
	if err != nil {
		// Start a new segment before the next write; this one's
		// entries stay readable, but may not survive a machine crash.
		s.st.WriteErrors++
		s.broken, s.dirty = true, false
	}
	s.releaseLead()
	s.mu.Unlock()
}

// truncateActive cuts the active segment back to n bytes, through the test
// hook if any.
func (s *Spool) truncateActive(n int64) error {
	if s.opts.hook != nil {
		if err := s.opts.hook.beforeTruncate(); err != nil {
			return err
		}
	}
	return s.active.Truncate(n)
}
