// Command quickstart shows TenantShield for Go end to end on an embedded
// SQLite database, with no setup: two tenants, a scoped read, a blocked
// cross-tenant write, a blocked read with no tenant bound, an audited bypass,
// and the audit trail they leave.
//
//	go run ./examples/quickstart
//	go run ./examples/quickstart -audit audit.jsonl   # also write the trail as JSON lines
//	go run ./cmd/tenantshield audit verify audit.jsonl  # and check that it is complete and untouched
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/bunhook/sqlitedb"
	"github.com/tenantshield/tenantshield-go/scope"
)

// Invoice is tenant-owned: it embeds bunhook.TenantOwned and has a tenant_id
// column.
type Invoice struct {
	bun.BaseModel `bun:"table:invoices,alias:invoice"`
	bunhook.TenantOwned
	ID       int64  `bun:",pk,autoincrement"`
	TenantID string `bun:",notnull"`
	Number   string `bun:",notnull"`
	Amount   int64  `bun:",notnull"`
}

func main() {
	auditFile := flag.String("audit", "", "also write the audit trail to this file, as JSON lines")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *auditFile); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, auditFile string) error {
	// Audit: a sink on a private bus (auditlog.Register(sink) would use the
	// process-wide default bus).
	bus := auditlog.NewBus()
	sink := auditlog.NewMemorySink()
	bus.Register(sink)
	if auditFile != "" {
		f, err := os.OpenFile(auditFile, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("-audit: %w", err)
		}
		defer f.Close()
		bus.Register(auditlog.NewJSONSink(f))
	}

	db, err := sqlitedb.Open("file:quickstart?mode=memory&cache=shared",
		bunhook.WithModels((*Invoice)(nil)), bunhook.WithAuditBus(bus))
	if err != nil {
		return err
	}
	defer db.Close()
	binder := scope.NewBinder(scope.WithAuditBus(bus))

	// Migrations touch every tenant: they run under an explicit, audited bypass.
	admin, err := scope.WithBypass(ctx, "schema migration")
	if err != nil {
		return err
	}
	if _, err := db.NewCreateTable().Model((*Invoice)(nil)).Exec(admin); err != nil {
		return err
	}

	acme, globex := scope.MustParse("acme"), scope.MustParse("globex")
	seed := map[scope.Tenant][]Invoice{
		acme:   {{Number: "ACME-1", Amount: 1200}, {Number: "ACME-2", Amount: 800}},
		globex: {{Number: "GLOBEX-1", Amount: 99000}},
	}
	for _, t := range []scope.Tenant{acme, globex} {
		rows := seed[t]
		err := binder.Run(ctx, t, func(ctx context.Context) error {
			_, err := db.NewInsert().Model(&rows).Exec(ctx) // tenant_id filled from the context
			return err
		})
		if err != nil {
			return err
		}
	}

	var results []string
	step := func(name string, err error, detail string) {
		status := "ok     "
		if err != nil {
			status = "blocked"
			detail = err.Error()
		}
		results = append(results, status)
		fmt.Fprintf(out, "%-44s %s  %s\n", name, status, detail)
	}

	// 1. A scoped read: acme sees its own invoices only, and so does Count.
	err = binder.Run(ctx, acme, func(ctx context.Context) error {
		var invs []Invoice
		if err := db.NewSelect().Model(&invs).Order("id").Scan(ctx); err != nil {
			return err
		}
		n, err := db.NewSelect().Model((*Invoice)(nil)).Count(ctx)
		if err != nil {
			return err
		}
		step("acme lists invoices", nil, fmt.Sprintf("%d rows %v, Count()=%d", len(invs), numbers(invs), n))
		return nil
	})
	if err != nil {
		return err
	}

	// 2. A cross-tenant write: acme tries to move an invoice to globex.
	err = binder.Run(ctx, acme, func(ctx context.Context) error {
		_, err := db.NewUpdate().Model((*Invoice)(nil)).Set("tenant_id = ?", "globex").Where("number = ?", "ACME-1").Exec(ctx)
		step("acme moves ACME-1 to globex", err, "")
		if !errors.Is(err, scope.ErrCrossTenant) {
			return fmt.Errorf("expected a cross-tenant block, got: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}

	// 3. A read with no tenant bound fails closed.
	_, err = db.NewSelect().Model((*Invoice)(nil)).Count(ctx)
	step("count with no tenant bound", err, "")
	if !errors.Is(err, scope.ErrNoTenant) {
		return fmt.Errorf("expected a no-tenant block, got: %w", err)
	}

	// 4. An explicit bypass: a cross-tenant report, audited with its reason.
	report, err := scope.WithBypass(ctx, "monthly revenue report")
	if err != nil {
		return err
	}
	var total int64
	err = db.NewSelect().Model((*Invoice)(nil)).ColumnExpr("coalesce(sum(amount), 0)").Scan(report, &total)
	step("revenue report across tenants (bypass)", err, fmt.Sprintf("total=%d", total))
	if err != nil {
		return err
	}

	fmt.Fprintln(out, "\naudit trail:")
	counts := map[auditlog.Type]int{}
	for _, e := range sink.Events() {
		counts[e.Type]++
		fmt.Fprintf(out, "  #%-3d %-21s tenant=%-7s %s\n", e.Seq, e.Type, orDash(e.Tenant), describe(e))
	}
	fmt.Fprintf(out, "\nsummary: %d steps, %d blocked; %d audit records (%d violations, %d bypasses, %d scopes bound)\n",
		len(results), countOf(results, "blocked"), sink.Len(), counts[auditlog.EnforcementViolation],
		counts[auditlog.EnforcementBypass], counts[auditlog.ContextBound])

	// The final CHECKPOINT tells a verifier the trail ended here, whole.
	if err := bus.Shutdown(ctx); err != nil {
		return err
	}
	if auditFile != "" {
		fmt.Fprintf(out, "\naudit trail written to %s (stream %s, %d records and a final checkpoint);\ncheck it with: go run ./cmd/tenantshield audit verify %s\n",
			auditFile, bus.Stream(), sink.Len()-1, auditFile)
	}
	return nil
}

func numbers(invs []Invoice) []string {
	out := make([]string, len(invs))
	for i, in := range invs {
		out[i] = in.Number
	}
	return out
}

func describe(e auditlog.Event) string {
	var parts []string
	if e.Operation != "" {
		parts = append(parts, "op="+e.Operation)
	}
	if e.Table != "" {
		parts = append(parts, "table="+e.Table)
	}
	if e.AttemptedTenant != "" {
		parts = append(parts, "attempted="+e.AttemptedTenant)
	}
	if e.Outcome != "" {
		parts = append(parts, "outcome="+string(e.Outcome))
	}
	if e.Type == auditlog.EnforcementBypass || e.Type == auditlog.EnforcementViolation {
		parts = append(parts, fmt.Sprintf("reason=%q", e.Reason))
	}
	if !e.Caller.IsZero() {
		parts = append(parts, "at="+shortPath(e.Caller.String()))
	}
	return strings.Join(parts, " ")
}

func shortPath(p string) string {
	if i := strings.Index(p, "examples/"); i >= 0 {
		return p[i:]
	}
	return p
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func countOf(xs []string, v string) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}
