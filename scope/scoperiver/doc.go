// Package scoperiver carries the tenant into background jobs run by River
// (github.com/riverqueue/river), the door through which, across ecosystems,
// tenant data most often leaks: a job that runs without its tenant, or with
// the previous job's tenant on a reused worker.
//
// One [Middleware] does both sides. Install it in river.Config.Middleware
// (after otelriver's middleware when you trace River, so that the audit
// records of a job carry its work span):
//
//	keys, err := scoperiver.NewKeyring(scoperiver.Key{ID: "jobs-2026-12", Secret: secret})
//	mw, err := scoperiver.NewMiddleware(keys)
//	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
//		Middleware: []rivertype.Middleware{otelriver.NewMiddleware(nil), mw},
//		Queues:     map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 8}},
//		Workers:    workers,
//	})
//	err = scope.Run(ctx, tenant, func(ctx context.Context) error {
//		_, err := client.Insert(ctx, SendInvoiceArgs{InvoiceID: 42}, nil) // tagged with tenant
//		return err
//	})
//
// At insert, the tenant is taken from the context (never from the job's
// arguments or metadata) and stored in the job's metadata under
// [MetadataKey] with an integrity tag: an HMAC-SHA256, made with the signing
// key of a [Keyring] and naming the key's id, over the tenant, the job kind
// and the job's arguments. Inserting with no tenant bound fails with an
// [*InsertError] matching [scope.ErrNoTenant], audited as
// ENFORCEMENT_VIOLATION; nothing of the batch is inserted.
//
// At work, the tag is verified against the job as stored and the tenant is
// validated, then bound with [scope.Binder.Run] on the context River made
// for this job: CONTEXT_BOUND when it starts, CONTEXT_RELEASED when it ends,
// and the worker's queries through bunhook are enforced for that tenant. A
// job with no claim, a malformed one, an unknown key, a tag that does not
// match (a tenant edited in the database, a claim copied onto another job's
// arguments) or an invalid tenant never reaches its worker: it is cancelled
// with a [*JobError] and audited as ENFORCEMENT_VIOLATION.
//
// Jobs that span tenants implement [MaintenanceArgs]: they are enqueued
// without a tenant and run under [scope.WithBypass] with the constant reason
// the arguments give, audited as ENFORCEMENT_BYPASS.
//
// # River's own tables
//
// Give River its own connection pool (riverpgxv5 over a pgxpool.Pool), not
// the *bun.DB that bunhook opened: River's statements on river_job and the
// other river_* tables are not the application's tenant data, and under a
// tenant scope bunhook's closed world would refuse them as statements on
// unregistered tables. The workers' own queries go through the bunhook
// *bun.DB with the context River passes them.
//
// # Keys
//
// Every process that enqueues or works the same jobs needs the same keyring.
// Rotate by adding the new key as a verify-only key everywhere, then making
// it the signing key, then removing the old key once no job it tagged is
// left. A job tagged with a key the keyring no longer holds is refused with
// [ErrUnknownKey].
package scoperiver
