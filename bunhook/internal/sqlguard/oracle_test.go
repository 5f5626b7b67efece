package sqlguard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/sqliteshim"
)

// The non-interference oracle executes every statement that the SQLite
// guard verifies for tenant A against two in-memory databases that hold
// identical tenant-A (and non-tenant) rows but different tenant-B payloads
// (same keys, so that key conflicts behave the same). A verified statement
// must give the same result (rows or error) on both, must leave the
// tenant-B rows untouched, and must not create rows of another tenant.

const oracleSchema = `
CREATE TABLE invoices (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, number TEXT, customer_id INTEGER,
  deleted_at TIMESTAMP, parent_id INTEGER, currency TEXT, note TEXT, x INTEGER, y INTEGER, n TEXT, a INTEGER,
  b INTEGER, created_at TIMESTAMP, invoice_id INTEGER);
CREATE TABLE customers (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT, deleted_at TIMESTAMP, x INTEGER);
CREATE TABLE items (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, invoice_id INTEGER, sku TEXT, x INTEGER);
CREATE TABLE currencies (code TEXT PRIMARY KEY, name TEXT);
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
CREATE UNIQUE INDEX invoices_number ON invoices (tenant_id, number);
`

func oracleData(variant int) string {
	v := fmt.Sprint(variant)
	return `
INSERT INTO currencies VALUES ('EUR', 'Euro'), ('USD', 'Dollar');
INSERT INTO notes VALUES (1, 'hello'), (2, 'world');
INSERT INTO customers VALUES (1, 'A', 'Acme', NULL, 1), (2, 'A', 'Beta', NULL, 2);
INSERT INTO invoices VALUES
  (1, 'A', 'N-1', 1, NULL, NULL, 'EUR', 'a1', 1, 1, 'x', 1, 1, '2024-01-01', 1),
  (2, 'A', 'N-2', 2, NULL, 1, 'USD', 'a2', 2, 2, 'y', 2, 2, '2024-01-02', 2),
  (3, 'A', 'x', 1, '2024-02-01', 2, 'EUR', 'a3', 3, 3, 'z', 3, 3, '2024-01-03', 3);
INSERT INTO items VALUES (1, 'A', 1, 'S1', 1), (2, 'A', 1, 'S2', 2), (3, 'A', 2, 'S3', 3);
INSERT INTO customers VALUES (10, 'B', 'secret-customer-` + v + `', ` + map[int]string{1: "NULL", 2: "'2020-01-01'"}[variant] + `, ` + v + `0);
INSERT INTO invoices VALUES
  (10, 'B', 'B-` + v + `', 10, NULL, 1, 'EUR', 'b` + v + `', ` + v + `, ` + v + `, 'b` + v + `', ` + v + `, ` + v + `, '2030-0` + v + `-01', 1),
  (11, 'B', 'x` + v + `', 1, NULL, 10, 'USD', 'b` + v + `', 1` + v + `, ` + v + `, 'q` + v + `', ` + v + `, ` + v + `, '2030-0` + v + `-02', 2);
INSERT INTO items VALUES (10, 'B', 1, 'SB` + v + `', ` + v + `), (11, 'B', 10, 'SB` + v + `x', ` + v + `);
`
}

type oracle struct {
	dbs    [2]*sql.DB
	before [2]string // tenant-B rows of each variant
	guard  *Guard
}

var (
	oracleOnce sync.Once
	theOracle  *oracle
	oracleErr  error
)

func getOracle() (*oracle, error) {
	oracleOnce.Do(func() {
		o := &oracle{guard: New(SQLite, corpusTables)}
		for v := range o.dbs {
			db, err := sql.Open(sqliteshim.ShimName, ":memory:")
			if err != nil {
				oracleErr = err
				return
			}
			db.SetMaxOpenConns(1)
			db.SetMaxIdleConns(1)
			db.SetConnMaxLifetime(0)
			for _, stmt := range strings.Split(oracleSchema+oracleData(v+1), ";") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := db.Exec(stmt); err != nil {
					oracleErr = fmt.Errorf("%s: %w", stmt, err)
					return
				}
			}
			o.dbs[v] = db
			b, err := dumpWhere(context.Background(), db, "tenant_id = 'B'")
			if err != nil {
				oracleErr = err
				return
			}
			o.before[v] = b
		}
		theOracle = o
	})
	return theOracle, oracleErr
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func collect(ctx context.Context, q queryer, query string) (string, error) {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		for _, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%v|", v)
		}
		b.WriteByte('\n')
	}
	return b.String(), rows.Err()
}

func dumpWhere(ctx context.Context, q queryer, cond string) (string, error) {
	var b strings.Builder
	for _, t := range []string{"invoices", "customers", "items"} {
		s, err := collect(ctx, q, "SELECT * FROM "+t+" WHERE "+cond+" ORDER BY id")
		if err != nil {
			return "", err
		}
		b.WriteString(t + ":\n" + s)
	}
	return b.String(), nil
}

type outcome struct {
	result string // rows, or the error
	stateA string // tenant-A and non-tenant rows after the statement
	stateB string // tenant-B rows after the statement
	others string // rows of any other tenant after the statement
}

var errSkip = errors.New("skip")

// exec runs query on variant v inside a transaction that is rolled back.
func (o *oracle) exec(v int, query string) (outcome, error) {
	tx, err := o.dbs[v].BeginTx(context.Background(), nil)
	if err != nil {
		return outcome{}, err
	}
	defer func() { _ = tx.Rollback() }()
	// Only the statement is time-bounded (e.g. unbounded recursion).
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var out outcome
	res, err := collect(ctx, tx, query)
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return outcome{}, errSkip
	}
	if err != nil {
		out.result = "error: " + err.Error()
	} else {
		out.result = res
	}
	dctx := context.Background()
	if out.stateA, err = dumpWhere(dctx, tx, "tenant_id = 'A'"); err != nil {
		return outcome{}, err
	}
	for _, t := range []string{"currencies", "notes"} {
		s, err := collect(dctx, tx, "SELECT * FROM "+t+" ORDER BY 1")
		if err != nil {
			return outcome{}, err
		}
		out.stateA += t + ":\n" + s
	}
	if out.stateB, err = dumpWhere(dctx, tx, "tenant_id = 'B'"); err != nil {
		return outcome{}, err
	}
	if out.others, err = dumpWhere(dctx, tx, "tenant_id IS NULL OR tenant_id NOT IN ('A', 'B')"); err != nil {
		return outcome{}, err
	}
	return out, nil
}

// checkNonInterference runs the oracle on query when the SQLite guard
// verifies it for tenant A.
func checkNonInterference(t *testing.T, query string) {
	o, err := getOracle()
	if err != nil {
		t.Skipf("sqlite not available: %v", err)
	}
	v := o.guard.Check(query, tenantA)
	if !v.OK() {
		return
	}
	switch v.Kind {
	case Select, Insert, Update, Delete:
	default:
		return // transaction control, PRAGMA, ...: not executed here
	}
	var outs [2]outcome
	for i := range outs {
		out, err := o.exec(i, query)
		if errors.Is(err, errSkip) {
			return
		}
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		outs[i] = out
	}
	// Nondeterministic statements (random(), now, ...) cannot be compared.
	if again, err := o.exec(0, query); err != nil || again != outs[0] {
		return
	}
	fail := func(what string, a, b string) {
		t.Fatalf("verified statement is not isolated: %s\nSQL: %q\nvariant 1:\n%s\nvariant 2:\n%s", what, query, a, b)
	}
	if outs[0].result != outs[1].result {
		fail("result depends on tenant B's rows", outs[0].result, outs[1].result)
	}
	if outs[0].stateA != outs[1].stateA {
		fail("written tenant-A rows depend on tenant B's rows", outs[0].stateA, outs[1].stateA)
	}
	for i := range outs {
		if outs[i].stateB != o.before[i] {
			fail(fmt.Sprintf("tenant B's rows changed (variant %d)", i+1), o.before[i], outs[i].stateB)
		}
		if outs[i].others != "invoices:\ncustomers:\nitems:\n" {
			fail("a row of another tenant was written", outs[i].others, "")
		}
	}
}

// oracleQueries are statements the guard should verify and that must
// behave as isolated in SQLite (they exercise the oracle itself).
var oracleQueries = []string{
	`SELECT * FROM invoices WHERE tenant_id = 'A'`,
	`SELECT count(*), sum(x) FROM invoices WHERE tenant_id = 'A'`,
	`SELECT i.number, c.name FROM invoices i JOIN customers c ON c.id = i.customer_id AND c.tenant_id = 'A' WHERE i.tenant_id = 'A'`,
	`SELECT i.number, c.name FROM invoices i LEFT JOIN customers c ON c.id = i.customer_id AND c.tenant_id = 'A' WHERE i.tenant_id = 'A' ORDER BY 1`,
	`SELECT (SELECT count(*) FROM items t WHERE t.invoice_id = i.id AND t.tenant_id = 'A') FROM invoices i WHERE i.tenant_id = 'A'`,
	`WITH c AS (SELECT * FROM invoices WHERE tenant_id = 'A') SELECT count(*) FROM c`,
	`SELECT id FROM invoices WHERE tenant_id = 'A' UNION SELECT id FROM items WHERE tenant_id = 'A'`,
	`UPDATE invoices SET number = number || '!' WHERE tenant_id = 'A'`,
	`UPDATE invoices AS i SET note = c.name FROM customers AS c WHERE c.id = i.customer_id AND i.tenant_id = 'A' AND c.tenant_id = 'A'`,
	`DELETE FROM items WHERE tenant_id = 'A' AND invoice_id = 1`,
	`INSERT INTO invoices (id, tenant_id, number) VALUES (50, 'A', 'N-50'), (51, 'A', 'N-51')`,
	`INSERT INTO invoices (id, tenant_id, number) VALUES (10, 'A', 'conflicts with B')`,
	`INSERT INTO invoices AS i (id, tenant_id, number) VALUES (10, 'A', 'N') ON CONFLICT (id) DO UPDATE SET number = EXCLUDED.number WHERE i.tenant_id = 'A'`,
	`INSERT INTO invoices AS i (id, tenant_id, number) VALUES (1, 'A', 'N') ON CONFLICT (id) DO UPDATE SET number = EXCLUDED.number WHERE i.tenant_id = 'A'`,
	`WITH _data (id, tenant_id, note) AS (VALUES (1, 'A', 'u1'), (2, 'A', 'u2')) UPDATE invoices AS i SET tenant_id = _data.tenant_id, note = _data.note FROM _data WHERE i.id = _data.id AND i.tenant_id = 'A'`,
}

// unsafeQueries are refused by the guard and do interfere: they check that
// the oracle notices interference at all.
var unsafeQueries = []string{
	`SELECT * FROM invoices`,
	`SELECT * FROM invoices WHERE tenant_id = 'A' OR 1=1`,
	`UPDATE invoices SET note = 'x'`,
	`INSERT INTO invoices AS i (id, tenant_id, number) VALUES (10, 'A', 'N') ON CONFLICT (id) DO UPDATE SET number = EXCLUDED.number`,
	`UPDATE invoices SET tenant_id = 'C' WHERE tenant_id = 'A'`,
}

func TestSQLiteNonInterference(t *testing.T) {
	o, err := getOracle()
	if err != nil {
		t.Skipf("sqlite not available: %v", err)
	}
	for _, q := range oracleQueries {
		if v := o.guard.Check(q, tenantA); !v.OK() {
			t.Errorf("not verified: %v\n%s", v, q)
		}
		checkNonInterference(t, q)
	}
	// The oracle must see the interference of unsafe statements.
	for _, q := range unsafeQueries {
		var outs [2]outcome
		for i := range outs {
			outs[i], err = o.exec(i, q)
			if err != nil {
				t.Fatal(err)
			}
		}
		if outs[0] == outs[1] && outs[0].stateB == o.before[0] && outs[1].stateB == o.before[1] &&
			outs[0].others == "invoices:\ncustomers:\nitems:\n" {
			t.Errorf("oracle does not detect interference of %q", q)
		}
		if o.guard.Check(q, tenantA).OK() {
			t.Errorf("guard verifies %q", q)
		}
	}
	// Every verified statement of the test corpora.
	n := 0
	var seeds []string
	for _, tc := range rawCases {
		if tc.on.has(SQLite) {
			seeds = append(seeds, tc.sql)
		}
	}
	for _, d := range corpusDBs() {
		if d.name != "sqlite" {
			continue
		}
		for _, tc := range corpusCases() {
			if len(tc.only) == 0 || slices.Contains(tc.only, "sqlite") {
				seeds = append(seeds, d.render(t, tc.run))
			}
		}
	}
	for _, q := range seeds {
		if o.guard.Check(q, tenantA).OK() {
			n++
		}
		checkNonInterference(t, q)
	}
	t.Logf("%d verified corpus statements executed against the oracle", n)
}
