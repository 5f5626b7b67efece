// Package auditlogtest is a conformance test for audit sinks, in the style
// of testing/slogtest: [TestSink] (or [Run], one subtest per check) emits a
// corpus of events into a sink and compares what the sink delivered, read
// back by a function the caller gives, with what was emitted.
//
// What a sink must do (the contract of auditlog.Sink and the bus):
//
//   - deliver every field of every event type: id, stream, seq, prev_hash,
//     hash, key_id, time, type, tenants, table, model, operation, reason,
//     outcome, trace and span ids, the caller of a bypass, and attributes of
//     every value kind (compared as the canonical encoding sees them, so a
//     float 2.0 read back as the integer 2 is the same value);
//   - keep invalid UTF-8 as it was or replace each invalid byte with U+FFFD
//     (as the canonical body and JSON do), and deliver large events whole;
//   - be safe for concurrent Emit, and treat the event as read-only;
//   - report its own failures by returning an error, never by panicking
//     (with [WithBreak], after the caller breaks the sink's backend), and
//     never report success for an event it did not deliver;
//   - if it names itself (auditlog.SinkNamer), name itself with a stable,
//     non-empty, valid UTF-8 name; have a comparable dynamic type (the bus
//     registers sinks by identity).
//
// Events are matched by (stream, seq); a sink may deliver a record more than
// once (at least once delivery) if every copy is the same, and in any order.
// [FromRecord] turns an OpenTelemetry log record written by auditlog.OTelSink
// back into an event, for sinks that end in an OTel exporter.
package auditlogtest
