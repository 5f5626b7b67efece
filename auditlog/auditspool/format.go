package auditspool

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Entry framing; doc.go describes it for readers of the files.
const (
	entryMagic   = 0xA5 // first byte of every entry
	entryVersion = 1    // second byte
	flagHMAC     = 0x01 // flags bit: a key ID and an HMAC-SHA256 tag follow
	headerSize   = 20   // magic, version, flags, key ID length, seq, length, CRC
	tagSize      = sha256.Size
	// maxPayload bounds a declared payload length when reading, whatever
	// the segment size, so that a corrupt length never allocates more.
	maxPayload = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errIncomplete means the bytes end before the entry they start does.
var errIncomplete = errors.New("incomplete entry")

// badEntry is why bytes that hold a whole entry are not a valid one.
type badEntry string

func (b badEntry) Error() string { return string(b) }

// codec encodes and checks entries, with or without an HMAC key.
type codec struct {
	keyID string
	key   []byte // nil: no HMAC
}

// overhead is the number of framing bytes around a payload.
func (c *codec) overhead() int {
	if c.key == nil {
		return headerSize
	}
	return headerSize + len(c.keyID) + tagSize
}

// appendEntry appends the framed entry (seq, payload) to dst.
func (c *codec) appendEntry(dst []byte, seq uint64, payload []byte) []byte {
	start := len(dst)
	var h [headerSize]byte
	h[0], h[1] = entryMagic, entryVersion
	if c.key != nil {
		h[2], h[3] = flagHMAC, byte(len(c.keyID))
	}
	binary.BigEndian.PutUint64(h[4:12], seq)
	binary.BigEndian.PutUint32(h[12:16], uint32(len(payload)))
	dst = append(dst, h[:]...)
	if c.key != nil {
		dst = append(dst, c.keyID...)
	}
	dst = append(dst, payload...)
	if c.key != nil {
		m := hmac.New(sha256.New, c.key)
		m.Write(dst[start : start+16])
		m.Write(dst[start+headerSize:])
		dst = m.Sum(dst)
	}
	crc := crc32.Update(crc32.Checksum(dst[start:start+16], castagnoli), castagnoli, dst[start+headerSize:])
	binary.BigEndian.PutUint32(dst[start+16:start+20], crc)
	return dst
}

// decoded is one entry read from bytes; payload aliases them.
type decoded struct {
	seq     uint64
	payload []byte
	size    int // framed size
}

// entrySize returns the framed size an entry header declares, or an error
// if the header cannot start an entry.
func entrySize(h []byte) (int, error) {
	if len(h) < headerSize {
		return 0, errIncomplete
	}
	if h[0] != entryMagic {
		return 0, badEntry("bad magic byte")
	}
	if h[1] != entryVersion {
		return 0, badEntry("unknown format version")
	}
	k := int(h[3])
	n := binary.BigEndian.Uint32(h[12:16])
	switch {
	case h[2]&^flagHMAC != 0:
		return 0, badEntry("unknown flags")
	case h[2]&flagHMAC == 0 && k != 0:
		return 0, badEntry("key ID without HMAC flag")
	case h[2]&flagHMAC != 0 && k == 0:
		return 0, badEntry("HMAC flag without key ID")
	case n > maxPayload:
		return 0, badEntry("payload length too large")
	}
	size := headerSize + k + int(n)
	if h[2]&flagHMAC != 0 {
		size += tagSize
	}
	return size, nil
}

// decode reads the entry at the start of b and checks its CRC and, when the
// codec has a key, its HMAC. It returns errIncomplete if b ends inside the
// entry and a badEntry if the entry is invalid.
func (c *codec) decode(b []byte) (decoded, error) {
	size, err := entrySize(b)
	if err != nil {
		return decoded{}, err
	}
	if len(b) < size {
		return decoded{}, errIncomplete
	}
	e := b[:size]
	want := binary.BigEndian.Uint32(e[16:20])
	if crc32.Update(crc32.Checksum(e[:16], castagnoli), castagnoli, e[headerSize:]) != want {
		return decoded{}, badEntry("checksum mismatch")
	}
	k := int(e[3])
	n := int(binary.BigEndian.Uint32(e[12:16]))
	tagged := e[2]&flagHMAC != 0
	if c.key != nil {
		if !tagged {
			return decoded{}, badEntry("HMAC missing")
		}
		if string(e[headerSize:headerSize+k]) != c.keyID {
			return decoded{}, badEntry("HMAC key ID unknown")
		}
		m := hmac.New(sha256.New, c.key)
		m.Write(e[:16])
		m.Write(e[headerSize : size-tagSize])
		if !hmac.Equal(m.Sum(nil), e[size-tagSize:]) {
			return decoded{}, badEntry("HMAC mismatch")
		}
	}
	return decoded{
		seq:     binary.BigEndian.Uint64(e[4:12]),
		payload: e[headerSize+k : headerSize+k+n],
		size:    size,
	}, nil
}

// resync returns the offset of the first valid entry in data at or after
// from, or -1.
func (c *codec) resync(data []byte, from int) int {
	for i := from; i < len(data); i++ {
		if data[i] != entryMagic {
			continue
		}
		if _, err := c.decode(data[i:]); err == nil {
			return i
		}
	}
	return -1
}
