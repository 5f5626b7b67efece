package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // the MySQL/MariaDB driver
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/tenantshield/tenantshield-go/bunhook/posture"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: tenantshield posture [flags] DSN
       tenantshield audit verify [flags] FILE...
run "tenantshield posture -h" or "tenantshield audit verify -h" for the flags`

// run is the command; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) > 0 && args[0] == "posture":
		return runPosture(ctx, args, stdout, stderr)
	case len(args) > 1 && args[0] == "audit" && args[1] == "verify":
		return runAuditVerify(args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, usage)
	return 2
}

// runPosture is "tenantshield posture".
func runPosture(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tenantshield posture", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tables := fs.String("tables", "", "tenant tables, comma separated: table or table:column (default: every table with -column)")
	column := fs.String("column", "tenant_id", "the tenant column")
	shared := fs.String("shared", "", "tables without tenant rows, comma separated")
	failAt := fs.String("fail-at", "high", "exit 1 when a finding reaches this severity: info, low, medium, high, critical")
	collation := fs.String("collation", "unknown", "how bunhook is told tenant columns compare: exact, folding or unknown")
	setting := fs.String("setting", "app.tenant_id", "the setting RLS policies must compare the tenant column with")
	noRLS := fs.Bool("no-rls", false, "skip the row-level security findings")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fixOnly := fs.Bool("fix", false, "print only the fix DDL, as one migration script")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "tenantshield posture: give exactly one DSN (after the flags)\n"+usage)
		return 2
	}
	threshold, err := posture.ParseSeverity(*failAt)
	if err != nil {
		fmt.Fprintln(stderr, "tenantshield posture: -fail-at:", err)
		return 2
	}
	opts := []posture.Option{posture.WithSetting(*setting), posture.WithSharedTables(split(*shared)...)}
	switch *collation {
	case "exact":
		opts = append(opts, posture.WithCollation(posture.CollationExactDeclared))
	case "folding":
		opts = append(opts, posture.WithCollation(posture.CollationFoldingDeclared))
	case "unknown":
	default:
		fmt.Fprintf(stderr, "tenantshield posture: -collation %q: want exact, folding or unknown\n", *collation)
		return 2
	}
	if *noRLS {
		opts = append(opts, posture.WithoutRLS())
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	d, db, err := open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "tenantshield posture:", err)
		return 2
	}
	defer db.Close()
	list, err := tenantTables(ctx, db, d, *tables, *column)
	if err != nil {
		fmt.Fprintln(stderr, "tenantshield posture:", err)
		return 2
	}
	r, err := posture.Check(ctx, db, d, list, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "tenantshield posture:", err)
		return 2
	}
	if err := write(stdout, r, *asJSON, *fixOnly); err != nil {
		fmt.Fprintln(stderr, "tenantshield posture:", err)
		return 2
	}
	if len(r.AtLeast(threshold)) > 0 {
		return 1
	}
	return 0
}

// open opens the DSN with the driver its form names.
func open(dsn string) (posture.Dialect, *sql.DB, error) {
	lower := strings.ToLower(dsn)
	switch {
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return posture.Postgres, sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn))), nil
	case strings.HasPrefix(lower, "file:"), strings.HasSuffix(lower, ".db"), strings.HasSuffix(lower, ".sqlite"), strings.HasSuffix(lower, ".sqlite3"):
		if !strings.HasPrefix(lower, "file:") {
			if _, err := os.Stat(dsn); err != nil {
				return "", nil, fmt.Errorf("SQLite database %s: %w", dsn, err) // sql.Open would create an empty one
			}
		}
		db, err := sql.Open(sqliteshim.ShimName, dsn)
		return posture.SQLite, db, err
	default:
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			return "", nil, fmt.Errorf("%w (a DSN is postgres://..., file:... or a .db path for SQLite, or user@tcp(host:port)/db for MySQL)", err)
		}
		return posture.MySQL, db, nil
	}
}

// tenantTables parses -tables, or discovers the tables with the column.
func tenantTables(ctx context.Context, db *sql.DB, d posture.Dialect, spec, column string) ([]posture.Table, error) {
	if spec == "" {
		list, err := posture.Discover(ctx, db, d, column)
		if err == nil && len(list) == 0 {
			err = fmt.Errorf("no table has a column %q: name the tenant tables with -tables, or the column with -column", column)
		}
		return list, err
	}
	var list []posture.Table
	for _, item := range split(spec) {
		name, col, ok := strings.Cut(item, ":")
		if !ok {
			col = column
		}
		if name == "" || col == "" {
			return nil, fmt.Errorf("-tables entry %q: want table or table:column", item)
		}
		list = append(list, posture.Table{Name: name, Column: col})
	}
	return list, nil
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func write(w io.Writer, r *posture.Report, asJSON, fixOnly bool) error {
	switch {
	case fixOnly:
		var b strings.Builder
		fmt.Fprintf(&b, "-- tenantshield posture fixes for %s %s: run as the tables' owner, in order\n", r.Dialect, r.Database)
		for _, s := range r.FixSQL() {
			b.WriteString(s + ";\n")
		}
		_, err := io.WriteString(w, b.String())
		return err
	case asJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	default:
		return r.WriteText(w)
	}
}
