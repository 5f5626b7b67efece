package sqlguard

import (
	"fmt"
	"strings"
)

// The closed world: with [ClosedWorld], a statement checked under a tenant
// (Check with a non-empty tenant, and Admit) is verified only if the guard
// knows every relation it reads or writes and every function it calls. A
// relation must be a tenant table (verified by its predicate as before), a
// shared table (named with [WithShared]), a CTE of the statement in scope
// where it is named, or a derived table; a function must be a built-in on
// the dialect's allow-list (functions.go) or named with [WithFunctions].
// Everything else, views, partitions, inheritance children, copies,
// catalogs, statistics, other schemas' tables, table functions and
// user-defined functions, is an Unregistered finding that names it.

// Option configures [New].
type Option func(*Guard)

// ClosedWorld makes the guard refuse, under a tenant, every relation and
// function it does not know (see the package documentation).
func ClosedWorld() Option { return func(g *Guard) { g.closed = true } }

// WithShared names relations that hold no tenant's rows (reference data such
// as currencies or plans), which statements under a tenant may read and
// write freely. Names are plain identifiers, matched by the dialect's
// identifier rules (PostgreSQL folds unquoted names to lower case, MySQL
// compares table names exactly, SQLite ignores ASCII case), unqualified or
// qualified by a schema that is not a system schema.
func WithShared(names ...string) Option {
	return func(g *Guard) { g.shared = append(g.shared, names...) }
}

// WithFunctions names functions that statements under a tenant may call in
// addition to the dialect's built-ins: user-defined functions the
// application vouches for (they must not read tenant tables).
func WithFunctions(names ...string) Option {
	return func(g *Guard) { g.functions = append(g.functions, names...) }
}

// buildKnown builds the table of shared relations and allowed functions.
func (g *Guard) buildKnown() {
	fns, grammar := dialectFunctions(g.dialect)
	t := newWordTable(len(commonFunctions) + len(fns) + len(grammar) + len(tableFunctions[g.dialect]) + len(g.functions) + len(g.shared))
	for _, lists := range [][]string{commonFunctions, fns} {
		for _, f := range lists {
			t.insert(f).fn = true
		}
	}
	for _, f := range grammar {
		e := t.insert(f)
		e.fn, e.grammar = true, true
	}
	for _, f := range tableFunctions[g.dialect] {
		t.insert(f).fromOnly = true
	}
	for _, f := range g.functions {
		if !ValidName(f) {
			panic(fmt.Sprintf("sqlguard: invalid function name %q", f))
		}
		t.insert(strings.ToLower(f)).fn = true
	}
	for i, s := range g.shared {
		if !ValidName(s) {
			panic(fmt.Sprintf("sqlguard: invalid shared table name %q", s))
		}
		if _, tenant := g.TenantColumn(s); tenant {
			panic(fmt.Sprintf("sqlguard: table %q is configured as tenant-owned and as shared", s))
		}
		t.insert(strings.ToLower(s)).shared = int16(i + 1)
	}
	g.known = t
}

// relation checks, in a closed world, the table named by toks[first:last+1]
// (last is its last part) that is not a tenant table.
func (c *checker) relation(first, last int) {
	if !c.closed || c.failed {
		return
	}
	qualified := last > first
	// PostgreSQL and SQLite never resolve the target of an INSERT, UPDATE
	// or DELETE to a CTE: WITH v AS (...) UPDATE v writes the table v.
	// MySQL does, and refuses to write a CTE (bun's Bulk() lists _data
	// among a multi-table UPDATE's tables).
	cteTarget := c.inTarget && c.g.dialect != MySQL
	if !qualified && !cteTarget && c.inCTEScope(last) {
		return
	}
	if qualified && c.systemQualifier(first, last) {
		c.unregistered(first, last, "relation", "a system catalog: it describes every tenant's data")
		return
	}
	if c.knownShared(last) {
		return
	}
	if !qualified && c.g.dialect == MySQL && equalFoldASCII(c.text(last), "dual") && c.toks[last].kind == tkIdent {
		return
	}
	c.unregistered(first, last, "relation", "not a registered tenant table, shared table or CTE of this statement")
}

// call checks, in a closed world, the function named by toks[first:last+1]
// (a call: toks[last+1] is '('); inFrom when it is a FROM item.
func (c *checker) call(first, last int, inFrom bool) {
	if !c.closed || c.failed {
		return
	}
	if last > first {
		// Qualified: only pg_catalog.<built-in> on PostgreSQL.
		if c.g.dialect != Postgres || last-first != 2 || c.toks[first].kind != tkIdent ||
			!equalFoldASCII(c.text(first), "pg_catalog") {
			c.unregistered(first, last, "function", "a schema-qualified function")
			return
		}
	}
	t := &c.toks[last]
	name := c.content(last)
	var e *wordEntry
	if t.flags&(tfDoubled|tfNonASCII) == 0 && c.g.known.mayContain(name) {
		e = c.g.known.lookup(name)
	}
	switch {
	case e == nil || !(e.fn || e.fromOnly && inFrom):
		c.unregistered(first, last, "function", "not a built-in on the allow-list")
	case t.kind == tkQIdent && c.g.dialect != SQLite:
		// A quoted name is never grammar: PostgreSQL looks "coalesce" up
		// as a function (a user's, since coalesce is syntax) and MySQL as
		// a stored function of the current database.
		c.unregistered(first, last, "function", "a quoted function name, which the database resolves to a user's function")
	case c.g.dialect == MySQL && !e.grammar && t.end != c.toks[last+1].pos:
		// MySQL reads a built-in's name and '(' apart as a stored function.
		c.unregistered(first, last, "function", "a stored function on MySQL (a space before '(')")
	}
}

// parenSyntax reports whether the keyword at toks[i], followed by '(', is
// grammar rather than a call: a clause keyword after a complete operand
// (... FROM (SELECT ...), ... UNION (SELECT ...)), a word every dialect
// reserves (IN, NOT, AND, CASE, VALUES, ...), BY after GROUP, ORDER or
// PARTITION, and XOR on MySQL. Any other keyword can name a function on
// some server (PostgreSQL calls by(1), xor(1) or inner(1); MariaDB
// mode(1), of(1) or lateral(1)), so it is a call.
func (c *checker) parenSyntax(i int) bool {
	kw := c.toks[i].kw
	switch {
	case kwReservedParen[kw]:
		return true
	case kw == kwXOR:
		return c.g.dialect == MySQL
	case kw == kwBY:
		return c.isKw(i-1, kwGROUP) || c.isKw(i-1, kwORDER) || c.isKw(i-1, kwPARTITION)
	}
	return i > 0 && c.stopClass(i) != 0 && c.canEnd(i-1)
}

// kwReservedParen are keywords that PostgreSQL, MySQL/MariaDB and SQLite
// all reserve (no unquoted function can have their name) and that the
// grammar puts before '('.
var kwReservedParen = func() (s [kwCount]bool) {
	for _, kw := range []kwID{kwSELECT, kwIN, kwNOT, kwAND, kwOR, kwCASE, kwWHEN, kwTHEN, kwELSE, kwALL,
		kwDISTINCT, kwAS, kwON, kwUSING, kwBETWEEN, kwVALUES} {
		s[kw] = true
	}
	return s
}()

// afterCall reports whether toks[i] is a word the grammar puts right after
// a call or another clause's ')' (count(*) FILTER (...), f() OVER (...),
// MySQL's MATCH (...) AGAINST (...)) or after a string (JSON_TABLE(..., '$'
// COLUMNS (...))), standing there. Elsewhere the word is a call of a
// function of that name (PostgreSQL has no filter() or over() of its own).
func (c *checker) afterCall(i int) bool {
	t := &c.toks[i]
	if t.kind != tkIdent {
		return false
	}
	w := c.text(i)
	mysql := c.g.dialect == MySQL
	switch {
	case equalFoldASCII(w, "over"):
		return c.isKind(i-1, tkRParen)
	case equalFoldASCII(w, "filter"):
		return !mysql && c.isKind(i-1, tkRParen)
	case equalFoldASCII(w, "against"):
		return mysql && c.isKind(i-1, tkRParen)
	case equalFoldASCII(w, "columns"):
		return mysql && c.isKind(i-1, tkString)
	}
	return false
}

// operators checks, in a closed world on PostgreSQL, every operator of
// toks[:end]: PostgreSQL lets users define operators (1 ### 2 calls the
// operator's function), so only built-in spellings are accepted. An
// operator is a run of adjacent operator characters, split as PostgreSQL
// splits it (a run without ~ ! @ # % ^ & | ` ? loses trailing + and -).
func (c *checker) operators(end int) {
	toks := c.toks[:end]
	for k := 0; k < len(toks); k++ {
		c.steps++
		if !c.isPGOp(&toks[k]) {
			continue
		}
		j := k
		for j+1 < len(toks) && c.isPGOp(&toks[j+1]) && toks[j+1].pos == toks[j].end {
			c.steps++
			j++
		}
		if j == k && toks[k].end-toks[k].pos == 1 && pgOp1[c.sql[toks[k].pos]] {
			continue // the common case: =, <, *, ...
		}
		run := c.sql[toks[k].pos:toks[j].end]
		if !pgOperatorsOK(run) {
			c.finding(Unregistered, "", int(toks[k].pos), "operator "+run+" is not a built-in operator (a user-defined operator calls a function)")
			return
		}
		k = j
	}
}

// isPGOp reports whether t is an operator token of PostgreSQL operator
// characters (the lexer makes one token of a byte, or of || and &&).
func (c *checker) isPGOp(t *token) bool {
	return t.kind == tkOp && t.op != opCast && pgOpChar[c.sql[t.pos]]
}

// pgOpChar marks PostgreSQL's operator characters; pgOp1 those that are a
// built-in operator alone.
var pgOpChar, pgOp1 = func() (chars, one [256]bool) {
	for _, b := range []byte("+-*/<>=~!@#%^&|`?") {
		chars[b] = true
		one[b] = b != '!' && b != '`'
	}
	return
}()

func pgOperatorsOK(run string) bool {
	for run != "" {
		op := run
		if !strings.ContainsAny(op, "~!@#%^&|`?") {
			for len(op) > 1 && (op[len(op)-1] == '+' || op[len(op)-1] == '-') {
				op = op[:len(op)-1]
			}
		}
		if !pgOperators[op] {
			return false
		}
		run = run[len(op):]
	}
	return true
}

// pgOperators are PostgreSQL's built-in operator spellings (and => of
// named arguments).
var pgOperators = func() map[string]bool {
	m := map[string]bool{}
	for _, op := range strings.Fields(`+ - * / % ^ = <> != < > <= >= || |/ ||/ @ & | # ~ << >> ~~ !~~ ~~* !~~* ~* !~ !~*
		@> <@ && ? ?| ?& -> ->> #> #>> #- @@ @? @@@ -|- &< &> <<| |>> &<| |&> <-> <<= >>= <^ >^ ~= @-@ ?- ?-| ?|| ?# ## =>`) {
		m[op] = true
	}
	return m
}()

// unregistered records the finding for an object the closed world does not
// know.
func (c *checker) unregistered(first, last int, what, why string) {
	name := c.sql[c.toks[first].pos:c.toks[last].end]
	c.finding(Unregistered, "", int(c.toks[first].pos), fmt.Sprintf("%s %s is %s", what, name, why))
}

// knownShared reports whether the name at toks[k] certainly denotes a
// registered shared table.
func (c *checker) knownShared(k int) bool {
	t := &c.toks[k]
	if t.flags&(tfDoubled|tfNonASCII) != 0 {
		return false
	}
	name := c.content(k)
	if !c.g.known.mayContain(name) {
		return false
	}
	e := c.g.known.lookup(name)
	if e == nil || e.shared == 0 {
		return false
	}
	reg := c.g.shared[e.shared-1]
	switch c.g.dialect {
	case SQLite:
		return true // lookup compared ASCII case-insensitively
	case MySQL:
		return name == reg
	}
	// PostgreSQL: unquoted names fold to lower case; quoted ones are exact.
	if t.kind == tkQIdent {
		return name == reg
	}
	return !hasUpper(reg)
}

// systemQualifier reports whether a qualified name's schema (any part
// before the last) is a system schema.
func (c *checker) systemQualifier(first, last int) bool {
	for k := first; k < last; k += 2 {
		c.steps++
		s := c.content(k)
		if len(s) >= 3 && equalFoldASCII(s[:3], "pg_") {
			return true
		}
		for _, cat := range systemCatalogs {
			if equalFoldASCII(s, cat) {
				return true
			}
		}
	}
	return false
}

// inCTEScope reports whether the unqualified name at toks[k] certainly
// names a CTE visible where it stands.
func (c *checker) inCTEScope(k int) bool {
	for _, s := range c.cteScope {
		c.steps++
		if c.identEqual(int(s), k) {
			return true
		}
	}
	return false
}

// callAt checks toks[i] as a function name when a '(' follows it in an
// expression: an identifier, quoted or not, that is not a keyword the
// grammar puts before '(' (parenSyntax), not a type after AS or ::, and
// not the member of a qualified column. Other keywords are calls: MariaDB
// and PostgreSQL call a function named like a non-reserved keyword
// (mode(1), comment('x')).
func (c *checker) callAt(i int) {
	t := &c.toks[i]
	if t.kind == tkIdent && t.kw != kwNone && c.parenSyntax(i) || c.afterCall(i) {
		return
	}
	if c.isKw(i-1, kwAS) || (c.isKind(i-1, tkOp) && c.toks[i-1].op == opCast) {
		return
	}
	first := i
	for c.isKind(first-1, tkDot) && c.isName(first-2) {
		c.steps++
		first -= 2
	}
	c.call(first, i, false)
}
