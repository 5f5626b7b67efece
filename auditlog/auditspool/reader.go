package auditspool

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// reader is the shipper's position, guarded by s.rmu.
type reader struct {
	seg  uint64 // first seq of the segment being read; 0: from the oldest
	off  int64  // offset of the next entry in it
	last uint64 // seq of the last entry returned
	f    *os.File
	fseg uint64 // segment f reads
}

func (r *reader) closeFile() {
	if r.f != nil {
		_ = r.f.Close()
		r.f = nil
	}
}

// Next returns up to n of the oldest durable entries not yet returned
// (since Open or Rewind) and not acknowledged, in seq order. It does not
// block: with nothing to return it returns no entries and no error; wait on
// Ready then. Entries returned and not acknowledged are returned again after
// a restart or a Rewind (at least once: the consumer dedupes by seq).
// Payloads belong to the caller.
func (s *Spool) Next(ctx context.Context, n int) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	var out []Entry
	for len(out) < n {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return out, ErrClosed
		}
		idx := -1
		for i, g := range s.segs {
			if g.first >= s.rd.seg {
				idx = i
				break
			}
		}
		if idx < 0 {
			s.mu.Unlock()
			return out, nil
		}
		g := s.segs[idx]
		if g.first != s.rd.seg {
			s.rd.seg, s.rd.off = g.first, 0 // its segment was deleted
		}
		end, bad, acked := g.size, g.bad, s.acked
		var nextFirst uint64
		if idx+1 < len(s.segs) {
			nextFirst = s.segs[idx+1].first
		}
		s.mu.Unlock()
		if s.rd.off >= end {
			if nextFirst == 0 {
				return out, nil
			}
			s.rd.seg, s.rd.off = nextFirst, 0
			continue
		}
		if skip := inSpan(bad, s.rd.off); skip > 0 {
			s.rd.off = skip
			continue
		}
		e, size, err := s.readEntry(g, end, nextFirst)
		if err != nil {
			return out, err
		}
		if size == 0 {
			continue // a corrupt region, reported and skipped
		}
		s.rd.off += int64(size)
		if e.Seq <= acked {
			continue
		}
		s.rd.last = e.Seq
		out = append(out, e)
	}
	return out, nil
}

// inSpan returns the end of the span of bad that holds off, or 0.
func inSpan(bad []span, off int64) int64 {
	for _, b := range bad {
		if off >= b.off && off < b.end {
			return b.end
		}
	}
	return 0
}

// readEntry reads and checks the entry at the reader's position in g. If
// it is not valid (the file changed after Open), the bad region is
// reported, recorded and skipped, and size is 0.
func (s *Spool) readEntry(g *segment, end int64, nextFirst uint64) (Entry, int, error) {
	r := &s.rd
	if r.f == nil || r.fseg != g.first {
		r.closeFile()
		f, err := s.root.Open(g.name())
		if err != nil {
			return Entry{}, 0, fmt.Errorf("auditspool: open segment: %w", err)
		}
		r.f, r.fseg = f, g.first
	}
	var h [headerSize]byte
	if _, err := r.f.ReadAt(h[:], r.off); err != nil && err != io.EOF {
		return Entry{}, 0, fmt.Errorf("auditspool: read segment: %w", err)
	}
	size, err := entrySize(h[:])
	reason := ""
	if err != nil {
		reason = err.Error()
	} else if r.off+int64(size) > end {
		reason = "entry runs past the durable end"
	} else {
		buf := make([]byte, size)
		if _, err := r.f.ReadAt(buf, r.off); err != nil {
			return Entry{}, 0, fmt.Errorf("auditspool: read segment: %w", err)
		}
		d, err := s.codec.decode(buf)
		switch {
		case err != nil:
			reason = err.Error()
		case d.seq < g.first || (nextFirst != 0 && d.seq >= nextFirst) || d.seq <= r.last:
			reason = fmt.Sprintf("seq %d out of order", binary.BigEndian.Uint64(buf[4:12]))
		default:
			return Entry{Seq: d.seq, Payload: d.payload}, size, nil
		}
	}
	return Entry{}, 0, s.skipCorrupt(g, end, reason)
}

// skipCorrupt records and reports the bad bytes at the reader's position
// in g, found after Open, and moves the reader past them.
func (s *Spool) skipCorrupt(g *segment, end int64, reason string) error {
	r := &s.rd
	data := make([]byte, end-r.off)
	if _, err := r.f.ReadAt(data, r.off); err != nil && err != io.EOF {
		return fmt.Errorf("auditspool: read segment: %w", err)
	}
	next := len(data)
	if size, e := entrySize(data); e == nil && size < len(data) {
		if _, e := s.codec.decode(data[size:]); e == nil {
			next = size
		}
	}
	if next == len(data) {
		if i := s.codec.resync(data, 1); i > 0 {
			next = i
		}
	}
	sp := span{r.off, r.off + int64(next)}
	s.mu.Lock()
	s.st.Corrupt++
	g.bad = append(g.bad, sp)
	s.mu.Unlock()
	s.report(CorruptError{Kind: KindBadEntry, File: g.name(), Offset: sp.off, Length: sp.end - sp.off, Reason: reason + " (found after Open)"})
	r.off = sp.end
	return nil
}

// Ack acknowledges every entry whose seq is at most seq: the position is
// persisted (fsynced) before Ack returns, and the segments it frees are
// deleted. Acknowledging a position already acknowledged does nothing;
// one after the last durable entry is refused (ErrAckBeyond).
func (s *Spool) Ack(seq uint64) error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if seq <= s.acked {
		s.mu.Unlock()
		return nil
	}
	if seq > s.lastSeq {
		last := s.lastSeq
		s.mu.Unlock()
		return fmt.Errorf("%w: Ack(%d), but the last durable entry is %d", ErrAckBeyond, seq, last)
	}
	s.mu.Unlock()
	if err := s.writeAck(seq); err != nil {
		return fmt.Errorf("auditspool: persist ack position %d: %w", seq, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = seq
	return s.removeAcked()
}

// Rewind makes Next start again from the oldest unacknowledged entry, for
// a shipper whose export failed.
func (s *Spool) Rewind() {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.rd.closeFile()
	s.rd = reader{}
}
