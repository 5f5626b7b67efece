package bunhook_test

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/scope"
)

// ---------------------------------------------------------------------------
// The invariant.

var isoRawSelect = [...]string{
	tCustomers: "SELECT id, tenant_id, name, 0, 0 FROM customers",
	tInvoices:  "SELECT id, tenant_id, number, COALESCE(customer_id, 0), 0 FROM invoices",
	tItems:     "SELECT id, tenant_id, name, invoice_id, CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END FROM items",
}

// rawRows reads rows of tb through the raw handle: the given ids, or all.
func (r *isoRunner) rawRows(tb isoTable, ids []int64) map[int64]mrow {
	q := isoRawSelect[tb]
	var args []any
	if ids != nil {
		q += " WHERE id IN (?)"
		args = append(args, bun.List(ids))
	}
	rows, err := r.td.raw.QueryContext(r.bg(), q, args...)
	if err != nil {
		r.failf("raw read of %s: %v", tb, err)
	}
	defer rows.Close()
	out := map[int64]mrow{}
	for rows.Next() {
		var id, ref, del int64
		var row mrow
		if err := rows.Scan(&id, &row.tenant, &row.s, &ref, &del); err != nil {
			r.failf("raw scan of %s: %v", tb, err)
		}
		row.ref, row.deleted = ref, del != 0
		out[id] = row
	}
	if err := rows.Err(); err != nil {
		r.failf("raw read of %s: %v", tb, err)
	}
	return out
}

// compareRows compares the database rows of ids with the model and names
// what went wrong, cross-tenant first.
func (r *isoRunner) compareRows(tb isoTable, ids []int64, db map[int64]mrow) {
	var problems []string
	for _, id := range ids {
		mr, inM := r.m.rows[tb][id]
		dr, inD := db[id]
		switch {
		case inM == inD && mr == dr: // equal, or absent from both
			continue
		case inD && !inM:
			kind := "row created that should not exist"
			if dr.tenant != r.tenant {
				kind = "CROSS-TENANT CREATE: row of another tenant created"
			}
			problems = append(problems, fmt.Sprintf("%s: %s id=%d db=%v", kind, tb, id, dr))
		case inM && !inD:
			kind := "row missing"
			if mr.tenant != r.tenant {
				kind = "CROSS-TENANT DELETE: row of another tenant deleted"
			}
			problems = append(problems, fmt.Sprintf("%s: %s id=%d model=%v", kind, tb, id, mr))
		default:
			kind := "row differs"
			switch {
			case mr.tenant != dr.tenant:
				kind = "CROSS-TENANT WRITE: row moved to another tenant"
			case mr.tenant != r.tenant:
				kind = "CROSS-TENANT WRITE: row of another tenant changed"
			}
			problems = append(problems, fmt.Sprintf("%s: %s id=%d db=%v model=%v", kind, tb, id, dr, mr))
		}
	}
	if len(problems) > 0 {
		r.failf("database differs from the model:\n    %s", strings.Join(problems, "\n    "))
	}
}

// checkStep is the per-step invariant, in one round trip to the database
// (two when the change log names a row the step was not expected to touch):
//   - the change log since the last step: every row any statement inserted,
//     updated or deleted, whatever its tenant;
//   - the rows the step targeted or changed in the model;
//   - the row count of each table (what no row trigger would see, such as a
//     TRUNCATE; not on SQLite, see countsPerStep).
//
// Every logged row, every targeted row and every row the model changed must
// equal the model. Rows outside these sets were changed neither in the
// database (it would have been logged) nor in the model, so the database
// equals the model after the step.
//
// The query is prepared once (its text never changes: the ids go in
// isoSlots placeholders per table, padded with -1), because parsing it on
// every step dominated the cost of the test on SQLite under -race.
func (r *isoRunner) checkStep() {
	if r.checkStmt == nil {
		r.prepareCheck()
	}
	args := make([]any, 0, 1+3*isoSlots)
	args = append(args, r.lastSeq)
	var known, overflow [3][]int64
	for tb := tCustomers; tb <= tItems; tb++ {
		known[tb] = sortedKeys(r.touched[tb])
		slots := known[tb]
		if len(slots) > isoSlots {
			slots, overflow[tb] = slots[:isoSlots], slots[isoSlots:]
		}
		for i := 0; i < isoSlots; i++ {
			if i < len(slots) {
				args = append(args, slots[i])
			} else {
				args = append(args, int64(-1))
			}
		}
	}
	rows, err := r.checkStmt.QueryContext(r.bg(), args...)
	if err != nil {
		r.failf("raw check query: %v", err)
	}
	var db [3]map[int64]mrow
	var counts [3]int64
	var extra [3][]int64
	for rows.Next() {
		var k, id, ref, del int64
		var tenant, str string
		if err := rows.Scan(&k, &id, &tenant, &str, &ref, &del); err != nil {
			r.failf("raw check query: %v", err)
		}
		switch k {
		case 9: // change log: id=seq, tenant=table, ref=row id
			r.lastSeq = max(r.lastSeq, id)
			tb, ok := isoTableNamed(tenant)
			if !ok {
				r.failf("change log names unknown table %q", tenant)
			}
			if !r.touched[tb][ref] {
				r.touch(tb, ref)
				extra[tb] = append(extra[tb], ref)
			}
		case 8: // row count: id=table, ref=count
			counts[id] = ref
		default:
			if db[k] == nil {
				db[k] = map[int64]mrow{}
			}
			db[k][id] = mrow{tenant: tenant, s: str, ref: ref, deleted: del != 0}
		}
	}
	if err := rows.Err(); err != nil {
		r.failf("raw check query: %v", err)
	}
	_ = rows.Close()
	for tb := tCustomers; tb <= tItems; tb++ {
		if len(overflow[tb]) > 0 {
			for id, row := range r.rawRows(tb, overflow[tb]) {
				if db[tb] == nil {
					db[tb] = map[int64]mrow{}
				}
				db[tb][id] = row
			}
		}
		if len(known[tb]) > 0 {
			r.compareRows(tb, known[tb], db[tb])
		}
		if len(extra[tb]) > 0 {
			// Written although the step did not target it: must be unchanged.
			slices.Sort(extra[tb])
			extra[tb] = slices.Compact(extra[tb])
			r.compareRows(tb, extra[tb], r.rawRows(tb, extra[tb]))
		}
	}
	for tb := tCustomers; tb <= r.lastCounted(); tb++ {
		if want := int64(len(r.m.rows[tb])); counts[tb] != want {
			r.failf("%s has %d rows, the model %d, and no row trigger saw the difference", tb, counts[tb], want)
		}
	}
}

// countsPerStep reports whether the per-step check also compares the row
// count of every table. Row triggers miss TRUNCATE on PostgreSQL and MySQL;
// SQLite has no TRUNCATE, runs a DELETE without WHERE through the row
// triggers when the table has any, and logs the rows REPLACE overwrites as
// the insert (or update) of the same id. There the counts add nothing but
// cost (a tenth of the SQLite run under -race); the full comparisons still
// count every tenant's rows.
func (r *isoRunner) countsPerStep() bool { return r.td.kind != "sqlite" }

func (r *isoRunner) lastCounted() isoTable {
	if r.countsPerStep() {
		return tItems
	}
	return -1
}

// isoSlots is the number of row ids per table the prepared check query
// reads; more are read by a second query.
const isoSlots = 8

func (r *isoRunner) prepareCheck() {
	n := 0
	ph := func() string {
		n++
		if r.td.kind == "pg" || r.td.kind == "pgx" {
			return fmt.Sprintf("$%d", n)
		}
		return "?"
	}
	var b strings.Builder
	b.WriteString("SELECT 9, seq, tbl, '', rid, 0 FROM ts_changes WHERE seq > " + ph())
	if r.countsPerStep() {
		for tb := tCustomers; tb <= tItems; tb++ {
			fmt.Fprintf(&b, " UNION ALL SELECT 8, %d, '', '', COUNT(*), 0 FROM %s", tb, tb)
		}
	}
	// One primary-key lookup per slot: SQLite runs an IN list through a
	// temporary index, which costs more than the lookups.
	for tb := tCustomers; tb <= tItems; tb++ {
		for i := 0; i < isoSlots; i++ {
			fmt.Fprintf(&b, " UNION ALL SELECT %d, %s WHERE id = %s", tb, strings.TrimPrefix(isoRawSelect[tb], "SELECT "), ph())
		}
	}
	stmt, err := r.td.raw.DB.PrepareContext(r.bg(), b.String())
	if err != nil {
		r.failf("prepare the check query: %v\n%s", err, b.String())
	}
	r.t.Cleanup(func() { _ = stmt.Close() })
	r.checkStmt = stmt
}

func isoTableNamed(name string) (isoTable, bool) {
	for tb := tCustomers; tb <= tItems; tb++ {
		if isoTables[tb].name == name {
			return tb, true
		}
	}
	return 0, false
}

// checkTenantCounts compares the per-tenant row counts of every table.
func (r *isoRunner) checkTenantCounts() {
	rows, err := r.td.raw.QueryContext(r.bg(),
		"SELECT 0, tenant_id, COUNT(*) FROM customers GROUP BY tenant_id UNION ALL "+
			"SELECT 1, tenant_id, COUNT(*) FROM invoices GROUP BY tenant_id UNION ALL "+
			"SELECT 2, tenant_id, COUNT(*) FROM items GROUP BY tenant_id")
	if err != nil {
		r.failf("raw counts: %v", err)
	}
	defer rows.Close()
	got := map[string]int64{}
	for rows.Next() {
		var tb, n int64
		var tenant string
		if err := rows.Scan(&tb, &tenant, &n); err != nil {
			r.failf("raw counts: %v", err)
		}
		got[fmt.Sprintf("%s/%s", isoTable(tb), tenant)] = n
	}
	if err := rows.Err(); err != nil {
		r.failf("raw counts: %v", err)
	}
	want := map[string]int64{}
	for tb := tCustomers; tb <= tItems; tb++ {
		for _, row := range r.m.rows[tb] {
			want[fmt.Sprintf("%s/%s", tb, row.tenant)]++
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		r.failf("per-tenant row counts differ: db=%v model=%v", got, want)
	}
}

func (r *isoRunner) checkFull() {
	for tb := tCustomers; tb <= tItems; tb++ {
		db := r.rawRows(tb, nil)
		ids := sortedKeys(db)
		for id := range r.m.rows[tb] {
			if _, ok := db[id]; !ok {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		r.compareRows(tb, ids, db)
	}
	r.checkTenantCounts()
	r.count("full-check")
}

// ---------------------------------------------------------------------------
// Expectations and outcome checks.

// visible reports whether a model SELECT under the acting tenant sees row.
func (r *isoRunner) visible(tb isoTable, row mrow) bool {
	return row.tenant == r.tenant && r.tenant != "" && !(tb == tItems && row.deleted)
}

// expect returns the sorted ids of the acting tenant's visible rows that
// match f.
func (r *isoRunner) expect(tb isoTable, f isoFilter) []int64 {
	return r.m.ids(tb, func(id int64, row mrow) bool { return r.visible(tb, row) && f.match(id, row) })
}

func window(ids []int64, limit, offset int) []int64 {
	if offset >= len(ids) {
		return nil
	}
	ids = ids[offset:]
	if limit > 0 && limit < len(ids) {
		ids = ids[:limit]
	}
	return ids
}

// checkRead compares rows returned under the acting tenant with the model:
// first that none belongs to another tenant, then that they are exactly
// want (in order when ordered).
func (r *isoRunner) checkRead(what string, tb isoTable, got []isoGot, want []int64, ordered bool) {
	r.t.Helper()
	for _, g := range got {
		if g.row.tenant != r.tenant {
			r.failf("LEAK: %s returned %s id=%d %v of tenant %q under tenant %q", what, tb, g.id, g.row, g.row.tenant, r.tenant)
		}
	}
	if !ordered {
		got = slices.Clone(got)
		slices.SortFunc(got, func(a, b isoGot) int { return int(a.id - b.id) })
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		mr := r.m.rows[tb][want[i]]
		ok = got[i].id == want[i] && got[i].row == mr
	}
	if !ok {
		gs := make([]string, len(got))
		for i, g := range got {
			gs[i] = fmt.Sprintf("%d%v", g.id, g.row)
		}
		ws := make([]string, len(want))
		for i, id := range want {
			ws[i] = fmt.Sprintf("%d%v", id, r.m.rows[tb][id])
		}
		r.failf("WRONG RESULT: %s on %s returned %v, the model says %v", what, tb, gs, ws)
	}
}

// checkIDs is checkRead for reads that return only ids and tenants.
func (r *isoRunner) checkIDs(what string, tb isoTable, ids []int64, tenants []string, want []int64) {
	r.t.Helper()
	for i, tn := range tenants {
		if tn != r.tenant {
			r.failf("LEAK: %s returned %s id=%d of tenant %q under tenant %q", what, tb, ids[i], tn, r.tenant)
		}
	}
	if !slices.Equal(ids, want) && !(len(ids) == 0 && len(want) == 0) {
		r.failf("WRONG RESULT: %s on %s returned ids %v, the model says %v", what, tb, ids, want)
	}
}

// noTenant checks, when no tenant is bound, that err is ErrNoTenant and
// reports true (the operation is over).
func (r *isoRunner) noTenant(err error, what string) bool {
	r.t.Helper()
	if r.tenant != "" {
		return false
	}
	if !errors.Is(err, scope.ErrNoTenant) {
		r.failf("%s with no tenant bound: got %v, want ErrNoTenant", what, err)
	}
	r.count("blocked-no-tenant")
	return true
}

func (r *isoRunner) mustOK(err error, what string) {
	r.t.Helper()
	if err != nil {
		r.failf("%s: unexpected error: %v", what, err)
	}
}

// mustBlock checks that err matches one of the sentinels.
func (r *isoRunner) mustBlock(err error, what string, sentinels ...error) {
	r.t.Helper()
	if r.noTenant(err, what) {
		return
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			r.count("blocked")
			return
		}
	}
	if err == nil {
		r.failf("NOT BLOCKED: %s succeeded, want one of %v", what, sentinels)
	}
	r.failf("%s: got error %v, want one of %v", what, err, sentinels)
}

func (r *isoRunner) mustAffect(res sql.Result, what string, want int) {
	r.t.Helper()
	n, err := res.RowsAffected()
	if err != nil {
		r.failf("%s: RowsAffected: %v", what, err)
	}
	if n != int64(want) {
		r.failf("WRONG RESULT: %s affected %d rows, the model says %d", what, n, want)
	}
}
