package auditspool

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReplay writes arbitrary bytes as a segment (and optionally as the ack
// file) and opens the spool: Open never fails on content and never panics,
// every entry Next returns is framed with a valid checksum (and HMAC) in
// the input, seqs increase, and a second Open finds nothing more to
// truncate and the same entries.
func FuzzReplay(f *testing.F) {
	key := []byte("0123456789abcdef")
	plain, keyed := &codec{}, &codec{keyID: "k", key: key}
	var valid []byte
	for i := range uint64(4) {
		valid = plain.appendEntry(valid, i+1, bytes.Repeat([]byte{byte('a' + i)}, int(i*7)))
	}
	f.Add(valid, []byte(nil), false)
	f.Add(valid[:len(valid)-3], []byte(nil), false)
	f.Add(append(bytes.Clone(valid[:30]), valid[40:]...), []byte(nil), false)
	f.Add(keyed.appendEntry(keyed.appendEntry(nil, 1, []byte("x")), 2, []byte("yz")), []byte(nil), true)
	f.Add(valid, plain.appendEntry([]byte(ackMagic), 2, []byte(ackPayload)), false)
	f.Add(append(bytes.Clone(valid), make([]byte, 9)...), []byte("TSAK"), false)
	f.Fuzz(func(t *testing.T, seg, ack []byte, hmacOn bool) {
		dir := filepath.Join(t.TempDir(), "spool")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, segName(1)), seg, 0o600); err != nil {
			t.Fatal(err)
		}
		if len(ack) > 0 {
			if err := os.WriteFile(filepath.Join(dir, ackName), ack, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		c := plain
		var opts []Option
		if hmacOn {
			c = keyed
			opts = append(opts, WithHMAC("k", key))
		}
		read := func() ([]Entry, Stats) {
			sp, err := Open(dir, opts...)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer sp.Close()
			es, err := sp.Next(context.Background(), 1<<20)
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			return es, sp.Stats()
		}
		es, _ := read()
		for i, e := range es {
			if !framedIn(c, seg, e) {
				t.Fatalf("entry %d (seq %d) is not a valid entry of the input", i, e.Seq)
			}
			if i > 0 && e.Seq <= es[i-1].Seq {
				t.Fatalf("seq %d after %d", e.Seq, es[i-1].Seq)
			}
		}
		again, st := read()
		if st.TruncatedBytes != 0 || len(again) != len(es) {
			t.Fatalf("second Open: %d entries (first %d), truncated %d", len(again), len(es), st.TruncatedBytes)
		}
	})
}

// framedIn reports whether seg holds, at some offset, an entry that c
// decodes (checksum, and HMAC when c has a key) to e. Without a key an
// entry tagged by some key is valid on its checksum, as the spool reads it.
func framedIn(c *codec, seg []byte, e Entry) bool {
	for off := 0; off < len(seg); off++ {
		if seg[off] != entryMagic {
			continue
		}
		d, err := c.decode(seg[off:])
		if err == nil && d.seq == e.Seq && bytes.Equal(d.payload, e.Payload) {
			return true
		}
	}
	return false
}
