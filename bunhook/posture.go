package bunhook

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/bunhook/internal/sqlguard"
	"github.com/tenantshield/tenantshield-go/bunhook/posture"
	"github.com/tenantshield/tenantshield-go/scope"
)

// Posture checks the database behind db for the defences the guard cannot
// provide (package posture): it inspects the catalogs, as the role db
// connects as, for every tenant table registered with db, and returns the
// report. Options are passed to posture.Check after the ones Posture derives
// from db's configuration (the dialect, the tables, the shared tables, the
// RLS setting, the declared collation).
//
// It reads only catalogs, never a tenant table's rows. Catalog reads that
// name a tenant table (SQLite's pragma_table_info('invoices'), for
// instance) run under a scope.WithBypass whose reason is PostureReason, so
// the audit trail records them as ENFORCEMENT_BYPASS.
func Posture(ctx context.Context, db *bun.DB, opts ...posture.Option) (*posture.Report, error) {
	e, ok := EnforcerOf(db)
	if !ok {
		return nil, ErrNotInstalled
	}
	d, tables, derived := e.postureInputs()
	ctx, err := scope.WithBypass(ctx, PostureReason)
	if err != nil {
		return nil, err
	}
	return posture.Check(ctx, db.DB, d, tables, append(derived, opts...)...)
}

// PostureReason is the bypass reason of the posture check's catalog reads.
const PostureReason = "tenantshield posture check: reads the catalogs of the tenant tables"

// postureInputs returns what posture.Check needs to know of e's
// configuration.
func (e *Enforcer) postureInputs() (posture.Dialect, []posture.Table, []posture.Option) {
	var d posture.Dialect
	switch e.dialect {
	case sqlguard.Postgres:
		d = posture.Postgres
	case sqlguard.MySQL:
		d = posture.MySQL
	default:
		d = posture.SQLite
	}
	e.mu.Lock()
	tables := make([]posture.Table, 0, len(e.tables))
	for t, col := range e.tables {
		tables = append(tables, posture.Table{Name: t, Column: col})
	}
	shared := slices.Clone(e.sharedNames)
	e.mu.Unlock()
	slices.SortFunc(tables, func(a, b posture.Table) int { return strings.Compare(a.Name, b.Name) })
	coll := posture.CollationExactDeclared
	if e.folding {
		coll = posture.CollationFoldingDeclared
	}
	opts := []posture.Option{posture.WithSetting(RLSSetting), posture.WithSharedTables(shared...), posture.WithCollation(coll)}
	if !e.rls {
		opts = append(opts, posture.WithoutRLS())
	}
	return d, tables, opts
}

// PostureCheck configures the posture check [Open] runs with
// [WithPostureCheck].
type PostureCheck struct {
	// FailAt is the lowest severity that makes Open fail (with an error
	// matching posture.ErrUnsafe that lists the findings). Findings below
	// it are passed to Warn.
	FailAt posture.Severity
	// Warn receives the report when it has findings below FailAt (and
	// none at or above). Nil logs each finding with slog.Default at level
	// Warn.
	Warn func(*posture.Report)
	// Timeout bounds the check (default 30 s). A check that cannot run (an
	// unreachable database, a catalog query refused) makes Open fail.
	Timeout time.Duration
	// Options are passed to posture.Check.
	Options []posture.Option
	// TrustForeignKeys skips bunhook's own check of a reference between
	// tenant tables (the query that makes sure a model INSERT or UPDATE
	// refers to a row of the bound tenant, one per referenced table and
	// write) where the check finds the database enforcing it with a foreign
	// key that pairs the tenant columns, FOREIGN KEY (tenant_id,
	// invoice_id) REFERENCES invoices (tenant_id, id): on PostgreSQL and
	// MySQL, not SQLite. A write that refers to another tenant's row then
	// fails with the database's foreign-key error, the same error as for a
	// row that does not exist (so it reveals nothing), and is not audited
	// as an ENFORCEMENT_VIOLATION: the database cannot tell the two apart.
	TrustForeignKeys bool
}

// WithPostureCheck makes [Open] run the posture check against the database,
// as the role the DB connects as, once the models of [WithModels] are
// registered: Open fails when a finding reaches c.FailAt and reports the
// others to c.Warn. Without this option Open does not connect to the
// database; call [Posture] at any time instead (e.g. from a readiness
// probe, or after later RegisterModels calls).
func WithPostureCheck(c PostureCheck) Option {
	return optionFunc(func(cfg *config) { cfg.posture = &c })
}

// runPosture runs the check of c on db for Open.
func runPosture(db *bun.DB, c *PostureCheck) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r, err := Posture(ctx, db, c.Options...)
	if err != nil {
		return fmt.Errorf("bunhook.Open: the posture check could not run (open without WithPostureCheck to skip it): %w", err)
	}
	if err := r.Err(c.FailAt); err != nil {
		return fmt.Errorf("bunhook.Open: %w", err)
	}
	if c.TrustForeignKeys {
		if e, ok := EnforcerOf(db); ok {
			e.trustForeignKeys(r.TenantForeignKeys)
		}
	}
	if len(r.Findings) == 0 {
		return nil
	}
	if c.Warn != nil {
		c.Warn(r)
		return nil
	}
	for _, f := range r.Findings {
		slog.Default().Warn("tenantshield posture finding", "kind", string(f.Kind), "severity", f.Severity.String(),
			"table", f.Table, "object", f.Object, "message", f.Message, "why", f.Why, "fix", f.Fix, "advice", f.Advice)
	}
	return nil
}

// trustForeignKeys marks the references that fks enforce: two-column keys
// of a tenant column and one reference column each.
func (e *Enforcer) trustForeignKeys(fks []posture.ForeignKey) {
	tables := e.Tables()
	for _, fk := range fks {
		if len(fk.Columns) != 2 || len(fk.ParentColumns) != 2 {
			continue
		}
		for i := range 2 {
			j := 1 - i
			col, ok := tables[fk.Table]
			pcol, pok := tables[fk.Parent]
			if ok && pok && strings.EqualFold(fk.Columns[i], col) && strings.EqualFold(fk.ParentColumns[i], pcol) {
				e.refs.trust(fk.Table, fk.Columns[j], fk.Parent, fk.ParentColumns[j])
			}
		}
	}
}
