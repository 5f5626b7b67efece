package bunhook_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
)

// ---------------------------------------------------------------------------
// The runner.

var isoTenants = []string{"A", "B", "C"}

const isoMaxRows = 45 // per table, all tenants: inserts turn into deletes above it

type isoRunner struct {
	t    *testing.T
	td   *testDB
	cfg  isoConfig
	rng  *rand.Rand
	ctxs map[string]context.Context

	m      *isoModel       // the model (a tentative copy inside a transaction)
	db     bun.IDB         // td.db, or the open transaction / connection
	ctx    context.Context // the acting context
	tenant string          // the acting tenant ("" = none bound)

	step    int
	op      []string // what the current step does
	hist    []string // the last steps
	touched [3]map[int64]bool
	lastSeq int64
	uniq    int
	rawID   int64
	maxID   [3]int64
	stats   map[string]int

	checkStmt *sql.Stmt // the per-step check query, prepared on the raw handle
}

func newIsoRunner(t *testing.T, td *testDB, cfg isoConfig, stream uint64) *isoRunner {
	r := &isoRunner{
		t: t, td: td, cfg: cfg,
		rng:   rand.New(rand.NewPCG(cfg.seed, stream)),
		ctxs:  map[string]context.Context{},
		stats: map[string]int{},
		rawID: 1 << 40,
	}
	for _, tn := range isoTenants {
		r.ctxs[tn] = tenantCtx(t, tn)
	}
	r.db = td.db
	r.resetTouched()
	return r
}

func (r *isoRunner) resetTouched() {
	for i := range r.touched {
		r.touched[i] = map[int64]bool{}
	}
}

func (r *isoRunner) touch(tb isoTable, ids ...int64) {
	for _, id := range ids {
		r.touched[tb][id] = true
	}
}

// set and del change the model and remember the ids for the step's check.
func (r *isoRunner) set(tb isoTable, id int64, row mrow) {
	r.m.rows[tb][id] = row
	r.touch(tb, id)
	r.maxID[tb] = max(r.maxID[tb], id)
}

func (r *isoRunner) del(tb isoTable, id int64) {
	delete(r.m.rows[tb], id)
	r.touch(tb, id)
}

func (r *isoRunner) note(format string, args ...any) {
	r.op = append(r.op, fmt.Sprintf(format, args...))
}

func (r *isoRunner) count(name string) { r.stats[name]++ }

func (r *isoRunner) statsLine() string {
	keys := make([]string, 0, len(r.stats))
	for k := range r.stats {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%d", k, r.stats[k])
	}
	return b.String()
}

// failf stops the test with the seed, the step and the replay command.
func (r *isoRunner) failf(format string, args ...any) {
	r.t.Helper()
	acting := r.tenant
	if acting == "" {
		acting = "(none bound)"
	}
	only := ""
	if len(r.cfg.only) > 0 {
		only = " -isolation.only=" + strings.Join(r.cfg.only, ",")
	}
	r.t.Fatalf("ISOLATION FAILURE on %s, seed=%d, step %d, acting tenant %s\n  %s\n  operation: %s\n  previous steps:\n    %s\n  replay: go test ./bunhook -run 'TestRandomizedIsolation/%s$' -isolation.seed=%d -isolation.ops=%d%s -isolation.verbose",
		r.td.kind, r.cfg.seed, r.step, acting, fmt.Sprintf(format, args...), strings.Join(r.op, " ; "),
		strings.Join(r.hist, "\n    "), r.td.kind, r.cfg.seed, r.step+1, only)
}

func (r *isoRunner) bg() context.Context { return context.Background() }

func (r *isoRunner) run() {
	r.op = []string{"setup"}
	r.setup()
	ops := r.ops()
	total := 0
	for _, o := range ops {
		total += o.w
	}
	for r.step = 0; r.step < r.cfg.ops; r.step++ {
		r.op = r.op[:0]
		r.resetTouched()
		r.tenant = isoTenants[r.rng.IntN(len(isoTenants))]
		r.ctx = r.ctxs[r.tenant]
		o := pickOp(r.rng, ops, total)
		r.note("[%s] %s", r.tenant, o.name)
		r.count(o.name)
		o.fn()
		if r.cfg.verbose {
			r.t.Logf("step %d: %s", r.step, strings.Join(r.op, " ; "))
		}
		r.checkStep()
		if (r.step+1)%r.cfg.full == 0 {
			r.checkFull()
		}
		r.hist = append(r.hist, fmt.Sprintf("%d: %s", r.step, strings.Join(r.op, " ; ")))
		if len(r.hist) > 6 {
			r.hist = r.hist[1:]
		}
	}
	r.op = []string{"final full comparison"}
	r.checkFull()
}

type isoOp struct {
	name string
	w    int
	fn   func()
	tx   bool // may run inside a transaction or on a bun.Conn
}

func pickOp(rng *rand.Rand, ops []isoOp, total int) isoOp {
	n := rng.IntN(total)
	for _, o := range ops {
		if n < o.w {
			return o
		}
		n -= o.w
	}
	return ops[len(ops)-1]
}

func (r *isoRunner) ops() []isoOp {
	all := r.allOps()
	if len(r.cfg.only) == 0 {
		return all
	}
	var ops []isoOp
	for _, o := range all {
		if slices.Contains(r.cfg.only, o.name) {
			ops = append(ops, o)
		}
	}
	if len(ops) == 0 {
		r.t.Fatalf("-isolation.only=%s names no operation", strings.Join(r.cfg.only, ","))
	}
	return ops
}

func (r *isoRunner) allOps() []isoOp {
	return []isoOp{
		{"scan-struct", 6, r.opScanStruct, true},
		{"scan-slice", 6, r.opScanSlice, true},
		{"scan-deleted", 2, r.opScanDeleted, true},
		{"scan-nil-dest", 4, r.opScanNilDest, true},
		{"scan-and-count", 5, r.opScanAndCount, true},
		{"count", 4, r.opCount, true},
		{"exists", 4, r.opExists, true},
		{"rows", 3, r.opRows, true},
		{"select-exec", 3, r.opSelectExec, true},
		{"rel-customer", 4, r.opRelCustomer, true},
		{"rel-items", 4, r.opRelItems, true},
		{"subquery", 2, r.opSubquery, true},
		{"insert", 7, r.opInsertSingle, true},
		{"insert-slice", 4, r.opInsertSlice, true},
		{"insert-foreign", 2, r.opInsertForeign, true},
		{"upsert", 2, r.opUpsert, true},
		{"update-struct", 5, r.opUpdateStruct, true},
		{"update-set", 4, r.opUpdateNilSet, true},
		{"update-bulk", 3, r.opUpdateBulk, true},
		{"update-tenant", 2, r.opUpdateSetTenant, true},
		{"delete", 5, r.opDelete, true},
		{"force-delete", 2, r.opForceDelete, true},
		{"where-or", 3, r.opWhereOr, true},
		{"raw-ok", 5, r.opRawOK, true},
		{"raw-bad", 4, r.opRawBad, true},
		{"cross-fk", 2, r.opCrossFK, true},
		{"tx", 5, r.opTx, false},
		{"conn", 2, r.opConn, false},
		{"no-tenant", 4, r.opNoTenant, false},
	}
}

// ---------------------------------------------------------------------------
// Setup: the change log and the initial data, through the raw handle.

func (r *isoRunner) rawExec(q string, args ...any) {
	r.t.Helper()
	if _, err := r.td.raw.ExecContext(r.bg(), q, args...); err != nil {
		r.failf("raw %q: %v", q, err)
	}
}

func (r *isoRunner) setup() {
	tables := []string{"customers", "invoices", "items"}
	switch r.td.kind {
	case "sqlite":
		r.rawExec("CREATE TABLE ts_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, rid INTEGER NOT NULL)")
		for _, tbl := range tables {
			r.rawExec(fmt.Sprintf("CREATE TRIGGER ts_%[1]s_i AFTER INSERT ON %[1]s BEGIN INSERT INTO ts_changes (tbl, rid) VALUES ('%[1]s', NEW.id); END", tbl))
			r.rawExec(fmt.Sprintf("CREATE TRIGGER ts_%[1]s_u AFTER UPDATE ON %[1]s BEGIN INSERT INTO ts_changes (tbl, rid) VALUES ('%[1]s', OLD.id), ('%[1]s', NEW.id); END", tbl))
			r.rawExec(fmt.Sprintf("CREATE TRIGGER ts_%[1]s_d AFTER DELETE ON %[1]s BEGIN INSERT INTO ts_changes (tbl, rid) VALUES ('%[1]s', OLD.id); END", tbl))
		}
	case "pg", "pgx":
		schema := r.td.rawString(r.t, "SELECT current_schema()")
		r.rawExec("CREATE TABLE ts_changes (seq bigserial PRIMARY KEY, tbl text NOT NULL, rid bigint NOT NULL)")
		r.rawExec(fmt.Sprintf(`CREATE FUNCTION %[1]s.ts_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'INSERT' THEN INSERT INTO %[1]s.ts_changes (tbl, rid) VALUES (TG_TABLE_NAME, OLD.id); END IF;
	IF TG_OP <> 'DELETE' THEN INSERT INTO %[1]s.ts_changes (tbl, rid) VALUES (TG_TABLE_NAME, NEW.id); END IF;
	RETURN NULL;
END $$`, schema))
		for _, tbl := range tables {
			r.rawExec(fmt.Sprintf("CREATE TRIGGER ts_log AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION %s.ts_log()", tbl, schema))
		}
	case "mysql":
		r.rawExec("CREATE TABLE ts_changes (seq BIGINT AUTO_INCREMENT PRIMARY KEY, tbl VARCHAR(32) NOT NULL, rid BIGINT NOT NULL)")
		for _, tbl := range tables {
			r.rawExec(fmt.Sprintf("CREATE TRIGGER ts_%[1]s_i AFTER INSERT ON %[1]s FOR EACH ROW INSERT INTO ts_changes (tbl, rid) VALUES ('%[1]s', NEW.id)", tbl))
			r.rawExec(fmt.Sprintf("CREATE TRIGGER ts_%[1]s_u AFTER UPDATE ON %[1]s FOR EACH ROW INSERT INTO ts_changes (tbl, rid) VALUES ('%[1]s', OLD.id), ('%[1]s', NEW.id)", tbl))
			r.rawExec(fmt.Sprintf("CREATE TRIGGER ts_%[1]s_d AFTER DELETE ON %[1]s FOR EACH ROW INSERT INTO ts_changes (tbl, rid) VALUES ('%[1]s', OLD.id)", tbl))
		}
	}

	// Views over the tenant tables that are not registered: under a scope
	// the closed world refuses them whatever they are filtered on.
	for _, tbl := range tables {
		r.rawExec(fmt.Sprintf("CREATE VIEW %[1]s_all AS SELECT * FROM %[1]s", tbl))
	}

	// Initial data: per tenant 3 customers, 4 invoices (one with a customer of
	// another tenant, one without), 6 items (one on an invoice of another
	// tenant, one soft-deleted).
	for _, tn := range isoTenants {
		for i := 0; i < 3; i++ {
			r.rawExec("INSERT INTO customers (tenant_id, name) VALUES (?, ?)", tn, r.fresh(tCustomers))
		}
	}
	cust := r.rawRows(tCustomers, nil)
	custIDs := sortedKeys(cust)
	for ti, tn := range isoTenants {
		own := custIDs[ti*3 : ti*3+3]
		foreign := custIDs[((ti+1)%3)*3]
		for _, ref := range []any{own[0], own[1], foreign, nil} {
			r.rawExec("INSERT INTO invoices (tenant_id, number, customer_id) VALUES (?, ?, ?)", tn, r.fresh(tInvoices), ref)
		}
	}
	invIDs := sortedKeys(r.rawRows(tInvoices, nil))
	for ti, tn := range isoTenants {
		own := invIDs[ti*4 : ti*4+4]
		foreign := invIDs[((ti+2)%3)*4]
		for i, ref := range []int64{own[0], own[0], own[1], own[2], own[3], foreign} {
			if i == 1 {
				r.rawExec("INSERT INTO items (tenant_id, name, invoice_id, deleted_at) VALUES (?, ?, ?, ?)", tn, r.fresh(tItems), ref, time.Now())
				continue
			}
			r.rawExec("INSERT INTO items (tenant_id, name, invoice_id) VALUES (?, ?, ?)", tn, r.fresh(tItems), ref)
		}
	}
	r.m = newIsoModel()
	for tb := tCustomers; tb <= tItems; tb++ {
		for id, row := range r.rawRows(tb, nil) {
			r.m.rows[tb][id] = row
			r.maxID[tb] = max(r.maxID[tb], id)
		}
	}
	var seq sql.NullInt64
	if err := r.td.raw.QueryRowContext(r.bg(), "SELECT MAX(seq) FROM ts_changes").Scan(&seq); err != nil {
		r.failf("change log: %v", err)
	}
	if seq.Int64 == 0 {
		r.failf("the change-log triggers recorded nothing for the initial data")
	}
	r.lastSeq = seq.Int64
}

func sortedKeys[V any](m map[int64]V) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (r *isoRunner) fresh(tb isoTable) string {
	r.uniq++
	return fmt.Sprintf("%s%d", isoTables[tb].prefix, r.uniq)
}
