package auditspool

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Names of the files the spool creates besides segments.
const (
	lockName   = "lock"
	ackName    = "ack"
	ackTmpName = "ack.tmp"
	ackMagic   = "TSAK"
	ackPayload = "auditspool ack"
)

// ackCodec frames the ack file: one entry after the ackMagic prefix, whose
// HMAC key (if any) is derived from the spool's key, so that no segment
// entry is ever a valid ack file.
func (s *Spool) ackCodec() *codec {
	if s.codec.key == nil {
		return &codec{}
	}
	m := hmac.New(sha256.New, s.codec.key)
	m.Write([]byte("auditspool ack file"))
	return &codec{keyID: s.codec.keyID, key: m.Sum(nil)}
}

// readAck returns the persisted acknowledged position (0 if none or if the
// file is unreadable, which is reported).
func (s *Spool) readAck() (uint64, error) {
	data, err := s.root.ReadFile(ackName)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("auditspool: read ack file: %w", err)
	}
	reason := "bad prefix"
	if rest, ok := strings.CutPrefix(string(data), ackMagic); ok {
		d, err := s.ackCodec().decode([]byte(rest))
		switch {
		case err != nil:
			reason = err.Error()
		case d.size != len(rest) || string(d.payload) != ackPayload:
			reason = "unexpected content"
		default:
			return d.seq, nil
		}
	}
	s.st.Corrupt++
	s.report(CorruptError{Kind: KindAckFile, File: ackName,
		Reason: "unreadable (" + reason + "); every entry on disk is treated as unacknowledged"})
	return 0, nil
}

// writeAck persists seq as the acknowledged position: write a temporary
// file, fsync it, rename it over the ack file, fsync the directory.
func (s *Spool) writeAck(seq uint64) error {
	data := s.ackCodec().appendEntry([]byte(ackMagic), seq, []byte(ackPayload))
	f, err := s.root.OpenFile(ackTmpName, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
		s.countFsync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return err
	}
	if err := s.root.Rename(ackTmpName, ackName); err != nil {
		return err
	}
	return s.syncDir()
}

// listSegments returns the segment files of the directory in order and
// reports every other file it did not create.
func (s *Spool) listSegments() ([]*segment, error) {
	d, err := s.root.Open(".")
	if err != nil {
		return nil, fmt.Errorf("auditspool: list spool directory: %w", err)
	}
	ents, err := d.ReadDir(-1)
	_ = d.Close()
	if err != nil {
		return nil, fmt.Errorf("auditspool: list spool directory: %w", err)
	}
	var segs []*segment
	for _, e := range ents {
		name := e.Name()
		switch name {
		case lockName, ackName, ackTmpName:
			continue
		}
		first, ok := parseSegName(name)
		if !ok || !e.Type().IsRegular() {
			s.report(CorruptError{Kind: KindUnknownFile, File: name,
				Reason: "not created by the spool (type " + e.Type().String() + "); ignored, not deleted"})
			continue
		}
		segs = append(segs, &segment{first: first})
	}
	slices.SortFunc(segs, func(a, b *segment) int {
		if a.first < b.first {
			return -1
		}
		return 1
	})
	return segs, nil
}

func parseSegName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, ".seg")
	if !ok || len(digits) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 || segName(n) != name {
		return 0, false
	}
	return n, true
}

// scanState carries the replay across segments.
type scanState struct {
	acked  uint64
	prev   uint64 // last accepted seq, 0 if none
	expect uint64 // next seq expected (after acked and prev)
}

func (s *Spool) gap(st *scanState, file string, off int64, upTo uint64) {
	if upTo <= st.expect {
		return
	}
	n := upTo - st.expect
	s.st.Missing += n
	s.report(CorruptError{Kind: KindGap, File: file, Offset: off, Seq: st.expect, Missing: n,
		Reason: "entries missing (a segment deleted or damaged, or the ack file lost)"})
	st.expect = upTo
}

// scan checks the entries of g (its bytes are data), records its corrupt
// regions and returns the length of its valid prefix: len(data), or the
// offset of a torn tail if canTear (last segment).
func (s *Spool) scan(g *segment, data []byte, nextFirst uint64, canTear bool, st *scanState) int {
	name := g.name()
	s.gap(st, name, 0, g.first)
	bad := func(off, end int, kind CorruptKind, seq uint64, reason string) {
		s.st.Corrupt++
		g.bad = append(g.bad, span{int64(off), int64(end)})
		s.report(CorruptError{Kind: kind, File: name, Offset: int64(off), Length: int64(end - off), Seq: seq, Reason: reason})
	}
	off := 0
	for off < len(data) {
		d, err := s.codec.decode(data[off:])
		if err == nil {
			switch {
			case d.seq < g.first || (nextFirst != 0 && d.seq >= nextFirst):
				bad(off, off+d.size, KindOutOfOrder, d.seq, fmt.Sprintf("seq %d outside the segment's range", d.seq))
			case d.seq <= st.prev:
				bad(off, off+d.size, KindOutOfOrder, d.seq, fmt.Sprintf("seq %d not after seq %d", d.seq, st.prev))
			default:
				s.gap(st, name, int64(off), d.seq)
				st.prev, g.last = d.seq, d.seq
				st.expect = max(st.expect, d.seq+1)
			}
			off += d.size
			continue
		}
		next := -1
		if size, e := entrySize(data[off:]); e == nil && off+size <= len(data) {
			if _, e := s.codec.decode(data[off+size:]); off+size == len(data) || e == nil {
				next = off + size // only this entry is bad: skip it by its length
			}
		}
		if next < 0 {
			next = s.codec.resync(data, off+1)
		}
		if next < 0 {
			if canTear && (errors.Is(err, errIncomplete) || allZero(data[off:])) {
				return off
			}
			next = len(data)
		}
		bad(off, next, KindBadEntry, 0, err.Error())
		off = next
	}
	return len(data)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// replay reads the ack file and every segment, truncates a torn tail,
// deletes acknowledged segments and opens the active segment.
func (s *Spool) replay() error {
	acked, err := s.readAck()
	if err != nil {
		return err
	}
	segs, err := s.listSegments()
	if err != nil {
		return err
	}
	st := &scanState{acked: acked, expect: acked + 1}
	for i, g := range segs {
		data, err := s.root.ReadFile(g.name())
		if err != nil {
			return fmt.Errorf("auditspool: read segment: %w", err)
		}
		var nextFirst uint64
		if i+1 < len(segs) {
			nextFirst = segs[i+1].first
		}
		last := i == len(segs)-1
		n := s.scan(g, data, nextFirst, last, st)
		if n < len(data) {
			if err := s.truncate(g.name(), int64(n)); err != nil {
				return err
			}
			s.st.TruncatedBytes += int64(len(data) - n)
		}
		g.size = int64(n)
		s.disk += g.size
	}
	s.acked = acked
	s.nextSeq = max(st.expect, st.prev+1)
	s.lastSeq = s.nextSeq - 1
	s.segs = segs
	if err := s.removeAcked(); err != nil {
		return err
	}
	return s.openActive()
}

// truncate cuts the named file to n bytes, durably.
func (s *Spool) truncate(name string, n int64) error {
	f, err := s.root.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("auditspool: truncate torn tail: %w", err)
	}
	err = f.Truncate(n)
	if err == nil {
		err = f.Sync()
		s.st.Fsyncs++
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("auditspool: truncate torn tail of %s: %w", name, err)
	}
	return nil
}

// openActive opens the last segment for appending, creating one if none.
func (s *Spool) openActive() error {
	if len(s.segs) == 0 {
		return s.newSegment(s.nextSeq)
	}
	g := s.segs[len(s.segs)-1]
	f, err := s.root.OpenFile(g.name(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("auditspool: open active segment: %w", err)
	}
	s.active = f
	return nil
}

// newSegment creates the segment named first, makes its name durable and
// makes it the active one. Called by Open and by the leader; it takes s.mu
// to publish the segment.
func (s *Spool) newSegment(first uint64) error {
	name := segName(first)
	// A file of that name holds no durable entry (they all have smaller
	// seqs): it is what a failed first batch left, so it is emptied.
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return &WriteError{Op: "create", Segment: name, Err: err}
	}
	if err := s.syncDir(); err != nil {
		_ = f.Close()
		return &WriteError{Op: "fsync", Segment: ".", Err: err}
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return &WriteError{Op: "create", Segment: name, Err: err}
	}
	if s.active != nil {
		_ = s.active.Close()
	}
	s.active = f
	s.mu.Lock()
	if n := len(s.segs); n > 0 && s.segs[n-1].first == first {
		s.disk -= s.segs[n-1].size
		s.segs[n-1] = &segment{first: first, size: fi.Size()}
		s.disk += fi.Size()
	} else {
		s.segs = append(s.segs, &segment{first: first, size: fi.Size()})
		s.disk += fi.Size()
	}
	s.mu.Unlock()
	return nil
}

// removeAcked deletes every segment but the active one whose entries are
// all acknowledged. Called with s.mu held or before Open returns.
func (s *Spool) removeAcked() error {
	n := 0
	var err error
	for n < len(s.segs)-1 && s.segs[n+1].first <= s.acked+1 {
		if e := s.root.Remove(s.segs[n].name()); e != nil && !errors.Is(e, fs.ErrNotExist) {
			err = fmt.Errorf("auditspool: remove acknowledged segment (retried at the next Ack): %w", e)
			break
		}
		s.disk -= s.segs[n].size
		n++
	}
	if n > 0 {
		s.segs = slices.Delete(s.segs, 0, n)
		s.freed()
	}
	return err
}

// freed wakes the Appends waiting for space. Called with s.mu held.
func (s *Spool) freed() {
	if !s.closed {
		close(s.space)
		s.space = make(chan struct{})
	}
}
