package posture

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Dialect names the database a check runs against.
type Dialect string

// The dialects Check understands.
const (
	Postgres Dialect = "postgres"
	MySQL    Dialect = "mysql" // MySQL and MariaDB
	SQLite   Dialect = "sqlite"
)

// Severity ranks a finding. The zero value is Info.
type Severity int

const (
	// Info is context that needs no change.
	Info Severity = iota
	// Low is a weakness that reveals little, or that the guard covers.
	Low
	// Medium degrades isolation without revealing rows: lock waits on
	// other tenants' rows, a backstop that is weaker than it should be.
	Medium
	// High lets another tenant's rows be learned (an existence oracle) or
	// switches the database's own backstop off.
	High
	// Critical lets correctly scoped statements read, change or delete
	// another tenant's rows.
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name, as written by MarshalText.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err == nil {
		*s = v
	}
	return err
}

// ParseSeverity returns the severity of a name: info, low, medium, high or
// critical (any case).
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(n, name) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("posture: unknown severity %q (want info, low, medium, high or critical)", name)
}

// Kind names what a finding is about. The names are stable: tests, alerts
// and suppressions may rely on them.
type Kind string

// The kinds of findings.
const (
	// Roles of the connection.
	RoleSuperuser       Kind = "role.superuser"        // PostgreSQL superuser: RLS never applies
	RoleBypassRLS       Kind = "role.bypassrls"        // BYPASSRLS, or a member of such a role
	RoleCreateRole      Kind = "role.createrole"       // can create or grant itself other roles
	RoleOwner           Kind = "role.owner"            // owns a tenant table: can switch RLS off
	RoleTruncate        Kind = "role.truncate"         // TRUNCATE ignores RLS
	RoleSuper           Kind = "role.super"            // MariaDB/MySQL SUPER
	RoleFile            Kind = "role.file"             // MariaDB/MySQL FILE: reads and writes server files
	RoleGrantOption     Kind = "role.grant_option"     // can pass its privileges on
	RoleDDL             Kind = "role.ddl"              // can alter or drop tenant tables
	RLSDisabled         Kind = "rls.disabled"          // no row-level security on a tenant table
	RLSNotForced        Kind = "rls.not_forced"        // the owner (and its definer functions) bypass RLS
	RLSNoPolicy         Kind = "rls.no_policy"         // RLS on, but no policy for the application
	RLSPolicy           Kind = "rls.policy"            // a policy that does not restrict to the tenant setting
	KeyPrimary          Kind = "key.primary"           // primary key without the tenant column
	KeyUnique           Kind = "key.unique"            // unique key or index without the tenant column
	KeyForeign          Kind = "key.foreign"           // foreign key between tenant tables without the tenant column
	KeyUnchecked        Kind = "key.unchecked"         // MySQL foreign_key_checks off: no foreign key is enforced
	IndexTenant         Kind = "index.tenant"          // no index leads with the tenant column
	CollationFolding    Kind = "collation.folding"     // the tenant column folds case, accents or padding
	RelationPartition   Kind = "relation.partition"    // a partition of a tenant table, not registered
	RelationInherits    Kind = "relation.inherits"     // an inheritance child of a tenant table, not registered
	RelationView        Kind = "relation.view"         // a view over a tenant table
	RelationCopy        Kind = "relation.copy"         // an unregistered table with a tenant column
	FunctionDefiner     Kind = "function.definer"      // SECURITY DEFINER owned by a role that bypasses RLS
	FunctionSetsSetting Kind = "function.sets_setting" // a function or trigger that changes the tenant setting
	TableMissing        Kind = "table.missing"         // a registered table the database does not have
	ColumnMissing       Kind = "table.missing_column"  // a registered table without its tenant column
)

// Table is a registered tenant table: its name (optionally qualified by a
// PostgreSQL schema) and its tenant column.
type Table struct {
	Name   string `json:"name"`
	Column string `json:"column"`
}

// Finding is one weakness of the schema or the role.
type Finding struct {
	Kind     Kind     `json:"kind"`
	Severity Severity `json:"severity"`
	// Table is the tenant table concerned ("" for the role).
	Table string `json:"table,omitempty"`
	// Object is the constraint, index, policy, view, role or function.
	Object string `json:"object,omitempty"`
	// Message says what is wrong; Why, what it lets an attacker do.
	Message string `json:"message"`
	Why     string `json:"why"`
	// Fix holds the DDL that removes the finding, in order; Advice what to
	// do where DDL alone cannot (role changes, registering a table).
	Fix    []string `json:"fix,omitempty"`
	Advice string   `json:"advice,omitempty"`

	steps []step
}

// step is one fix statement and the phase of a migration it belongs to.
type step struct {
	phase phase
	sql   string
}

type phase int

const (
	phaseDropForeign phase = iota // foreign keys that keys or columns below depend on
	phaseColumn                   // column types and collations
	phaseKey                      // primary and unique keys
	phaseIndex                    // plain indexes
	phaseForeign                  // composite foreign keys
	phaseRLS                      // row-level security and policies
	phaseOther                    // views, functions
)

// Report is the result of a check.
type Report struct {
	Dialect Dialect `json:"dialect"`
	// Database is the database (MariaDB, PostgreSQL) or file (SQLite);
	// Role the user the check connected as.
	Database string    `json:"database,omitempty"`
	Role     string    `json:"role,omitempty"`
	Tables   []Table   `json:"tables"`
	Findings []Finding `json:"findings"`
	// TenantForeignKeys are the foreign keys between tenant tables that
	// pair the two tenant columns (the safe shape), which the database
	// enforces on every statement: bunhook's TrustForeignKeys relies on
	// them. Not filled on SQLite, which enforces foreign keys only on
	// connections that ask for it.
	TenantForeignKeys []ForeignKey `json:"tenant_foreign_keys,omitempty"`
}

// Worst returns the highest severity of the report's findings, and false
// when it has none.
func (r *Report) Worst() (Severity, bool) {
	if len(r.Findings) == 0 {
		return 0, false
	}
	return r.Findings[0].Severity, true
}

// AtLeast returns the findings of severity floor or above.
func (r *Report) AtLeast(floor Severity) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Severity >= floor {
			out = append(out, f)
		}
	}
	return out
}

// Err returns nil when no finding reaches floor, and otherwise an
// *UnsafeError (errors.Is ErrUnsafe) listing those that do.
func (r *Report) Err(floor Severity) error {
	if fs := r.AtLeast(floor); len(fs) > 0 {
		return &UnsafeError{Report: r, Min: floor, Findings: fs}
	}
	return nil
}

// FixSQL returns the fix statements of every finding in an order that can
// run as one migration: foreign keys are dropped first, then columns,
// keys, indexes, composite foreign keys, row-level security and the rest.
// A tenant-leading index is left out when a key of the same table is being
// rebuilt with the tenant column first. Role findings have no statements
// (see their Advice).
func (r *Report) FixSQL() []string {
	rebuilt := map[string]bool{}
	for _, f := range r.Findings {
		if (f.Kind == KeyPrimary || f.Kind == KeyUnique) && len(f.steps) > 0 {
			rebuilt[f.Table] = true
		}
	}
	var steps []step
	seen := map[string]bool{}
	for _, f := range r.Findings {
		if f.Kind == IndexTenant && rebuilt[f.Table] {
			continue
		}
		for _, s := range f.steps {
			if !seen[s.sql] {
				seen[s.sql] = true
				steps = append(steps, s)
			}
		}
	}
	slices.SortStableFunc(steps, func(a, b step) int { return int(a.phase) - int(b.phase) })
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.sql
	}
	return out
}

// Apply runs the report's FixSQL on db in order, stopping at the first
// error (which names the statement). Run it as the role that owns the
// tables (the migration role), not the application's; on PostgreSQL run it
// inside a transaction if the whole migration must apply or nothing.
func (r *Report) Apply(ctx context.Context, db Execer) error {
	for _, s := range r.FixSQL() {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("posture: applying %q: %w", s, err)
		}
	}
	return nil
}

// WriteText writes the report for a person: a summary line, then each
// finding with why it matters and its fix.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "tenantshield posture: %s", r.Dialect)
	if r.Database != "" {
		fmt.Fprintf(&b, " database %q", r.Database)
	}
	if r.Role != "" {
		fmt.Fprintf(&b, " as %q", r.Role)
	}
	fmt.Fprintf(&b, ", %d tenant tables: %s\n", len(r.Tables), r.summary())
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n%-8s %s", strings.ToUpper(f.Severity.String()), f.Kind)
		if f.Table != "" {
			fmt.Fprintf(&b, " %s", f.Table)
		}
		fmt.Fprintf(&b, ": %s\n  why: %s\n", f.Message, f.Why)
		for _, s := range f.Fix {
			fmt.Fprintf(&b, "  fix: %s;\n", s)
		}
		if f.Advice != "" {
			fmt.Fprintf(&b, "  advice: %s\n", f.Advice)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) summary() string {
	if len(r.Findings) == 0 {
		return "no findings"
	}
	var counts [len(severityNames)]int
	for _, f := range r.Findings {
		if f.Severity >= 0 && int(f.Severity) < len(counts) {
			counts[f.Severity]++
		}
	}
	var parts []string
	for s := len(counts) - 1; s >= 0; s-- {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], Severity(s)))
		}
	}
	return fmt.Sprintf("%d findings (%s)", len(r.Findings), strings.Join(parts, ", "))
}

// ErrUnsafe is matched (errors.Is) by the error of a report with findings at
// or above the severity a caller refuses.
var ErrUnsafe = errors.New("posture: the database schema or role is unsafe for tenant isolation")

// UnsafeError lists the findings that made a check fail.
type UnsafeError struct {
	Report   *Report
	Min      Severity
	Findings []Finding
}

func (e *UnsafeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "posture: %d findings at or above %s:", len(e.Findings), e.Min)
	for i, f := range e.Findings {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(e.Findings)-i)
			break
		}
		sep := " "
		if i > 0 {
			sep = "; "
		}
		fmt.Fprintf(&b, "%s%s %s", sep, f.Kind, f.Table)
		if f.Object != "" {
			fmt.Fprintf(&b, " (%s)", f.Object)
		}
	}
	b.WriteString(" (the report's WriteText or `tenantshield posture` gives the DDL that fixes each)")
	return b.String()
}

// Is reports whether target is ErrUnsafe.
func (e *UnsafeError) Is(target error) bool { return target == ErrUnsafe }

// Querier is what Check reads the catalogs through: *sql.DB, *sql.Conn,
// *sql.Tx and bun's DB, Conn and Tx all are. Check passes no arguments with
// its queries, so any placeholder style works.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Execer is what Apply runs statements through.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Option configures Check.
type Option func(*config)

type config struct {
	setting   string
	rls       bool
	shared    map[string]bool
	collation CollationDeclared
}

// CollationDeclared is what the caller told its enforcement about the tenant
// columns' collation, which decides how serious a folding collation is.
type CollationDeclared int

const (
	// CollationUnknown means nothing was declared; a folding collation is
	// High.
	CollationUnknown CollationDeclared = iota
	// CollationExactDeclared means the guard trusts the column to compare byte
	// for byte, so a folding collation is Critical (tenant "acme" would
	// reach the rows of "ACME").
	CollationExactDeclared
	// CollationFoldingDeclared means the guard accepts only canonical tenant
	// ids, which no collation folds together; a folding collation is Low.
	CollationFoldingDeclared
)

// WithSetting names the PostgreSQL setting that RLS policies must compare
// the tenant column with (default "app.tenant_id").
func WithSetting(name string) Option { return func(c *config) { c.setting = name } }

// WithoutRLS skips the row-level security findings, for applications that
// chose not to use RLS (bunhook.WithoutRLSSetting). The role findings stay.
func WithoutRLS() Option { return func(c *config) { c.rls = false } }

// WithSharedTables names tables that hold no tenant's rows, so that a
// tenant column on them is not reported as an unregistered copy.
func WithSharedTables(names ...string) Option {
	return func(c *config) {
		for _, n := range names {
			c.shared[strings.ToLower(n)] = true
		}
	}
}

// WithCollation says what the enforcement was told about the tenant
// columns' collation.
func WithCollation(d CollationDeclared) Option { return func(c *config) { c.collation = d } }

// Check inspects the catalogs of db, a database of dialect d, for the
// registered tenant tables and returns the report. An error means the
// check could not run (a catalog query failed); findings are not errors
// (see Report.Err).
func Check(ctx context.Context, db Querier, d Dialect, tables []Table, opts ...Option) (*Report, error) {
	c := &config{setting: "app.tenant_id", rls: true, shared: map[string]bool{}}
	for _, o := range opts {
		o(c)
	}
	for _, t := range tables {
		if t.Name == "" || t.Column == "" {
			return nil, fmt.Errorf("posture: table %+v needs a name and a tenant column", t)
		}
	}
	r := &Report{Dialect: d, Tables: slices.Clone(tables)}
	var err error
	switch d {
	case Postgres:
		err = checkPostgres(ctx, db, c, r)
	case MySQL:
		err = checkMySQL(ctx, db, c, r)
	case SQLite:
		err = checkSQLite(ctx, db, c, r)
	default:
		return nil, fmt.Errorf("posture: unknown dialect %q (want postgres, mysql or sqlite)", d)
	}
	if err != nil {
		return nil, err
	}
	r.sort()
	return r, nil
}

func (r *Report) sort() {
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		if a.Severity != b.Severity {
			return int(b.Severity) - int(a.Severity)
		}
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		if c := strings.Compare(a.Table, b.Table); c != 0 {
			return c
		}
		return strings.Compare(a.Object, b.Object)
	})
}

// add appends a finding whose Fix is the SQL of its steps.
func (r *Report) add(f Finding, steps ...step) {
	f.steps = steps
	for _, s := range steps {
		f.Fix = append(f.Fix, s.sql)
	}
	r.Findings = append(r.Findings, f)
}

// collationSeverity is how serious a folding tenant column is, given what
// was declared.
func (c *config) collationSeverity() Severity {
	switch c.collation {
	case CollationExactDeclared:
		return Critical
	case CollationFoldingDeclared:
		return Low
	}
	return High
}

// queryRows runs query and calls scan for each row.
func queryRows(ctx context.Context, db Querier, query string, scan func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("posture: catalog query failed: %w (query: %s)", err, firstLine(query))
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("posture: reading catalog rows: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("posture: reading catalog rows: %w", err)
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// hasColumn reports whether cols contains col (case-insensitively, as both
// databases fold unquoted names).
func hasColumn(cols []string, col string) bool {
	for _, c := range cols {
		if strings.EqualFold(c, col) {
			return true
		}
	}
	return false
}

// missingTable is the finding of a registered table the database does not
// have; where says where the check looked.
func missingTable(t Table, where, advice string) Finding {
	return Finding{Kind: TableMissing, Severity: Medium, Table: t.Name,
		Message: fmt.Sprintf("registered tenant table %q is not in %s", t.Name, where),
		Why:     "nothing protects a table the check cannot see; a registration that names no table hides a typo",
		Advice:  advice}
}

// missingColumn is the finding of a registered table without its tenant
// column.
func missingColumn(t Table) Finding {
	return Finding{Kind: ColumnMissing, Severity: Medium, Table: t.Name, Object: t.Column,
		Message: fmt.Sprintf("table %s has no column %q", t.Name, t.Column),
		Why:     "the registered tenant column does not exist: every scoped statement on the table fails",
		Advice:  "correct the registration or add the column"}
}

// unregisteredCopy is the finding of a table with a tenant column that is
// not registered; rls adds the advice to give it row-level security.
func unregisteredCopy(table, column string, rls bool) Finding {
	f := Finding{Kind: RelationCopy, Severity: High, Table: table, Object: column,
		Message: fmt.Sprintf("table %s has a tenant column %q but is not registered", table, column),
		Why:     "it looks like a copy of tenant rows (a backup, an import, a rename) that no registration protects",
		Advice:  "register it (bunhook.WithTenantTable or a TenantOwned model), or register it as shared if its rows belong to no tenant"}
	if rls {
		f.Why = "it looks like a copy of tenant rows (a backup, an import, a rename) that no policy and no registration protects"
		f.Advice = "register it (bunhook.WithTenantTable or a TenantOwned model) and give it RLS, or register it as shared if its rows belong to no tenant"
	}
	return f
}
