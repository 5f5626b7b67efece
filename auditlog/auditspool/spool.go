package auditspool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Defaults of the options.
const (
	DefaultSegmentSize = 16 << 20 // WithSegmentSize
	DefaultMaxBytes    = 1 << 30  // WithMaxBytes
	minSegmentSize     = 256
)

// FullPolicy says what Append does when the spool holds WithMaxBytes bytes.
type FullPolicy int

const (
	// FullBlock makes Append wait until Ack frees space or its context is
	// done (the default: an audited operation waits rather than loses its
	// record).
	FullBlock FullPolicy = iota
	// FullDrop makes Append return a FullError at once; the entry is not
	// stored and is counted in Stats.Dropped.
	FullDrop
)

func (p FullPolicy) String() string {
	switch p {
	case FullBlock:
		return "block"
	case FullDrop:
		return "drop"
	}
	return fmt.Sprintf("FullPolicy(%d)", int(p))
}

// Option configures Open.
type Option func(*options)

type options struct {
	segSize   int64
	maxBytes  int64
	policy    FullPolicy
	keyID     string
	key       []byte
	onCorrupt func(CorruptError)
	syncEvery time.Duration
	hook      ioHook // tests only
}

// WithSegmentSize sets the size at which the active segment is closed and a
// new one started (default 16 MiB, from 256 bytes to 1 GiB). A segment never
// exceeds it; it also bounds the size of one entry.
func WithSegmentSize(n int64) Option { return func(o *options) { o.segSize = n } }

// WithMaxBytes bounds the total size of the segment files (default 1 GiB);
// it must be at least twice the segment size. See FullPolicy.
func WithMaxBytes(n int64) Option { return func(o *options) { o.maxBytes = n } }

// WithFullPolicy sets what Append does when the spool is full (default
// FullBlock).
func WithFullPolicy(p FullPolicy) Option { return func(o *options) { o.policy = p } }

// WithHMAC makes every new entry carry an HMAC-SHA256 tag under key, named
// keyID (1 to 255 bytes, stored in clear in each entry), and makes Open and
// Next reject every entry without a valid tag under that key: someone who
// can write the directory but does not know the key cannot inject entries.
// The key must be at least 16 bytes. There is one key per spool: entries
// written without it, or under another key, are rejected, so turn HMAC on
// or change the key on a drained spool (every entry acknowledged). Without
// WithHMAC, tagged entries are accepted on their CRC alone.
func WithHMAC(keyID string, key []byte) Option {
	return func(o *options) { o.keyID, o.key = keyID, append([]byte(nil), key...) }
}

// WithSyncInterval trades the guarantee against a machine crash for speed.
// By default (d = 0) Append returns once its batch is written and fsynced:
// the entry survives a power loss. With d > 0 Append returns once its batch
// is written to the segment file, which survives the process's crash or
// SIGKILL (the data is in the kernel's page cache) but not a power loss or
// a kernel crash; the spool fsyncs when a batch finds the last fsync d or
// more ago, d after an unsynced batch at the latest, before it closes a
// segment, and at Close. A machine crash can then lose the entries of the
// last d.
func WithSyncInterval(d time.Duration) Option { return func(o *options) { o.syncEvery = max(d, 0) } }

// WithOnCorrupt sets a function called with every CorruptError found while
// Open replays the directory, or later by Next. It runs synchronously and
// must not call Next, Ack or Rewind.
func WithOnCorrupt(f func(CorruptError)) Option { return func(o *options) { o.onCorrupt = f } }

// ioHook lets tests of this package make writes and fsyncs fail.
type ioHook interface {
	// beforeWrite returns how many of n bytes may be written and the
	// error to return after writing them.
	beforeWrite(n int) (int, error)
	beforeSync() error
	beforeTruncate() error
}

// withIOHook installs h (tests only).
func withIOHook(h ioHook) Option { return func(o *options) { o.hook = h } }

func (o *options) validate() error {
	switch {
	case o.segSize < minSegmentSize || o.segSize > maxPayload:
		return fmt.Errorf("%w: WithSegmentSize(%d): from %d bytes to 1 GiB", ErrInvalidOption, o.segSize, minSegmentSize)
	case o.maxBytes < 2*o.segSize:
		return fmt.Errorf("%w: WithMaxBytes(%d): at least twice the segment size (%d)", ErrInvalidOption, o.maxBytes, o.segSize)
	case o.policy != FullBlock && o.policy != FullDrop:
		return fmt.Errorf("%w: %s", ErrInvalidOption, o.policy)
	case o.key != nil && (o.keyID == "" || len(o.keyID) > 255):
		return fmt.Errorf("%w: WithHMAC: the key ID must be 1 to 255 bytes", ErrInvalidOption)
	case o.key != nil && len(o.key) < 16:
		return fmt.Errorf("%w: WithHMAC: the key must be at least 16 bytes", ErrInvalidOption)
	case o.key != nil && int64(headerSize+len(o.keyID)+tagSize) >= o.segSize:
		return fmt.Errorf("%w: WithHMAC: the key ID does not fit in a segment", ErrInvalidOption)
	}
	return nil
}

// Entry is one spooled record.
type Entry struct {
	Seq     uint64
	Payload []byte
}

// Stats is a snapshot of a Spool's counters. Counters are since Open unless
// said otherwise.
type Stats struct {
	Appended       uint64 // entries made durable
	Acked          uint64 // the acknowledged position: every seq <= Acked is acknowledged (persisted)
	NextSeq        uint64 // the sequence number the next Append gets
	PendingEntries uint64 // sequence numbers after Acked up to the last durable one (gaps included)
	PendingBytes   int64  // bytes of segment files holding pending entries (a partly acknowledged segment counts whole)
	DiskBytes      int64  // bytes of all segment files: what WithMaxBytes bounds
	Dropped        uint64 // Appends refused for lack of space (FullDrop, or FullBlock when the context ended)
	WriteErrors    uint64 // batches whose write, fsync or segment creation failed
	Corrupt        uint64 // regions of bad or out-of-order entries skipped, and an unreadable ack file
	Missing        uint64 // sequence numbers missing in gaps
	TruncatedBytes int64  // bytes of torn tails cut off by Open
	Fsyncs         uint64 // fsyncs of segment files, the ack file and the directory
	Segments       int    // segment files
}

// Spool is a durable, ordered, local store of opaque payloads. Its methods
// are safe for concurrent use; Next, Ack and Rewind are meant for one
// shipper.
type Spool struct {
	dir   string
	root  *os.Root
	lockF *os.File
	opts  options
	codec codec

	mu      sync.Mutex
	idle    *sync.Cond // broadcast when leading becomes false
	closed  bool
	leading bool       // a leader is writing a batch
	queue   []*request // waiting appends, in arrival order
	space   chan struct{}
	ready   chan struct{}
	segs    []*segment // ordered by first; the last one is active
	nextSeq uint64     // the next seq to assign
	lastSeq uint64     // the last durable seq
	acked   uint64
	disk    int64 // bytes of segment files
	queued  int64 // framed bytes of queued and in-flight entries
	st      Stats

	// Owned by the leader (and Open, Close).
	active   *os.File
	buf      []byte
	broken   bool      // the active segment must be replaced before the next write
	dirty    bool      // WithSyncInterval: the active segment has unsynced batches
	lastSync time.Time // WithSyncInterval: when the active segment was last fsynced

	flushArmed bool        // guarded by mu: flushTimer will run
	flushTimer *time.Timer // guarded by mu

	rmu sync.Mutex // Next, Ack, Rewind
	rd  reader
}

// segment is one segment file.
type segment struct {
	first uint64 // from its name
	last  uint64 // highest valid seq in it, 0 if none
	size  int64  // bytes that hold durable entries (the reader's end)
	bad   []span // corrupt regions found by Open, skipped by the reader
}

type span struct{ off, end int64 }

func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

func (g *segment) name() string { return segName(g.first) }

// Open opens the spool in dir, creating dir (its last element only, mode
// 0700) if it does not exist, and replays it: see the package
// documentation. dir is required; it is refused (ErrUnsafeDir) if it is a
// symbolic link, not a directory, group- or world-writable, or owned by
// another user than the process's effective uid.
func Open(dir string, opts ...Option) (*Spool, error) {
	o := options{segSize: DefaultSegmentSize, maxBytes: DefaultMaxBytes}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	root, err := openDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		dir: dir, root: root, opts: o,
		codec: codec{keyID: o.keyID, key: o.key},
		space: make(chan struct{}), ready: make(chan struct{}, 1),
	}
	s.idle = sync.NewCond(&s.mu)
	if err := s.open(); err != nil {
		return nil, errors.Join(err, s.closeFiles())
	}
	return s, nil
}

func (s *Spool) open() error {
	lf, err := s.root.OpenFile("lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("auditspool: open lock file: %w", err)
	}
	s.lockF = lf
	if err := lockDir(lf); err != nil {
		return err
	}
	if err := s.replay(); err != nil {
		return err
	}
	if s.lastSeq > s.acked {
		s.ready <- struct{}{}
	}
	return nil
}

// openDir checks dir (creating it if missing) and opens it as a root.
func openDir(dir string) (*os.Root, error) {
	if dir == "" {
		return nil, &DirError{Dir: dir, Reason: "no directory given",
			Fix: "pass a directory dedicated to the spool, e.g. /var/lib/<service>/auditspool (there is no default)"}
	}
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("auditspool: create spool directory %q (only its last element is created; create its parent first): %w", dir, err)
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("auditspool: spool directory: %w", err)
	}
	if err := checkDir(dir, fi); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("auditspool: open spool directory: %w", err)
	}
	rfi, err := root.Stat(".")
	if err != nil || !os.SameFile(fi, rfi) {
		_ = root.Close()
		return nil, &DirError{Dir: dir, Reason: "it was replaced while being opened", Fix: "make sure no one else can rename entries of its parent directory"}
	}
	return root, nil
}

func checkDir(dir string, fi os.FileInfo) error {
	abs, _ := filepath.Abs(dir)
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return &DirError{Dir: dir, Reason: "it is a symbolic link", Fix: "pass the real directory's path (after checking who controls it)"}
	case !fi.IsDir():
		return &DirError{Dir: dir, Reason: "it is not a directory (" + fi.Mode().Type().String() + ")", Fix: "remove it or choose another path"}
	case fi.Mode().Perm()&0o022 != 0:
		return &DirError{Dir: dir, Reason: fmt.Sprintf("it is group- or world-writable (mode %04o)", fi.Mode().Perm()),
			Fix: "run chmod 0700 " + abs}
	}
	if reason, fix := ownerProblem(fi); reason != "" {
		return &DirError{Dir: dir, Reason: reason, Fix: fix}
	}
	return nil
}

// Ready returns a channel that receives a value after entries become
// durable (and after Open if entries are pending), so that a shipper waits
// on it when Next returns nothing instead of polling. It is closed by
// Close. One value may stand for many entries.
func (s *Spool) Ready() <-chan struct{} { return s.ready }

// Stats returns a snapshot of the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Acked, st.NextSeq, st.DiskBytes, st.Segments = s.acked, s.nextSeq, s.disk, len(s.segs)
	st.PendingEntries = 0
	if s.nextSeq-1 > s.acked {
		st.PendingEntries = s.nextSeq - 1 - s.acked
	}
	st.PendingBytes = 0
	for _, g := range s.segs {
		if g.last > s.acked {
			st.PendingBytes += g.size
		}
	}
	return st
}

// Close waits for the batch being written, closes the files and releases
// the directory. Appends waiting for space return ErrClosed. Close is
// idempotent; every other method returns ErrClosed afterwards.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.space)
	for s.leading {
		s.idle.Wait()
	}
	if s.flushTimer != nil {
		s.flushTimer.Stop()
	}
	close(s.ready)
	s.mu.Unlock()
	var syncErr error
	if s.dirty && s.active != nil {
		syncErr = s.sync() // WithSyncInterval: what the last batches wrote
		s.dirty = syncErr != nil
	}
	s.rmu.Lock()
	s.rd.closeFile()
	s.rmu.Unlock()
	return errors.Join(syncErr, s.closeFiles())
}

func (s *Spool) closeFiles() error {
	var errs []error
	if s.active != nil {
		errs = append(errs, s.active.Close())
		s.active = nil
	}
	if s.lockF != nil {
		errs = append(errs, s.lockF.Close())
		s.lockF = nil
	}
	errs = append(errs, s.root.Close())
	return errors.Join(errs...)
}

// report passes a CorruptError to the callback.
func (s *Spool) report(e CorruptError) {
	if s.opts.onCorrupt != nil {
		s.opts.onCorrupt(e)
	}
}

// syncDir fsyncs the spool directory (new, renamed or removed names).
func (s *Spool) syncDir() error {
	d, err := s.root.Open(".")
	if err != nil {
		return err
	}
	err = d.Sync()
	s.countFsync()
	return errors.Join(err, d.Close())
}

func (s *Spool) countFsync() {
	s.mu.Lock()
	s.st.Fsyncs++
	s.mu.Unlock()
}
