// Package tenantvet holds go/analysis analyzers that catch tenant isolation
// mistakes in code that uses bunhook, at review time rather than at run time.
// The command cmd/tenantshieldvet runs them, through go vet:
//
//	go install github.com/tenantshield/tenantshield-go/cmd/tenantshieldvet@latest
//	go vet -vettool=$(go env GOPATH)/bin/tenantshieldvet ./...
//
// # Analyzers
//
// tenantowned reports nothing. It finds the named struct types that embed
// bunhook.TenantOwned by value and exports, as a fact on the type, the table
// bun maps them to and their tenant column: the table is the name or the
// table: option of the `bun:"..."` tag of the embedded bun.BaseModel, else
// bun's default (the snake_case type name made plural, as bun does it); the
// column is the `tenant:"..."` tag of the embedded TenantOwned, else
// "tenant_id". A column default changed at run time (an option of
// bunhook.Open) is not seen. The other analyzers know the tenant tables of
// the analyzed package and of the packages it depends on.
//
// rawsql reports raw SQL on a bun handle: the text of NewRaw, Exec, Query,
// QueryRow and their Context forms on *bun.DB, bun.Tx, bun.Conn and bun.IDB,
// and of TableExpr, ModelTableExpr and ColumnExpr on bun's queries, when the
// text is a constant that names a tenant table (a word match of the table
// name, without schema) but not its tenant column followed by "=", or when the
// text is not a constant (it cannot be checked). For the query-builder
// methods the predicate may be in the constant text of another clause of the
// same call chain (Where, Join, JoinOn, TableExpr, ModelTableExpr,
// ColumnExpr). The check is textual: it does not parse SQL. ModelTableExpr
// may name the query's own model table (the model hooks scope it). A call whose chain takes as context a local
// variable only ever assigned from scope.WithBypass (not a parameter, not a
// variable also assigned anything else) is a declared bypass and is not
// reported.
//
// bypassreason reports scope.WithBypass calls whose reason is not a constant
// non-empty string, so that the audit trail stays greppable.
//
// backgroundctx reports a bun query executed (Scan, Exec, Count,
// ScanAndCount, Exists, Rows) with context.Background() or context.TODO()
// written directly as its context argument when the query chain names a
// tenant-owned model (Model, a constant Table, or the destination of Scan):
// such a query can only fail at run time with scope.ErrNoTenant. A query
// built in a variable and executed later is not followed.
//
// detachedctx reports goroutines that drop the tenant context: a go
// statement in a function that has a context (a context.Context or
// *http.Request parameter, its own or an enclosing function's) that passes
// context.Background() or context.TODO() to the function it starts, or
// whose function literal makes a fresh context that way. A fresh context
// given to scope.Run, Bind, NewContext or WithBypass binds a tenant or a
// bypass explicitly and is not reported, nor one given to a bun query
// (backgroundctx's). Functions without a context (main, init, workers)
// start fresh by design and are not checked.
//
// jobctx reports River job inserts (Insert, InsertTx, InsertMany and their
// Tx and Fast forms on a *river.Client) made with context.Background() or
// context.TODO(): scope/scoperiver takes the job's tenant from that context,
// so the insert can only fail with scope.ErrNoTenant. A single insert whose
// arguments implement scoperiver.MaintenanceArgs is enqueued without a
// tenant on purpose and is not reported.
//
// bypassreason's -bypassreason.manifest=FILE flag appends every
// scope.WithBypass site (package, file name, line, quoted reason) to FILE,
// the bypass manifest that scope.ParseBypassSites and scope.SetBypassSites
// use at run time to report a bypass declared at a site the last review
// did not see.
//
// tenantignore reports malformed ignore directives (below).
//
// # Ignore directives
//
// A deliberate raw or bypass use is silenced by a comment on the line of the
// diagnostic or on the line before it:
//
//	//tenantshield:ignore rawsql DDL from quoted identifiers, caller holds a bypass
//
// The directive names one check (rawsql, bypassreason, backgroundctx,
// detachedctx, jobctx) and
// must give a reason; a directive without a reason silences nothing and is
// itself reported by tenantignore.
package tenantvet
