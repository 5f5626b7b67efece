// Command tenantshield runs the module's checks from a shell or a CI job.
//
//	tenantshield posture [flags] DSN
//	tenantshield audit verify [flags] FILE...
//
// posture inspects a live database for what the SQL guard cannot enforce
// (package bunhook/posture): the connection role's privileges, row-level
// security forced on every tenant table with a policy keyed on
// app.tenant_id, unique and foreign keys that include the tenant column,
// indexes that lead with it, exact collations, and views, partitions and
// copies that nobody registered. It prints each finding with why it matters
// and the DDL that fixes it, and exits 1 when a finding reaches -fail-at.
//
// The DSN says the database: postgres://... or postgresql://... is
// PostgreSQL (pgdriver), file:... or a path ending in .db, .sqlite or
// .sqlite3 is SQLite, anything else a MySQL/MariaDB DSN
// (user:pass@tcp(host:port)/db). Connect as the role the application uses:
// the role findings are about it.
//
// Tenant tables are those given with -tables (table or table:column, comma
// separated), or else every table with a column named -column (default
// tenant_id). Flags:
//
//	-tables invoices,items:org_id   the registered tenant tables
//	-column tenant_id               the tenant column, for discovery and bare -tables entries
//	-shared currencies,countries    tables without tenant rows (not reported as copies)
//	-fail-at high                   exit 1 at or above: info, low, medium, high, critical
//	-collation exact                what bunhook is told: exact, folding or unknown
//	-setting app.tenant_id          the setting RLS policies must compare with
//	-no-rls                         skip the row-level security findings
//	-json                           print the report as JSON
//	-fix                            print only the fix DDL, as one migration script
//
// Exit status: 0 when no finding reaches -fail-at, 1 when one does, 2 when
// the check cannot run (bad flags, an unreachable database).
//
// audit verify checks audit trails written by package auditlog (package
// auditlog/auditverify): files of JSON lines from auditlog.JSONSink, or of
// the OpenTelemetry Collector's file exporter (OTLP/JSON), the format
// detected line by line, - for the standard input. Every stream (one per
// bus, so one per process) is merged over the files and checked: its
// sequence for gaps and conflicting duplicates, each record's hash and its
// link to the previous one, what each CHECKPOINT vouches for and its
// signature, and that the stream ends with the final checkpoint
// Bus.Shutdown writes. It prints each failure with its file:line. Flags:
//
//	-hmac-key k1=00ff...       an HMAC key of the chain by key id, in hex (repeatable)
//	-pubkey sig1=base64...     an Ed25519 public key of checkpoint signatures by id, in base64 (repeatable)
//	-require-signatures        fail unless every checkpoint's signature verifies with a -pubkey
//	-allow-unknown-keys        records under an HMAC key id without a -hmac-key are not a failure
//	-allow-open                a stream without its final checkpoint is not a failure
//	-json                      print the report as JSON
//
// Exit status: 0 when every stream is intact, 1 when one is not (or a line
// cannot be read), 2 when the check cannot run (bad flags, a missing file).
package main
