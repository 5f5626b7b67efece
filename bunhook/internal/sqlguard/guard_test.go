package sqlguard

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

type dset uint8

const (
	pg dset = 1 << iota
	lite
	my
	all = pg | lite | my
)

func (s dset) has(d Dialect) bool {
	switch d {
	case Postgres:
		return s&pg != 0
	case SQLite:
		return s&lite != 0
	case MySQL:
		return s&my != 0
	}
	return false
}

type rawCase struct {
	on     dset
	sql    string
	tenant string // "A" when empty
	want   want
}

func w(kind Kind, op string, code Code, tables ...string) want {
	return want{kind: kind, op: op, code: code, tables: tables}
}

func S(code Code, tables ...string) want { return w(Select, "SELECT", code, tables...) }

const inv = "invoices"

var rawCases = []rawCase{
	// ---- basics
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A'`, "", S(0, inv)},
	{all, `SELECT * FROM invoices WHERE invoices.tenant_id = 'A'`, "", S(0, inv)},
	{all, `SELECT * FROM invoices AS i WHERE i.tenant_id = 'A'`, "", S(0, inv)},
	{all, `SELECT * FROM invoices i WHERE 'A' = i.tenant_id`, "", S(0, inv)},
	{all, `SELECT * FROM invoices`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE id = 1`, "", S(MissingPredicate, inv)},
	{all, `SELECT version()`, "", S(0)},
	{all, `SELECT 1`, "", S(0)},
	{all, `select 1 from currencies where code = 'invoices'`, "", S(0)},
	{all, ``, "", w(Other, "", 0)},
	{all, `  /* only a comment */ ; `, "", w(Other, "", 0)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A';`, "", S(0, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A' ; ;`, "", S(0, inv)},

	// ---- case and whitespace
	{all, `select * from INVOICES where TENANT_ID = 'A'`, "", S(0, inv)},
	{all, `SeLeCt * FrOm Invoices WhErE tenant_ID = 'A'`, "", S(0, inv)},
	{all, "SELECT *\n\tFROM\n  invoices\r\n  WHERE\n\ttenant_id\n=\n'A'\n", "", S(0, inv)},
	{all, "SELECT\f*\vFROM invoices WHERE tenant_id='A'", "", S(0, inv)},

	// ---- tenant literal matching
	{all, `SELECT * FROM invoices WHERE tenant_id = 'a'`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A'`, "AB", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'AB'`, "A", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A '`, "A", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'O''Brien'`, "O'Brien", S(0, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'O''Brien'`, "O''Brien", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = ''`, "-", S(MissingPredicate, inv)},
	{my, `SELECT * FROM invoices WHERE tenant_id = 'A\\B'`, `A\B`, S(MissingPredicate, inv)}, // backslashes never match on MySQL
	{pg | lite, `SELECT * FROM invoices WHERE tenant_id = 'A\B'`, `A\B`, S(0, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = "A"`, "", S(MissingPredicate, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = E'A'`, "", S(MissingPredicate, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = $$A$$`, "", S(MissingPredicate, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A'::text`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = N'A'`, "", S(MissingPredicate, inv)},
	{my, `SELECT * FROM invoices WHERE tenant_id = _utf8mb4'A'`, "", S(MissingPredicate, inv)},
	{pg | my, "SELECT * FROM invoices WHERE tenant_id = 'A'\n'B'", "", S(MissingPredicate, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A' || 'B'`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A' COLLATE "C"`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 42`, "42", S(MissingPredicate, inv)},

	// ---- comparison operators and negation
	{all, `SELECT * FROM invoices WHERE tenant_id <> 'A'`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id != 'A'`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id >= 'A'`, "", S(MissingPredicate, inv)},
	{lite, `SELECT * FROM invoices WHERE tenant_id == 'A'`, "", S(MissingPredicate, inv)},
	{my, `SELECT * FROM invoices WHERE tenant_id <=> 'A'`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id LIKE 'A'`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id IN ('A')`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE NOT (tenant_id = 'A')`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE NOT tenant_id = 'A'`, "", S(MissingPredicate, inv)},
	{my, `SELECT * FROM invoices WHERE !(tenant_id = 'A')`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A' IS NOT TRUE`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE (tenant_id = 'A') = false`, "", S(MissingPredicate, inv)},

	// ---- OR
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A' OR 1=1`, "", S(OrEscape, inv)},
	{all, `SELECT * FROM invoices WHERE (tenant_id = 'A' OR 1=1)`, "", S(OrEscape, inv)},
	{all, `SELECT * FROM invoices WHERE (tenant_id = 'A') OR (1=1)`, "", S(OrEscape, inv)},
	{all, `SELECT * FROM invoices WHERE x = 1 AND tenant_id = 'A' OR y = 2`, "", S(OrEscape, inv)},
	{all, `SELECT * FROM invoices WHERE (x = 1 OR y = 2) AND tenant_id = 'A'`, "", S(0, inv)},
	{pg | lite, `SELECT * FROM invoices AS a WHERE (("a".x = 1) OR ("a".y = 2) AND ("a".tenant_id = 'A')) AND "a"."deleted_at" IS NULL`, "", S(OrEscape, inv)},
	{pg | lite, `SELECT * FROM invoices AS a WHERE (("a".x = 1) AND (("a".tenant_id = 'A'))) AND "a"."deleted_at" IS NULL`, "", S(0, inv)},
	{my, "SELECT * FROM invoices AS a WHERE ((`a`.x = 1) OR (`a`.y = 2) AND (`a`.tenant_id = 'A')) AND `a`.`deleted_at` IS NULL", "", S(OrEscape, inv)},
	{my, "SELECT * FROM invoices AS a WHERE ((`a`.x = 1) AND ((`a`.tenant_id = 'A'))) AND `a`.`deleted_at` IS NULL", "", S(0, inv)},
	{my, `SELECT * FROM invoices AS a WHERE "a".tenant_id = 'A'`, "", S(MissingPredicate, inv)}, // "a" is a string on MySQL
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A' XOR 1`, "", S(OrEscape, inv)},
	{my, `SELECT * FROM invoices WHERE tenant_id = 'A' || 1=1`, "", S(OrEscape, inv)},
	{my, `SELECT * FROM invoices WHERE x = 1 || y = 2 && tenant_id = 'A'`, "", S(OrEscape, inv)},
	{my, `SELECT * FROM invoices WHERE x = 1 && tenant_id = 'A'`, "", S(0, inv)},
	{pg, `SELECT * FROM invoices WHERE x && tenant_id = 'A'`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A' AND number = 'x OR 1=1'`, "", S(0, inv)},

	// ---- BETWEEN and CASE do not yield conjuncts
	{all, `SELECT * FROM invoices i WHERE i.id BETWEEN 1 AND i.tenant_id = 'A'`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices i WHERE i.id BETWEEN 1 AND 2 AND i.tenant_id = 'A'`, "", S(0, inv)},
	{all, `SELECT * FROM invoices i WHERE i.id NOT BETWEEN 1 AND 2 AND i.tenant_id = 'A'`, "", S(0, inv)},
	{all, `SELECT * FROM invoices i WHERE CASE WHEN i.x AND i.tenant_id = 'A' AND i.y THEN 1 ELSE 0 END = 1`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices i WHERE CASE WHEN i.x THEN 1 END = 1 AND i.tenant_id = 'A'`, "", S(0, inv)},
	{lite, `SELECT * FROM invoices i WHERE CASE WHEN end AND i.tenant_id = 'A' AND y THEN 1 END`, "", S(MissingPredicate, inv)},

	// ---- keywords used as column names (SQLite) must not cut the WHERE short
	{lite, `SELECT * FROM invoices WHERE tenant_id = 'A' AND offset = 1 OR 1=1`, "", S(Unverifiable, inv)},
	{lite, `SELECT * FROM invoices WHERE tenant_id = 'A' AND x * offset = 1 OR 1=1`, "", S(Unverifiable, inv)},
	{lite, `SELECT * FROM invoices WHERE tenant_id = 'A' AND x = offset OR 1=1`, "", S(Unverifiable, inv)},
	{all, `SELECT * FROM invoices i WHERE i.tenant_id = 'A' AND i.offset = 1`, "", S(0, inv)},

	// ---- comments
	{all, `SELECT * FROM invoices /* WHERE tenant_id = 'A' */`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE /* tenant_id = 'A' AND */ id = 1`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE id = 1 -- AND tenant_id = 'A'`, "", S(MissingPredicate, inv)},
	{all, "SELECT * FROM invoices WHERE tenant_id = 'A' -- comment\n AND id = 1", "", S(0, inv)},
	{all, "/* tenant_id = 'A' */ SELECT * FROM invoices WHERE tenant_id = /* x */ 'A'", "", S(0, inv)},
	{my, `SELECT * FROM invoices WHERE id = 1 # AND tenant_id = 'A'`, "", S(MissingPredicate, inv)},
	{my, "SELECT * FROM invoices WHERE tenant_id = 'A' # x\n OR 1=1", "", S(OrEscape, inv)},
	{pg, "SELECT * FROM invoices WHERE tenant_id = 'A' -- x\r OR 1=1", "", S(OrEscape, inv)},
	{lite | my, "SELECT * FROM invoices WHERE tenant_id = 'A' -- x\r OR 1=1", "", S(0, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A' /* /* */ OR 1=1 */`, "", S(0, inv)},
	{lite | my, `SELECT * FROM invoices WHERE tenant_id = 'A' /* /* */ OR 1=1 */`, "", S(OrEscape, inv)},
	{my, `SELECT * FROM invoices WHERE tenant_id = 'A' /*!50000 OR 1=1 */`, "", S(ParseError, inv)},
	{my, `SELECT * FROM invoices WHERE tenant_id = 'A' /*M! OR 1=1 */`, "", S(ParseError, inv)},
	{my, `SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM invoices WHERE tenant_id = 'A'`, "", S(0, inv)},
	{pg | lite, `SELECT * FROM invoices WHERE tenant_id = 'A' /*!50000 OR 1=1 */`, "", S(0, inv)},
	{my, `SELECT * FROM invoices WHERE tenant_id = 'A' --1 OR 1=1`, "", S(OrEscape, inv)},
	{pg | lite, `SELECT * FROM invoices WHERE tenant_id = 'A' --1 OR 1=1`, "", S(0, inv)},
	{my, "SELECT * FROM invoices WHERE tenant_id = 'A' --\x01 OR 1=1", "", S(ParseError, inv)},
	{my, "SELECT * FROM invoices WHERE tenant_id = 'A' --", "", S(0, inv)},

	// ---- string literals
	{all, `SELECT * FROM invoices WHERE number = 'x'' AND tenant_id = ''A'`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE number = 'tenant_id = ''A''' AND tenant_id = 'A'`, "", S(0, inv)},
	{my, `SELECT * FROM invoices WHERE number = 'x\' OR 1=1 -- ' AND tenant_id = 'A'`, "", S(ParseError, inv)},
	{my, `SELECT * FROM invoices WHERE tenant_id = 'A' AND number = 'x\\'' OR 1=1 -- '`, "", S(0, inv)},
	{my, `SELECT * FROM invoices WHERE tenant_id = 'A' AND number = 'x\\' OR 1=1 -- '`, "", S(OrEscape, inv)},
	{my, `SELECT * FROM invoices WHERE tenant_id = 'A' AND number = "x\" OR 1=1"`, "", S(ParseError, inv)},
	{my, `SELECT * FROM invoices WHERE tenant_id = 'A' AND number = "x"" OR 1=1"`, "", S(0, inv)},
	{pg | lite, `SELECT * FROM invoices WHERE number = 'x\' OR 1=1 -- ' AND tenant_id = 'A'`, "", S(MissingPredicate, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A' AND n = E'\' OR 1=1 --'`, "", S(0, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A' AND n = e'\\' OR 1=1`, "", S(OrEscape, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A' AND n = $$ ' OR 1=1 $$`, "", S(0, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A' AND n = $q$ $$ ' OR 1=1 $q$`, "", S(0, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = $1 AND n = $2`, "", S(MissingPredicate, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A' AND n = U&'\0041'`, "", S(0, inv)},

	// ---- unterminated / invalid text
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A`, "", S(ParseError, inv)},
	{all, `SELECT 'unterminated`, "", S(0)},
	{all, `SELECT * FROM invoices /* x`, "", S(ParseError, inv)},
	{pg | lite, `SELECT * FROM "invoices`, "", S(ParseError, inv)},
	{my, "SELECT * FROM `invoices", "", S(ParseError, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = $a$A`, "", S(ParseError, inv)},
	{all, "SELECT * FROM invoices WHERE tenant_id = 'A'\x00", "", S(ParseError, inv)},
	{all, "SELECT * FROM invoices WHERE tenant_id = 'A' AND (x = 1", "", S(ParseError, inv)},
	{all, "SELECT * FROM invoices WHERE tenant_id = 'A') OR (1=1", "", S(ParseError, inv)},
	{pg | lite, `SELECT * FROM invoices WHERE tenant_id = 'A' AND \x`, "", S(ParseError, inv)},

	// ---- identifiers, qualification, schemas
	{pg, `SELECT * FROM "public"."invoices" WHERE "invoices"."tenant_id" = 'A'`, "", S(0, inv)},
	{pg, `SELECT * FROM public.invoices AS i WHERE i.tenant_id = 'A'`, "", S(0, inv)},
	{my, "SELECT * FROM `test`.`invoices` WHERE `invoices`.`tenant_id` = 'A'", "", S(0, inv)},
	{my, "SELECT * FROM test.invoices WHERE invoices.tenant_id = 'A'", "", S(0, inv)},
	{lite, `SELECT * FROM main.invoices WHERE invoices.tenant_id = 'A'`, "", S(0, inv)},
	{lite, `SELECT * FROM [invoices] WHERE [invoices].[tenant_id] = 'A'`, "", S(0, inv)},
	{lite, "SELECT * FROM `invoices` WHERE `invoices`.`tenant_id` = 'A'", "", S(0, inv)},
	{pg | lite, `SELECT * FROM "invoices" AS "i" WHERE "i"."tenant_id" = 'A'`, "", S(0, inv)},
	{pg, `SELECT * FROM invoices AS i WHERE "I".tenant_id = 'A'`, "", S(MissingPredicate, inv)},
	{pg, `SELECT * FROM invoices AS I WHERE "i".tenant_id = 'A'`, "", S(0, inv)},
	{pg, `SELECT * FROM invoices AS "I" WHERE i.tenant_id = 'A'`, "", S(MissingPredicate, inv)},
	{lite, `SELECT * FROM invoices AS i WHERE "I".tenant_id = 'A'`, "", S(0, inv)},
	{my, "SELECT * FROM invoices AS i WHERE `I`.tenant_id = 'A'", "", S(MissingPredicate, inv)},
	{pg, `SELECT * FROM invoices WHERE "TENANT_ID" = 'A'`, "", S(MissingPredicate, inv)},
	{my | lite, "SELECT * FROM invoices WHERE TENANT_ID = 'A'", "", S(0, inv)},
	{all, `SELECT * FROM invoices i WHERE invoices.tenant_id = 'A'`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices1 WHERE x = 1`, "", S(0)},
	{all, `SELECT * FROM my_invoices WHERE x = 1`, "", S(0)},
	{my, `SELECT * FROM 1invoices WHERE x = 1`, "", S(0)},
	{pg | lite, `SELECT * FROM "invoicesé" WHERE x = 1`, "", S(0)},
	// MySQL compares identifiers with Unicode, accent-insensitive folding.
	{my, `SELECT * FROM İNVOICES WHERE tenant_id = 'A'`, "", S(Unverifiable, inv)},
	{my, `SELECT * FROM ınvoices WHERE tenant_id = 'A'`, "", S(Unverifiable, inv)},
	{my, "SELECT * FROM `invöices` WHERE tenant_id = 'A'", "", S(Unverifiable, inv)},
	{my, "SELECT * FROM `ｉｎｖｏｉｃｅｓ`", "", S(Unverifiable, "customers", inv)},
	{my, "SELECT * FROM `i\u0301nvoices`", "", S(Unverifiable, inv)},
	{my, "SELECT * FROM `inv\u200boices`", "", S(Unverifiable, inv)},
	{my, `SELECT * FROM invoicesé WHERE x = 1`, "", S(0)},
	{my, `SELECT * FROM ваш WHERE x = 1`, "", S(0)},
	{my, "SELECT * FROM `請求書` WHERE x = 1", "", S(0)},
	{my, `UPDATE invoices SET tenant_ıd = 'B' WHERE tenant_id = 'A'`, "", w(Update, "UPDATE", Unverifiable, inv)},
	{my, `UPDATE invoices SET tenant_íd = 'B' WHERE tenant_id = 'A'`, "", w(Update, "UPDATE", Unverifiable, inv)},
	{my, `UPDATE currencies SET tenant_ıd = 'B'`, "", w(Update, "UPDATE", 0)},
	// PostgreSQL and SQLite fold ASCII only: these are other names.
	{pg | lite, `SELECT * FROM İNVOICES WHERE x = 1`, "", S(0)},
	{pg | lite, `SELECT * FROM "ｉｎｖｏｉｃｅｓ"`, "", S(0)},
	{pg | lite, `UPDATE invoices SET tenant_ıd = 'B' WHERE tenant_id = 'A'`, "", w(Update, "UPDATE", 0, inv)},
	{all, `SELECT café FROM invoices WHERE tenant_id = 'A'`, "", S(0, inv)},
	{pg, `SELECT * FROM U&"\0069nvoices"`, "", S(Unverifiable)},
	{pg, `SELECT * FROM u&"inv" WHERE 1=1`, "", S(Unverifiable)},
	{pg, `SELECT 1 FROM currencies WHERE code = U&'\0041'`, "", S(0)},
	{pg, `SELECT * FROM ONLY invoices WHERE tenant_id = 'A'`, "", S(0, inv)},
	{pg, `SELECT * FROM invoices * WHERE tenant_id = 'A'`, "", S(0, inv)},
	{all, `SELECT * FROM invoices AS i (a, tenant_id) WHERE i.tenant_id = 'A'`, "", S(Unverifiable, inv)},
	{all, `SELECT * FROM invoices, invoices WHERE invoices.tenant_id = 'A'`, "", S(Unverifiable, inv)},
	{all, `SELECT * FROM invoices i, customers I WHERE i.tenant_id = 'A' AND I.tenant_id = 'A'`, "", S(Unverifiable, inv, "customers")},

	// ---- strings read as identifiers (SQLite; MySQL with ANSI_QUOTES)
	{all, `SELECT * FROM 'invoices'`, "", S(Unverifiable, inv)},
	{lite, `SELECT * FROM currencies c JOIN 'invoices' i ON 1 = 1`, "", S(Unverifiable, inv)},
	{lite, `DELETE FROM 'invoices'`, "", w(Delete, "DELETE", Unverifiable, inv)},
	{lite, `UPDATE 'invoices' SET number = 'x'`, "", w(Update, "UPDATE", Unverifiable, inv)},
	{lite, `INSERT INTO 'invoices' (id) VALUES (1)`, "", w(Insert, "INSERT", Unverifiable, inv)},
	{my, `SELECT * FROM "invoices"`, "", S(Unverifiable, inv)},
	{my, `SELECT * FROM "invoices" AS i WHERE i.tenant_id = 'A'`, "", S(Unverifiable, inv)},
	{my, `UPDATE invoices SET "tenant_id" = 'B' WHERE tenant_id = 'A'`, "", w(Update, "UPDATE", Unverifiable, inv)},
	{all, `SELECT 'invoices' FROM currencies`, "", S(0)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A' AND number = 'invoices'`, "", S(0, inv)},

	// ---- stray tenant table names
	{all, `SELECT invoices FROM customers c WHERE c.tenant_id = 'A'`, "", S(Unverifiable, inv, "customers")},
	{all, `SELECT count(*) AS invoices FROM customers c WHERE c.tenant_id = 'A'`, "", S(0, "customers")},
	{all, `SELECT c.invoices FROM customers c WHERE c.tenant_id = 'A'`, "", S(0, "customers")},
	{all, `SELECT * FROM customers c WHERE c.tenant_id = 'A' AND invoices(c.id) > 0`, "", S(Unverifiable, "customers", inv)},
	{all, `SELECT * FROM invoices(1) AS x`, "", S(Unverifiable, inv)},
	{all, `WITH invoices AS (SELECT 1 AS x) SELECT * FROM invoices`, "", S(MissingPredicate, inv)},
	{pg, `TABLE invoices`, "", w(Select, "TABLE", Unverifiable, inv)},

	// ---- joins
	{all, `SELECT * FROM invoices i, customers c WHERE i.tenant_id = 'A' AND c.tenant_id = 'A'`, "", S(0, inv, "customers")},
	{all, `SELECT * FROM invoices i, customers c WHERE tenant_id = 'A' AND c.tenant_id = 'A'`, "", S(MissingPredicate, inv, "customers")},
	{all, `SELECT * FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE i.tenant_id = 'A' AND c.tenant_id = 'A'`, "", S(0, inv, "customers")},
	{all, `SELECT * FROM invoices i JOIN customers c ON c.id = i.customer_id AND c.tenant_id = 'A' WHERE i.tenant_id = 'A'`, "", S(0, inv, "customers")},
	{all, `SELECT * FROM invoices i INNER JOIN customers c ON (c.id = i.customer_id) AND (c.tenant_id = 'A') WHERE i.tenant_id = 'A'`, "", S(0, inv, "customers")},
	{all, `SELECT * FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE i.tenant_id = 'A' AND i.tenant_id = 'A'`, "", S(MissingPredicate, inv, "customers")},
	{all, `SELECT * FROM invoices i JOIN customers c ON c.id = i.customer_id AND i.tenant_id = 'A' WHERE c.tenant_id = 'A'`, "", S(MissingPredicate, inv, "customers")},
	{all, `SELECT * FROM invoices i JOIN customers c ON c.id = i.customer_id AND c.tenant_id = 'A' OR 1=1 WHERE i.tenant_id = 'A'`, "", S(OrEscape, inv, "customers")},
	{all, `SELECT * FROM customers c LEFT JOIN invoices i ON i.customer_id = c.id AND i.tenant_id = 'A' WHERE c.tenant_id = 'A'`, "", S(0, "customers", inv)},
	{all, `SELECT * FROM customers c LEFT OUTER JOIN invoices i ON i.customer_id = c.id AND i.tenant_id = 'A' WHERE c.tenant_id = 'A'`, "", S(0, "customers", inv)},
	{pg | my, `SELECT * FROM customers c RIGHT JOIN invoices i ON i.customer_id = c.id AND i.tenant_id = 'A' WHERE c.tenant_id = 'A'`, "", S(MissingPredicate, "customers", inv)},
	{pg, `SELECT * FROM customers c FULL JOIN invoices i ON i.customer_id = c.id AND i.tenant_id = 'A' WHERE c.tenant_id = 'A'`, "", S(MissingPredicate, "customers", inv)},
	{pg, `SELECT * FROM customers c FULL JOIN invoices i ON i.customer_id = c.id WHERE c.tenant_id = 'A' AND i.tenant_id = 'A'`, "", S(0, "customers", inv)},
	{all, `SELECT * FROM customers c CROSS JOIN invoices i WHERE c.tenant_id = 'A' AND i.tenant_id = 'A'`, "", S(0, "customers", inv)},
	{all, `SELECT * FROM customers c NATURAL JOIN invoices i WHERE c.tenant_id = 'A'`, "", S(MissingPredicate, "customers", inv)},
	{all, `SELECT * FROM customers c JOIN invoices i USING (id) WHERE c.tenant_id = 'A' AND i.tenant_id = 'A'`, "", S(0, "customers", inv)},
	{my, `SELECT * FROM customers c STRAIGHT_JOIN invoices i ON i.tenant_id = 'A' WHERE c.tenant_id = 'A'`, "", S(0, "customers", inv)},
	{all, `SELECT * FROM (invoices i JOIN customers c ON c.id = i.customer_id) WHERE i.tenant_id = 'A' AND c.tenant_id = 'A'`, "", S(Unverifiable, inv, "customers")},
	{all, `SELECT * FROM invoices i JOIN customers c JOIN items t ON t.tenant_id = 'A' ON c.tenant_id = 'A' WHERE i.tenant_id = 'A'`, "", S(Unverifiable, inv, "customers", "items")},
	{all, `SELECT * FROM invoices i JOIN currencies cur ON cur.code = i.currency WHERE i.tenant_id = 'A'`, "", S(0, inv)},
	{my, "SELECT * FROM invoices AS i USE INDEX (idx_a) FORCE INDEX FOR JOIN (idx_b, idx_c) WHERE i.tenant_id = 'A'", "", S(0, inv)},
	{my, "SELECT * FROM invoices PARTITION (p0) AS i WHERE i.tenant_id = 'A'", "", S(0, inv)},
	{pg, `SELECT * FROM customers c, LATERAL (SELECT * FROM invoices i WHERE i.customer_id = c.id AND i.tenant_id = 'A') x WHERE c.tenant_id = 'A'`, "", S(0, "customers", inv)},
	{pg, `SELECT * FROM customers c JOIN LATERAL (SELECT * FROM invoices i WHERE i.customer_id = c.id) x ON true WHERE c.tenant_id = 'A'`, "", S(MissingPredicate, "customers", inv)},
	{pg, `SELECT * FROM customers c, generate_series(1, 3) AS g(n) WHERE c.tenant_id = 'A'`, "", S(0, "customers")},

	// ---- query blocks: subqueries, CTEs, set operations
	{all, `SELECT * FROM invoices i WHERE i.tenant_id = 'A' AND i.id IN (SELECT invoice_id FROM items WHERE tenant_id = 'A')`, "", S(0, inv, "items")},
	{all, `SELECT * FROM invoices i WHERE i.tenant_id = 'A' AND i.id IN (SELECT invoice_id FROM items)`, "", S(MissingPredicate, inv, "items")},
	{all, `SELECT * FROM invoices i WHERE i.id IN (SELECT t.invoice_id FROM items t WHERE t.tenant_id = 'A' AND i.tenant_id = 'A')`, "", S(MissingPredicate, inv, "items")},
	{all, `SELECT * FROM invoices i WHERE i.tenant_id = 'A' AND EXISTS (SELECT 1 FROM items t WHERE t.invoice_id = i.id)`, "", S(MissingPredicate, inv, "items")},
	{all, `SELECT * FROM invoices i WHERE i.tenant_id = 'A' AND EXISTS (SELECT 1 FROM items t WHERE t.invoice_id = i.id AND tenant_id = 'A')`, "", S(0, inv, "items")},
	{all, `SELECT (SELECT count(*) FROM items t WHERE t.invoice_id = i.id) FROM invoices i WHERE i.tenant_id = 'A'`, "", S(MissingPredicate, "items", inv)},
	{all, `SELECT * FROM (SELECT * FROM invoices WHERE tenant_id = 'A') AS x`, "", S(0, inv)},
	{all, `SELECT * FROM (SELECT * FROM invoices) AS x WHERE x.tenant_id = 'A'`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM ((SELECT * FROM invoices WHERE tenant_id = 'A')) AS x`, "", S(0, inv)},
	{all, `WITH c AS (SELECT * FROM invoices WHERE tenant_id = 'A') SELECT * FROM c`, "", S(0, inv)},
	{all, `WITH c AS (SELECT * FROM invoices) SELECT * FROM c WHERE c.tenant_id = 'A'`, "", S(MissingPredicate, inv)},
	{all, `WITH RECURSIVE t AS (SELECT id FROM invoices WHERE tenant_id = 'A' UNION ALL SELECT i.id FROM invoices i JOIN t ON t.id = i.parent_id WHERE i.tenant_id = 'A') SELECT * FROM t`, "", S(0, inv)},
	{all, `WITH RECURSIVE t AS (SELECT id FROM invoices WHERE tenant_id = 'A' UNION ALL SELECT i.id FROM invoices i JOIN t ON t.id = i.parent_id) SELECT * FROM t`, "", S(MissingPredicate, inv)},
	{pg, `WITH c AS MATERIALIZED (SELECT * FROM invoices WHERE tenant_id = 'A') SELECT * FROM c`, "", S(0, inv)},
	{all, `SELECT id FROM invoices WHERE tenant_id = 'A' UNION SELECT id FROM invoices WHERE tenant_id = 'A'`, "", S(0, inv)},
	{all, `SELECT id FROM invoices WHERE tenant_id = 'A' UNION ALL SELECT id FROM items`, "", S(MissingPredicate, inv, "items")},
	{pg | my, `(SELECT id FROM invoices WHERE tenant_id = 'A') UNION (SELECT id FROM invoices WHERE tenant_id = 'B')`, "", S(MissingPredicate, inv)},
	{pg | my, `(SELECT id FROM invoices WHERE tenant_id = 'A') UNION (SELECT id FROM invoices WHERE tenant_id = 'A') ORDER BY id LIMIT 3`, "", S(0, inv)},
	{all, `SELECT id FROM invoices WHERE tenant_id = 'A' INTERSECT SELECT id FROM invoices WHERE tenant_id = 'A' EXCEPT SELECT id FROM invoices`, "", S(MissingPredicate, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A' AND id IN (SELECT 1 UNION SELECT invoice_id FROM items)`, "", S(MissingPredicate, inv, "items")},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A' AND id IN ((SELECT 1) UNION (SELECT invoice_id FROM items WHERE tenant_id = 'A'))`, "", S(0, inv, "items")},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A' AND id = ANY (ARRAY(SELECT invoice_id FROM items))`, "", S(MissingPredicate, inv, "items")},
	{all, `SELECT count(*) FROM invoices WHERE tenant_id = 'A' GROUP BY customer_id HAVING count(*) > (SELECT count(*) FROM items)`, "", S(MissingPredicate, inv, "items")},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A' ORDER BY (SELECT max(id) FROM items)`, "", S(MissingPredicate, inv, "items")},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A' LIMIT (SELECT count(*) FROM items)`, "", S(MissingPredicate, inv, "items")},
	{all, `SELECT EXISTS (SELECT 1 FROM invoices WHERE tenant_id = 'A')`, "", S(0, inv)},
	{all, `SELECT EXISTS (SELECT 1 FROM invoices WHERE tenant_id = 'B')`, "", S(MissingPredicate, inv)},
	{all, `VALUES (1, 'A')`, "", w(Select, "VALUES", 0)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A' AND (SELECT 1) + 1 = 2`, "", S(0, inv)},
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A' AND ((SELECT 1) + 1) = 2`, "", S(Unverifiable, inv)},

	// ---- clauses
	{all, `SELECT customer_id, count(*) FROM invoices WHERE tenant_id = 'A' GROUP BY customer_id HAVING count(*) > 1 ORDER BY 2 DESC LIMIT 10 OFFSET 5`, "", S(0, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A' ORDER BY id NULLS LAST FETCH FIRST 3 ROWS ONLY`, "", S(0, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A' FOR UPDATE OF invoices SKIP LOCKED`, "", S(0, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A' FOR NO KEY UPDATE NOWAIT`, "", S(0, inv)},
	{my, `SELECT * FROM invoices WHERE tenant_id = 'A' LOCK IN SHARE MODE`, "", S(0, inv)},
	{my, `SELECT * FROM invoices WHERE tenant_id = 'A' LIMIT 5, 10`, "", S(0, inv)},
	{pg, `SELECT DISTINCT ON (customer_id) * FROM invoices WHERE tenant_id = 'A'`, "", S(0, inv)},
	{lite, `SELECT * FROM invoices WHERE tenant_id = 'A' AND (x) * offset = 1 OR 1=1`, "", S(Unverifiable, inv)},
	{all, `SELECT * FROM invoices i WHERE i.tenant_id = 'A' AND i.and = 1`, "", S(0, inv)},
	{all, `SELECT * FROM invoices i WHERE i.tenant_id = 'A' AND i.or = 1`, "", S(0, inv)},
	{all, `SELECT a IS DISTINCT FROM b FROM invoices WHERE tenant_id = 'A'`, "", S(0, inv)},
	{all, `SELECT a IS NOT DISTINCT FROM b FROM invoices WHERE tenant_id = 'A'`, "", S(0, inv)},
	{pg, `SELECT EXTRACT(year FROM created_at), substring(n FROM 1 FOR 2) FROM invoices WHERE tenant_id = 'A'`, "", S(0, inv)},
	{all, `SELECT row_number() OVER (PARTITION BY customer_id ORDER BY id) FROM invoices WHERE tenant_id = 'A'`, "", S(0, inv)},
	{pg, `SELECT count(*) FILTER (WHERE x OR y) FROM invoices WHERE tenant_id = 'A'`, "", S(0, inv)},
	{pg, `SELECT x::text FROM invoices WHERE tenant_id = 'A'`, "", S(0, inv)},
	{pg, `SELECT * FROM invoices WHERE tenant_id = 'A' AND created_at > now() - interval '1 day'`, "", S(0, inv)},
	{pg, `SELECT * INTO copy FROM invoices WHERE tenant_id = 'A'`, "", S(Unverifiable, inv)},
	{my, `SELECT number INTO @n FROM invoices WHERE tenant_id = 'A'`, "", S(Unverifiable, inv)},
	{my, `SELECT number FROM invoices WHERE tenant_id = 'A' INTO @n`, "", S(Unverifiable, inv)},
	{pg, `SELECT FROM invoices WHERE tenant_id = 'A'`, "", S(0, inv)},

	// ---- INSERT
	{all, `INSERT INTO invoices (id, tenant_id) VALUES (1, 'A')`, "", w(Insert, "INSERT", 0, inv)},
	{all, `INSERT INTO invoices (id, tenant_id) VALUES (1, 'A'), (2, 'A') RETURNING id`, "", w(Insert, "INSERT", 0, inv)},
	{all, `INSERT INTO invoices (id, tenant_id) VALUES (1, 'A'), (2, 'B')`, "", want{Insert, "INSERT", []string{inv}, TenantAssigned, "B"}},
	{all, `INSERT INTO invoices (id, tenant_id) VALUES (1, 'O''B')`, "", want{Insert, "INSERT", []string{inv}, TenantAssigned, "O'B"}},
	{all, `INSERT INTO invoices (id, tenant_id) VALUES (1, DEFAULT)`, "", w(Insert, "INSERT", TenantAssigned, inv)},
	{all, `INSERT INTO invoices (id, tenant_id) VALUES (1, NULL)`, "", w(Insert, "INSERT", TenantAssigned, inv)},
	{all, `INSERT INTO invoices (id, tenant_id) VALUES (1, lower('A'))`, "", w(Insert, "INSERT", TenantAssigned, inv)},
	{all, `INSERT INTO invoices (id, tenant_id) VALUES (1, (SELECT 'A'))`, "", w(Insert, "INSERT", TenantAssigned, inv)},
	{pg | lite, `INSERT INTO invoices (id, "number") VALUES (1, 'A')`, "", w(Insert, "INSERT", TenantColumnMissing, inv)},
	{my, "INSERT INTO invoices (id, `number`) VALUES (1, 'A')", "", w(Insert, "INSERT", TenantColumnMissing, inv)},
	{all, `INSERT INTO invoices VALUES (1, 'A')`, "", w(Insert, "INSERT", TenantColumnMissing, inv)},
	{pg | lite, `INSERT INTO invoices DEFAULT VALUES`, "", w(Insert, "INSERT", TenantColumnMissing, inv)},
	{all, `INSERT INTO invoices (id, tenant_id) VALUES (1)`, "", w(Insert, "INSERT", Unverifiable, inv)},
	{all, `INSERT INTO invoices (id, tenant_id, tenant_id) VALUES (1, 'A', 'B')`, "", w(Insert, "INSERT", Unverifiable, inv)},
	{all, `INSERT INTO invoices (id, tenant_id) SELECT id, 'A' FROM invoices WHERE tenant_id = 'A'`, "", w(Insert, "INSERT", InsertSelect, inv)},
	{all, `INSERT INTO currencies (code, name) SELECT number, tenant_id FROM invoices`, "", w(Insert, "INSERT", MissingPredicate, inv)},
	{all, `INSERT INTO currencies (code, name) SELECT number, tenant_id FROM invoices WHERE tenant_id = 'A'`, "", w(Insert, "INSERT", 0, inv)},
	{all, `INSERT INTO currencies (code, name) VALUES ((SELECT number FROM invoices LIMIT 1), 'x')`, "", w(Insert, "INSERT", MissingPredicate, inv)},
	{all, `INSERT INTO currencies (code, name) VALUES ('EUR', 'Euro')`, "", w(Insert, "INSERT", 0)},
	{pg | lite, `INSERT INTO invoices (id, tenant_id) VALUES (1, 'A') ON CONFLICT DO NOTHING`, "", w(Insert, "INSERT", 0, inv)},
	{pg | lite, `INSERT INTO invoices (id, tenant_id) VALUES (1, 'A') ON CONFLICT (id) DO UPDATE SET number = EXCLUDED.number`, "", w(Insert, "INSERT", MissingPredicate, inv)},
	{pg | lite, `INSERT INTO invoices (id, tenant_id) VALUES (1, 'A') ON CONFLICT (id) DO UPDATE SET number = EXCLUDED.number WHERE invoices.tenant_id = 'A'`, "", w(Insert, "INSERT", 0, inv)},
	{pg | lite, `INSERT INTO invoices (id, tenant_id) VALUES (1, 'A') ON CONFLICT (id) DO UPDATE SET number = EXCLUDED.number WHERE tenant_id = 'A'`, "", w(Insert, "INSERT", MissingPredicate, inv)},
	{pg | lite, `INSERT INTO invoices AS i (id, tenant_id) VALUES (1, 'A') ON CONFLICT (id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, number = 'x' WHERE i.tenant_id = 'A'`, "", w(Insert, "INSERT", 0, inv)},
	{pg | lite, `INSERT INTO invoices AS i (id, tenant_id) VALUES (1, 'A') ON CONFLICT (id) DO UPDATE SET tenant_id = 'B' WHERE i.tenant_id = 'A'`, "", want{Insert, "INSERT", []string{inv}, TenantAssigned, "B"}},
	{pg | lite, `INSERT INTO invoices AS i (id, tenant_id) VALUES (1, 'A') ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.number WHERE i.tenant_id = 'A'`, "", w(Insert, "INSERT", TenantAssigned, inv)},
	{pg | lite, `INSERT INTO invoices AS i (id, tenant_id) VALUES (1, 'A') ON CONFLICT (id) WHERE i.tenant_id = 'A' DO UPDATE SET number = 'x'`, "", w(Insert, "INSERT", MissingPredicate, inv)},
	{pg | lite, `INSERT INTO invoices AS i (id, tenant_id) VALUES (1, 'A') ON CONFLICT (id) WHERE deleted_at IS NULL DO UPDATE SET number = 'x' WHERE i.tenant_id = 'A' RETURNING id`, "", w(Insert, "INSERT", 0, inv)},
	{pg, `INSERT INTO invoices AS i (id, tenant_id) VALUES (1, 'A') ON CONFLICT ON CONSTRAINT invoices_pkey DO UPDATE SET number = 'x' WHERE i.tenant_id = 'A' OR true`, "", w(Insert, "INSERT", OrEscape, inv)},
	{my, `INSERT INTO invoices (id, tenant_id) VALUES (1, 'A') ON DUPLICATE KEY UPDATE number = VALUES(number)`, "", w(Insert, "INSERT", DuplicateKeyUpdate, inv)},
	{my, `INSERT INTO invoices (id, tenant_id) VALUES (1, 'A') AS new ON DUPLICATE KEY UPDATE number = new.number`, "", w(Insert, "INSERT", DuplicateKeyUpdate, inv)},
	{my, `INSERT IGNORE INTO invoices (id, tenant_id) VALUES (1, 'A')`, "", w(Insert, "INSERT", 0, inv)},
	{my, `INSERT INTO invoices (id, tenant_id) VALUE (1, 'A')`, "", w(Insert, "INSERT", 0, inv)},
	{my, `INSERT INTO invoices (id, tenant_id) VALUES ROW(1, 'A'), ROW(2, 'A')`, "", w(Insert, "INSERT", 0, inv)},
	{my, `REPLACE INTO invoices (id, tenant_id) VALUES (1, 'A')`, "", w(Insert, "REPLACE", Unverifiable, inv)},
	{my, `INSERT INTO invoices SET id = 1, tenant_id = 'A'`, "", w(Insert, "INSERT", Unverifiable, inv)},
	{lite, `INSERT OR REPLACE INTO invoices (id, tenant_id) VALUES (1, 'A')`, "", w(Insert, "INSERT", Unverifiable, inv)},
	{lite, `INSERT OR IGNORE INTO invoices (id, tenant_id) VALUES (1, 'A')`, "", w(Insert, "INSERT", 0, inv)},
	{pg, `INSERT INTO invoices (id, tenant_id) OVERRIDING SYSTEM VALUE VALUES (1, 'A')`, "", w(Insert, "INSERT", 0, inv)},

	// ---- UPDATE
	{all, `UPDATE invoices SET number = 'x' WHERE tenant_id = 'A'`, "", w(Update, "UPDATE", 0, inv)},
	{all, `UPDATE invoices SET number = 'x'`, "", w(Update, "UPDATE", MissingPredicate, inv)},
	{all, `UPDATE invoices SET number = 'x' WHERE tenant_id = 'A' OR id = 1`, "", w(Update, "UPDATE", OrEscape, inv)},
	{all, `UPDATE invoices SET tenant_id = 'B' WHERE tenant_id = 'A'`, "", want{Update, "UPDATE", []string{inv}, TenantAssigned, "B"}},
	{all, `UPDATE invoices SET tenant_id = 'A', number = 'B' WHERE tenant_id = 'A'`, "", w(Update, "UPDATE", 0, inv)},
	{all, `UPDATE invoices AS i SET tenant_id = i.tenant_id WHERE i.tenant_id = 'A'`, "", w(Update, "UPDATE", 0, inv)},
	{all, `UPDATE invoices SET tenant_id = tenant_id WHERE tenant_id = 'A'`, "", w(Update, "UPDATE", 0, inv)},
	{all, `UPDATE invoices AS i SET tenant_id = i.number WHERE i.tenant_id = 'A'`, "", w(Update, "UPDATE", TenantAssigned, inv)},
	{all, `UPDATE invoices SET tenant_id = NULL WHERE tenant_id = 'A'`, "", w(Update, "UPDATE", TenantAssigned, inv)},
	{pg | lite, `UPDATE invoices SET tenant_id = DEFAULT WHERE tenant_id = 'A'`, "", w(Update, "UPDATE", TenantAssigned, inv)},
	{all, `UPDATE invoices SET number = 'x', TENANT_ID = 'B' WHERE tenant_id = 'A'`, "", want{Update, "UPDATE", []string{inv}, TenantAssigned, "B"}},
	{pg | lite, `UPDATE invoices SET (number, tenant_id) = ('x', 'B') WHERE tenant_id = 'A'`, "", w(Update, "UPDATE", TenantAssigned, inv)},
	{pg | lite, `UPDATE invoices SET (number, note) = ('x', 'y') WHERE tenant_id = 'A'`, "", w(Update, "UPDATE", 0, inv)},
	{all, `UPDATE invoices SET number = (SELECT name FROM customers LIMIT 1) WHERE tenant_id = 'A'`, "", w(Update, "UPDATE", MissingPredicate, inv, "customers")},
	{pg | lite, `UPDATE invoices AS i SET number = c.name FROM customers AS c WHERE c.id = i.customer_id AND i.tenant_id = 'A' AND c.tenant_id = 'A'`, "", w(Update, "UPDATE", 0, inv, "customers")},
	{pg | lite, `UPDATE invoices AS i SET number = c.name FROM customers AS c WHERE c.id = i.customer_id AND i.tenant_id = 'A'`, "", w(Update, "UPDATE", MissingPredicate, inv, "customers")},
	{pg | lite, `UPDATE invoices AS i SET tenant_id = c.tenant_id FROM customers AS c WHERE c.id = i.customer_id AND i.tenant_id = 'A' AND c.tenant_id = 'A'`, "", w(Update, "UPDATE", TenantAssigned, inv, "customers")},
	{my, `UPDATE invoices i JOIN customers c ON c.id = i.customer_id AND c.tenant_id = 'A' SET i.number = c.name WHERE i.tenant_id = 'A'`, "", w(Update, "UPDATE", 0, inv, "customers")},
	{my, `UPDATE invoices i, customers c SET c.tenant_id = 'B' WHERE i.tenant_id = 'A' AND c.tenant_id = 'A'`, "", want{Update, "UPDATE", []string{inv, "customers"}, TenantAssigned, "B"}},
	{my, `UPDATE LOW_PRIORITY IGNORE invoices SET number = 'x' WHERE tenant_id = 'A' ORDER BY id LIMIT 1`, "", w(Update, "UPDATE", 0, inv)},
	{lite, `UPDATE OR REPLACE invoices SET number = 'x' WHERE tenant_id = 'A'`, "", w(Update, "UPDATE", Unverifiable, inv)},
	{pg | lite, `UPDATE invoices SET number = 'x' WHERE tenant_id = 'A' RETURNING *`, "", w(Update, "UPDATE", 0, inv)},
	{pg, `UPDATE ONLY invoices SET number = 'x' WHERE tenant_id = 'A'`, "", w(Update, "UPDATE", 0, inv)},
	// bun Bulk(): the tenant value comes from a VALUES CTE
	{pg | lite, `WITH "_data" ("id", "tenant_id") AS (VALUES (1, 'A'), (2, 'A')) UPDATE "invoices" AS "invoice" SET "tenant_id" = _data."tenant_id" FROM _data WHERE ("invoice"."id" = _data."id") AND ("invoice".tenant_id = 'A')`, "", w(Update, "UPDATE", 0, inv)},
	{pg, `WITH "_data" ("id", "tenant_id") AS (VALUES (1::BIGINT, 'A'::VARCHAR)) UPDATE "invoices" AS "invoice" SET "tenant_id" = _data."tenant_id" FROM _data WHERE ("invoice"."id" = _data."id") AND ("invoice".tenant_id = 'A')`, "", w(Update, "UPDATE", 0, inv)},
	{pg, `WITH "_data" ("id", "tenant_id") AS (VALUES (1::BIGINT, 'AB'::CHAR(1))) UPDATE "invoices" AS "invoice" SET "tenant_id" = _data."tenant_id" FROM _data WHERE ("invoice"."id" = _data."id") AND ("invoice".tenant_id = 'A')`, "", want{Update, "UPDATE", []string{inv}, TenantAssigned, "AB"}},
	{pg | lite, `WITH _data (id, tenant_id) AS (VALUES (1, 'A'), (2, 'B')) UPDATE invoices AS i SET tenant_id = d.tenant_id FROM _data AS d WHERE i.id = d.id AND i.tenant_id = 'A'`, "", want{Update, "UPDATE", []string{inv}, TenantAssigned, "B"}},
	{pg | lite, `WITH _data (id, tenant_id) AS (VALUES (1, 'A')) UPDATE invoices AS i SET tenant_id = d.tenant_id FROM public._data AS d WHERE i.id = d.id AND i.tenant_id = 'A'`, "", w(Update, "UPDATE", TenantAssigned, inv)},
	{pg | lite, `WITH _data (id, tenant_id) AS (SELECT 1, 'A') UPDATE invoices AS i SET tenant_id = _data.tenant_id FROM _data WHERE i.id = _data.id AND i.tenant_id = 'A'`, "", w(Update, "UPDATE", TenantAssigned, inv)},
	{pg | lite, `WITH _data (id, x) AS (VALUES (1, 'A')) UPDATE invoices AS i SET tenant_id = _data.x FROM _data WHERE i.id = _data.id AND i.tenant_id = 'A'`, "", w(Update, "UPDATE", 0, inv)},
	{pg | lite, `WITH _data (id, tenant_id) AS (VALUES (1, 'A', 'x')) UPDATE invoices AS i SET tenant_id = _data.tenant_id FROM _data WHERE i.id = _data.id AND i.tenant_id = 'A'`, "", w(Update, "UPDATE", TenantAssigned, inv)},
	{pg | lite, `UPDATE invoices AS i SET tenant_id = _data.tenant_id FROM _data WHERE i.id = _data.id AND i.tenant_id = 'A'`, "", w(Update, "UPDATE", TenantAssigned, inv)},
	{my, "WITH `_data` AS (SELECT * FROM (VALUES ROW(1, 'A'), ROW(2, 'A')) AS t (`id`, `tenant_id`)) UPDATE `invoices` AS `invoice`, _data SET `invoice`.`tenant_id` = _data.`tenant_id` WHERE (`invoice`.`id` = _data.`id`) AND (`invoice`.tenant_id = 'A')", "", w(Update, "UPDATE", 0, inv)},
	{my, "WITH `_data` AS (SELECT * FROM (VALUES ROW(1, 'A'), ROW(2, 'C')) AS t (`id`, `tenant_id`)) UPDATE `invoices` AS `invoice`, _data SET `invoice`.`tenant_id` = _data.`tenant_id` WHERE (`invoice`.`id` = _data.`id`) AND (`invoice`.tenant_id = 'A')", "", want{Update, "UPDATE", []string{inv}, TenantAssigned, "C"}},

	// ---- DELETE
	{all, `DELETE FROM invoices WHERE tenant_id = 'A'`, "", w(Delete, "DELETE", 0, inv)},
	{all, `DELETE FROM invoices`, "", w(Delete, "DELETE", MissingPredicate, inv)},
	{all, `DELETE FROM invoices WHERE tenant_id = 'A' OR 1 = 1`, "", w(Delete, "DELETE", OrEscape, inv)},
	{my, "DELETE FROM `invoices` WHERE (`invoices`.`tenant_id` = 'A') AND (`id` = 1)", "", w(Delete, "DELETE", 0, inv)},
	{pg | lite, `DELETE FROM "invoices" AS "invoice" WHERE ("invoice"."tenant_id" = 'A')`, "", w(Delete, "DELETE", 0, inv)},
	{pg, `DELETE FROM invoices AS i USING customers AS c WHERE c.id = i.customer_id AND i.tenant_id = 'A'`, "", w(Delete, "DELETE", MissingPredicate, inv, "customers")},
	{pg, `DELETE FROM invoices AS i USING customers AS c WHERE c.id = i.customer_id AND i.tenant_id = 'A' AND c.tenant_id = 'A' RETURNING i.id`, "", w(Delete, "DELETE", 0, inv, "customers")},
	{my, `DELETE i FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE i.tenant_id = 'A'`, "", w(Delete, "DELETE", Unverifiable, inv, "customers")},
	{my, `DELETE FROM invoices, items USING invoices JOIN items WHERE invoices.tenant_id = 'A'`, "", w(Delete, "DELETE", Unverifiable, inv, "items")},
	{my, `DELETE LOW_PRIORITY QUICK IGNORE FROM invoices WHERE tenant_id = 'A' ORDER BY id LIMIT 10`, "", w(Delete, "DELETE", 0, inv)},
	{all, `DELETE FROM invoices WHERE tenant_id = 'A' AND id IN (SELECT invoice_id FROM items)`, "", w(Delete, "DELETE", MissingPredicate, inv, "items")},

	// ---- data-modifying CTEs
	{pg, `WITH d AS (DELETE FROM invoices WHERE tenant_id = 'A' RETURNING *) SELECT * FROM d`, "", w(Delete, "DELETE", 0, inv)},
	{pg, `WITH d AS (DELETE FROM invoices RETURNING *) SELECT * FROM d`, "", w(Delete, "DELETE", MissingPredicate, inv)},
	{pg, `WITH u AS (UPDATE invoices SET tenant_id = 'B' WHERE tenant_id = 'A' RETURNING id) SELECT count(*) FROM u`, "", want{Update, "UPDATE", []string{inv}, TenantAssigned, "B"}},
	{pg, `WITH x AS (SELECT 1), i AS (INSERT INTO invoices (id, tenant_id) VALUES (1, 'A') RETURNING id) SELECT * FROM i`, "", w(Insert, "INSERT", 0, inv)},
	{pg, `WITH d AS (DELETE FROM invoices WHERE tenant_id = 'A' RETURNING *) SELECT * FROM d WHERE x IN (TABLE invoices)`, "", w(Delete, "DELETE", Unverifiable, inv)},
	{pg, `WITH x AS (SELECT 1) INSERT INTO invoices (id, tenant_id) SELECT 1, 'A' FROM x`, "", w(Insert, "INSERT", InsertSelect, inv)},
	{pg, `WITH x AS (SELECT id FROM invoices WHERE tenant_id = 'A') DELETE FROM items WHERE tenant_id = 'A' AND invoice_id IN (SELECT id FROM x)`, "", w(Delete, "DELETE", 0, inv, "items")},

	// ---- statements that are never verified when they touch a tenant table
	{pg, `MERGE INTO invoices AS i USING src ON i.id = src.id WHEN MATCHED THEN UPDATE SET number = src.number`, "", w(Merge, "MERGE", Unverifiable, inv)},
	{pg, `WITH _data AS (VALUES (1)) MERGE INTO invoices AS i USING _data ON true WHEN MATCHED THEN DELETE;`, "", w(Merge, "MERGE", Unverifiable, inv)},
	{pg | my, `TRUNCATE TABLE invoices`, "", w(Truncate, "TRUNCATE", Unverifiable, inv)},
	{pg, `TRUNCATE invoices`, "", w(Truncate, "TRUNCATE", Unverifiable, inv)},
	{all, `DROP TABLE invoices`, "", w(DDL, "DROP", Unverifiable, inv)},
	{all, `CREATE INDEX idx ON invoices (number)`, "", w(DDL, "CREATE", Unverifiable, inv)},
	{all, `ALTER TABLE invoices ADD COLUMN note TEXT`, "", w(DDL, "ALTER", Unverifiable, inv)},
	{pg, `COMMENT ON TABLE invoices IS 'x'`, "", w(DDL, "COMMENT", Unverifiable, inv)},
	{pg | my, `GRANT SELECT ON invoices TO bob`, "", w(DDL, "GRANT", Unverifiable, inv)},
	{my, `RENAME TABLE invoices TO old_invoices`, "", w(DDL, "RENAME", Unverifiable, inv)},
	{all, `CREATE TABLE notes (id INT)`, "", w(DDL, "CREATE", 0)},
	{pg, `CREATE VIEW v AS SELECT * FROM invoices WHERE tenant_id = 'A'`, "", w(DDL, "CREATE", Unverifiable, inv)},
	{pg, `COPY invoices TO STDOUT`, "", w(Other, "COPY", Unverifiable, inv)},
	{pg, `copy (SELECT * FROM invoices) TO STDOUT`, "", w(Other, "COPY", Unverifiable, inv)},
	{pg | my, `CALL purge('invoices')`, "", w(Other, "CALL", Unverifiable, inv)},
	{pg | my, `LOCK TABLE invoices IN EXCLUSIVE MODE`, "", w(Other, "LOCK", Unverifiable, inv)},
	{my, `PREPARE s FROM 'SELECT * FROM invoices'`, "", w(Other, "PREPARE", Unverifiable, inv)},
	{pg, `DO $$BEGIN DELETE FROM invoices; END$$`, "", w(Other, "DO", Unverifiable, inv)},
	{pg, `DO $x$BEGIN PERFORM 1 FROM invoices$x$`, "", w(Other, "DO", Unverifiable, inv)},
	{all, `EXPLAIN SELECT * FROM invoices WHERE tenant_id = 'A'`, "", w(Other, "EXPLAIN", Unverifiable, inv)},
	{lite, `PRAGMA table_info(invoices)`, "", w(Other, "PRAGMA", Unverifiable, inv)},
	{lite, `VACUUM INTO '/tmp/copy.db'`, "", w(Other, "VACUUM", Unverifiable)},
	{lite, `vacuum main into 'x'`, "", w(Other, "VACUUM", Unverifiable)},
	{lite, `VACUUM`, "", w(Other, "VACUUM", 0)},
	{my, `HANDLER invoices OPEN`, "", w(Other, "HANDLER", Unverifiable, inv)},
	{pg, `SELECT query_to_xml('select * from invoices', true, true, '')`, "", S(Unverifiable, inv)},
	{pg, `SELECT database_to_xml(true, true, '')`, "", S(Unverifiable)},
	{pg, `SELECT * FROM customers c WHERE c.tenant_id = 'A' AND EXISTS (SELECT dblink('x', 'y'))`, "", S(Unverifiable, "customers")},
	{my | lite, `SELECT database_to_xml(true, true, '')`, "", S(0)},

	// ---- multiple statements
	{all, `SELECT * FROM invoices WHERE tenant_id = 'A'; DELETE FROM invoices`, "", S(Unverifiable, inv)},
	{all, `SELECT 1; DELETE FROM invoices`, "", S(Unverifiable, inv)},
	{all, `SELECT 1; SELECT 2`, "", S(0)},
	{pg, `SELECT 1; DO $$BEGIN DELETE FROM invoices; END$$`, "", S(Unverifiable, inv)},

	// ---- transaction control
	{all, `BEGIN`, "", w(TxControl, "BEGIN", 0)},
	{pg | my, `START TRANSACTION`, "", w(TxControl, "START", 0)},
	{all, `COMMIT`, "", w(TxControl, "COMMIT", 0)},
	{all, `ROLLBACK`, "", w(TxControl, "ROLLBACK", 0)},
	{all, `SAVEPOINT sp1`, "", w(TxControl, "SAVEPOINT", 0)},
	{all, `RELEASE SAVEPOINT sp1`, "", w(TxControl, "RELEASE", 0)},
	{all, `ROLLBACK TO SAVEPOINT sp1`, "", w(TxControl, "ROLLBACK", 0)},
	{pg, `SET LOCAL statement_timeout = '5s'`, "", w(TxControl, "SET", 0)},
	{pg, `END`, "", w(TxControl, "END", 0)},
	{my, `SET @x = (SELECT count(*) FROM invoices)`, "", w(TxControl, "SET", Unverifiable, inv)},

	// ---- empty tenant never verifies
	{all, `SELECT * FROM invoices WHERE tenant_id = ''`, "\x00empty", S(MissingPredicate, inv)},
}

func TestRawCases(t *testing.T) {
	guards := map[Dialect]*Guard{}
	for _, d := range []Dialect{Postgres, SQLite, MySQL} {
		guards[d] = New(d, corpusTables)
	}
	for i, tc := range rawCases {
		for _, d := range []Dialect{Postgres, SQLite, MySQL} {
			if !tc.on.has(d) {
				continue
			}
			name := fmt.Sprintf("%03d/%s/%s", i, d, tc.sql)
			if len(name) > 90 {
				name = name[:90]
			}
			t.Run(name, func(t *testing.T) {
				tenant := tc.tenant
				switch tenant {
				case "":
					tenant = tenantA
				case "\x00empty":
					tenant = ""
				}
				g := guards[d]
				v := g.Check(tc.sql, tenant)
				assertVerdict(t, tc.sql, v, tc.want)
				if !g.Mentions(tc.sql) && !v.OK() {
					t.Errorf("Mentions=false but Check is not OK")
				}
			})
		}
	}
}

func TestMentions(t *testing.T) {
	g := New(Postgres, corpusTables)
	for _, tc := range []struct {
		sql  string
		want bool
	}{
		{`SELECT 1`, false},
		{`SELECT * FROM currencies`, false},
		{`SELECT * FROM invoices`, true},
		{`SELECT * FROM "INVOICES"`, true},
		{`SELECT 'invoices'`, true},
		{`-- invoices` + "\nSELECT 1", true},
		{`SELECT * FROM my_invoices`, false},
		{`SELECT * FROM invoices2`, false},
		{`SELECT * FROM public.invoices`, true},
		{`SELECT $$x$$ FROM invoices$x$`, true},
		{`SELECT * FROM U&"\0069nvoices"`, true},
		{`SELECT * FROM "invoicesé"`, false},
		{`SELECT database_to_xml(true, true, '')`, true},
	} {
		if got := g.Mentions(tc.sql); got != tc.want {
			t.Errorf("Mentions(%q) = %v, want %v", tc.sql, got, tc.want)
		}
	}
	if New(Postgres, nil).Mentions(`SELECT * FROM invoices`) {
		t.Error("a guard without tenant tables mentions nothing")
	}
}

func TestNewValidation(t *testing.T) {
	for _, m := range []map[string]string{
		{"": "tenant_id"},
		{"invoices": ""},
		{"in voices": "tenant_id"},
		{"invoices": "tenant-id"},
		{"1invoices": "tenant_id"},
		{"invoices": "tenant_id", "INVOICES": "owner_id"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%v) did not panic", m)
				}
			}()
			New(Postgres, m)
		}()
	}
	g := New(MySQL, map[string]string{"Invoices": "tenant_id", "invoices": "tenant_id"})
	if col, ok := g.TenantColumn("INVOICES"); !ok || col != "tenant_id" {
		t.Errorf("TenantColumn = %q, %v", col, ok)
	}
	if g.Dialect() != MySQL {
		t.Error("Dialect()")
	}
}

func TestTenantColumnName(t *testing.T) {
	g := New(Postgres, map[string]string{"invoices": "org_id"})
	if v := g.Check(`SELECT * FROM invoices WHERE org_id = 'A'`, "A"); !v.OK() {
		t.Errorf("org_id: %v", v)
	}
	if v := g.Check(`SELECT * FROM invoices WHERE tenant_id = 'A'`, "A"); v.OK() {
		t.Errorf("tenant_id is not the tenant column: %v", v)
	}
	g = New(Postgres, map[string]string{"invoices": "OrgID"})
	if v := g.Check(`SELECT * FROM invoices WHERE "OrgID" = 'A'`, "A"); !v.OK() {
		t.Errorf("quoted mixed-case column: %v", v)
	}
	if v := g.Check(`SELECT * FROM invoices WHERE OrgID = 'A'`, "A"); v.OK() {
		t.Errorf("unquoted OrgID folds to orgid on PostgreSQL: %v", v)
	}
}

func TestVerdictHelpers(t *testing.T) {
	g := New(Postgres, corpusTables)
	v := g.Check(`SELECT * FROM invoices i, customers c, items t, invoices i2, customers c2, items t2 WHERE x = 1`, "A")
	if v.OK() || v.Findings != 6 || v.Tables.Len() != 3 {
		t.Fatalf("verdict: %v findings=%d", v, v.Findings)
	}
	if !v.Tables.Contains("items") || v.Tables.Contains("currencies") {
		t.Error("Contains")
	}
	if s := v.String(); !strings.Contains(s, "MissingPredicate") {
		t.Errorf("String() = %q", s)
	}
	var tl TableList
	for i := 0; i < 10; i++ {
		tl.add(fmt.Sprint("t", i))
		tl.add("t0")
	}
	if tl.Len() != 10 || tl.At(9) != "t9" || !slices.Equal(tl.Slice()[:2], []string{"t0", "t1"}) {
		t.Errorf("TableList overflow: %v", tl)
	}
	for _, k := range []Kind{Select, Insert, Update, Delete, Merge, Truncate, DDL, TxControl, Other, 0} {
		_ = k.String()
	}
	for c := Code(0); c <= ParseError+1; c++ {
		_ = c.String()
	}
	for _, d := range []Dialect{Postgres, SQLite, MySQL, 0} {
		_ = d.String()
	}
	if (*Finding)(nil).String() != "<nil>" {
		t.Error("nil finding")
	}
}

// TestPosAndDetail checks that findings point into the text and explain
// themselves.
func TestPosAndDetail(t *testing.T) {
	g := New(Postgres, corpusTables)
	q := `SELECT * FROM customers c JOIN invoices i ON i.id = c.id WHERE c.tenant_id = 'A'`
	v := g.Check(q, "A")
	if v.OK() || v.Finding.Table != "invoices" || !strings.HasPrefix(q[v.Finding.Pos:], "invoices") ||
		!strings.Contains(v.Finding.Detail, "i.tenant_id") {
		t.Errorf("finding = %+v", v.Finding)
	}
}

func TestPostgresIdentifierTruncation(t *testing.T) {
	long := strings.Repeat("t", pgMaxIdent)
	g := New(Postgres, map[string]string{long: "tenant_id"})
	v := g.Check(`SELECT * FROM `+long+`_suffix_truncated_by_postgres`, "A")
	if v.OK() || v.Tables.Len() != 1 {
		t.Errorf("truncated identifier names the tenant table: %v", v)
	}
	if v := g.Check(`SELECT * FROM "`+long+`xyz" WHERE x = 1`, "A"); v.OK() {
		t.Errorf("truncated quoted identifier names the tenant table: %v", v)
	}
	if !g.Mentions(`SELECT * FROM "` + long + `xyz"`) {
		t.Error("Mentions must see the truncated name")
	}
	g = New(MySQL, map[string]string{long: "tenant_id"})
	if v := g.Check(`SELECT * FROM `+long+`x`, "A"); !v.OK() {
		t.Errorf("MySQL does not truncate identifiers: %v", v)
	}
}

// TestPathological checks that adversarial shapes are handled in bounded
// time and refused or verified sensibly.
func TestPathological(t *testing.T) {
	g := New(Postgres, corpusTables)
	big := func(parts ...string) string { return strings.Join(parts, "") }
	cases := []struct {
		name string
		sql  string
		ok   bool
	}{
		{"deep parens", big("SELECT * FROM invoices WHERE tenant_id = 'A' AND ", strings.Repeat("(", 200), "1", strings.Repeat(")", 200)), true},
		{"too deep", big("SELECT * FROM invoices WHERE tenant_id = 'A' AND ", strings.Repeat("(", 5000), "1", strings.Repeat(")", 5000)), false},
		{"deep subqueries", big("SELECT * FROM invoices WHERE tenant_id = 'A' AND id IN ", strings.Repeat("(SELECT id FROM invoices WHERE tenant_id = 'A' AND id IN ", 100), "(1)", strings.Repeat(")", 100)), true},
		{"many conjuncts", big("SELECT * FROM invoices WHERE ", strings.Repeat("x = 1 AND ", 20000), "tenant_id = 'A'"), true},
		{"many tables", big("SELECT * FROM invoices i0", strings.Repeat(", currencies", 2000), " WHERE i0.tenant_id = 'A'"), false},
		{"many joins", big("SELECT * FROM invoices i", strings.Repeat(" JOIN items t ON t.tenant_id = 'A'", 300), " WHERE i.tenant_id = 'A'"), false},
		{"many rows", big("INSERT INTO invoices (id, tenant_id) VALUES (1, 'A')", strings.Repeat(", (1, 'A')", 50000)), true},
		{"long identifier", big("SELECT * FROM invoices WHERE tenant_id = 'A' AND x", strings.Repeat("é", 100000), " = 1"), true},
		{"long non-ASCII identifiers", big("SELECT * FROM invoices WHERE tenant_id = 'A' AND x = 1", strings.Repeat(" AND é", 20000)), true},
		{"long string", big("SELECT * FROM invoices WHERE tenant_id = 'A' AND x = '", strings.Repeat("''", 200000), "'"), true},
		{"long comment", big("SELECT * FROM invoices WHERE tenant_id = 'A' /*", strings.Repeat("/*", 100000), strings.Repeat("*/", 100001)), true},
		{"many unions", big("SELECT 1 FROM invoices WHERE tenant_id = 'A'", strings.Repeat(" UNION SELECT 1 FROM invoices WHERE tenant_id = 'A'", 3000)), true},
	}
	for _, tc := range cases {
		start := time.Now()
		v := g.Check(tc.sql, "A")
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("%s: took %v", tc.name, el)
		}
		if v.OK() != tc.ok {
			t.Errorf("%s: OK=%v, want %v (%v)", tc.name, v.OK(), tc.ok, v.Finding)
		}
	}
}

// TestConcurrent uses one Guard from many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	g := New(Postgres, corpusTables)
	queries := []string{
		`SELECT * FROM invoices WHERE tenant_id = 'A'`,
		`SELECT * FROM invoices WHERE tenant_id = 'A' OR 1=1`,
		`INSERT INTO invoices (id, tenant_id) VALUES (1, 'B')`,
		`UPDATE invoices SET tenant_id = 'C' WHERE tenant_id = 'A'`,
	}
	want := make([]string, len(queries))
	for i, q := range queries {
		want[i] = g.Check(q, "A").String()
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 500; n++ {
				i := (n + w) % len(queries)
				if got := g.Check(queries[i], "A").String(); got != want[i] {
					t.Errorf("concurrent Check(%q) = %s, want %s", queries[i], got, want[i])
					return
				}
				g.Mentions(queries[i])
			}
		}()
	}
	wg.Wait()
}
