package auditspool_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog/auditspool"
)

const seg1 = "00000000000000000001.seg"

// fixture writes entries 1..n ("p-001"...) to a fresh spool, closes it and
// returns its directory, the payloads and the offsets of the entries (and
// the file size at the end).
func fixture(t *testing.T, n int, opts ...auditspool.Option) (dir string, ps []string, offs []int) {
	t.Helper()
	dir = spoolDir(t)
	sp, err := auditspool.Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ps = payloads("p", n)
	offs = []int{0}
	for _, p := range ps {
		if _, err := sp.Append(context.Background(), []byte(p)); err != nil {
			t.Fatal(err)
		}
		offs = append(offs, int(sp.Stats().DiskBytes))
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, ps, offs
}

// reopen opens dir, collecting what is reported.
func reopen(t *testing.T, dir string, opts ...auditspool.Option) (*auditspool.Spool, *corruptLog) {
	t.Helper()
	log := &corruptLog{}
	return open(t, dir, append(opts, auditspool.WithOnCorrupt(log.add))...), log
}

func TestTornTail(t *testing.T) {
	dir, ps, offs := fixture(t, 5)
	full := readFile(t, filepath.Join(dir, seg1))
	// Every cut inside the last entry, and a few inside the others.
	var cuts []int
	for c := offs[4] + 1; c < offs[5]; c++ {
		cuts = append(cuts, c)
	}
	cuts = append(cuts, offs[1]+1, offs[2]+3, offs[2]+19, offs[2]+20, offs[3]-1)
	for _, cut := range cuts {
		kept := 0 // entries wholly before the cut
		for kept < 5 && offs[kept+1] <= cut {
			kept++
		}
		t.Run(fmt.Sprintf("cut=%d", cut), func(t *testing.T) {
			d := spoolDir(t)
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(d, seg1), full[:cut])
			sp, log := reopen(t, d)
			equal(t, "entries", show(drain(t, sp)), want(1, ps[:kept]))
			st := sp.Stats()
			if st.TruncatedBytes != int64(cut-offs[kept]) || st.Corrupt != 0 || len(log.kinds()) != 0 {
				t.Errorf("TruncatedBytes %d (want %d), Corrupt %d, reports:\n%s", st.TruncatedBytes, cut-offs[kept], st.Corrupt, log)
			}
			if fi, _ := os.Stat(filepath.Join(d, seg1)); fi.Size() != int64(offs[kept]) {
				t.Errorf("segment is %d bytes after Open, want %d (truncated)", fi.Size(), offs[kept])
			}
			if seqs := appendAll(t, sp, "next"); seqs[0] != uint64(kept+1) {
				t.Errorf("next seq %d, want %d", seqs[0], kept+1)
			}
			equal(t, "appended after the cut", show(drain(t, sp)), []string{fmt.Sprintf("%d:next", kept+1)})
		})
	}
	t.Run("zero tail", func(t *testing.T) {
		d := spoolDir(t)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(d, seg1), append(slices.Clone(full), make([]byte, 100)...))
		sp, log := reopen(t, d)
		equal(t, "entries", show(drain(t, sp)), want(1, ps))
		if st := sp.Stats(); st.TruncatedBytes != 100 || st.Corrupt != 0 {
			t.Errorf("Stats %+v, reports:\n%s", st, log)
		}
	})
}

func TestCorruptEntry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry int  // which entry (0-based) is damaged
		at    int  // offset of the flipped byte in it
		bit   byte // the bit flipped (0: 0x40)
	}{
		{"payload", 2, 21, 0},
		{"payload of the last entry", 4, 22, 0},
		{"magic", 2, 0, 0},
		{"magic of the last entry", 4, 0, 0},
		{"version", 2, 1, 0},
		{"flags", 2, 2, 0},
		{"seq", 2, 11, 0},
		{"length", 2, 14, 0},
		{"length high byte", 2, 12, 0},
		{"length of the last entry, shorter", 4, 15, 0x04},
		{"crc", 2, 17, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, ps, offs := fixture(t, 5)
			path := filepath.Join(dir, seg1)
			b := readFile(t, path)
			bit := tc.bit
			if bit == 0 {
				bit = 0x40
			}
			b[offs[tc.entry]+tc.at] ^= bit
			writeFile(t, path, b)
			sp, log := reopen(t, dir)
			var w []string
			for i, p := range ps {
				if i != tc.entry {
					w = append(w, fmt.Sprintf("%d:%s", i+1, p))
				}
			}
			equal(t, "entries", show(drain(t, sp)), w)
			st := sp.Stats()
			if st.Corrupt != 1 || st.TruncatedBytes != 0 {
				t.Errorf("Corrupt %d, TruncatedBytes %d; want 1, 0", st.Corrupt, st.TruncatedBytes)
			}
			errs := log.errs
			if len(errs) == 0 || errs[0].Kind != auditspool.KindBadEntry || errs[0].File != seg1 ||
				errs[0].Offset != int64(offs[tc.entry]) || errs[0].Length != int64(offs[tc.entry+1]-offs[tc.entry]) {
				t.Errorf("reports:\n%s\nwant a bad entry at offset %d", log, offs[tc.entry])
			}
			if tc.entry < 4 && (st.Missing != 1 || !slices.Contains(log.kinds(), auditspool.KindGap)) {
				t.Errorf("Missing %d; want the lost seq reported as a gap:\n%s", st.Missing, log)
			}
			if seqs := appendAll(t, sp, "x"); seqs[0] != 6 && !(tc.entry == 4 && seqs[0] == 5) {
				t.Errorf("next seq %d", seqs[0])
			}
		})
	}
}

func TestInjectedEntry(t *testing.T) {
	hm := auditspool.WithHMAC("k1", testKey)
	for _, tc := range []struct {
		name   string
		entry  []byte
		reason string
	}{
		{"no HMAC", encode(4, []byte("forged"), "", nil), "HMAC missing"},
		{"wrong key", encode(4, []byte("forged"), "k1", []byte("another key of 32 bytes.........")), "HMAC mismatch"},
		{"unknown key ID", encode(4, []byte("forged"), "k2", testKey), "HMAC key ID unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, ps, _ := fixture(t, 3, hm)
			path := filepath.Join(dir, seg1)
			b := readFile(t, path)
			writeFile(t, path, append(b, tc.entry...))
			sp, log := reopen(t, dir, hm)
			equal(t, "entries", show(drain(t, sp)), want(1, ps))
			if st := sp.Stats(); st.Corrupt != 1 || len(log.errs) != 1 || !strings.Contains(log.errs[0].Reason, tc.reason) {
				t.Errorf("Corrupt %d, reports:\n%s\nwant one saying %q", st.Corrupt, log, tc.reason)
			}
			if seqs := appendAll(t, sp, "real"); seqs[0] != 4 {
				t.Errorf("seq %d after an injected entry, want 4", seqs[0])
			}
		})
	}
	t.Run("valid entry is accepted", func(t *testing.T) {
		// The same file with an entry under the right key: the test
		// encoder agrees with the package, so the rejections above are
		// about the key.
		dir, ps, _ := fixture(t, 3, hm)
		path := filepath.Join(dir, seg1)
		writeFile(t, path, append(readFile(t, path), encode(4, []byte("keyed"), "k1", testKey)...))
		sp, log := reopen(t, dir, hm)
		equal(t, "entries", show(drain(t, sp)), append(want(1, ps), "4:keyed"))
		if len(log.errs) != 0 {
			t.Errorf("reports:\n%s", log)
		}
	})
}

func TestOutOfOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		seq  uint64
	}{
		{"duplicate", 2},
		{"replayed first", 1},
		{"zero", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, ps, _ := fixture(t, 3)
			path := filepath.Join(dir, seg1)
			writeFile(t, path, append(readFile(t, path), encode(tc.seq, []byte("again"), "", nil)...))
			sp, log := reopen(t, dir)
			equal(t, "entries", show(drain(t, sp)), want(1, ps))
			if st := sp.Stats(); st.Corrupt != 1 || len(log.errs) != 1 || log.errs[0].Kind != auditspool.KindOutOfOrder {
				t.Errorf("Corrupt %d, reports:\n%s", st.Corrupt, log)
			}
		})
	}
	t.Run("beyond the next segment", func(t *testing.T) {
		small := []auditspool.Option{auditspool.WithSegmentSize(256), auditspool.WithMaxBytes(1 << 20)}
		dir, ps, _ := fixture(t, 9, append(small, auditspool.WithHMAC("k", testKey))...)
		// Segment 1 holds 1-4 (the entries are 58 bytes): an entry 5
		// there comes after 4 but overlaps segment 5.
		if segs := segments(t, dir); len(segs) != 3 || segs[1] != "00000000000000000005.seg" {
			t.Fatalf("segments %v", segs)
		}
		path := filepath.Join(dir, seg1)
		writeFile(t, path, append(readFile(t, path), encode(5, []byte("phantom"), "k", testKey)...))
		sp, log := reopen(t, dir, append(small, auditspool.WithHMAC("k", testKey))...)
		equal(t, "entries", show(drain(t, sp)), want(1, ps))
		if st := sp.Stats(); st.Corrupt != 1 || len(log.errs) != 1 || log.errs[0].Kind != auditspool.KindOutOfOrder {
			t.Errorf("Corrupt %d, reports:\n%s", st.Corrupt, log)
		}
	})
}

func TestDeletedSegment(t *testing.T) {
	small := []auditspool.Option{auditspool.WithSegmentSize(256), auditspool.WithMaxBytes(1 << 20)}
	dir, ps, _ := fixture(t, 30, small...) // 25-byte entries, 10 per segment
	segs := segments(t, dir)
	if len(segs) != 3 {
		t.Fatalf("segments %v", segs)
	}
	// Delete the second segment.
	var first, next uint64
	if _, err := fmt.Sscanf(segs[1]+" "+segs[2], "%d.seg %d.seg", &first, &next); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, segs[1])); err != nil {
		t.Fatal(err)
	}
	sp, log := reopen(t, dir, small...)
	var w []string
	for i, p := range ps {
		if s := uint64(i + 1); s < first || s >= next {
			w = append(w, fmt.Sprintf("%d:%s", s, p))
		}
	}
	equal(t, "entries", show(drain(t, sp)), w)
	st := sp.Stats()
	if st.Missing != next-first || len(log.errs) != 1 || log.errs[0].Kind != auditspool.KindGap ||
		log.errs[0].Seq != first || log.errs[0].Missing != next-first || log.errs[0].File != segs[2] {
		t.Errorf("Missing %d, reports:\n%s\nwant a gap of %d from %d", st.Missing, log, next-first, first)
	}
}

func TestAckFileDamaged(t *testing.T) {
	dir := spoolDir(t)
	sp := open(t, dir)
	ps := payloads("a", 4)
	appendAll(t, sp, ps...)
	if err := sp.Ack(2); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	b := readFile(t, filepath.Join(dir, "ack"))
	b[11] ^= 1 // the acknowledged seq
	writeFile(t, filepath.Join(dir, "ack"), b)
	sp, log := reopen(t, dir)
	// Everything on disk is delivered again rather than skipped.
	equal(t, "entries", show(drain(t, sp)), want(1, ps))
	if len(log.errs) != 1 || log.errs[0].Kind != auditspool.KindAckFile {
		t.Errorf("reports:\n%s", log)
	}
}

func TestUnknownFiles(t *testing.T) {
	dir, ps, _ := fixture(t, 2)
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("keep me"))
	writeFile(t, filepath.Join(dir, "1.seg"), []byte("not a canonical name"))
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "00000000000000000009.seg")); err != nil {
		t.Fatal(err)
	}
	sp, log := reopen(t, dir)
	equal(t, "entries", show(drain(t, sp)), want(1, ps))
	if err := sp.Ack(2); err != nil {
		t.Fatal(err)
	}
	if k := log.kinds(); len(k) != 3 || slices.ContainsFunc(k, func(k auditspool.CorruptKind) bool { return k != auditspool.KindUnknownFile }) {
		t.Errorf("reports:\n%s", log)
	}
	for _, name := range []string{"notes.txt", "1.seg", "00000000000000000009.seg"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v (unknown files must be left alone)", name, err)
		}
	}
}

func TestUnsafeDir(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		fix   string // part of the error message
	}{
		{"world-writable", func(t *testing.T, dir string) { mkdirMode(t, dir, 0o777) }, "chmod 0700"},
		{"group-writable", func(t *testing.T, dir string) { mkdirMode(t, dir, 0o770) }, "chmod 0700"},
		{"world-writable only", func(t *testing.T, dir string) { mkdirMode(t, dir, 0o703) }, "chmod 0700"},
		{"symlink", func(t *testing.T, dir string) {
			target := filepath.Join(filepath.Dir(dir), "real")
			mkdirMode(t, target, 0o700)
			if err := os.Symlink(target, dir); err != nil {
				t.Fatal(err)
			}
		}, "symbolic link"},
		{"file", func(t *testing.T, dir string) { writeFile(t, dir, nil) }, "not a directory"},
		{"other owner", func(t *testing.T, dir string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to chown the directory to another user (CI runs as root)")
			}
			mkdirMode(t, dir, 0o700)
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, "chown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := spoolDir(t)
			tc.setup(t, dir)
			sp, err := auditspool.Open(dir)
			if err == nil {
				_ = sp.Close()
				t.Fatal("Open accepted the directory")
			}
			isErr(t, err, auditspool.ErrUnsafeDir)
			if !strings.Contains(err.Error(), tc.fix) {
				t.Errorf("error %q does not say %q", err, tc.fix)
			}
			if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
				t.Errorf("Open created %v in a refused directory", m)
			}
		})
	}
}

func mkdirMode(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}
