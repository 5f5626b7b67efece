package sqlguard

import (
	"fmt"
	"sort"
	"strings"
)

// Dialect selects the lexical and syntactic rules used to read SQL.
type Dialect uint8

const (
	// Postgres is PostgreSQL (standard_conforming_strings=on is assumed).
	Postgres Dialect = iota + 1
	// SQLite is SQLite 3.
	SQLite
	// MySQL is MySQL or MariaDB (backslash escapes in strings are assumed
	// to be enabled, i.e. NO_BACKSLASH_ESCAPES is off, and ANSI_QUOTES off).
	MySQL
)

// Kind classifies a statement by its main verb.
type Kind uint8

const (
	// Select is SELECT, VALUES, TABLE and parenthesised/compound queries.
	Select Kind = iota + 1
	// Insert is INSERT and REPLACE.
	Insert
	// Update is UPDATE (including bun's soft delete).
	Update
	// Delete is DELETE.
	Delete
	// Merge is MERGE.
	Merge
	// Truncate is TRUNCATE.
	Truncate
	// DDL is CREATE, ALTER, DROP, RENAME, COMMENT, GRANT, REVOKE.
	DDL
	// TxControl is BEGIN, START TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT,
	// RELEASE, END, ABORT, SET and RESET.
	TxControl
	// Other is everything else (COPY, CALL, EXECUTE, EXPLAIN, LOCK, SHOW,
	// PRAGMA, ...), and text that does not start with a known verb.
	Other
)

// Code says what kind of problem a Finding reports.
type Code uint8

const (
	// MissingPredicate means an occurrence of a tenant table is not restricted by
	// `<qualifier>.<tenant column> = '<tenant>'` as a top-level conjunct of
	// its block's WHERE (or, for an inner/left JOIN target, of its ON).
	MissingPredicate Code = iota + 1
	// OrEscape means the tenant predicate is present, but only below an OR (or
	// XOR / MySQL ||), so it does not restrict the rows.
	OrEscape
	// TenantAssigned means a write puts a value other than the bound tenant
	// literal into the tenant column (SET, VALUES, bun's Value()).
	TenantAssigned
	// TenantColumnMissing means an INSERT into a tenant table does not name the
	// tenant column (or has no column list, or uses DEFAULT VALUES).
	TenantColumnMissing
	// InsertSelect means an INSERT ... SELECT into a tenant table (the
	// inserted tenant values cannot be verified).
	InsertSelect
	// DuplicateKeyUpdate means a MySQL INSERT ... ON DUPLICATE KEY UPDATE
	// into a tenant table (the update may hit another tenant's row). The caller
	// decides whether the user opted in.
	DuplicateKeyUpdate
	// Unverifiable means the statement touches a tenant table but its shape is
	// not one the guard can prove safe (MERGE, TRUNCATE, DDL, COPY, CALL,
	// multi-statement text, unsupported syntax, ...).
	Unverifiable
	// ParseError means the SQL text cannot be tokenised (unterminated quote or
	// comment, ambiguous escape, control character, unbalanced
	// parentheses, MySQL executable comment) and it mentions a tenant table.
	ParseError
	// NotAllowed means, from [Guard.Admit], a statement of a kind that never
	// runs under a tenant scope, whatever it names: dynamic SQL (DO,
	// PREPARE, EXECUTE, CALL), DDL, privileges and roles, server state (SET,
	// PRAGMA), COPY, LOAD DATA, LOCK, EXPLAIN, SELECT ... INTO, several
	// statements in one text.
	NotAllowed
	// Unregistered means, in a closed world ([ClosedWorld]), that the
	// statement reads or writes a relation that is neither a tenant table,
	// a shared table nor a CTE of the statement (a view, a partition, a
	// catalog, an unknown table), or calls a function that is not an
	// allowed built-in. Finding.Detail names it.
	Unregistered
)

var (
	dialectNames = [...]string{Postgres: "postgres", SQLite: "sqlite", MySQL: "mysql"}
	kindNames    = [...]string{
		Select: "Select", Insert: "Insert", Update: "Update", Delete: "Delete", Merge: "Merge",
		Truncate: "Truncate", DDL: "DDL", TxControl: "TxControl", Other: "Other",
	}
	codeNames = [...]string{
		MissingPredicate: "MissingPredicate", OrEscape: "OrEscape", TenantAssigned: "TenantAssigned",
		TenantColumnMissing: "TenantColumnMissing", InsertSelect: "InsertSelect",
		DuplicateKeyUpdate: "DuplicateKeyUpdate", Unverifiable: "Unverifiable", ParseError: "ParseError",
		NotAllowed: "NotAllowed", Unregistered: "Unregistered",
	}
)

func (d Dialect) String() string { return enumName(dialectNames[:], uint8(d), "Dialect") }
func (k Kind) String() string    { return enumName(kindNames[:], uint8(k), "Kind") }
func (c Code) String() string    { return enumName(codeNames[:], uint8(c), "Code") }

// enumName returns names[v], or "typ(v)" when v has no name.
func enumName(names []string, v uint8, typ string) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, v)
}

// Finding is one reason why a statement is not verified.
type Finding struct {
	Code Code
	// Table is the tenant table concerned ("" when not attributable).
	Table string
	// Detail is a human readable explanation.
	Detail string
	// Pos is the byte offset in the SQL text where the problem was found
	// (best effort; -1 when unknown).
	Pos int
}

func (f *Finding) String() string {
	if f == nil {
		return "<nil>"
	}
	if f.Table != "" {
		return fmt.Sprintf("%s on %s: %s", f.Code, f.Table, f.Detail)
	}
	return fmt.Sprintf("%s: %s", f.Code, f.Detail)
}

const inlineTables = 6

// TableList is a small list of tenant table names in first-seen order,
// without duplicates. Up to 6 names are stored inline, so building and
// copying a TableList does not allocate in the common case.
type TableList struct {
	n      int
	inline [inlineTables]string
	more   []string
}

// Len returns the number of tables.
func (l *TableList) Len() int { return l.n }

// At returns the i-th table name (0 <= i < Len()).
func (l *TableList) At(i int) string {
	if i < inlineTables {
		if i >= l.n {
			panic("sqlguard: TableList index out of range")
		}
		return l.inline[i]
	}
	return l.more[i-inlineTables]
}

// Contains reports whether name is in the list.
func (l *TableList) Contains(name string) bool {
	for i := 0; i < l.n; i++ {
		if l.At(i) == name {
			return true
		}
	}
	return false
}

// Slice returns the names as a new slice (nil when empty). It allocates.
func (l *TableList) Slice() []string {
	if l.n == 0 {
		return nil
	}
	s := make([]string, l.n)
	for i := range s {
		s[i] = l.At(i)
	}
	return s
}

func (l TableList) String() string { return "[" + strings.Join(l.Slice(), " ") + "]" }

func (l *TableList) add(name string) {
	if l.Contains(name) {
		return
	}
	if l.n < inlineTables {
		l.inline[l.n] = name
	} else {
		l.more = append(l.more, name)
	}
	l.n++
}

// Verdict is the result of Check.
type Verdict struct {
	Kind Kind
	// Operation is the upper-case verb of what the statement does
	// ("SELECT", "INSERT", "UPDATE", ...): for bun's soft delete it is
	// "UPDATE", and for a SELECT whose WITH clause holds an INSERT, UPDATE
	// or DELETE it is that verb (and Kind is Insert, Update or Delete). It
	// is "" when the text has no recognisable verb.
	Operation string
	// Tables are the tenant tables the statement references.
	Tables TableList
	// Finding is the first problem found; nil means verified.
	Finding *Finding
	// Findings is the total number of problems found (0 when verified).
	Findings int
	// Attempted is set when a write assigns the tenant column a string
	// literal other than the bound tenant: that literal's value.
	Attempted string
}

// OK reports whether the statement was verified.
func (v Verdict) OK() bool { return v.Finding == nil }

// String renders the verdict for logs and test failures.
func (v Verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s tables=%v", v.Kind, v.Operation, v.Tables)
	if v.Finding != nil {
		fmt.Fprintf(&b, " finding=%s (of %d)", v.Finding, v.Findings)
	} else {
		b.WriteString(" OK")
	}
	if v.Attempted != "" {
		fmt.Fprintf(&b, " attempted=%q", v.Attempted)
	}
	return b.String()
}

type tableInfo struct {
	name   string // lower-case table name
	column string // tenant column, as configured
}

// Guard verifies tenant isolation of final SQL text. It is immutable and
// safe for concurrent use.
type Guard struct {
	dialect Dialect
	tables  []tableInfo
	words   wordTable
	// maxLookup is the longest word that can name a tenant table or a
	// dangerous function; longer ASCII words are not looked up. lenMask has
	// bit n set when such a word has length n (all are < 64 bytes).
	maxLookup int
	lenMask   uint64
	// tblLenMask has bit n set when a tenant table name has length n.
	tblLenMask uint64

	// The closed world (closed.go): whether it is on, the shared tables and
	// extra functions it was given, and the table of both (with the
	// dialect's built-in functions).
	closed    bool
	shared    []string
	functions []string
	known     wordTable

	// cache holds the verdicts of verified statements (cache.go).
	cache *verdictCache
}

// New returns a Guard for dialect d. tenantTables maps a tenant-owned table
// name (unqualified, matched ASCII case-insensitively) to the name of its
// tenant column. Names must be plain identifiers: ASCII letters, digits and
// '_', not starting with a digit. Options add the closed world
// ([ClosedWorld], [WithShared], [WithFunctions]). New panics on an invalid
// configuration.
func New(d Dialect, tenantTables map[string]string, opts ...Option) *Guard {
	switch d {
	case Postgres, SQLite, MySQL:
	default:
		panic(fmt.Sprintf("sqlguard: unknown dialect %d", d))
	}
	g := &Guard{dialect: d, cache: newVerdictCache()}
	names := make([]string, 0, len(tenantTables))
	cols := make(map[string]string, len(tenantTables))
	for name, col := range tenantTables {
		if !ValidName(name) {
			panic(fmt.Sprintf("sqlguard: invalid tenant table name %q", name))
		}
		if !ValidName(col) {
			panic(fmt.Sprintf("sqlguard: invalid tenant column name %q for table %q", col, name))
		}
		low := strings.ToLower(name)
		if prev, dup := cols[low]; dup {
			if prev != col {
				panic(fmt.Sprintf("sqlguard: table %q configured twice with different tenant columns", low))
			}
			continue
		}
		cols[low] = col
		names = append(names, low)
	}
	sort.Strings(names)
	if len(names) > 1<<14 {
		panic("sqlguard: too many tenant tables")
	}
	for _, n := range names {
		g.tables = append(g.tables, tableInfo{name: n, column: cols[n]})
		if len(n) > g.maxLookup {
			g.maxLookup = len(n)
		}
	}
	g.words = buildWordTable(d, g.tables)
	for _, f := range dangerousFunctions(d) {
		if len(f) > g.maxLookup {
			g.maxLookup = len(f)
		}
		g.lenMask |= 1 << uint(len(f))
	}
	for _, t := range g.tables {
		g.lenMask |= 1 << uint(len(t.name))
		g.tblLenMask |= 1 << uint(len(t.name))
	}
	if d == SQLite {
		g.lenMask |= 1 << len("vacuum")
		g.maxLookup = max(g.maxLookup, len("vacuum"))
	}
	for _, o := range opts {
		o(g)
	}
	g.buildKnown()
	return g
}

// Dialect returns the dialect the guard was built for.
func (g *Guard) Dialect() Dialect { return g.dialect }

// TenantColumn returns the tenant column configured for table (matched
// case-insensitively), and whether the table is tenant-owned.
func (g *Guard) TenantColumn(table string) (string, bool) {
	for _, t := range g.tables {
		if strings.EqualFold(t.name, table) {
			return t.column, true
		}
	}
	return "", false
}

// ValidName reports whether s can name a table, column or function for New:
// ASCII letters, digits and '_', not starting with a digit, at most 63
// bytes.
func ValidName(s string) bool {
	if s == "" || len(s) > pgMaxIdent {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Mentions is a cheap, conservative pre-check: it reports whether the text
// could reference a tenant table. It looks at every word of the text,
// including the insides of string literals and comments, so that dynamic
// SQL (PREPARE ... FROM '...', DO $$...$$) is caught. When it returns false
// the statement cannot touch a tenant table by name and Check would report
// it verified. On PostgreSQL it also reports true for calls of functions
// that read tables not named in the text (query_to_xml, dblink, ...), which
// Check refuses. (Views, functions and triggers are otherwise opaque; see the
// package documentation.)
func (g *Guard) Mentions(sql string) bool {
	return g.mentionsFrom(sql, nil, true)
}

// mentionsFrom scans sql for words naming tenant tables. When tl is not nil
// every match is added to it and the scan continues to the end. With
// markers, words that only need Check's attention (dangerous functions,
// SQLite's VACUUM) count as mentions too.
func (g *Guard) mentionsFrom(sql string, tl *TableList, markers bool) bool {
	found := false
	n := len(sql)
	for i := 0; i < n; {
		c := sql[i]
		if !wordByte[c] {
			if c == '&' && g.dialect == Postgres && i > 0 && (sql[i-1] == 'u' || sql[i-1] == 'U') &&
				i+1 < n && sql[i+1] == '"' {
				// U&"..." identifiers may spell a table name with escapes.
				if tl == nil {
					return true
				}
				found = true
			}
			i++
			continue
		}
		start := i
		var or byte
		for i < n && wordByte[sql[i]] {
			or |= sql[i]
			i++
		}
		nonASCII := or >= 0x80
		w := sql[start:i]
		if g.dialect == Postgres && len(w) > pgMaxIdent && !nonASCII {
			// PostgreSQL truncates identifiers to 63 bytes.
			w = w[:pgMaxIdent]
		}
		if len(w) <= g.maxLookup && g.lenMask&(1<<uint(len(w))) != 0 {
			if e := g.words.lookup(w); e != nil && (e.tbl > 0 || (markers && (e.danger || e.mention))) {
				if tl == nil {
					return true
				}
				found = true
				if e.tbl > 0 {
					tl.add(g.tables[e.tbl-1].name)
				}
				continue
			}
		}
		if nonASCII && g.mayNameTable(w) >= 0 {
			if tl == nil {
				return true
			}
			found = true
			for _, t := range g.tables {
				if mayFoldTo(w, t.name) {
					tl.add(t.name)
				}
			}
		}
	}
	return found
}
