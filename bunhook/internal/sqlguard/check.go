package sqlguard

import (
	"fmt"
	"strings"
	"sync"
)

// tref is one table reference (FROM item, JOIN target, UPDATE/DELETE/INSERT
// target) of the query block being checked.
type tref struct {
	tbl      int16 // 1-based tenant table index; 0 when not a tenant table
	nameTok  int32 // token of the (last part of the) table name; -1 for derived tables
	qualTok  int32 // token that qualifies its columns (alias, or the name); -1 if none
	onS, onE int32 // ON clause token range; onS < 0 when there is none
	schemaQ  bool  // the name was schema-qualified
	onCounts bool  // ON restricts this table (inner/left/cross join target)
}

// valuesCTE is a statement-level CTE whose body is a VALUES list, as bun's
// Bulk() renders it.
type valuesCTE struct {
	nameTok      int32
	colsS, colsE int32 // token range of the column list (inside parentheses)
	rowsS, rowsE int32 // token range of the rows (after VALUES)
}

// pendingSet is a tenant-column assignment whose value is checked once the
// statement's FROM list is known.
type pendingSet struct {
	vs, ve   int32 // value token range
	ref      int32 // index into refs of the target
	blk      int32 // first ref of the block
	excluded bool  // EXCLUDED.<col> allowed (ON CONFLICT DO UPDATE)
}

type checker struct {
	g      *Guard
	sql    string
	tenant string

	toks    []token
	stack   []int32
	refs    []tref
	ctes    []valuesCTE
	pending []pendingSet
	cands   []predCand

	lexErr        string
	lexPos        int
	anyTenant     bool
	suspicious    bool // identifier may name a tenant table in disguise
	suspiciousCol bool // identifier may name a tenant column in disguise
	suspiciousPos int
	danger        bool

	failed  bool
	failMsg string
	failPos int

	kind   Kind
	op     string
	opaque bool
	// cteKw is the verb of the first data-modifying CTE (WITH x AS
	// (DELETE ...)), which makes a SELECT a write.
	cteKw kwID

	tables    TableList
	first     *Finding
	count     int
	attempted string
}

var checkerPool = sync.Pool{New: func() any {
	return &checker{
		toks:  make([]token, 0, 128),
		stack: make([]int32, 0, 16),
		refs:  make([]tref, 0, 16),
	}
}}

// Check verifies that every occurrence of every tenant table in sql is
// restricted to tenant, and that writes cannot put another tenant's value
// into the tenant column. See the package documentation for the rules.
// Check does not allocate when the statement is verified.
func (g *Guard) Check(sql, tenant string) Verdict {
	c := checkerPool.Get().(*checker)
	c.g, c.sql, c.tenant = g, sql, tenant
	v := c.run()
	c.reset()
	checkerPool.Put(c)
	return v
}

func (c *checker) reset() {
	const keep = 4096
	if cap(c.toks) > keep {
		c.toks = make([]token, 0, 128)
	}
	if cap(c.refs) > keep {
		c.refs = make([]tref, 0, 16)
	}
	*c = checker{
		toks:    c.toks[:0],
		stack:   c.stack[:0],
		refs:    c.refs[:0],
		ctes:    c.ctes[:0],
		pending: c.pending[:0],
		cands:   c.cands[:0],
	}
}

func (c *checker) run() Verdict {
	if !c.lex() {
		c.kind, c.op = c.kindOfFirst()
		var tl TableList
		if c.g.mentionsFrom(c.sql, &tl, false) {
			c.tables = tl
			c.finding(ParseError, "", c.lexPos, c.lexErr)
		}
		return c.verdict()
	}
	n := len(c.toks)
	end := n
	for k := 0; k < n; k++ {
		if c.toks[k].kind == tkSemi {
			end = k
			break
		}
	}
	multi := false
	for k := end + 1; k < n; k++ {
		if c.toks[k].kind != tkSemi {
			multi = true
			break
		}
	}
	c.kind, c.op = c.kindOfFirst()
	if end == 0 && !multi {
		return c.verdict() // empty statement (only comments / semicolons)
	}
	switch {
	case c.danger:
		c.collectMentions()
		for k := range c.toks {
			if c.toks[k].flags&tfDanger != 0 {
				t := &c.toks[k]
				c.finding(Unverifiable, "", int(t.pos), "calls "+strings.ToLower(c.text(k))+
					"(), which can read tables that are not named in the SQL text")
				break
			}
		}
		return c.verdict()
	case multi:
		if c.collectMentions() {
			c.finding(Unverifiable, "", int(c.toks[end].pos), "multiple statements in one query text")
		}
		return c.verdict()
	case c.suspicious || (c.suspiciousCol && c.anyTenant):
		c.collectMentions()
		what := "table"
		if !c.suspicious {
			what = "column"
		}
		c.finding(Unverifiable, "", c.suspiciousPos,
			"identifier with non-ASCII or escaped characters may fold to a tenant "+what+" name")
		return c.verdict()
	}

	first := &c.toks[0]
	if !c.anyTenant && first.kind == tkIdent && first.kw != kwWITH {
		switch first.kw {
		case kwSELECT, kwVALUES, kwINSERT, kwUPDATE, kwDELETE, kwREPLACE:
			return c.verdict() // no tenant table named: nothing to verify
		}
	}
	if !c.anyTenant && first.kind == tkLParen {
		return c.verdict()
	}

	c.statement(0, end)
	if c.opaque {
		c.first, c.count, c.attempted = nil, 0, ""
		if c.copiesDatabase(end) {
			c.collectMentions()
			c.finding(Unverifiable, "", int(c.toks[0].pos), "VACUUM INTO copies every table")
			return c.verdict()
		}
		if c.collectMentions() {
			c.finding(Unverifiable, "", int(c.toks[0].pos), c.op+" statement on a tenant table cannot be verified")
		}
		return c.verdict()
	}
	if c.failed {
		c.first, c.count, c.attempted = nil, 0, ""
		if c.collectMentions() || c.anyTenant {
			c.finding(Unverifiable, "", c.failPos, c.failMsg)
		}
	}
	return c.verdict()
}

// copiesDatabase reports SQLite's VACUUM ... INTO, which writes a copy of
// every table (tenant tables included) without naming them.
func (c *checker) copiesDatabase(end int) bool {
	if c.g.dialect != SQLite || c.toks[0].kind != tkIdent || !equalFoldASCII(c.text(0), "vacuum") {
		return false
	}
	for k := 1; k < end; k++ {
		if c.isKw(k, kwINTO) {
			return true
		}
	}
	return false
}

func (c *checker) verdict() Verdict {
	return Verdict{
		Kind:      c.kind,
		Operation: c.op,
		Tables:    c.tables,
		Finding:   c.first,
		Findings:  c.count,
		Attempted: c.attempted,
	}
}

// collectMentions adds every tenant table named anywhere in the raw text
// (strings and comments included) to the verdict and reports whether there
// was one.
func (c *checker) collectMentions() bool {
	return c.g.mentionsFrom(c.sql, &c.tables, false)
}

func (c *checker) finding(code Code, table string, pos int, detail string) {
	if table == "" && c.tables.Len() > 0 {
		table = c.tables.At(0)
	}
	c.count++
	if c.first == nil {
		c.first = &Finding{Code: code, Table: table, Detail: detail, Pos: pos}
	}
}

func (c *checker) fail(i int, msg string) {
	if c.failed {
		return
	}
	c.failed = true
	c.failMsg = "unsupported SQL: " + msg
	if i >= 0 && i < len(c.toks) {
		c.failPos = int(c.toks[i].pos)
		c.failMsg += fmt.Sprintf(" near %q", c.snippet(i))
	} else {
		c.failPos = len(c.sql)
		c.failMsg += " at end of statement"
	}
}

func (c *checker) snippet(i int) string {
	s := c.sql[c.toks[i].pos:]
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return s
}

func (c *checker) text(i int) string {
	t := &c.toks[i]
	return c.sql[t.pos:t.end]
}

// content returns an identifier's name without quotes (doubled quotes are
// left as they are).
func (c *checker) content(i int) string {
	t := &c.toks[i]
	if t.kind == tkQIdent {
		return c.sql[t.pos+1 : t.end-1]
	}
	return c.sql[t.pos:t.end]
}

func (c *checker) isKw(i int, k kwID) bool {
	return i >= 0 && i < len(c.toks) && c.toks[i].kind == tkIdent && c.toks[i].kw == k
}

func (c *checker) isKind(i int, k tokKind) bool {
	return i >= 0 && i < len(c.toks) && c.toks[i].kind == k
}

func (c *checker) isName(i int) bool {
	return i >= 0 && i < len(c.toks) && (c.toks[i].kind == tkIdent || c.toks[i].kind == tkQIdent)
}

func (c *checker) isEq(i int) bool {
	return i >= 0 && i < len(c.toks) && c.toks[i].kind == tkOp && c.toks[i].op == opEq
}

// ---------------------------------------------------------------------------
// Statement classification

var verbOps = [kwCount]string{
	kwSELECT: "SELECT", kwVALUES: "VALUES", kwTABLE: "TABLE", kwINSERT: "INSERT",
	kwREPLACE: "REPLACE", kwUPDATE: "UPDATE", kwDELETE: "DELETE", kwMERGE: "MERGE",
	kwTRUNCATE: "TRUNCATE", kwCREATE: "CREATE", kwALTER: "ALTER", kwDROP: "DROP",
	kwRENAME: "RENAME", kwCOMMENT: "COMMENT", kwGRANT: "GRANT", kwREVOKE: "REVOKE",
	kwBEGIN: "BEGIN", kwSTART: "START", kwCOMMIT: "COMMIT", kwROLLBACK: "ROLLBACK",
	kwSAVEPOINT: "SAVEPOINT", kwRELEASE: "RELEASE", kwEND: "END", kwABORT: "ABORT",
	kwSET: "SET", kwRESET: "RESET", kwWITH: "WITH", kwLOCK: "LOCK", kwDO: "DO",
	kwUSE: "USE",
}

func kindOfVerb(kw kwID) Kind {
	switch kw {
	case kwSELECT, kwVALUES, kwTABLE:
		return Select
	case kwINSERT, kwREPLACE:
		return Insert
	case kwUPDATE:
		return Update
	case kwDELETE:
		return Delete
	case kwMERGE:
		return Merge
	case kwTRUNCATE:
		return Truncate
	case kwCREATE, kwALTER, kwDROP, kwRENAME, kwCOMMENT, kwGRANT, kwREVOKE:
		return DDL
	case kwBEGIN, kwSTART, kwCOMMIT, kwROLLBACK, kwSAVEPOINT, kwRELEASE, kwEND, kwABORT, kwSET, kwRESET:
		return TxControl
	}
	return Other
}

// kindOfFirst classifies the statement by its first token (a WITH is
// resolved later by the parser; here it reports Select as a guess).
func (c *checker) kindOfFirst() (Kind, string) {
	if len(c.toks) == 0 {
		return Other, ""
	}
	t := &c.toks[0]
	switch t.kind {
	case tkLParen:
		return Select, "SELECT"
	case tkIdent:
	default:
		return Other, ""
	}
	if t.kw == kwWITH {
		// Find the main verb: the first depth-0 verb keyword after WITH. A
		// data-modifying CTE makes a SELECT a write.
		cteKw := kwNone
		for k := 1; k < len(c.toks); k++ {
			tk := &c.toks[k]
			if tk.kind == tkLParen {
				if tk.match > 0 {
					if nk := k + 1; cteKw == kwNone && nk < len(c.toks) && c.toks[nk].kind == tkIdent {
						switch c.toks[nk].kw {
						case kwINSERT, kwUPDATE, kwDELETE, kwREPLACE:
							cteKw = c.toks[nk].kw
						}
					}
					k = int(tk.match)
					continue
				}
				break
			}
			if tk.kind == tkSemi {
				break
			}
			if tk.kind == tkIdent {
				switch tk.kw {
				case kwSELECT, kwVALUES, kwTABLE:
					if cteKw != kwNone {
						return kindOfVerb(cteKw), verbOps[cteKw]
					}
					return kindOfVerb(tk.kw), verbOps[tk.kw]
				case kwINSERT, kwUPDATE, kwDELETE, kwMERGE, kwREPLACE:
					return kindOfVerb(tk.kw), verbOps[tk.kw]
				}
			}
		}
		return Select, "SELECT"
	}
	if t.kw != kwNone && verbOps[t.kw] != "" {
		return kindOfVerb(t.kw), verbOps[t.kw]
	}
	w := c.text(0)
	for i := 0; i < len(w); i++ {
		if w[i] >= 'a' && w[i] <= 'z' {
			return Other, strings.ToUpper(w)
		}
	}
	return Other, w
}

// statement parses the statement in toks[i:end].
func (c *checker) statement(i, end int) {
	t := &c.toks[i]
	if t.kind == tkLParen {
		c.expectEnd(c.queryExpr(i, end), end)
		return
	}
	if t.kind != tkIdent {
		c.opaque = true
		return
	}
	switch t.kw {
	case kwWITH:
		j := c.withClause(i, end, true)
		if c.failed {
			return
		}
		if j >= end {
			c.fail(j, "WITH without a statement")
			return
		}
		m := &c.toks[j]
		if m.kind == tkLParen || m.kw == kwSELECT || m.kw == kwVALUES || m.kw == kwTABLE {
			c.kind, c.op = Select, verbOps[kwSELECT]
			if m.kw == kwVALUES || m.kw == kwTABLE {
				c.op = verbOps[m.kw]
			}
			if c.cteKw != kwNone {
				// The statement writes: report what it does.
				c.kind, c.op = kindOfVerb(c.cteKw), verbOps[c.cteKw]
			}
			c.expectEnd(c.queryExpr(j, end), end)
			return
		}
		if m.kind == tkIdent && verbOps[m.kw] != "" {
			c.kind, c.op = kindOfVerb(m.kw), verbOps[m.kw]
		}
		c.dml(j, end)
	case kwSELECT, kwVALUES, kwTABLE:
		c.expectEnd(c.queryExpr(i, end), end)
	case kwINSERT, kwREPLACE, kwUPDATE, kwDELETE:
		c.dml(i, end)
	default:
		c.opaque = true
	}
}

// dml parses INSERT/REPLACE/UPDATE/DELETE at toks[i] up to end.
func (c *checker) dml(i, end int) {
	switch {
	case c.isKw(i, kwINSERT) || c.isKw(i, kwREPLACE):
		c.expectEnd(c.insertStmt(i, end), end)
	case c.isKw(i, kwUPDATE):
		c.expectEnd(c.updateStmt(i, end), end)
	case c.isKw(i, kwDELETE):
		c.expectEnd(c.deleteStmt(i, end), end)
	default:
		// MERGE or anything else after WITH.
		c.opaque = true
	}
}

func (c *checker) expectEnd(j, end int) {
	if !c.failed && j != end {
		c.fail(j, "unexpected token")
	}
}

// ---------------------------------------------------------------------------
// Query expressions

// groupIsQuery reports whether the parenthesised group opened at toks[open]
// holds a query (possibly behind further parentheses).
func (c *checker) groupIsQuery(open int) bool {
	j := open + 1
	for j < len(c.toks) && c.toks[j].kind == tkLParen {
		j++
	}
	if j >= len(c.toks) || c.toks[j].kind != tkIdent {
		return false
	}
	switch c.toks[j].kw {
	case kwSELECT, kwWITH, kwVALUES, kwTABLE:
		return true
	}
	return false
}

// queryExpr parses [WITH ...] term { set-op term } [ORDER BY ...] [LIMIT ...]
// and returns the index of the first token after it.
func (c *checker) queryExpr(i, end int) int {
	if c.isKw(i, kwWITH) {
		i = c.withClause(i, end, false)
	}
	i = c.queryTerm(i, end)
	for !c.failed && i < end {
		if c.isKw(i, kwUNION) || c.isKw(i, kwINTERSECT) || c.isKw(i, kwEXCEPT) {
			i++
			if c.isKw(i, kwALL) || c.isKw(i, kwDISTINCT) {
				i++
			}
			i = c.queryTerm(i, end)
			continue
		}
		break
	}
	if c.failed {
		return end
	}
	return c.tail(i, end)
}

func (c *checker) queryTerm(i, end int) int {
	if c.failed {
		return end
	}
	if i >= end {
		c.fail(i, "expected a query")
		return end
	}
	t := &c.toks[i]
	switch {
	case t.kind == tkLParen:
		m := int(t.match)
		if !c.groupIsQuery(i) {
			c.fail(i, "expected a query in parentheses")
			return end
		}
		c.expectEnd(c.queryExpr(i+1, m), m)
		return m + 1
	case c.isKw(i, kwSELECT):
		return c.selectBlock(i, end)
	case c.isKw(i, kwVALUES):
		return c.valuesRows(i+1, end)
	case c.isKw(i, kwTABLE):
		c.fail(i, "TABLE statement")
		return end
	}
	c.fail(i, "expected SELECT")
	return end
}

// valuesRows parses `[ROW](...), [ROW](...)` and returns the index after it.
func (c *checker) valuesRows(i, end int) int {
	for !c.failed {
		if c.isKw(i, kwROW) {
			i++
		}
		if i >= end || c.toks[i].kind != tkLParen {
			c.fail(i, "expected a VALUES row")
			return end
		}
		m := int(c.toks[i].match)
		c.expectEnd(c.exprRegion(i+1, m, 0), m)
		i = m + 1
		if i < end && c.toks[i].kind == tkComma {
			i++
			continue
		}
		return i
	}
	return end
}

const selectStops = stFrom | stWhere | stGroupBy | stHaving | stWindow | stOrderBy | stLimit | stLock | stInto | stSetOp

// selectBlock parses one SELECT block starting at the SELECT keyword.
func (c *checker) selectBlock(i, end int) int {
	base := len(c.refs)
	i = c.exprRegion(i+1, end, selectStops)
	if c.failed {
		return end
	}
	if c.isKw(i, kwINTO) {
		c.fail(i, "SELECT ... INTO")
		return end
	}
	if c.isKw(i, kwFROM) {
		i = c.fromList(i+1, end, selectStops&^stFrom)
	}
	ws, we := -1, -1
	if !c.failed && c.isKw(i, kwWHERE) {
		ws = i + 1
		i = c.exprRegion(ws, end, selectStops&^(stFrom|stWhere))
		we = i
	}
	if !c.failed && c.isKw(i, kwGROUP) {
		i = c.exprRegion(i+2, end, selectStops&^(stFrom|stWhere|stGroupBy))
	}
	if !c.failed && c.isKw(i, kwHAVING) {
		i = c.exprRegion(i+1, end, selectStops&^(stFrom|stWhere|stGroupBy|stHaving))
	}
	if !c.failed && c.isKw(i, kwWINDOW) {
		i = c.exprRegion(i+1, end, selectStops&^(stFrom|stWhere|stGroupBy|stHaving|stWindow))
	}
	i = c.tail(i, end)
	if c.failed {
		return end
	}
	c.verifyBlock(base, ws, we)
	c.refs = c.refs[:base]
	return i
}

const tailStops = stOrderBy | stLimit | stLock | stSetOp | stInto

// tail parses ORDER BY, LIMIT, OFFSET, FETCH, FOR UPDATE/SHARE and MySQL's
// LOCK IN SHARE MODE.
func (c *checker) tail(i, end int) int {
	for !c.failed && i < end {
		switch {
		case c.isKw(i, kwORDER) && c.isKw(i+1, kwBY):
			i = c.exprRegion(i+2, end, tailStops&^stOrderBy)
		case c.isKw(i, kwLIMIT) || c.isKw(i, kwOFFSET) || c.isKw(i, kwFETCH):
			i = c.exprRegion(i+1, end, tailStops&^stOrderBy)
		case c.isKw(i, kwFOR) && c.stopClass(i) == stLock:
			i++
			for i < end && (c.isName(i) || c.isKind(i, tkComma) || c.isKind(i, tkDot)) {
				if c.stopClass(i)&(stLock|stSetOp|stLimit|stInto) != 0 {
					break
				}
				i++
			}
		case c.isKw(i, kwLOCK) && c.isKw(i+1, kwIN) && c.isKw(i+2, kwSHARE) && c.isKw(i+3, kwMODE):
			i += 4
		default:
			return i
		}
	}
	if c.failed {
		return end
	}
	return i
}

// ---------------------------------------------------------------------------
// Expression regions

// Stop classes: clause starts that end an expression region.
const (
	stFrom uint32 = 1 << iota
	stWhere
	stGroupBy
	stHaving
	stWindow
	stOrderBy
	stLimit // LIMIT, OFFSET, FETCH
	stLock  // FOR UPDATE/SHARE/NO KEY/KEY, LOCK IN
	stInto
	stSetOp // UNION, INTERSECT, EXCEPT
	stJoin
	stOn
	stUsing
	stComma
	stReturning
	stSet
	stDo
)

// stopClass reports which clause (if any) the keyword at toks[i] starts.
func (c *checker) stopClass(i int) uint32 {
	t := &c.toks[i]
	if t.kind == tkComma {
		return stComma
	}
	if t.kind != tkIdent {
		return 0
	}
	switch t.kw {
	case kwFROM:
		// IS [NOT] DISTINCT FROM
		if c.isKw(i-1, kwDISTINCT) && (c.isKw(i-2, kwIS) || (c.isKw(i-2, kwNOT) && c.isKw(i-3, kwIS))) {
			return 0
		}
		return stFrom
	case kwWHERE:
		return stWhere
	case kwGROUP:
		if c.isKw(i+1, kwBY) {
			return stGroupBy
		}
	case kwHAVING:
		return stHaving
	case kwWINDOW:
		return stWindow
	case kwORDER:
		if c.isKw(i+1, kwBY) {
			return stOrderBy
		}
	case kwLIMIT, kwOFFSET, kwFETCH:
		return stLimit
	case kwFOR:
		if c.isKw(i+1, kwUPDATE) || c.isKw(i+1, kwSHARE) || c.isKw(i+1, kwNO) || c.isKw(i+1, kwKEY) {
			return stLock
		}
	case kwLOCK:
		if c.isKw(i+1, kwIN) {
			return stLock
		}
	case kwINTO:
		return stInto
	case kwUNION, kwINTERSECT, kwEXCEPT:
		return stSetOp
	case kwJOIN, kwINNER, kwLEFT, kwRIGHT, kwFULL, kwCROSS, kwNATURAL, kwSTRAIGHTJOIN:
		if k, _ := c.joinStart(i); k != 0 {
			return stJoin
		}
	case kwON:
		return stOn
	case kwUSING:
		return stUsing
	case kwRETURNING:
		return stReturning
	case kwSET:
		return stSet
	case kwDO:
		return stDo
	}
	return 0
}

// canEnd reports whether toks[k] can be the last token of an operand, so
// that a clause keyword after it really starts a new clause (rather than
// being a keyword used as a column name, which SQLite allows).
func (c *checker) canEnd(k int) bool {
	t := &c.toks[k]
	switch t.kind {
	case tkQIdent, tkString, tkOtherString, tkNumber, tkParam, tkRParen:
		return true
	case tkIdent:
		switch t.kw {
		case kwNone, kwNULL, kwEND, kwDEFAULT, kwONLY:
			return true
		}
		return !kwNoAlias[t.kw]
	case tkOp:
		// `*` as in SELECT * / t.* / count(*), not multiplication.
		if c.sql[t.pos] == '*' && t.end == t.pos+1 {
			p := k - 1
			if p < 0 {
				return true
			}
			pt := &c.toks[p]
			switch pt.kind {
			case tkLParen, tkComma, tkDot:
				return true
			case tkRParen:
				// DISTINCT ON (...) *
				o := int(pt.match)
				return c.isKw(o-1, kwON) && c.isKw(o-2, kwDISTINCT)
			case tkIdent:
				return pt.kw == kwSELECT || pt.kw == kwDISTINCT || pt.kw == kwALL || pt.kw == kwRETURNING
			}
		}
	}
	return false
}

// exprRegion scans an expression region from i until a token of one of the
// stop classes (at parenthesis depth 0), a semicolon, or end. Nested
// parenthesised queries are checked as blocks of their own; a tenant table
// name outside a table position makes the statement unverifiable.
func (c *checker) exprRegion(i, end int, stops uint32) int {
	start := i
	for i < end && !c.failed {
		t := &c.toks[i]
		switch t.kind {
		case tkLParen:
			c.group(i)
			i = int(t.match) + 1
			continue
		case tkSemi:
			return i
		case tkComma:
			if stops&stComma != 0 {
				if i == start || !c.canEnd(i-1) {
					c.fail(i, "missing operand before ','")
					return end
				}
				return i
			}
		case tkIdent:
			if t.kw != kwNone {
				if stops != 0 {
					if st := c.stopClass(i); st&stops != 0 {
						if i > start && !c.canEnd(i-1) {
							c.fail(i, "keyword where an operand was expected")
							return end
						}
						return i
					}
				}
				switch t.kw {
				case kwSELECT, kwUNION, kwINTERSECT, kwEXCEPT, kwINSERT, kwUPDATE, kwDELETE, kwMERGE, kwINTO:
					c.fail(i, "unexpected keyword")
					return end
				}
			}
			if t.table() != 0 {
				c.stray(i)
			}
		case tkQIdent:
			if t.table() != 0 {
				c.stray(i)
			}
		case tkUIdent:
			c.fail(i, "unicode-escaped identifier")
			return end
		}
		i++
	}
	if c.failed {
		return end
	}
	return i
}

// group checks the parenthesised group opened at toks[open].
func (c *checker) group(open int) {
	m := int(c.toks[open].match)
	if c.groupIsQuery(open) {
		c.expectEnd(c.queryExpr(open+1, m), m)
		return
	}
	c.expectEnd(c.exprRegion(open+1, m, 0), m)
}

// stray handles a tenant table name found in an expression: allowed as a
// column qualifier (`invoices.x`), as the member of a qualified name
// (`x.invoices`), or as a defined alias (`AS invoices`).
func (c *checker) stray(i int) {
	if c.isKind(i+1, tkDot) || c.isKind(i-1, tkDot) || c.isKw(i-1, kwAS) {
		return
	}
	c.fail(i, "tenant table name outside a table position")
}

// identList checks that the group opened at toks[open] holds only names,
// dots and commas (column lists), and returns the index after it.
func (c *checker) identList(open int) int {
	m := int(c.toks[open].match)
	for k := open + 1; k < m; k++ {
		switch c.toks[k].kind {
		case tkIdent, tkQIdent, tkComma, tkDot:
		default:
			c.fail(k, "expected a column list")
			return m + 1
		}
	}
	return m + 1
}

// ---------------------------------------------------------------------------
// FROM lists

const (
	jkInner = iota + 1
	jkLeft
	jkRight
	jkFull
	jkCross
	jkNatural
)

// joinStart recognises a join operator at toks[i] and returns its kind and
// the index after the JOIN keyword (kind 0 when there is none).
func (c *checker) joinStart(i int) (int, int) {
	natural := false
	if c.isKw(i, kwNATURAL) {
		natural = true
		i++
	}
	kind := 0
	switch {
	case c.isKw(i, kwJOIN):
		kind, i = jkInner, i+1
	case c.isKw(i, kwSTRAIGHTJOIN):
		kind, i = jkInner, i+1
	case c.isKw(i, kwINNER) && c.isKw(i+1, kwJOIN):
		kind, i = jkInner, i+2
	case c.isKw(i, kwCROSS) && c.isKw(i+1, kwJOIN):
		kind, i = jkCross, i+2
	case c.isKw(i, kwLEFT) || c.isKw(i, kwRIGHT) || c.isKw(i, kwFULL):
		switch c.toks[i].kw {
		case kwLEFT:
			kind = jkLeft
		case kwRIGHT:
			kind = jkRight
		default:
			kind = jkFull
		}
		j := i + 1
		if c.isKw(j, kwOUTER) {
			j++
		}
		if !c.isKw(j, kwJOIN) {
			return 0, i
		}
		i = j + 1
	default:
		return 0, i
	}
	if natural {
		kind = jkNatural
	}
	return kind, i
}

// fromList parses a comma/JOIN separated list of table references, pushing
// them on c.refs, and returns the index after it. extra are additional
// stop classes for ON regions.
func (c *checker) fromList(i, end int, extra uint32) int {
	onStops := extra | stJoin | stComma | stOn | stUsing | stReturning | stSet
	for !c.failed {
		i = c.fromItem(i, end)
		for !c.failed {
			if c.isKind(i, tkComma) && i < end {
				i++
				break
			}
			kind, j := c.joinStart(i)
			if kind == 0 || i >= end {
				return i
			}
			i = c.fromItem(j, end)
			if c.failed {
				return end
			}
			switch {
			case c.isKw(i, kwON):
				if kind == jkNatural {
					c.fail(i, "ON after NATURAL JOIN")
					return end
				}
				s := i + 1
				e := c.exprRegion(s, end, onStops)
				r := &c.refs[len(c.refs)-1]
				r.onS, r.onE = int32(s), int32(e)
				r.onCounts = kind == jkInner || kind == jkLeft || kind == jkCross
				i = e
			case c.isKw(i, kwUSING):
				if !c.isKind(i+1, tkLParen) {
					c.fail(i, "expected USING (...)")
					return end
				}
				i = c.identList(i + 1)
			}
		}
	}
	return end
}

// fromItem parses one table reference and pushes it on c.refs.
func (c *checker) fromItem(i, end int) int {
	if i >= end {
		c.fail(i, "expected a table")
		return end
	}
	if c.isKw(i, kwLATERAL) {
		i++
	}
	if c.isKw(i, kwONLY) {
		i++
	}
	if i >= end {
		c.fail(i, "expected a table")
		return end
	}
	r := tref{nameTok: -1, qualTok: -1, onS: -1, onE: -1}
	t := &c.toks[i]
	switch {
	case t.kind == tkLParen:
		m := int(t.match)
		if !c.groupIsQuery(i) {
			c.fail(i, "parenthesised join or unsupported FROM item")
			return end
		}
		c.expectEnd(c.queryExpr(i+1, m), m)
		i = c.alias(m+1, end, &r, true)
	case c.isName(i):
		if t.kind == tkIdent && t.kw != kwNone && kwNoAlias[t.kw] {
			c.fail(i, "expected a table name")
			return end
		}
		last := i
		parts := 1
		for c.isKind(last+1, tkDot) && c.isName(last+2) && last+2 < end {
			last += 2
			parts++
		}
		if parts > 3 {
			c.fail(i, "table name with too many parts")
			return end
		}
		i = last + 1
		if c.isKind(i, tkLParen) && i < end {
			// Table function.
			if c.toks[last].table() != 0 {
				c.fail(last, "function named like a tenant table")
				return end
			}
			c.group(i)
			i = c.alias(int(c.toks[i].match)+1, end, &r, true)
			break
		}
		if c.isKind(i, tkOp) && c.sql[c.toks[i].pos] == '*' && c.toks[i].end == c.toks[i].pos+1 && c.g.dialect == Postgres {
			i++ // inheritance: t *
		}
		r.tbl = c.toks[last].table()
		if r.tbl != 0 {
			c.tables.add(c.tableName(r.tbl))
		}
		r.nameTok, r.qualTok = int32(last), int32(last)
		r.schemaQ = parts > 1
		if c.isKw(i, kwPARTITION) && c.isKind(i+1, tkLParen) {
			i = c.identList(i + 1)
		}
		i = c.alias(i, end, &r, r.tbl == 0)
		i = c.indexHints(i, end)
	default:
		c.fail(i, "expected a table")
		return end
	}
	if c.failed {
		return end
	}
	if len(c.refs) >= maxRefs {
		c.fail(i, "too many table references")
		return end
	}
	c.refs = append(c.refs, r)
	return i
}

// alias parses `[AS] alias [(columns)]`.
func (c *checker) alias(i, end int, r *tref, allowCols bool) int {
	if i >= end {
		return i
	}
	has := false
	if c.isKw(i, kwAS) {
		if !c.isName(i+1) || i+1 >= end {
			c.fail(i, "expected an alias")
			return end
		}
		i++
		has = true
	} else if c.isName(i) {
		t := &c.toks[i]
		has = t.kind == tkQIdent || t.kw == kwNone || !kwNoAlias[t.kw]
	}
	if !has {
		return i
	}
	r.qualTok = int32(i)
	i++
	if c.isKind(i, tkLParen) && i < end {
		if !allowCols {
			c.fail(i, "column alias list on a tenant table")
			return end
		}
		i = c.identList(i)
	}
	return i
}

// indexHints skips MySQL index hints.
func (c *checker) indexHints(i, end int) int {
	for i < end && (c.isKw(i, kwUSE) || c.isKw(i, kwIGNORE) || c.isKw(i, kwFORCE)) &&
		(c.isKw(i+1, kwINDEX) || c.isKw(i+1, kwKEY)) {
		i += 2
		if c.isKw(i, kwFOR) {
			switch {
			case c.isKw(i+1, kwJOIN):
				i += 2
			case (c.isKw(i+1, kwORDER) || c.isKw(i+1, kwGROUP)) && c.isKw(i+2, kwBY):
				i += 3
			default:
				c.fail(i, "unexpected index hint")
				return end
			}
		}
		if !c.isKind(i, tkLParen) {
			c.fail(i, "expected index list")
			return end
		}
		i = c.identList(i)
	}
	return i
}

// ---------------------------------------------------------------------------
// WITH

func (c *checker) withClause(i, end int, top bool) int {
	i++
	if c.isKw(i, kwRECURSIVE) {
		i++
	}
	for !c.failed {
		if !c.isName(i) || i >= end {
			c.fail(i, "expected a CTE name")
			return end
		}
		nameTok := i
		i++
		colsS, colsE := -1, -1
		if c.isKind(i, tkLParen) {
			colsS, colsE = i+1, int(c.toks[i].match)
			i = c.identList(i)
		}
		if !c.isKw(i, kwAS) {
			c.fail(i, "expected AS")
			return end
		}
		i++
		if c.isKw(i, kwNOT) && c.isKw(i+1, kwMATERIALIZED) {
			i += 2
		} else if c.isKw(i, kwMATERIALIZED) {
			i++
		}
		if !c.isKind(i, tkLParen) || i >= end {
			c.fail(i, "expected ( after AS")
			return end
		}
		m := int(c.toks[i].match)
		b := i + 1
		if c.cteKw == kwNone && (c.isKw(b, kwINSERT) || c.isKw(b, kwREPLACE) || c.isKw(b, kwUPDATE) || c.isKw(b, kwDELETE)) {
			c.cteKw = c.toks[b].kw
		}
		switch {
		case c.isKw(b, kwINSERT) || c.isKw(b, kwREPLACE):
			c.expectEnd(c.insertStmt(b, m), m)
		case c.isKw(b, kwUPDATE):
			c.expectEnd(c.updateStmt(b, m), m)
		case c.isKw(b, kwDELETE):
			c.expectEnd(c.deleteStmt(b, m), m)
		default:
			c.expectEnd(c.queryExpr(b, m), m)
		}
		if c.failed {
			return end
		}
		if top {
			c.recordValuesCTE(nameTok, colsS, colsE, b, m)
		}
		i = m + 1
		if c.isKind(i, tkComma) && i < end {
			i++
			continue
		}
		return i
	}
	return end
}

// recordValuesCTE remembers a CTE of one of bun's Bulk() shapes:
//
//	name (cols) AS (VALUES ...)
//	name AS (SELECT * FROM (VALUES ...) AS t (cols))
func (c *checker) recordValuesCTE(nameTok, colsS, colsE, b, e int) {
	if colsS >= 0 {
		if c.isKw(b, kwVALUES) {
			c.ctes = append(c.ctes, valuesCTE{int32(nameTok), int32(colsS), int32(colsE), int32(b + 1), int32(e)})
		}
		return
	}
	// SELECT * FROM ( VALUES ... ) [AS] t ( cols )
	if !c.isKw(b, kwSELECT) || !c.isKind(b+1, tkOp) || c.text(b+1) != "*" || !c.isKw(b+2, kwFROM) ||
		!c.isKind(b+3, tkLParen) || !c.isKw(b+4, kwVALUES) {
		return
	}
	m := int(c.toks[b+3].match)
	k := m + 1
	if c.isKw(k, kwAS) {
		k++
	}
	if !c.isName(k) || !c.isKind(k+1, tkLParen) {
		return
	}
	cm := int(c.toks[k+1].match)
	if cm+1 != e {
		return
	}
	c.ctes = append(c.ctes, valuesCTE{int32(nameTok), int32(k + 2), int32(cm), int32(b + 5), int32(m)})
}

// ---------------------------------------------------------------------------
// Block verification

func (c *checker) tableName(tbl int16) string { return c.g.tables[tbl-1].name }
func (c *checker) tenantCol(tbl int16) string { return c.g.tables[tbl-1].column }

// verifyBlock checks every tenant table reference in refs[base:] against
// the block's WHERE range [ws, we) and its own ON range.
func (c *checker) verifyBlock(base, ws, we int) {
	refs := c.refs[base:]
	cbase := len(c.cands)
	if ws >= 0 {
		c.collectPreds(ws, we)
	}
	cwhere := len(c.cands)
	defer func() { c.cands = c.cands[:cbase] }()
	for ri := range refs {
		r := &refs[ri]
		if r.tbl == 0 {
			continue
		}
		name := c.tableName(r.tbl)
		for rj := range refs {
			if rj != ri && refs[rj].qualTok >= 0 && c.maybeSameIdent(int(refs[rj].qualTok), int(r.qualTok)) {
				c.fail(int(r.qualTok), "ambiguous table qualifier")
				return
			}
		}
		allowUnqual := len(refs) == 1
		c.cands = c.cands[:cwhere]
		if c.matchCands(cbase, r, allowUnqual) {
			continue
		}
		if r.onS >= 0 && r.onCounts && c.hasPred(int(r.onS), int(r.onE), r, false) {
			continue
		}
		code := MissingPredicate
		where := "its WHERE clause"
		if r.onS >= 0 && r.onCounts {
			where = "its WHERE or JOIN ... ON clause"
		}
		if (ws >= 0 && c.predUnderOr(ws, we, r, allowUnqual)) ||
			(r.onS >= 0 && r.onCounts && c.predUnderOr(int(r.onS), int(r.onE), r, false)) {
			code = OrEscape
			c.finding(code, name, int(c.toks[r.nameTok].pos), fmt.Sprintf(
				"table %s (qualifier %s): the tenant predicate %s.%s = '<tenant>' appears only under OR in %s",
				name, c.content(int(r.qualTok)), c.content(int(r.qualTok)), c.tenantCol(r.tbl), where))
			continue
		}
		extra := ""
		if r.onS >= 0 && !r.onCounts {
			extra = " (the ON clause of a RIGHT/FULL/NATURAL join does not restrict the joined table)"
		}
		c.finding(code, name, int(c.toks[r.nameTok].pos), fmt.Sprintf(
			"table %s (qualifier %s) is not restricted by %s.%s = '<tenant>' as a top-level AND condition of %s%s",
			name, c.content(int(r.qualTok)), c.content(int(r.qualTok)), c.tenantCol(r.tbl), where, extra))
	}
}

func (c *checker) isOr(t *token) bool {
	if t.kind == tkIdent {
		return t.kw == kwOR || t.kw == kwXOR
	}
	return t.kind == tkOp && t.op == opPipes && c.g.dialect == MySQL
}

func (c *checker) isAnd(t *token) bool {
	if t.kind == tkIdent {
		return t.kw == kwAND
	}
	return t.kind == tkOp && t.op == opAmps && c.g.dialect == MySQL
}

// predCand is a top-level conjunct of the exact shape
// <q>.<col> = '<tenant>' (q < 0 for <col> = '<tenant>'), operands in either
// order, found by collectPreds.
type predCand struct{ q, col int32 }

// hasPred reports whether the boolean expression toks[s:e] has the tenant
// predicate for r as a conjunct reachable from the root through ANDs and
// parentheses only.
func (c *checker) hasPred(s, e int, r *tref, allowUnqual bool) bool {
	base := len(c.cands)
	c.collectPreds(s, e)
	ok := c.matchCands(base, r, allowUnqual)
	c.cands = c.cands[:base]
	return ok
}

// matchCands reports whether one of c.cands[from:] restricts r.
func (c *checker) matchCands(from int, r *tref, allowUnqual bool) bool {
	col := c.tenantCol(r.tbl)
	for _, p := range c.cands[from:] {
		if !c.isTenantCol(int(p.col), col) {
			continue
		}
		if p.q < 0 {
			if allowUnqual {
				return true
			}
			continue
		}
		if r.qualTok >= 0 && c.identEqual(int(p.q), int(r.qualTok)) {
			return true
		}
	}
	return false
}

// collectPreds appends to c.cands the candidate tenant predicates among
// the conjuncts of toks[s:e] that are reachable from the root through AND
// and parentheses only. A clause with an OR (XOR, MySQL ||) at its depth 0
// contributes nothing; ANDs inside BETWEEN ... AND and CASE ... END do not
// split.
func (c *checker) collectPreds(s, e int) {
	for s < e && c.toks[s].kind == tkLParen && int(c.toks[s].match) == e-1 {
		s++
		e--
	}
	if s >= e {
		return
	}
	for k := s; k < e; k++ {
		t := &c.toks[k]
		if t.kind == tkLParen {
			k = int(t.match)
			continue
		}
		if c.isOr(t) {
			return
		}
	}
	start, caseDepth, between := s, 0, false
	for k := s; k < e; k++ {
		t := &c.toks[k]
		switch {
		case t.kind == tkLParen:
			k = int(t.match)
		case t.kind == tkIdent && t.kw == kwCASE:
			caseDepth++
		case t.kind == tkIdent && t.kw == kwEND:
			if caseDepth > 0 && k > s && c.canEnd(k-1) {
				caseDepth--
			}
		case caseDepth > 0:
		case t.kind == tkIdent && t.kw == kwBETWEEN:
			between = true
		case c.isAnd(t):
			if between {
				between = false
				continue
			}
			c.collectConjunct(start, k)
			start = k + 1
		}
	}
	c.collectConjunct(start, e)
}

func (c *checker) collectConjunct(s, e int) {
	if s >= e {
		return
	}
	if c.toks[s].kind == tkLParen && int(c.toks[s].match) == e-1 {
		c.collectPreds(s, e)
		return
	}
	switch e - s {
	case 5:
		if c.isName(s) && c.isKind(s+1, tkDot) && c.isName(s+2) && c.isEq(s+3) && c.isTenantLit(s+4) {
			c.cands = append(c.cands, predCand{int32(s), int32(s + 2)})
		} else if c.isTenantLit(s) && c.isEq(s+1) && c.isName(s+2) && c.isKind(s+3, tkDot) && c.isName(s+4) {
			c.cands = append(c.cands, predCand{int32(s + 2), int32(s + 4)})
		}
	case 3:
		if c.isName(s) && c.isEq(s+1) && c.isTenantLit(s+2) {
			c.cands = append(c.cands, predCand{-1, int32(s)})
		} else if c.isTenantLit(s) && c.isEq(s+1) && c.isName(s+2) {
			c.cands = append(c.cands, predCand{-1, int32(s + 2)})
		}
	}
}

// qualCol matches `<qualifier of r> . <tenant column>` at toks[k:k+3].
func (c *checker) qualCol(k int, r *tref) bool {
	return r.qualTok >= 0 && c.isName(k) && c.identEqual(k, int(r.qualTok)) && c.isKind(k+1, tkDot) &&
		c.isTenantCol(k+2, c.tenantCol(r.tbl))
}

// predUnderOr reports whether the predicate for r occurs anywhere in
// toks[s:e] while the range also contains an OR.
func (c *checker) predUnderOr(s, e int, r *tref, allowUnqual bool) bool {
	hasOr, hasPred := false, false
	col := c.tenantCol(r.tbl)
	for k := s; k < e; k++ {
		if c.isOr(&c.toks[k]) {
			hasOr = true
		}
		if k+5 <= e && c.conjunctAt(k, k+5, r, false) {
			hasPred = true
		}
		if allowUnqual && k+3 <= e && ((c.isTenantCol(k, col) && c.isEq(k+1) && c.isTenantLit(k+2)) ||
			(c.isTenantLit(k) && c.isEq(k+1) && c.isTenantCol(k+2, col))) {
			hasPred = true
		}
	}
	return hasOr && hasPred
}

func (c *checker) conjunctAt(s, e int, r *tref, allowUnqual bool) bool {
	return (c.qualCol(s, r) && c.isEq(s+3) && c.isTenantLit(s+4)) ||
		(c.isTenantLit(s) && c.isEq(s+1) && c.qualCol(s+2, r))
}

// identEqual reports whether two identifier tokens certainly denote the
// same name for the dialect.
func (c *checker) identEqual(a, b int) bool {
	ta, tb := &c.toks[a], &c.toks[b]
	if (ta.flags|tb.flags)&tfDoubled != 0 {
		return ta.kind == tb.kind && c.text(a) == c.text(b)
	}
	ca, cb := c.content(a), c.content(b)
	switch c.g.dialect {
	case SQLite:
		return equalFoldASCII(ca, cb)
	case MySQL:
		return ca == cb
	}
	// PostgreSQL folds unquoted names to lower case.
	qa, qb := ta.kind == tkQIdent, tb.kind == tkQIdent
	switch {
	case qa && qb:
		return ca == cb
	case !qa && !qb:
		return equalFoldASCII(ca, cb)
	case qa:
		return equalFoldASCII(ca, cb) && !hasUpper(ca)
	default:
		return equalFoldASCII(ca, cb) && !hasUpper(cb)
	}
}

// maybeSameIdent is a conservative (case-insensitive) name comparison.
func (c *checker) maybeSameIdent(a, b int) bool {
	return equalFoldASCII(c.content(a), c.content(b))
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// isTenantCol reports whether toks[k] names the tenant column col.
func (c *checker) isTenantCol(k int, col string) bool {
	if !c.isName(k) {
		return false
	}
	t := &c.toks[k]
	if t.flags&tfDoubled != 0 {
		return false
	}
	s := c.content(k)
	if c.g.dialect == Postgres {
		if len(s) > pgMaxIdent {
			s = s[:pgMaxIdent]
		}
		if t.kind == tkQIdent {
			return s == col
		}
		return equalFoldASCII(s, col) && !hasUpper(col)
	}
	return equalFoldASCII(s, col)
}

// isTenantLit reports whether toks[k] is a plain string literal whose value
// is exactly the bound tenant.
func (c *checker) isTenantLit(k int) bool {
	if k < 0 || k >= len(c.toks) {
		return false
	}
	t := &c.toks[k]
	if t.kind != tkString || t.flags&tfBackslash != 0 || c.tenant == "" {
		return false
	}
	raw := c.sql[t.pos+1 : t.end-1]
	if t.flags&tfDoubled == 0 {
		return raw == c.tenant
	}
	q := c.sql[t.pos]
	j := 0
	for i := 0; i < len(raw); i++ {
		ch := raw[i]
		if ch == q {
			i++
		}
		if j >= len(c.tenant) || c.tenant[j] != ch {
			return false
		}
		j++
	}
	return j == len(c.tenant)
}

// literalValue returns the value of a string token (best effort).
func (c *checker) literalValue(k int) string {
	t := &c.toks[k]
	raw := c.sql[t.pos+1 : t.end-1]
	if t.kind != tkString || t.flags&(tfDoubled|tfBackslash) == 0 {
		return raw
	}
	q := string(c.sql[t.pos])
	v := strings.ReplaceAll(raw, q+q, q)
	if t.flags&tfBackslash != 0 {
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			b.WriteByte(v[i])
		}
		v = b.String()
	}
	return v
}
