package auditverify

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// verdict is the check of one record's own hash.
type verdict struct {
	known bool // the record is unkeyed, or its HMAC key is given
	ok    bool // the recomputed hash is the record's
	plain bool // (keyed, mismatched) a plain SHA-256 of the record matches: recomputed without the key
}

type verifier struct {
	o       *Options
	s       *StreamReport
	unknown map[string][]string // key id -> where
}

func (v *verifier) check(r record) verdict {
	var key []byte
	if r.keyID != "" {
		k, ok := v.o.HMACKeys[r.keyID]
		if !ok {
			return verdict{}
		}
		key = k
	}
	if auditlog.RecordHash(key, r.stream, r.seq, r.prev, r.keyID, r.body) == r.hash {
		return verdict{known: true, ok: true}
	}
	plain := key != nil && auditlog.RecordHash(nil, r.stream, r.seq, r.prev, r.keyID, r.body) == r.hash
	return verdict{known: true, plain: plain}
}

func (v *verifier) add(f Finding) { v.s.Findings = append(v.s.Findings, f) }

func identical(a, b record) bool {
	return a.hash == b.hash && a.prev == b.prev && a.keyID == b.keyID && bytes.Equal(a.body, b.body)
}

// verifyStream verifies the records of one stream, in the order they were
// read.
func verifyStream(id string, recs []record, o *Options) StreamReport {
	s := StreamReport{Stream: id, Gaps: []string{}, KeyIDs: []string{}, Findings: []Finding{}}
	v := &verifier{o: o, s: &s, unknown: map[string][]string{}}

	// Distinct records by sequence number, in the order read.
	copies := map[uint64][]record{}
	var maxSeen uint64
	for _, r := range recs {
		if cs, ok := copies[r.seq]; ok {
			dup := false
			for _, c := range cs {
				dup = dup || identical(c, r)
			}
			if dup {
				s.Duplicates++
			} else {
				copies[r.seq] = append(cs, r)
			}
			continue
		}
		if r.seq < maxSeen {
			s.OutOfOrder++
		}
		maxSeen = max(maxSeen, r.seq)
		copies[r.seq] = []record{r}
	}
	seqs := make([]uint64, 0, len(copies))
	for seq := range copies {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	s.Records = len(seqs)
	if len(seqs) > 0 {
		s.FirstSeq, s.LastSeq = seqs[0], seqs[len(seqs)-1]
	}

	// One record per sequence number: of conflicting copies, the first
	// whose hash verifies.
	chosen := make(map[uint64]record, len(seqs))
	verdicts := make(map[uint64]verdict, len(seqs))
	keyIDs := map[string]bool{}
	var next uint64 = 1
	for _, seq := range seqs {
		if seq > next {
			s.Gaps = append(s.Gaps, span(next, seq-1))
			v.add(Finding{Kind: KindGap, Failure: true, Range: span(next, seq-1),
				Message: fmt.Sprintf("%s missing: deleted, or lost before reaching these files", count(seq-next, "record"))})
		}
		next = seq + 1
		cs := copies[seq]
		pick, pv := cs[0], v.check(cs[0])
		for _, c := range cs[1:] {
			if cv := v.check(c); cv.ok && !pv.ok {
				pick, pv = c, cv
			}
		}
		if len(cs) > 1 {
			v.add(Finding{Kind: KindConflict, Failure: true, Seq: seq, Where: wheres(cs),
				Message: fmt.Sprintf("%d different records with sequence number %d: all but one were altered", len(cs), seq)})
		}
		chosen[seq], verdicts[seq] = pick, pv
		keyIDs[pick.keyID] = true
		if !pv.known {
			s.Unverified++
			v.unknown[pick.keyID] = append(v.unknown[pick.keyID], pick.where)
		}
	}
	for k := range keyIDs {
		s.KeyIDs = append(s.KeyIDs, k)
	}
	sort.Strings(s.KeyIDs)

	v.chain(seqs, chosen, verdicts)
	v.checkpoints(seqs, chosen)
	v.unknownKeys()
	v.final(seqs, chosen)

	// In sequence order; findings about the whole stream last.
	sort.SliceStable(s.Findings, func(i, j int) bool { return findingAt(s.Findings[i]) < findingAt(s.Findings[j]) })
	s.Intact = true
	for _, f := range s.Findings {
		s.Intact = s.Intact && !f.Failure
	}
	return s
}

// chain checks each record's hash and its link to the previous record.
func (v *verifier) chain(seqs []uint64, chosen map[uint64]record, verdicts map[uint64]verdict) {
	for _, seq := range seqs {
		r, rv := chosen[seq], verdicts[seq]
		if rv.known && !rv.ok {
			msg := "the hash does not match the record's content: the record was edited after it was written"
			if rv.plain {
				msg += " (its hash is a plain SHA-256, recomputed by someone without the HMAC key " + strconv.Quote(r.keyID) + ")"
			}
			v.add(Finding{Kind: KindRecordEdited, Failure: true, Seq: seq, Where: []string{r.where}, Message: msg})
		}
		if seq == 1 && r.prev != "" {
			v.add(Finding{Kind: KindChainRelinked, Failure: true, Seq: seq, Where: []string{r.where},
				Message: "the first record of the stream has a prev_hash: the chain was relinked"})
		}
		if p, ok := chosen[seq-1]; ok && r.prev != p.hash {
			v.add(Finding{Kind: KindChainRelinked, Failure: true, Seq: seq, Where: []string{p.where, r.where},
				Message: fmt.Sprintf("prev_hash %s is not the hash %s of record %d: record %d was replaced with a recomputed hash, or the chain was relinked",
					short(r.prev), short(p.hash), seq-1, seq-1)})
		}
	}
}

// checkpoints checks what each CHECKPOINT vouches for, and its signature.
func (v *verifier) checkpoints(seqs []uint64, chosen map[uint64]record) {
	s, o := v.s, v.o
	for _, seq := range seqs {
		r := chosen[seq]
		c := r.checkpoint
		if c == nil {
			continue
		}
		s.Checkpoints++
		where := []string{r.where}
		if c.malformed != "" {
			v.add(Finding{Kind: KindCheckpointMalformed, Failure: true, Seq: seq, Where: where, Message: "a CHECKPOINT with " + c.malformed})
			continue
		}
		matched := true
		if c.seq != seq-1 {
			matched = false
			v.add(Finding{Kind: KindCheckpointMismatch, Failure: true, Seq: seq, Where: where,
				Message: fmt.Sprintf("the checkpoint vouches for sequence number %d, not %d (the record before it)", c.seq, seq-1)})
		} else if p, ok := chosen[c.seq]; ok && p.hash != c.hash {
			matched = false
			v.add(Finding{Kind: KindCheckpointMismatch, Failure: true, Seq: seq, Where: []string{p.where, r.where},
				Message: fmt.Sprintf("the checkpoint vouches for hash %s of record %d, but record %d has hash %s", short(c.hash), c.seq, c.seq, short(p.hash))})
		}
		switch pub, ok := o.PublicKeys[c.signKeyID]; {
		case c.signature == "":
			if o.RequireSignatures {
				v.add(Finding{Kind: KindUnsignedCheckpoint, Failure: true, Seq: seq, Where: where, Message: "the checkpoint is not signed"})
			}
		case !ok:
			s.SignedCheckpoints++
			if o.RequireSignatures {
				v.add(Finding{Kind: KindUnverifiedSignature, Failure: true, Seq: seq, Where: where,
					Message: fmt.Sprintf("no public key for signing key id %q: the signature cannot be checked", c.signKeyID)})
			}
		default:
			s.SignedCheckpoints++
			if err := auditlog.VerifyCheckpoint(pub, r.stream, c.seq, c.hash, c.final, c.signature); err != nil {
				v.add(Finding{Kind: KindBadSignature, Failure: true, Seq: seq, Where: where,
					Message: fmt.Sprintf("the signature by key %q does not verify: the checkpoint, or the records it vouches for, were rewritten", c.signKeyID)})
				continue
			}
			s.VerifiedSignatures++
			if matched {
				s.SignedThrough = max(s.SignedThrough, c.seq)
			}
		}
	}
	if o.RequireSignatures && s.VerifiedSignatures == 0 {
		v.add(Finding{Kind: KindNoSignedCheckpoint, Failure: true, Message: "no checkpoint of the stream has a verified signature"})
	}
}

func (v *verifier) unknownKeys() {
	ids := make([]string, 0, len(v.unknown))
	for id := range v.unknown {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		where := v.unknown[id]
		v.add(Finding{Kind: KindUnknownKey, Failure: !v.o.AllowUnknownKeys, Where: where[:1],
			Message: fmt.Sprintf("no HMAC key for key id %q: the hashes of %s were not checked (their links were)", id, count(uint64(len(where)), "record"))})
	}
}

// final checks that the stream ends with a final checkpoint.
func (v *verifier) final(seqs []uint64, chosen map[uint64]record) {
	if len(seqs) == 0 {
		return
	}
	last := chosen[seqs[len(seqs)-1]]
	if c := last.checkpoint; c != nil && c.malformed == "" && c.final {
		v.s.FinalCheckpoint = true
		return
	}
	msg := fmt.Sprintf("the last record (sequence number %d) is not a final CHECKPOINT: records after it may have been lost, "+
		"or the process did not stop with Bus.Shutdown", last.seq)
	for i := len(seqs) - 1; i >= 0; i-- {
		if c := chosen[seqs[i]].checkpoint; c != nil {
			msg += fmt.Sprintf("; the last checkpoint is at %d", seqs[i])
			break
		}
	}
	v.add(Finding{Kind: KindMissingFinal, Failure: !v.o.AllowOpen, Seq: last.seq, Where: []string{last.where}, Message: msg})
}

// findingAt is the first sequence number a finding is about (MaxUint64:
// none).
func findingAt(f Finding) uint64 {
	if f.Seq != 0 {
		return f.Seq
	}
	if f.Range != "" {
		first, _, _ := strings.Cut(f.Range, "-")
		if n, err := strconv.ParseUint(first, 10, 64); err == nil {
			return n
		}
	}
	return math.MaxUint64
}

func span(a, b uint64) string {
	if a == b {
		return strconv.FormatUint(a, 10)
	}
	return strconv.FormatUint(a, 10) + "-" + strconv.FormatUint(b, 10)
}

func count(n uint64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.FormatUint(n, 10) + " " + what + "s"
}

func wheres(rs []record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.where
	}
	return out
}

// short abbreviates a hash for messages.
func short(h string) string {
	if h == "" {
		return `""`
	}
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
