package bunhook_test

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRandomizedIsolation drives seeded, reproducible sequences of mixed
// operations by three tenants (A, B, C) over the three related tenant tables
// (customers, invoices, items) on every database kind, and checks after
// every step that no tenant read, changed, created or deleted a row of
// another, and that the database equals an in-memory model of the true
// state.
//
// The operations (see allOps) are bun model reads (Scan into a struct, a
// slice, a nil model with destinations; ScanAndCount with and without a
// limit, in and out of a transaction; Count, Exists, Rows, SelectQuery.Exec
// with a destination; belongs-to Relation("Customer"), also filtered on the
// joined customer, and has-many Relation("Items"); WherePK on ids of other
// tenants; soft-deleted rows; subqueries, scoped with bunhook.Scope or not),
// writes (inserts of one row, of slices, with an empty, the bound or a
// foreign tenant, Value("tenant_id"), without the tenant column; updates of
// structs by primary key, of (*T)(nil) with Set, Bulk, RETURNING, attempts to
// move rows with Set/SetColumn/Value("tenant_id"); upserts; deletes by
// primary key and by list, soft and forced), top-level WhereOr escapes, raw
// SQL with and without a correct tenant predicate, cross-tenant foreign keys,
// transactions (committed or rolled back) and bun.Conn sessions mixing all of
// these, sometimes under another tenant's context or none, and operations
// with no tenant bound. Ids are drawn from the acting tenant's rows, other
// tenants' rows and ids that do not exist.
//
// How the invariant is checked:
//
//   - Reads: every row, count and existence answer returned under tenant T is
//     compared exactly with the model filtered to T (a row of another tenant
//     is reported as a LEAK before anything else); blocked operations must
//     fail with the expected sentinel error and return nothing.
//   - Writes: triggers installed through the raw handle (td.raw, no hooks)
//     log the id of every row inserted, updated or deleted, by any statement
//     and whatever its tenant, into ts_changes. After every step one query
//     on td.raw reads the new log entries, the current rows of the ids the
//     operation targeted or the model changed, and (PostgreSQL, MySQL) the
//     row count of each table; every logged, targeted or changed row must
//     equal the model (tenant and every column), and the counts must match
//     (they would catch what no row trigger sees, such as TRUNCATE; see
//     countsPerStep for SQLite). Every row change in the
//     database is logged and every model change is checked, so the database
//     equals the model after every step; all tables are also compared in full,
//     with per-tenant counts, every -isolation.full steps and at the end.
//
// Settings (flag, or environment variable):
//
//	-isolation.ops=N      TS_ISOLATION_OPS   operations per database (default 10000; 1000 with -short)
//	-isolation.seed=S     TS_ISOLATION_SEED  seed (default: from the clock; always logged)
//	-isolation.full=N     TS_ISOLATION_FULL  full comparison every N steps (default 500)
//	-isolation.only=a,b   TS_ISOLATION_ONLY  run only these operations (to reduce a failure)
//	-isolation.verbose    TS_ISOLATION_VERBOSE=1  log every operation
//
// Every failure message carries the seed, the database, the step, the
// operation, the previous steps and the command that replays it, e.g.
//
//	go test ./bunhook -run 'TestRandomizedIsolation/pg$' -isolation.seed=42 -isolation.ops=1234 -isolation.verbose
//
// A run for a given seed and database is deterministic (each database kind
// draws from its own PCG stream of the seed), so the replay reaches the same
// state.
func TestRandomizedIsolation(t *testing.T) {
	cfg := isolationConfig(t)
	t.Logf("randomized isolation: seed=%d ops=%d per database, full check every %d steps (replay: -isolation.seed=%d)",
		cfg.seed, cfg.ops, cfg.full, cfg.seed)
	if len(cfg.only) > 0 {
		t.Logf("only these operations: %s", strings.Join(cfg.only, ","))
	}
	for i, kind := range dbKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			td := openTestDB(t, kind)
			r := newIsoRunner(t, td, cfg, uint64(i)+1)
			r.run()
			t.Logf("%s: seed=%d, %d operations in %v; ops: %s", kind, cfg.seed, cfg.ops,
				time.Since(start).Round(time.Millisecond), r.statsLine())
		})
	}
}

var (
	isoOpsFlag     = flag.Int("isolation.ops", 0, "TestRandomizedIsolation: operations per database (default 10000, or TS_ISOLATION_OPS)")
	isoSeedFlag    = flag.String("isolation.seed", "", "TestRandomizedIsolation: seed (default from the clock, or TS_ISOLATION_SEED)")
	isoFullFlag    = flag.Int("isolation.full", 0, "TestRandomizedIsolation: full database comparison every N steps (default 500, or TS_ISOLATION_FULL)")
	isoVerboseFlag = flag.Bool("isolation.verbose", false, "TestRandomizedIsolation: log every operation (or TS_ISOLATION_VERBOSE=1)")
	isoOnlyFlag    = flag.String("isolation.only", "", "TestRandomizedIsolation: run only these operations, comma-separated (or TS_ISOLATION_ONLY), to reduce a failure")
)

type isoConfig struct {
	seed    uint64
	ops     int
	full    int
	verbose bool
	only    []string
}

func isolationConfig(t *testing.T) isoConfig {
	t.Helper()
	intSetting := func(flagVal int, env string, def int) int {
		if flagVal > 0 {
			return flagVal
		}
		if s := os.Getenv(env); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				t.Fatalf("%s=%q: want a positive integer", env, s)
			}
			return n
		}
		return def
	}
	c := isoConfig{}
	def := 10000
	if testing.Short() {
		def = 1000
	}
	c.ops = intSetting(*isoOpsFlag, "TS_ISOLATION_OPS", def)
	c.full = intSetting(*isoFullFlag, "TS_ISOLATION_FULL", 500)
	c.verbose = *isoVerboseFlag || os.Getenv("TS_ISOLATION_VERBOSE") == "1"
	only := *isoOnlyFlag
	if only == "" {
		only = os.Getenv("TS_ISOLATION_ONLY")
	}
	if only != "" {
		c.only = strings.Split(only, ",")
	}
	seed := *isoSeedFlag
	if seed == "" {
		seed = os.Getenv("TS_ISOLATION_SEED")
	}
	if seed == "" {
		c.seed = uint64(time.Now().UnixNano())
	} else {
		n, err := strconv.ParseUint(seed, 10, 64)
		if err != nil {
			t.Fatalf("isolation seed %q: %v", seed, err)
		}
		c.seed = n
	}
	return c
}

// ---------------------------------------------------------------------------
// The model of the true state.

type isoTable int

const (
	tCustomers isoTable = iota
	tInvoices
	tItems
)

var isoTables = [...]struct {
	name, scol, refcol string
	prefix             string
}{
	tCustomers: {"customers", "name", "", "c"},
	tInvoices:  {"invoices", "number", "customer_id", "n"},
	tItems:     {"items", "name", "invoice_id", "i"},
}

func (tb isoTable) String() string { return isoTables[tb].name }

// mrow is one row: the tenant, the string column (customers.name,
// invoices.number, items.name), the reference (invoices.customer_id, 0 for
// NULL; items.invoice_id) and, for items, whether it is soft-deleted.
type mrow struct {
	tenant  string
	s       string
	ref     int64
	deleted bool
}

func (r mrow) String() string {
	d := ""
	if r.deleted {
		d = " deleted"
	}
	return fmt.Sprintf("{tenant=%s s=%s ref=%d%s}", r.tenant, r.s, r.ref, d)
}

type isoModel struct {
	rows [3]map[int64]mrow
}

func newIsoModel() *isoModel {
	m := &isoModel{}
	for i := range m.rows {
		m.rows[i] = map[int64]mrow{}
	}
	return m
}

func (m *isoModel) clone() *isoModel {
	c := newIsoModel()
	for i := range m.rows {
		for id, r := range m.rows[i] {
			c.rows[i][id] = r
		}
	}
	return c
}

// ids returns the sorted ids of tb's rows that satisfy keep.
func (m *isoModel) ids(tb isoTable, keep func(id int64, r mrow) bool) []int64 {
	out := make([]int64, 0, len(m.rows[tb]))
	for id, r := range m.rows[tb] {
		if keep == nil || keep(id, r) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// ---------------------------------------------------------------------------
// Conversions between the test models and mrow.

type isoGot struct {
	id  int64
	row mrow
}

func isoObj(tb isoTable, id int64, r mrow) any {
	switch tb {
	case tCustomers:
		return &Customer{ID: id, TenantID: r.tenant, Name: r.s}
	case tInvoices:
		return &Invoice{ID: id, TenantID: r.tenant, Number: r.s, CustomerID: r.ref}
	default:
		return &Item{ID: id, TenantID: r.tenant, Name: r.s, InvoiceID: r.ref}
	}
}

func isoSliceOf(tb isoTable, ids []int64, rows []mrow) any {
	switch tb {
	case tCustomers:
		s := make([]Customer, len(rows))
		for i, r := range rows {
			s[i] = *isoObj(tb, ids[i], r).(*Customer)
		}
		return &s
	case tInvoices:
		s := make([]Invoice, len(rows))
		for i, r := range rows {
			s[i] = *isoObj(tb, ids[i], r).(*Invoice)
		}
		return &s
	default:
		s := make([]Item, len(rows))
		for i, r := range rows {
			s[i] = *isoObj(tb, ids[i], r).(*Item)
		}
		return &s
	}
}

// isoPtrSlice turns a *[]T into a *[]*T over the same elements.
func isoPtrSlice(v any) any {
	switch v := v.(type) {
	case *[]Customer:
		out := make([]*Customer, len(*v))
		for i := range *v {
			out[i] = &(*v)[i]
		}
		return &out
	case *[]Invoice:
		out := make([]*Invoice, len(*v))
		for i := range *v {
			out[i] = &(*v)[i]
		}
		return &out
	case *[]Item:
		out := make([]*Item, len(*v))
		for i := range *v {
			out[i] = &(*v)[i]
		}
		return &out
	}
	panic(fmt.Sprintf("isoPtrSlice: %T", v))
}

func isoSlice(tb isoTable) any {
	switch tb {
	case tCustomers:
		return &[]Customer{}
	case tInvoices:
		return &[]Invoice{}
	default:
		return &[]Item{}
	}
}

func isoNil(tb isoTable) any {
	switch tb {
	case tCustomers:
		return (*Customer)(nil)
	case tInvoices:
		return (*Invoice)(nil)
	default:
		return (*Item)(nil)
	}
}

func gotCustomer(c *Customer) isoGot {
	return isoGot{c.ID, mrow{tenant: c.TenantID, s: c.Name}}
}

func gotInvoice(in *Invoice) isoGot {
	return isoGot{in.ID, mrow{tenant: in.TenantID, s: in.Number, ref: in.CustomerID}}
}

func gotItem(it *Item) isoGot {
	return isoGot{it.ID, mrow{tenant: it.TenantID, s: it.Name, ref: it.InvoiceID, deleted: !it.DeletedAt.IsZero()}}
}

// isoRows extracts the rows of a model value (pointer to struct or slice).
func isoRows(v any) []isoGot {
	var out []isoGot
	switch v := v.(type) {
	case *Customer:
		out = append(out, gotCustomer(v))
	case *Invoice:
		out = append(out, gotInvoice(v))
	case *Item:
		out = append(out, gotItem(v))
	case *[]Customer:
		for i := range *v {
			out = append(out, gotCustomer(&(*v)[i]))
		}
	case *[]Invoice:
		for i := range *v {
			out = append(out, gotInvoice(&(*v)[i]))
		}
	case *[]Item:
		for i := range *v {
			out = append(out, gotItem(&(*v)[i]))
		}
	case *[]*Customer:
		for _, c := range *v {
			out = append(out, gotCustomer(c))
		}
	case *[]*Invoice:
		for _, in := range *v {
			out = append(out, gotInvoice(in))
		}
	case *[]*Item:
		for _, it := range *v {
			out = append(out, gotItem(it))
		}
	default:
		panic(fmt.Sprintf("isoRows: %T", v))
	}
	return out
}
