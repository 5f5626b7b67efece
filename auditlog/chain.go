package auditlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"

	"github.com/tenantshield/tenantshield-go/internal/telemetry"
)

// SchemaVersion is the version of the audit record format: the fields of
// a JSON line, the attributes of an OTel record and the canonical encoding
// that the hash chain covers (docs/audit-integrity.md).
const SchemaVersion = 2

// Attribute keys of the integrity fields of an OTel audit record, and of a
// CHECKPOINT's.
const (
	AttrStream        = telemetry.AuditStream
	AttrPrevHash      = telemetry.AuditPrevHash
	AttrHash          = telemetry.AuditHash
	AttrKeyID         = telemetry.AuditKeyID
	AttrSchemaVersion = telemetry.AuditSchemaVersion

	AttrCheckpointSeq       = telemetry.AuditCheckpointSeq
	AttrCheckpointHash      = telemetry.AuditCheckpointHash
	AttrCheckpointFinal     = telemetry.AuditCheckpointFinal
	AttrCheckpointSignature = telemetry.AuditCheckpointSignature
	AttrCheckpointSignKeyID = telemetry.AuditCheckpointSignKeyID
)

// Default checkpoint spacing (see [Bus.SetCheckpoints]).
const (
	DefaultCheckpointEvery    = 1000
	DefaultCheckpointInterval = time.Minute
)

// chain is a bus's stream: the sequence, the hash of the last record, the
// keys and the checkpoint schedule. mu orders records: the sequence number
// and the hash of each are assigned together, so the chain follows the
// sequence even when sinks receive concurrent records out of order.
type chain struct {
	mu      sync.Mutex
	stream  string
	seq     uint64
	prev    string
	hmacID  string
	hmacKey []byte
	h       hash.Hash // SHA-256, or HMAC-SHA256 under hmacKey; reused under mu
	hdr     []byte    // the hash header, reused under mu
	sum     [32]byte
	signID  string
	signKey ed25519.PrivateKey

	every    int           // checkpoint after this many records (0: never by count)
	interval time.Duration // or when this long has passed since the last (0: never by time)
	since    int           // records since the last checkpoint
	lastCP   time.Time
}

func (c *chain) init(now time.Time) {
	c.stream = newID(now)
	c.every, c.interval, c.lastCP = DefaultCheckpointEvery, DefaultCheckpointInterval, now
}

// Stream returns the bus's stream id: a UUIDv7 made when the bus was, so
// one per process for [Default]. Every record of the bus carries it.
func (b *Bus) Stream() string { return b.chain.stream }

// SetHMACKey keys the hash chain: from the next record on, Hash is
// HMAC-SHA256 under key and KeyID is keyID, so that someone who rewrites a
// whole file cannot recompute the chain without the key. A nil key returns
// to plain SHA-256. keyID names the key for the verifier (never the key
// itself).
func (b *Bus) SetHMACKey(keyID string, key []byte) {
	b.chain.mu.Lock()
	defer b.chain.mu.Unlock()
	if len(key) == 0 {
		b.chain.hmacID, b.chain.hmacKey, b.chain.h = "", nil, nil
		return
	}
	b.chain.hmacID, b.chain.hmacKey, b.chain.h = keyID, append([]byte(nil), key...), nil
}

// SetSigningKey makes every CHECKPOINT carry an Ed25519 signature by key
// (and keyID) over the stream, sequence number and hash it vouches for. A
// nil key stops signing.
func (b *Bus) SetSigningKey(keyID string, key ed25519.PrivateKey) {
	b.chain.mu.Lock()
	defer b.chain.mu.Unlock()
	b.chain.signID, b.chain.signKey = keyID, key
	if len(key) == 0 {
		b.chain.signID, b.chain.signKey = "", nil
	}
}

// SetCheckpoints writes a CHECKPOINT after every records records or, at the
// next record, once interval has passed since the last one (defaults 1000
// and one minute; 0 turns either off). Checkpoints are written by Emit, so
// an idle bus writes none: call [Bus.Checkpoint] on a ticker for a
// heartbeat.
func (b *Bus) SetCheckpoints(every int, interval time.Duration) {
	b.chain.mu.Lock()
	defer b.chain.mu.Unlock()
	b.chain.every, b.chain.interval = max(every, 0), max(interval, 0)
}

// Checkpoint writes a CHECKPOINT now, if a sink is registered.
func (b *Bus) Checkpoint(ctx context.Context) { b.checkpoint(ctx, false) }

// Shutdown writes the final CHECKPOINT of the stream, which tells a
// verifier that the stream ended cleanly rather than losing its tail. Call
// it when the process stops, before shutting the sinks' providers down.
// Records emitted afterwards still join the stream (and need another
// Shutdown).
func (b *Bus) Shutdown(ctx context.Context) error {
	if b == nil {
		return nil
	}
	b.checkpoint(ctx, true)
	return ctx.Err()
}

// seal assigns e its place in the stream (Stream, Seq, PrevHash, KeyID)
// and its Hash, and reports whether a checkpoint is due after it. body is
// e's canonical body (canonicalBody), made before the lock is taken.
func (c *chain) seal(e *Event, body []byte) (checkpointDue bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sealLocked(e, body)
	c.since++
	due := (c.every > 0 && c.since >= c.every) || (c.interval > 0 && e.Time.Sub(c.lastCP) >= c.interval)
	if due {
		// This record's emitter writes the checkpoint: concurrent emitters
		// past the same mark do not write another.
		c.since, c.lastCP = 0, e.Time
	}
	return due
}

func (c *chain) sealLocked(e *Event, body []byte) {
	c.seq++
	e.Stream, e.Seq, e.PrevHash, e.KeyID = c.stream, c.seq, c.prev, c.hmacID
	if c.h == nil {
		c.h = newHash(c.hmacKey)
	}
	c.h.Reset()
	c.hdr = appendHeader(c.hdr[:0], e.Stream, e.Seq, e.PrevHash, e.KeyID)
	c.h.Write(c.hdr)
	c.h.Write(body)
	e.Hash = hex.EncodeToString(c.h.Sum(c.sum[:0]))
	c.prev = e.Hash
}

// checkpoint emits a CHECKPOINT vouching for the stream so far.
func (b *Bus) checkpoint(ctx context.Context, final bool) {
	sinks := b.snapshot()
	if len(sinks) == 0 {
		return
	}
	e := Event{Type: Checkpoint, Outcome: OutcomeSuccess, Time: time.Now().UTC()}
	e.ID = newID(e.Time)
	c := &b.chain
	c.mu.Lock()
	e.Attributes = []attribute.KeyValue{
		AttrCheckpointSeq.Int64(int64(c.seq)), AttrCheckpointHash.String(c.prev), AttrCheckpointFinal.Bool(final),
	}
	if c.signKey != nil {
		sig := ed25519.Sign(c.signKey, CheckpointMessage(c.stream, c.seq, c.prev, final))
		e.Attributes = append(e.Attributes, AttrCheckpointSignature.String(base64.StdEncoding.EncodeToString(sig)),
			AttrCheckpointSignKeyID.String(c.signID))
	}
	e.Reason = "the stream is complete up to sequence " + strconv.FormatUint(c.seq, 10)
	if final {
		e.Reason += "; the stream ends here"
	}
	c.sealLocked(&e, canonicalBody(&e))
	// The count toward the next checkpoint is not reset here: the record
	// that made this one due already did, and records sealed since count.
	c.lastCP = e.Time
	c.mu.Unlock()
	_ = b.deliverAll(ctx, sinks, e)
}

// CheckpointMessage is what a CHECKPOINT's Ed25519 signature signs: the
// stream, the last sequence number and hash it vouches for, and whether it
// is the stream's final one.
func CheckpointMessage(stream string, seq uint64, hash string, final bool) []byte {
	return []byte("tenantshield.audit.checkpoint.v2\n" + stream + "\n" + strconv.FormatUint(seq, 10) + "\n" + hash + "\n" +
		strconv.FormatBool(final) + "\n")
}

// recordHash is the hash of one record: hex SHA-256, or HMAC-SHA256 under
// key, of the header lines (format, stream, sequence, previous hash, key
// id) followed by the canonical body.
func recordHash(key []byte, stream string, seq uint64, prev, keyID string, body []byte) string {
	h := newHash(key)
	h.Write(appendHeader(nil, stream, seq, prev, keyID))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func newHash(key []byte) hash.Hash {
	if key != nil {
		return hmac.New(sha256.New, key)
	}
	return sha256.New()
}

func appendHeader(b []byte, stream string, seq uint64, prev, keyID string) []byte {
	b = append(b, "tenantshield.audit.v2\n"...)
	b = append(b, stream...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, '\n')
	b = append(b, prev...)
	b = append(b, '\n')
	b = append(b, keyID...)
	return append(b, '\n')
}

// RecordHash recomputes the hash of a record whose canonical body is body
// (see [CanonicalBody]); key is the HMAC key named by keyID, nil for plain
// SHA-256. Verifiers use it.
func RecordHash(key []byte, stream string, seq uint64, prev, keyID string, body []byte) string {
	return recordHash(key, stream, seq, prev, keyID, body)
}

// The fields of a record that the header of its hash covers, and that the
// canonical body therefore leaves out.
var headerFields = []string{"schema_version", "stream_id", "seq", "prev_hash", "hash", "key_id"}

// BodyFields returns the JSON field names a record's canonical body leaves
// out (they are in the hash's header, or are the hash).
func BodyFields() []string { return append([]string(nil), headerFields...) }

// canonicalBody is the canonical encoding of e's fields other than the
// header ones: its JSON object (as a JSON line has it) with every key
// sorted, no white space, strings as valid UTF-8 with only the escapes
// JSON requires (and Go's \u2028, \u2029), numbers as ECMAScript writes
// them.
func canonicalBody(e *Event) []byte {
	return CanonicalBody(eventMap(e))
}

// eventMap is e's JSON object without the header fields, as plain values.
func eventMap(e *Event) map[string]any {
	m := make(map[string]any, 14)
	put := func(k, v string) {
		if v != "" {
			m[k] = validUTF8(v)
		}
	}
	m["event_id"] = e.ID
	m["time"] = e.Time.UTC().Format(time.RFC3339Nano)
	put("type", string(e.Type))
	put("tenant_id", e.Tenant)
	put("attempted_tenant_id", e.AttemptedTenant)
	put("table", e.Table)
	put("model", e.Model)
	put("operation", e.Operation)
	put("reason", e.Reason)
	put("outcome", string(e.Outcome))
	put("trace_id", e.TraceID)
	put("span_id", e.SpanID)
	if !e.Caller.IsZero() {
		c := map[string]any{"file": validUTF8(e.Caller.File), "line": int64(e.Caller.Line)}
		if e.Caller.Function != "" {
			c["function"] = validUTF8(e.Caller.Function)
		}
		m["caller"] = c
	}
	if len(e.Attributes) > 0 {
		a := make(map[string]any, len(e.Attributes))
		for _, kv := range e.Attributes {
			v := kv.Value.AsInterface()
			switch x := v.(type) {
			case string:
				v = validUTF8(x)
			case []string:
				clean := make([]string, len(x))
				for i, s := range x {
					clean[i] = validUTF8(s)
				}
				v = clean
			}
			a[validUTF8(string(kv.Key))] = v
		}
		m["attributes"] = a
	}
	return m
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string([]rune(s)) // each invalid byte becomes U+FFFD, as encoding/json writes it
}

// CanonicalBody encodes a record's JSON object (without the header fields)
// canonically: keys sorted, no white space, no HTML escaping. Verifiers
// rebuild the object from a JSON line (decoded with UseNumber) or an OTLP
// record and compare hashes.
func CanonicalBody(m map[string]any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		// Only unsupported values (NaN, channels) get here: hash their
		// printed form rather than lose the record.
		buf.Reset()
		buf.WriteString(strconv.Quote(err.Error()))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

// ErrBadSignature is returned by VerifyCheckpoint for a signature that does
// not verify.
var ErrBadSignature = errors.New("auditlog: the checkpoint's signature does not verify")

// VerifyCheckpoint checks a checkpoint's base64 Ed25519 signature.
func VerifyCheckpoint(pub ed25519.PublicKey, stream string, seq uint64, hash string, final bool, signature string) error {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, CheckpointMessage(stream, seq, hash, final), sig) {
		return ErrBadSignature
	}
	return nil
}
