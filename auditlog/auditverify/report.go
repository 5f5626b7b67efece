package auditverify

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Failures returns the number of failures: parse errors and failing
// findings of every stream.
func (r *Report) Failures() int {
	n := len(r.ParseErrors)
	for _, s := range r.Streams {
		for _, f := range s.Findings {
			if f.Failure {
				n++
			}
		}
	}
	return n
}

// WriteJSON writes the report as one indented JSON object (the field
// names are stable).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for people: a verdict, then each stream with
// its findings (FAIL for a failure, note for the rest).
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := "INTACT"
	if !r.Intact {
		verdict = fmt.Sprintf("NOT INTACT (%s)", count(uint64(r.Failures()), "failure"))
	}
	records := 0
	for _, f := range r.Files {
		records += f.Records
	}
	fmt.Fprintf(&b, "tenantshield audit verify: %s, %s, %s: %s\n", count(uint64(len(r.Files)), "file"),
		count(uint64(records), "record"), count(uint64(len(r.Streams)), "stream"), verdict)
	for _, e := range r.ParseErrors {
		fmt.Fprintf(&b, "FAIL parse %s\n", e)
	}
	for _, f := range r.Files {
		if f.Skipped > 0 {
			fmt.Fprintf(&b, "note %s: %s of other instrumentation scopes skipped\n", f.Name, count(uint64(f.Skipped), "OTLP record"))
		}
	}
	for _, s := range r.Streams {
		s.writeText(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (s *StreamReport) writeText(b *strings.Builder) {
	verdict := "intact"
	if !s.Intact {
		verdict = "NOT INTACT"
	}
	fmt.Fprintf(b, "\nstream %s: %s\n", s.Stream, verdict)
	fmt.Fprintf(b, "  %s, sequence %d-%d", count(uint64(s.Records), "record"), s.FirstSeq, s.LastSeq)
	keys := make([]string, len(s.KeyIDs))
	for i, k := range s.KeyIDs {
		keys[i] = "HMAC key " + fmt.Sprintf("%q", k)
		if k == "" {
			keys[i] = "SHA-256"
		}
	}
	fmt.Fprintf(b, ", hashed with %s\n", strings.Join(keys, " and "))
	fmt.Fprintf(b, "  %s (%d signed, %d verified)", count(uint64(s.Checkpoints), "checkpoint"), s.SignedCheckpoints, s.VerifiedSignatures)
	if s.SignedThrough > 0 {
		fmt.Fprintf(b, ", signed through %d", s.SignedThrough)
	}
	if s.FinalCheckpoint {
		b.WriteString(", ends with a final checkpoint")
	}
	b.WriteString("\n")
	if s.Duplicates > 0 || s.OutOfOrder > 0 {
		fmt.Fprintf(b, "  %d identical duplicates ignored, %d records out of order (informational)\n", s.Duplicates, s.OutOfOrder)
	}
	for _, f := range s.Findings {
		tag := "note"
		if f.Failure {
			tag = "FAIL"
		}
		fmt.Fprintf(b, "  %s %s", tag, f.Kind)
		switch {
		case f.Range != "":
			fmt.Fprintf(b, " %s", f.Range)
		case f.Seq != 0:
			fmt.Fprintf(b, " at %d", f.Seq)
		}
		if len(f.Where) > 0 {
			fmt.Fprintf(b, " (%s)", strings.Join(f.Where, ", "))
		}
		fmt.Fprintf(b, ": %s\n", f.Message)
	}
}
