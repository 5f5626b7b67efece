package auditverify

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// Input is one file to verify: its name (for the report's file:line) and
// its content.
type Input struct {
	Name string
	R    io.Reader
}

// Options are the keys and the policy of a verification.
type Options struct {
	// HMACKeys are the keys of HMAC-keyed chains, by key id (the records'
	// key_id). A record whose key id has no key here cannot have its hash
	// checked: that is a failure unless AllowUnknownKeys.
	HMACKeys map[string][]byte
	// PublicKeys are the Ed25519 public keys of signed checkpoints, by
	// signing key id (audit.checkpoint.signing_key_id). A signature is
	// checked when its key is given.
	PublicKeys map[string]ed25519.PublicKey
	// AllowUnknownKeys makes records under an HMAC key id without a key
	// informational (their links are still checked, not their hashes).
	AllowUnknownKeys bool
	// RequireSignatures makes an unsigned checkpoint, a signature whose
	// key is not given, and a stream without a verified signed checkpoint
	// failures.
	RequireSignatures bool
	// AllowOpen makes a stream that does not end with a final checkpoint
	// informational (a stream still being written, or verified before its
	// process stopped) rather than a possible lost tail.
	AllowOpen bool
}

// Report is the result of a verification. Intact is true when no file has
// a parse error and every stream is intact.
type Report struct {
	Intact      bool           `json:"intact"`
	Files       []FileReport   `json:"files"`
	Streams     []StreamReport `json:"streams"`
	ParseErrors []ParseError   `json:"parse_errors"`
}

// FileReport says what a file held.
type FileReport struct {
	Name    string   `json:"name"`
	Lines   int      `json:"lines"`
	Records int      `json:"records"`           // audit records read
	Skipped int      `json:"skipped,omitempty"` // OTLP records of other instrumentation scopes
	Formats []string `json:"formats"`           // "json" (auditlog.JSONSink lines), "otlp" (Collector file exporter)
}

// ParseError is a line, or a record of an OTLP line, that could not be
// read. Each is a failure.
type ParseError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (e ParseError) String() string { return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Message }

// StreamReport is the verification of one stream (one bus of one
// process), merged over every file that holds its records.
type StreamReport struct {
	Stream     string   `json:"stream_id"`
	Intact     bool     `json:"intact"`
	Records    int      `json:"records"`      // distinct sequence numbers
	FirstSeq   uint64   `json:"first_seq"`    // lowest sequence number read
	LastSeq    uint64   `json:"last_seq"`     // highest sequence number read
	Gaps       []string `json:"gaps"`         // missing sequence numbers, as ranges "3-7" or "12"
	Duplicates int      `json:"duplicates"`   // identical copies of a record, ignored
	OutOfOrder int      `json:"out_of_order"` // records read after a higher sequence number (concurrent emitters do that; informational)
	KeyIDs     []string `json:"key_ids"`      // the HMAC key ids of the records ("" for plain SHA-256)
	Unverified int      `json:"unverified"`   // records whose hash could not be checked (no key for their key id)

	Checkpoints        int    `json:"checkpoints"`
	SignedCheckpoints  int    `json:"signed_checkpoints"`
	VerifiedSignatures int    `json:"verified_signatures"`
	SignedThrough      uint64 `json:"signed_through"`   // the highest sequence number a verified signature vouches for
	FinalCheckpoint    bool   `json:"final_checkpoint"` // the stream ends with a final CHECKPOINT

	Findings []Finding `json:"findings"`
}

// Finding kinds (stable).
const (
	KindGap                 = "gap"                      // sequence numbers missing: records deleted or lost
	KindConflict            = "conflict"                 // two different records with the same sequence number
	KindRecordEdited        = "record_edited"            // the record's hash does not match its content
	KindChainRelinked       = "chain_relinked"           // prev_hash is not the hash of the previous record
	KindUnknownKey          = "unknown_key"              // HMAC key id without a key: hashes not checked
	KindCheckpointMismatch  = "checkpoint_mismatch"      // a checkpoint vouches for another hash or sequence number
	KindCheckpointMalformed = "checkpoint_malformed"     // a CHECKPOINT without its attributes
	KindBadSignature        = "bad_signature"            // a checkpoint signature that does not verify
	KindUnverifiedSignature = "unverified_signature"     // no public key for a signature (with RequireSignatures)
	KindUnsignedCheckpoint  = "unsigned_checkpoint"      // with RequireSignatures
	KindNoSignedCheckpoint  = "no_signed_checkpoint"     // with RequireSignatures
	KindMissingFinal        = "missing_final_checkpoint" // the stream does not end with a final checkpoint: possible lost tail
)

// Finding is one thing wrong (Failure) or worth knowing about a stream.
type Finding struct {
	Kind    string   `json:"kind"`
	Failure bool     `json:"failure"`
	Seq     uint64   `json:"seq,omitempty"`   // the record concerned
	Range   string   `json:"range,omitempty"` // the sequence numbers concerned (gaps)
	Where   []string `json:"where,omitempty"` // file:line of the records concerned
	Message string   `json:"message"`
}

// Verify reads every input and verifies every stream it finds. The error
// is only for an input that cannot be read; what the inputs hold, however
// broken, is in the report.
func Verify(opts Options, inputs ...Input) (*Report, error) {
	rep := &Report{Files: []FileReport{}, Streams: []StreamReport{}, ParseErrors: []ParseError{}}
	streams := map[string][]record{}
	var order []string
	for _, in := range inputs {
		fr, err := readInput(in, rep, func(r record) {
			if _, ok := streams[r.stream]; !ok {
				order = append(order, r.stream)
			}
			streams[r.stream] = append(streams[r.stream], r)
		})
		rep.Files = append(rep.Files, fr)
		if err != nil {
			return rep, fmt.Errorf("reading %s: %w", in.Name, err)
		}
	}
	sort.Strings(order)
	rep.Intact = len(rep.ParseErrors) == 0
	for _, id := range order {
		s := verifyStream(id, streams[id], &opts)
		rep.Intact = rep.Intact && s.Intact
		rep.Streams = append(rep.Streams, s)
	}
	return rep, nil
}

// readInput reads in line by line.
func readInput(in Input, rep *Report, add func(record)) (FileReport, error) {
	fr := FileReport{Name: in.Name, Formats: []string{}}
	br := bufio.NewReaderSize(in.R, 1<<16)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			fr.Lines = n
			readLine(bytes.TrimSpace(line), in.Name, n, &fr, rep, add)
		}
		if errors.Is(err, io.EOF) {
			return fr, nil
		}
		if err != nil {
			return fr, err
		}
	}
}

func readLine(line []byte, file string, n int, fr *FileReport, rep *Report, add func(record)) {
	if len(line) == 0 {
		return
	}
	where := file + ":" + strconv.Itoa(n)
	p, err := parseLine(line, where)
	if err != nil {
		rep.ParseErrors = append(rep.ParseErrors, ParseError{File: file, Line: n, Message: err.Error()})
		return
	}
	for _, e := range p.errs {
		rep.ParseErrors = append(rep.ParseErrors, ParseError{File: file, Line: n, Message: e})
	}
	if len(fr.Formats) == 0 || fr.Formats[len(fr.Formats)-1] != p.format {
		has := false
		for _, f := range fr.Formats {
			has = has || f == p.format
		}
		if !has {
			fr.Formats = append(fr.Formats, p.format)
		}
	}
	fr.Skipped += p.skipped
	fr.Records += len(p.records)
	for _, r := range p.records {
		add(r)
	}
}
