package bunhook

import (
	"strings"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

// Mode is the enforcement mode of a DB.
type Mode int32

const (
	// ModeEnforce blocks every violation (the default).
	ModeEnforce Mode = iota
	// ModeReport audits and traces would-be blocks but lets the statements
	// run, for rolling enforcement out on an existing codebase. Rows are
	// still scoped and tenants still filled where that changes nothing for a
	// correct program.
	ModeReport
)

func (m Mode) String() string {
	if m == ModeReport {
		return "report"
	}
	return "enforce"
}

// DefaultTenantColumn is the tenant column of a tenant-owned model whose
// embedded TenantOwned has no `tenant` tag.
const DefaultTenantColumn = "tenant_id"

// RLSSetting is the PostgreSQL setting that carries the tenant for row-level
// security policies.
const RLSSetting = "app.tenant_id"

type config struct {
	bus         *auditlog.Bus
	obs         *otelobs.Observer
	metrics     *otelobs.Metrics
	mode        Mode
	models      []any
	tables      map[string]string
	shared      []any    // models without tenant rows
	sharedNames []string // tables without tenant rows
	functions   []string // user-defined functions allowed under a scope
	allowDupKey bool
	rls         bool
	bunOpts     []bun.DBOption
	policy      scope.Policy
	policyAllow bool
	collation   Collation
	posture     *PostureCheck
}

// Collation says how the database compares the values of tenant columns,
// which decides whether two distinct tenant ids can match each other's rows.
type Collation int

const (
	// CollationDefault is CollationFolding on MySQL and MariaDB (whose
	// default collations, utf8mb4_general_ci and the *_ai_ci ones, ignore
	// case and accents) and CollationExact on PostgreSQL and SQLite.
	CollationDefault Collation = iota
	// CollationExact declares that tenant columns compare byte for byte (PostgreSQL's
	// deterministic collations, SQLite's BINARY, MySQL's *_bin with no
	// tenant ids that differ only in trailing spaces). Any valid tenant id
	// may be bound.
	CollationExact
	// CollationFolding declares that tenant columns compare case- or accent-insensitively
	// (MySQL *_ci and *_ai collations, SQLite NOCASE, PostgreSQL citext or a
	// nondeterministic collation), so 'acme' = 'ACME' and 'beta' = 'bëta'
	// there. Only canonical tenant ids are accepted on tenant tables: ASCII
	// without upper-case letters and without spaces, which such a collation
	// never folds together. A statement on a tenant table under another
	// tenant id fails with ErrFoldedTenant, since the database could
	// return or change the rows of the tenant it folds to.
	CollationFolding
)

// WithTenantCollation declares how the database compares tenant ids (default
// CollationDefault). On MySQL or MariaDB, make tenant columns exact with
// `ALTER TABLE t MODIFY tenant_id VARCHAR(64) CHARACTER SET ascii COLLATE
// ascii_bin NOT NULL` (or utf8mb4_bin) before declaring CollationExact.
func WithTenantCollation(c Collation) Option {
	return optionFunc(func(cfg *config) { cfg.collation = c })
}

// Option configures [Open].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithAuditBus sets the audit bus (default: auditlog.Default(), the
// process-wide bus that auditlog.Register adds sinks to).
func WithAuditBus(bus *auditlog.Bus) Option {
	return optionFunc(func(c *config) {
		if bus != nil {
			c.bus = bus
		}
	})
}

// WithObserver sets the observer (default: otelobs.Default()).
func WithObserver(obs *otelobs.Observer) Option {
	return optionFunc(func(c *config) {
		if obs != nil {
			c.obs = obs
		}
	})
}

// WithMetrics sets the metrics the guard records its decisions
// (tenantshield.decisions) and the time it takes to make them
// (tenantshield.guard.duration) on (default: otelobs.DefaultMetrics(), off
// until otelobs.ConfigureMetrics turns it on).
func WithMetrics(m *otelobs.Metrics) Option {
	return optionFunc(func(c *config) {
		if m != nil {
			c.metrics = m
		}
	})
}

// WithMode sets the enforcement mode (default: ModeEnforce).
func WithMode(m Mode) Option { return optionFunc(func(c *config) { c.mode = m }) }

// WithModels registers tenant-owned models (pass nil pointers, e.g.
// (*Invoice)(nil)). Open fails if one is not a valid tenant-owned model.
// Register every tenant-owned model here: raw SQL over a table is only guarded
// once the table is known.
func WithModels(models ...any) Option {
	return optionFunc(func(c *config) { c.models = append(c.models, models...) })
}

// WithTenantTable declares a tenant-owned table (or view) that has no model,
// with its tenant column, so that raw SQL over it is guarded.
func WithTenantTable(table, column string) Option {
	return optionFunc(func(c *config) {
		if c.tables == nil {
			c.tables = map[string]string{}
		}
		c.tables[strings.ToLower(table)] = column
	})
}

// WithSharedModels registers models whose tables hold no tenant's rows
// (reference data: currencies, plans, feature flags), which statements under
// a tenant scope may read and write. Under a tenant scope every relation a
// statement names must be registered, as tenant-owned or shared: a table,
// view, partition or catalog that is neither is refused (the closed world;
// see the package documentation). Open fails if a model embeds
// [TenantOwned] or its table is also registered tenant-owned.
func WithSharedModels(models ...any) Option {
	return optionFunc(func(c *config) { c.shared = append(c.shared, models...) })
}

// WithSharedTables registers tables (or views) without a model that hold no
// tenant's rows, like [WithSharedModels]. Names are plain identifiers
// without a schema; they match unqualified references and references
// qualified by a schema that is not a system schema.
func WithSharedTables(names ...string) Option {
	return optionFunc(func(c *config) { c.sharedNames = append(c.sharedNames, names...) })
}

// WithFunctions allows statements under a tenant scope to call the named
// user-defined functions. Only the dialect's value built-ins are allowed
// otherwise: a function that reads tables could read any tenant's rows
// without the SQL text showing it. Name only functions that read no tenant
// table.
func WithFunctions(names ...string) Option {
	return optionFunc(func(c *config) { c.functions = append(c.functions, names...) })
}

// WithDuplicateKeyUpdate allows MySQL/MariaDB INSERT ... ON DUPLICATE KEY
// UPDATE on tenant-owned tables. MySQL gives that clause no WHERE, so a key
// collision with another tenant's row would overwrite it: opt in only when
// every unique key of those tables includes the tenant column.
func WithDuplicateKeyUpdate() Option { return optionFunc(func(c *config) { c.allowDupKey = true }) }

// WithoutRLSSetting stops the PostgreSQL driver layer from setting
// app.tenant_id (on by default for PostgreSQL; the other dialects have no
// RLS). The setting is what row-level security policies read: without
// policies installed it protects nothing, and costs a SET in front of the
// statement (or, where the driver cannot carry it, a round trip) whenever a
// connection switches tenant.
func WithoutRLSSetting() Option { return optionFunc(func(c *config) { c.rls = false }) }

// WithBunOptions passes options to bun.NewDB.
func WithBunOptions(opts ...bun.DBOption) Option {
	return optionFunc(func(c *config) { c.bunOpts = append(c.bunOpts, opts...) })
}

// WithPolicy makes enforcement evaluate p for every statement on a
// tenant-owned table that passed the tenant checks, once per table, with the
// bound tenant, the table and the action (read for SELECT, delete for
// DELETE, write otherwise). A deny blocks the statement with a
// [*scope.PolicyError] (errors.Is scope.ErrPolicyDenied) and is audited as
// POLICY_DENY; statements under an explicit bypass are not evaluated.
func WithPolicy(p scope.Policy) Option {
	return optionFunc(func(c *config) { c.policy = p })
}

// WithPolicyAllowRecords also audits every allowed evaluation as
// POLICY_ALLOW. Off by default: a SIEM wants the denies, not a record per
// query.
func WithPolicyAllowRecords() Option {
	return optionFunc(func(c *config) { c.policyAllow = true })
}
