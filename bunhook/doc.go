// Package bunhook enforces tenant isolation on the ORM bun
// (github.com/uptrace/bun): every query on a tenant-owned table is scoped to
// the tenant bound in its context (package scope), or explicitly bypassed and
// audited, or it never reaches the database.
//
// # Declaring tenant-owned models
//
// A model is tenant-owned when it embeds [TenantOwned] by value and has a
// string column holding the tenant, "tenant_id" unless the embedded field's
// `tenant` tag names another:
//
//	type Invoice struct {
//		bun.BaseModel `bun:"table:invoices,alias:invoice"`
//		bunhook.TenantOwned
//		ID       int64  `bun:",pk,autoincrement"`
//		TenantID string `bun:",notnull"`
//		Number   string
//	}
//
//	type Order struct {
//		bun.BaseModel `bun:"table:orders"`
//		bunhook.TenantOwned `tenant:"org_id"`
//		ID    int64  `bun:",pk,autoincrement"`
//		OrgID string `bun:"org_id,notnull"`
//	}
//
// Tables that are not tenant-owned are never touched.
//
// # Opening the database
//
// [Open] (or the driver helpers in bunhook/sqlitedb, bunhook/pgdb and
// bunhook/mysqldb) returns the application's *bun.DB with all layers
// installed; register the tenant-owned models there ([WithModels]) so that
// raw SQL over their tables is guarded from the first query:
//
//	db, err := sqlitedb.Open("file::memory:?cache=shared", bunhook.WithModels((*Invoice)(nil)),
//		bunhook.WithSharedModels((*Currency)(nil)))
//
// # The closed world
//
// Under a tenant scope a statement runs only if the guard knows every
// relation it names and every function it calls. Relations: the tenant-owned
// tables (models given to [WithModels], tables and views given to
// [WithTenantTable]), the shared tables that hold no tenant's rows
// ([WithSharedModels], [WithSharedTables], [RegisterSharedModels]), and the
// statement's own CTEs and derived tables. Functions: the dialect's value
// built-ins and those named with [WithFunctions]. Anything else (a view, a
// partition, a copy, a catalog, a table function, a user-defined function)
// is refused with [scope.ErrUnscopedQuery] naming it. So are, whatever they
// name, the statement kinds the guard cannot see through (dynamic SQL, DDL,
// privileges, server settings, files). With no tenant bound, statements on
// tenant-owned tables fail closed and the others run; under
// [scope.WithBypass] everything runs, audited.
//
// Tenant ids must be distinct for the database: on a case- or
// accent-insensitive tenant column (the default on MySQL and MariaDB; see
// [Collation] and [WithTenantCollation]) only canonical ids reach tenant
// tables, others fail with [ErrFoldedTenant].
//
// # How it enforces
//
// Layer 1, the model hooks on [TenantOwned]: SELECT (Scan, ScanAndCount),
// UPDATE and DELETE (soft deletes included) get the tenant predicate, and
// has-one/belongs-to joins of tenant tables get it in their ON clause; INSERT
// and UPDATE rows get an empty tenant filled and a foreign one rejected
// ([scope.ErrCrossTenant]); a top-level WhereOr, which would let rows escape
// the predicate, is rejected with a message to use WhereGroup; a query with no
// tenant bound fails with [scope.ErrNoTenant].
//
// Layer 2, the guard query hook, sees the final SQL of every statement,
// including the paths where bun runs no model hook (Count, Exists, Rows,
// SelectQuery.Exec, the count of ScanAndCount with a limit, map models,
// Table() without a model, NewRaw, DB/Tx/Conn ExecContext and QueryContext,
// MERGE, TRUNCATE, DDL), and sends it through the statement pipeline:
//
//  1. classify: a statement that names no tenant-owned table runs untouched,
//     unless a tenant is bound: then its kind, relations and functions must
//     be known (the closed world);
//  2. resolve the tenant, or the bypass: under [scope.WithBypass] it runs
//     unscoped and audited; with no tenant bound it is blocked;
//  3. verify, and rescope: the SQL verifier proves that every occurrence of
//     every tenant-owned table is restricted to the bound tenant and that no
//     write moves a row to another tenant; a model SELECT that bun did not
//     hook (Count, Exists, Rows, Exec) is re-rendered with the tenant
//     predicate and verified again, so it is scoped automatically. A
//     statement of a shape verified before for the same tenant (the same
//     text but for its integer literals, such as a point select of another
//     id) takes the verifier's cached verdict instead of a parse;
//  4. policy: the [scope.Policy] given with [WithPolicy], per tenant table;
//  5. record: the decision, once, on the audit bus and on the trace;
//  6. veto: the decision travels on the statement's context to layer 3.
//
// Anything that cannot be verified is blocked with an error matching
// [scope.ErrUnscopedQuery] (or ErrNoTenant, ErrCrossTenant) whose message
// names the fix.
//
// Layer 3, the driver layer (a driver.Connector wrapper), carries out the
// decision before the statement leaves the process (on DB, Tx and Conn
// alike): it returns the veto instead of running the statement, runs the
// re-rendered statement in place of the original, and on PostgreSQL keeps
// app.tenant_id equal to each statement's tenant before it runs, in
// transactions transaction-locally (for row-level security policies, layer
// 4, see [RLSPolicySQL]): nothing is sent while the value holds; a change
// travels in the statement's own round trip ("SET ...; statement") for a
// statement without arguments opened with pgdb.Open (pgdriver), and for an
// Exec with pgdb.OpenPgx, and costs a round trip of its own otherwise (pgx
// queries, prepared statements, statements with arguments). No unscoped
// statement, nor the bare driver connection, inherits a tenant. Statements
// that never passed the guard hook go through the same pipeline by their
// text: SQL sent through the *sql.DB or *sql.Tx that bun embeds (db.DB, tx.Tx),
// prepared statements (again at every execution, with the executing
// context), sql.Conn.Raw, and any *bun.DB built over the same pool without
// the hook. Only the driver's own connection, reached with conn.Raw and
// Unwrap (for COPY), is unguarded.
//
// A bun.ConnResolver given with [WithBunOptions] (read replicas) may route a
// statement to a pool Open did not wrap, which would ignore the guard's
// decision; a statement on a tenant table routed there fails with
// [scope.ErrUnscopedQuery]. Open every replica with Open and give the
// resolver its DB.
//
// # Bypass, report-only mode and reporting
//
// A context marked with scope.WithBypass runs unscoped; every statement on a
// tenant table under it is audited as ENFORCEMENT_BYPASS with the reason and
// the caller's location. [WithMode](ModeReport) audits and traces would-be
// blocks without blocking, for rolling the module out on an existing
// codebase. Every blocked operation is reported on both paths: a
// tenant.read.blocked or tenant.write.blocked span event when observability
// is on, and an ENFORCEMENT_VIOLATION audit record when a sink is registered.
//
// # What you lose by building the *bun.DB another way
//
// The model hooks find their configuration through the connector that Open
// installs. On a *bun.DB built with bun.NewDB over your own *sql.DB, queries
// on tenant-owned models fail closed with [ErrNotInstalled]; queries that run
// no model hook (raw SQL, Table(), map models, Count, ...) are not guarded at
// all, and nothing can block a statement before it leaves the process. (A
// second bun.NewDB over the *sql.DB of a DB that Open returned keeps the
// model hooks and the connector's text check, but loses the guard's
// re-rendering: Count and friends on it are blocked, not scoped.)
//
// # API
//
// The names adopters use: [Open] and its options ([WithModels],
// [WithTenantTable], [WithSharedModels], [WithSharedTables],
// [WithFunctions], [WithTenantCollation], [WithAuditBus], [WithObserver],
// [WithMode], [WithPolicy], [WithPolicyAllowRecords],
// [WithDuplicateKeyUpdate], [WithoutRLSSetting], [WithBunOptions],
// [WithPostureCheck] with [PostureCheck]); the
// driver helpers in bunhook/sqlitedb, bunhook/pgdb and bunhook/mysqldb;
// [TenantOwned]; [Scope]; [RegisterModels] and [RegisterSharedModels];
// [EnforcerOf] with [Enforcer.Mode], [Enforcer.SetMode] and
// [Enforcer.Tables]; [RLSPolicySQL] and [EnableRLS]; [Posture] (the
// posture check of package bunhook/posture, which also holds the DDL
// builders of the safe schema); [DSNConnector]; the
// errors [ErrNotInstalled], [ErrModel] and [ErrFoldedTenant] (every other
// enforcement error matches a sentinel of package scope). Everything else
// lives in internal packages: internal/sqlguard (the SQL verifier),
// internal/driverwrap (the driver layer) and internal/bunx (bun internals
// read by reflection).
//
// Files, in the order a statement meets them: open.go and options.go build
// the DB; model.go is layer 1; hook.go is layer 2's entry, pipeline.go the
// steps and record.go step 5; gate.go is the driver layer's view of the
// pipeline; subquery.go is [Scope]; resolver.go guards read replicas;
// registry.go is the Enforcer and its tables; rls.go is layer 4;
// posture.go runs the posture check for Open and [Posture].
package bunhook
