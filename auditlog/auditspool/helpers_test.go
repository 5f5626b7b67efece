package auditspool_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog/auditspool"
)

// encode frames one entry as doc.go describes the format, independently of
// the package's encoder, so that the tests also check the documentation.
func encode(seq uint64, payload []byte, keyID string, key []byte) []byte {
	b := []byte{0xA5, 1, 0, 0}
	if key != nil {
		b[2], b[3] = 1, byte(len(keyID))
	}
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, 0, 0, 0, 0) // CRC, below
	if key != nil {
		b = append(b, keyID...)
	}
	b = append(b, payload...)
	if key != nil {
		m := hmac.New(sha256.New, key)
		m.Write(b[:16])
		m.Write(b[20:])
		b = m.Sum(b)
	}
	tab := crc32.MakeTable(crc32.Castagnoli)
	binary.BigEndian.PutUint32(b[16:20], crc32.Update(crc32.Checksum(b[:16], tab), tab, b[20:]))
	return b
}

// spoolDir returns a directory for a spool that does not exist yet.
func spoolDir(t testing.TB) string { return filepath.Join(t.TempDir(), "spool") }

// corruptLog collects what a spool reports.
type corruptLog struct {
	mu   sync.Mutex
	errs []auditspool.CorruptError
}

func (c *corruptLog) add(e auditspool.CorruptError) {
	c.mu.Lock()
	c.errs = append(c.errs, e)
	c.mu.Unlock()
}

func (c *corruptLog) kinds() []auditspool.CorruptKind {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ks []auditspool.CorruptKind
	for _, e := range c.errs {
		ks = append(ks, e.Kind)
	}
	return ks
}

func (c *corruptLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s []string
	for _, e := range c.errs {
		s = append(s, e.Error())
	}
	return strings.Join(s, "\n")
}

func open(t testing.TB, dir string, opts ...auditspool.Option) *auditspool.Spool {
	t.Helper()
	sp, err := auditspool.Open(dir, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = sp.Close() })
	return sp
}

func appendAll(t testing.TB, sp *auditspool.Spool, payloads ...string) []uint64 {
	t.Helper()
	var seqs []uint64
	for _, p := range payloads {
		seq, err := sp.Append(context.Background(), []byte(p))
		if err != nil {
			t.Fatalf("Append(%q): %v", p, err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// drain returns every entry Next gives, in batches of 7.
func drain(t testing.TB, sp *auditspool.Spool) []auditspool.Entry {
	t.Helper()
	var all []auditspool.Entry
	for {
		es, err := sp.Next(context.Background(), 7)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if len(es) == 0 {
			return all
		}
		all = append(all, es...)
	}
}

// show renders entries as "seq:payload".
func show(es []auditspool.Entry) []string {
	var s []string
	for _, e := range es {
		s = append(s, fmt.Sprintf("%d:%s", e.Seq, e.Payload))
	}
	return s
}

func payloads(prefix string, n int) []string {
	var p []string
	for i := range n {
		p = append(p, fmt.Sprintf("%s-%03d", prefix, i))
	}
	return p
}

// want renders payloads with seqs from first.
func want(first uint64, ps []string) []string {
	var s []string
	for i, p := range ps {
		s = append(s, fmt.Sprintf("%d:%s", first+uint64(i), p))
	}
	return s
}

func equal(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

// segments returns the segment file names of dir, in order.
func segments(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	slices.Sort(m)
	return m
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func isErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want one matching %v", err, target)
	}
}
