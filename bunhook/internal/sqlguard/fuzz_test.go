package sqlguard

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/uptrace/bun"
	bundialect "github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
)

var fuzzValues = []string{
	"", "A", "B", "a", "AB", "x", `'`, `''`, `\`, `\\`, `\'`, `x\' OR 1=1 -- `, `' OR '1'='1`,
	`' OR tenant_id = 'A' --`, "*/ OR 1=1 /*", "/*! OR 1=1 */", "-- \n OR 1=1", "#\nOR 1=1",
	"$$ OR 1=1 $$", `" OR "1"="1`, "` OR 1=1 `", "\r OR 1=1", "é", "İNVOICES", "invoices",
	"A'; DELETE FROM invoices; --", "\x1a", "\xff\xfe", "a\x00b",
}

// appendString escapes v exactly as bun's dialect would.
func appendString(d Dialect, v string) string {
	switch d {
	case Postgres:
		return string(pgdialect.New().AppendString(nil, v))
	case SQLite:
		return string(sqlitedialect.New().AppendString(nil, v))
	default:
		return string(mysqldialect.New().AppendString(nil, v))
	}
}

func appendIdent(d Dialect, v string) string {
	q := byte('"')
	if d == MySQL {
		q = '`'
	}
	return string(bundialect.AppendIdent(nil, v, q))
}

func fuzzSeeds(f *testing.F) []string {
	var seeds []string
	for _, tc := range rawCases {
		seeds = append(seeds, tc.sql)
	}
	for _, d := range corpusDBs() {
		for _, tc := range corpusCases() {
			if len(tc.only) > 0 && !slices.Contains(tc.only, d.name) {
				continue
			}
			seeds = append(seeds, d.render(f, tc.run))
		}
	}
	return seeds
}

func FuzzCheck(f *testing.F) {
	for i, s := range fuzzSeeds(f) {
		f.Add(s, fuzzValues[i%len(fuzzValues)])
	}
	for _, w := range whereSeeds {
		f.Add(w, "x")
	}
	guards := []*Guard{New(Postgres, corpusTables), New(SQLite, corpusTables), New(MySQL, corpusTables)}
	f.Fuzz(func(t *testing.T, sql, value string) {
		for _, g := range guards {
			checkProperties(t, g, sql)
			checkValueProperties(t, g, value)
		}
		// Execute what SQLite's guard verifies against the
		// non-interference oracle, alone and as a WHERE clause.
		checkNonInterference(t, sql)
		checkNonInterference(t, "SELECT * FROM invoices AS i WHERE "+sql)
		checkNonInterference(t, "SELECT i.id, c.name FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE "+sql)
		checkNonInterference(t, "UPDATE invoices SET note = 'z' WHERE "+sql)
		checkNonInterference(t, "DELETE FROM items WHERE "+sql)
	})
}

// whereSeeds seed the WHERE-clause compositions of FuzzCheck.
var whereSeeds = []string{
	"i.tenant_id = 'A'",
	"tenant_id = 'A' AND x = 1",
	"(tenant_id = 'A') AND (x = 1 OR y = 2)",
	"i.id BETWEEN 1 AND 2 AND i.tenant_id = 'A'",
	"CASE WHEN x THEN 1 END = 1 AND tenant_id = 'A'",
	"i.tenant_id = 'A' AND c.tenant_id = 'A'",
	"i.tenant_id = 'A' AND i.id IN (SELECT invoice_id FROM items WHERE tenant_id = 'A')",
	"((i.x = 1) OR (i.y = 2)) AND (i.tenant_id = 'A')",
	"i.tenant_id = 'A' AND NOT (i.x = 2) AND i.n LIKE 'x%'",
	"tenant_id = 'A' AND EXISTS (SELECT 1 FROM customers c WHERE c.tenant_id = 'A' AND c.id = customer_id)",
}

func verdictKey(v Verdict) string {
	return fmt.Sprintf("%v|%q|%q|%v|%d|%q", v.Kind, v.Operation, v.Tables.Slice(), v.Finding, v.Findings, v.Attempted)
}

// freshTenant returns a tenant id that does not occur in sql.
func freshTenant(sql string) string {
	for i := 0; ; i++ {
		t := fmt.Sprintf("zq%dx", i)
		if !strings.Contains(sql, t) {
			return t
		}
	}
}

// checkProperties states properties that hold for any text:
//   - Check never panics and is deterministic;
//   - Mentions is a sound pre-check: when it says no, Check verifies;
//   - verification is tenant-specific: a verified statement that touches a
//     tenant table is not verified for a tenant whose id does not occur in
//     the text (every occurrence needs the tenant literal);
//   - findings are consistent with OK.
func checkProperties(t *testing.T, g *Guard, sql string) {
	v1 := g.Check(sql, tenantA)
	v2 := g.Check(sql, tenantA)
	if verdictKey(v1) != verdictKey(v2) {
		t.Fatalf("%s: non-deterministic verdict:\n%v\n%v\nSQL: %q", g.dialect, v1, v2, sql)
	}
	if v1.OK() != (v1.Findings == 0) || (v1.Finding != nil && (v1.Finding.Pos < -1 || v1.Finding.Pos > len(sql))) {
		t.Fatalf("%s: inconsistent verdict %v (pos) for %q", g.dialect, v1, sql)
	}
	if !g.Mentions(sql) && !v1.OK() {
		t.Fatalf("%s: Mentions=false but Check = %v\nSQL: %q", g.dialect, v1, sql)
	}
	if v1.OK() && v1.Tables.Len() > 0 {
		other := freshTenant(sql)
		if v := g.Check(sql, other); v.OK() {
			t.Fatalf("%s: verified for tenant A and for tenant %q, which does not occur in the text\nSQL: %q",
				g.dialect, other, sql)
		}
	}
	if v1.OK() && v1.Tables.Len() > 0 && !g.Mentions(sql) {
		t.Fatalf("%s: tables %v but Mentions=false: %q", g.dialect, v1.Tables, sql)
	}
	// Removing the tenant predicate: with the tenant column renamed
	// everywhere, nothing can restrict (or set) it any more.
	if v1.OK() && v1.Tables.Len() > 0 {
		renamed := renameFold(sql, "tenant_id", "tenant_iq")
		if v := g.Check(renamed, tenantA); v.OK() {
			t.Fatalf("%s: still verified with the tenant column renamed\nSQL: %q", g.dialect, renamed)
		}
	}
	// An OR at the top of the WHERE of a single-table SELECT can never be
	// verified, whatever follows it.
	q := "SELECT * FROM invoices WHERE 1=1 OR " + sql
	if v := g.Check(q, tenantA); v.OK() {
		t.Fatalf("%s: verified with a top-level OR\nSQL: %q", g.dialect, q)
	}
	q = "SELECT * FROM invoices AS i WHERE i.tenant_id = 'A' OR " + sql
	if v := g.Check(q, tenantA); v.OK() {
		t.Fatalf("%s: verified with a top-level OR\nSQL: %q", g.dialect, q)
	}
}

// renameFold replaces every ASCII case-insensitive occurrence of old.
func renameFold(s, old, repl string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+len(old) <= len(s) && equalFoldASCII(s[i:i+len(old)], old) {
			b.WriteString(repl)
			i += len(old)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// checkValueProperties embeds an arbitrary value the way bun renders it
// (as a string literal and as a quoted identifier) and checks that it can
// neither break a verified statement out of its shape nor hide an OR.
func checkValueProperties(t *testing.T, g *Guard, value string) {
	d := g.dialect
	if d != MySQL && strings.IndexByte(value, 0) >= 0 {
		return // bun refuses NUL in PostgreSQL/SQLite strings
	}
	lit := appendString(d, value)
	if d == MySQL {
		value = strings.ReplaceAll(value, "\x00", "") // mysqldialect drops NUL
	}

	q1 := "SELECT * FROM invoices AS i WHERE i.tenant_id = 'A' AND i.number = " + lit
	if v := g.Check(q1, tenantA); !v.OK() {
		t.Fatalf("%s: escaped value broke a verified statement: %v\nSQL: %q", d, v, q1)
	}
	q2 := q1 + " OR i.id = 1"
	if v := g.Check(q2, tenantA); v.OK() {
		t.Fatalf("%s: OR after an escaped value was not seen\nSQL: %q", d, q2)
	}
	q3 := "SELECT * FROM invoices AS i WHERE i.number = " + lit + " AND i.id = 1"
	if v := g.Check(q3, tenantA); v.OK() {
		t.Fatalf("%s: an escaped value supplied a tenant predicate\nSQL: %q", d, q3)
	}
	q4 := "UPDATE invoices SET tenant_id = " + lit + " WHERE tenant_id = 'A'"
	v4 := g.Check(q4, tenantA)
	if v4.OK() != (value == tenantA) {
		t.Fatalf("%s: SET tenant_id = %q: %v\nSQL: %q", d, value, v4, q4)
	}
	if !v4.OK() && v4.Finding.Code == TenantAssigned && utf8.ValidString(value) && d != MySQL && v4.Attempted != value {
		t.Fatalf("%s: attempted = %q, want %q", d, v4.Attempted, value)
	}
	q5 := "INSERT INTO invoices (id, tenant_id, number) VALUES (1, " + lit + ", " + lit + ")"
	if v := g.Check(q5, tenantA); v.OK() != (value == tenantA) {
		t.Fatalf("%s: INSERT tenant %q: %v\nSQL: %q", d, value, v, q5)
	}
	if v := g.Check(q1, value); value != tenantA && value != "" && v.OK() && !strings.Contains(lit, value) {
		t.Fatalf("%s: verified for tenant %q: %q", d, value, q1)
	}

	id := appendIdent(d, value)
	q6 := "SELECT * FROM invoices AS i WHERE i." + id + " = 1 OR i.tenant_id = 'A'"
	if v := g.Check(q6, tenantA); v.OK() {
		t.Fatalf("%s: OR after an identifier was not seen\nSQL: %q", d, q6)
	}
	q7 := "SELECT * FROM invoices AS i WHERE i.tenant_id = 'A' AND i." + id + " = 1 OR 1 = 1"
	if v := g.Check(q7, tenantA); v.OK() {
		t.Fatalf("%s: OR after an identifier was not seen\nSQL: %q", d, q7)
	}
}

// TestValueProperties runs the value properties on the seed values, so
// that they are checked without -fuzz.
func TestValueProperties(t *testing.T) {
	guards := []*Guard{New(Postgres, corpusTables), New(SQLite, corpusTables), New(MySQL, corpusTables)}
	for _, g := range guards {
		for _, v := range fuzzValues {
			checkValueProperties(t, g, v)
		}
	}
}

// TestBunEscapedValuesInCorpus renders smuggling values through bun itself.
func TestBunEscapedValuesInCorpus(t *testing.T) {
	for _, d := range corpusDBs() {
		g := New(d.dialect, corpusTables)
		for _, val := range fuzzValues {
			if strings.IndexByte(val, 0) >= 0 {
				continue
			}
			q := d.render(t, func(ctx context.Context, db *bun.DB) error {
				var is []Invoice
				return db.NewSelect().Model(&is).Where("?TableAlias.tenant_id = ?", tenantA).
					Where("?TableAlias.number = ?", val).WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
					return q.Where("? = ?", bun.Ident(val), val)
				}).Scan(ctx)
			})
			// Identifiers named like a tenant table (or a confusable of one)
			// are refused by design; bun leaves '*' and '.' unquoted.
			refused := g.mayNameTable(val) >= 0 || strings.EqualFold(val, "invoices") || strings.ContainsAny(val, "*.")
			if v := g.Check(q, tenantA); !v.OK() && !refused {
				t.Errorf("%s: %q: %v\nSQL: %s", d.name, val, v, q)
			}
			q = d.render(t, func(ctx context.Context, db *bun.DB) error {
				var is []Invoice
				return db.NewSelect().Model(&is).Where("?TableAlias.number = ?", val).Scan(ctx)
			})
			if v := g.Check(q, tenantA); v.OK() {
				t.Errorf("%s: %q: verified without predicate\nSQL: %s", d.name, val, q)
			}
		}
	}
}
