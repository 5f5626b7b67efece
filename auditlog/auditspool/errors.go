package auditspool

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns wraps one of them (or a
// context error, or an error from the operating system), so callers test
// with errors.Is.
var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("auditspool: spool is closed")
	// ErrFull means the spool holds WithMaxBytes bytes; see FullError.
	ErrFull = errors.New("auditspool: spool is full")
	// ErrUnsafeDir means the spool directory is refused; see DirError.
	ErrUnsafeDir = errors.New("auditspool: unsafe spool directory")
	// ErrLocked means another Spool (in this or another process) has the
	// directory open.
	ErrLocked = errors.New("auditspool: spool directory is in use")
	// ErrTooLarge means a payload does not fit in one segment.
	ErrTooLarge = errors.New("auditspool: payload too large")
	// ErrWrite means an entry could not be made durable; see WriteError.
	ErrWrite = errors.New("auditspool: write failed")
	// ErrAckBeyond means Ack was given a sequence number never assigned.
	ErrAckBeyond = errors.New("auditspool: ack beyond the last appended entry")
	// ErrInvalidOption means an option has an unusable value.
	ErrInvalidOption = errors.New("auditspool: invalid option")
)

// DirError says why Open refused a directory and how to fix it. It matches
// ErrUnsafeDir.
type DirError struct {
	Dir    string
	Reason string // what is wrong
	Fix    string // what to do about it
}

func (e *DirError) Error() string {
	return fmt.Sprintf("auditspool: refusing spool directory %q: %s; %s", e.Dir, e.Reason, e.Fix)
}

// Is reports whether target is ErrUnsafeDir.
func (e *DirError) Is(target error) bool { return target == ErrUnsafeDir }

// FullError is returned by Append when the spool is full: at once with
// FullDrop, when the context is done with FullBlock (Err is then the
// context's error). It matches ErrFull and Err.
type FullError struct {
	Used, Max int64 // bytes of segment files (plus queued entries) and the bound
	Policy    FullPolicy
	Err       error // the context's error (FullBlock), or nil
}

func (e *FullError) Error() string {
	s := fmt.Sprintf("auditspool: spool is full (%d of %d bytes, policy %s)", e.Used, e.Max, e.Policy)
	if e.Err != nil {
		s += " and " + e.Err.Error() + " while waiting for space"
	}
	return s + ": the shipper must Ack delivered entries (is the Collector reachable?), or raise WithMaxBytes"
}

// Unwrap returns ErrFull and the context's error, if any.
func (e *FullError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrFull}
	}
	return []error{ErrFull, e.Err}
}

// WriteError is returned by Append for every entry of a batch whose write or
// fsync failed: none of them is durable and none keeps its sequence number.
// It matches ErrWrite and the operating system's error (errors.Is(err,
// syscall.ENOSPC) for a full disk).
type WriteError struct {
	Op      string // "write", "fsync", "create" or "truncate"
	Segment string // file name in the spool directory
	Err     error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("auditspool: %s %s: %v (no entry of the batch is durable; the next Append retries; free disk space if the disk is full)",
		e.Op, e.Segment, e.Err)
}

// Unwrap returns ErrWrite and the underlying error.
func (e *WriteError) Unwrap() []error { return []error{ErrWrite, e.Err} }

// CorruptKind classifies a CorruptError.
type CorruptKind int

// The kinds of CorruptError.
const (
	// KindBadEntry: bytes that are not a valid entry (checksum, HMAC,
	// framing), skipped. Counted in Stats.Corrupt.
	KindBadEntry CorruptKind = iota + 1
	// KindOutOfOrder: a valid entry whose sequence number is not after the
	// previous one or outside its segment's range, skipped. Counted in
	// Stats.Corrupt.
	KindOutOfOrder
	// KindGap: sequence numbers missing between two entries (a deleted
	// or damaged segment). Counted in Stats.Missing.
	KindGap
	// KindAckFile: the ack file is unreadable; every entry on disk is
	// treated as unacknowledged (delivered again). Counted in
	// Stats.Corrupt.
	KindAckFile
	// KindUnknownFile: a file the spool did not create; ignored, never
	// deleted.
	KindUnknownFile
)

func (k CorruptKind) String() string {
	switch k {
	case KindBadEntry:
		return "bad entry"
	case KindOutOfOrder:
		return "out of order"
	case KindGap:
		return "gap"
	case KindAckFile:
		return "ack file"
	case KindUnknownFile:
		return "unknown file"
	}
	return fmt.Sprintf("CorruptKind(%d)", int(k))
}

// CorruptError describes damaged or unexpected content found in the spool
// directory. It is passed to the WithOnCorrupt callback; it is not returned
// by Open, which keeps going.
type CorruptError struct {
	Kind    CorruptKind
	File    string // file name in the spool directory
	Offset  int64  // byte offset of the bad bytes in File
	Length  int64  // number of bytes skipped (KindBadEntry, KindOutOfOrder)
	Seq     uint64 // the entry's sequence number (KindOutOfOrder), the first missing one (KindGap)
	Missing uint64 // number of missing sequence numbers (KindGap)
	Reason  string
}

func (e *CorruptError) Error() string {
	switch e.Kind {
	case KindGap:
		return fmt.Sprintf("auditspool: %s: sequence numbers %d to %d missing before offset %d: %s",
			e.File, e.Seq, e.Seq+e.Missing-1, e.Offset, e.Reason)
	case KindAckFile, KindUnknownFile:
		return fmt.Sprintf("auditspool: %s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("auditspool: %s at offset %d (%d bytes): %s: %s", e.File, e.Offset, e.Length, e.Kind, e.Reason)
}
