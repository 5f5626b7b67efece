// Package auditverify verifies audit trails written by package auditlog:
// the hash chain, the sequence and the checkpoints of every stream they
// hold, from the files the audit records end up in.
//
// Two formats are read, detected line by line, so that one input may mix
// them:
//
//   - JSON lines of auditlog.JSONSink, one record per line;
//   - the OpenTelemetry Collector's file exporter output (OTLP/JSON), one
//     ExportLogsServiceRequest per line, of which only the records of the
//     audit instrumentation scope (auditlog.ScopeName) are read. Field
//     names may be lowerCamelCase or snake_case, 64-bit integers strings or
//     numbers, trace and span IDs hex (the Collector) or base64 (protojson).
//
// From either, a record's JSON object is rebuilt (for OTLP: the fields
// auditlog.OTelSink turned into attributes, the free attributes under
// "attributes", the time from timeUnixNano), its header fields
// (auditlog.BodyFields) taken out, and its hash recomputed with
// auditlog.RecordHash over auditlog.CanonicalBody.
//
// Records are grouped by stream id (one per auditlog.Bus, so one per
// process) over every input, so a stream split over rotated files, or
// copies of it in several files or formats, is verified once. Within a
// stream, records are ordered by sequence number, not by position: a
// record read after a higher sequence number is counted as out of order,
// which concurrent emitters cause and which is not a failure. For each
// stream the report gives:
//
//   - gaps: missing sequence numbers, as ranges ("3-7"), from 1 to the
//     highest read;
//   - duplicates: identical copies of a record are ignored (and counted);
//     different records with one sequence number are a conflict;
//   - record_edited: a record whose recomputed hash differs from its
//     hash (the message says when the hash is a plain SHA-256 recomputed
//     without the chain's HMAC key);
//   - chain_relinked: a record whose prev_hash is not the hash of the
//     record before it (that record was replaced with a recomputed hash);
//   - unknown_key: records under an HMAC key id with no key given, whose
//     hashes cannot be checked;
//   - checkpoints: each CHECKPOINT must vouch for the record before it and
//     that record's hash (checkpoint_mismatch); its Ed25519 signature is
//     checked when the public key of its signing key id is given
//     (bad_signature); signed_through is the highest sequence number a
//     verified signature vouches for;
//   - missing_final_checkpoint: the stream does not end with the final
//     CHECKPOINT that auditlog.Bus.Shutdown writes, so its tail may be
//     lost.
//
// What each protects against: with plain SHA-256 the chain detects an
// edited, deleted, inserted or reordered record, but someone who can
// rewrite the file can recompute every hash from the change to the end;
// only a signed checkpoint after the change (whose signature covers the
// hash it vouches for) detects that. With an HMAC key, recomputing the
// chain needs the key. A deleted tail is detected by the missing final
// checkpoint, and the checkpoints before it still verify.
//
// A Report is Intact when no line failed to parse and no stream has a
// failing finding. Options.AllowUnknownKeys, Options.AllowOpen and
// Options.RequireSignatures change what counts as a failure. The report
// has a text form (Report.WriteText) and a JSON form (Report.WriteJSON)
// with stable field names and finding kinds (the Kind constants).
//
// The command "tenantshield audit verify" runs Verify on files.
package auditverify
