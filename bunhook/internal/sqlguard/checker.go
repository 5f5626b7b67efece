package sqlguard

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

type checker struct {
	g      *Guard
	sql    string
	tenant string
	// closed: the closed world applies (the guard has it and a tenant is
	// bound).
	closed bool
	// inTarget: the parser is reading the target tables of an UPDATE or
	// DELETE, which never resolve to a CTE.
	inTarget bool

	toks  []token
	stack []int32
	refs  []tref
	ctes  []valuesCTE
	// cteScope holds the name tokens of the CTEs visible at the point
	// being parsed (closed.go).
	cteScope []int32
	pending  []pendingSet
	cands    []predCand
	eqs      []eqCand

	lexErr        string
	lexPos        int
	anyTenant     bool
	suspicious    bool // identifier may name a tenant table in disguise
	suspiciousCol bool // identifier may name a tenant column in disguise
	suspiciousPos int
	danger        bool
	opRun         bool // an operator token that operators must check
	// parensFrom, parensTo: toks[parensFrom:parensTo] is the run of '('
	// that groupIsQuery scanned last (0, 0: none yet).
	parensFrom, parensTo int

	failed  bool
	failMsg string
	failPos int

	// steps counts the work done on the statement: a step per token the
	// lexer produced (and per token for another pass over the whole text),
	// and one per iteration of every loop over tokens or the parser's lists
	// (refs, cands, eqs, pending, ctes, cteScope). Loops over the bytes of
	// one token, like the lexer's, and over the guard's own tables are not
	// counted. Past budget the parse fails closed (live).
	steps, budget int
	// scanned counts the bytes the lexer's searches (closing quotes,
	// backslashes, dollar tags) examined: at most twice the text's length
	// (read by tests only).
	scanned int

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

	// small and bigp: the checker's own token buffer while it lexes into
	// the kept large one, and that one's holder (bigBuffer).
	small []token
	bigp  *[]token

	key   []byte  // the verdict cache's key of the statement (cache.go)
	marks []int32 // the integer literals the key masks: start, end pairs
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
	c.closed = g.closed && tenant != ""
	keyed := tenant != "" && g.cache != nil && c.cacheKey(sql, tenant)
	if keyed {
		if v, ok := g.cache.get(c.key); ok {
			c.g, c.sql, c.tenant, c.closed = nil, "", "", false // nothing else was used
			c.key, c.marks = c.key[:0], c.marks[:0]
			checkerPool.Put(c)
			return v
		}
	}
	if len(sql) > keepToks {
		c.bigBuffer()
	}
	v := c.run()
	if keyed && v.OK() && c.marksAreNumbers() {
		g.cache.put(c.key, v)
	}
	c.reset()
	checkerPool.Put(c)
	return v
}

// keepToks is the largest token buffer a pooled checker keeps; larger ones
// (statements of thousands of rows) go to bigToks.
const keepToks = 4096

// bigToks keeps one token buffer of a long statement (a bulk INSERT of
// thousands of rows) for the next one, so that such statements do not
// allocate megabytes of tokens each time. It is not a sync.Pool: a bulk
// INSERT allocates enough for a garbage collection between two of them,
// which would empty the pool. At most maxBigToks tokens (16 bytes each) are
// kept; two long statements at once allocate for the second.
var bigToks atomic.Pointer[[]token]

const maxBigToks = 1 << 18

// bigBuffer gives c the kept large token buffer, if there is one, for a text
// long enough to outgrow its own.
// The checker's own buffer is kept aside (small), and the holder of the big
// one (bigp) is reused to give it back, so that a long statement allocates
// nothing for its tokens once a buffer of its size is kept.
func (c *checker) bigBuffer() {
	p := bigToks.Swap(nil)
	switch {
	case p == nil:
	case cap(*p) > cap(c.toks):
		c.small, c.bigp = c.toks, p
		c.toks = (*p)[:0]
	default:
		bigToks.CompareAndSwap(nil, p) // smaller than c's: keep it for another
	}
}

func (c *checker) reset() {
	const keep = keepToks
	if cap(c.toks) > keep {
		if cap(c.toks) <= maxBigToks {
			p := c.bigp
			if p == nil {
				p = new([]token) // c's own buffer grew past keep
			}
			*p = c.toks[:0]
			bigToks.Store(p)
		}
		c.toks = c.small
		if c.toks == nil {
			c.toks = make([]token, 0, 128)
		}
	}
	if cap(c.refs) > keep {
		c.refs = make([]tref, 0, 16)
	}
	*c = checker{
		toks:     c.toks[:0],
		stack:    c.stack[:0],
		refs:     c.refs[:0],
		ctes:     c.ctes[:0],
		cteScope: c.cteScope[:0],
		pending:  c.pending[:0],
		cands:    c.cands[:0],
		eqs:      c.eqs[:0],
		key:      c.key[:0],
		marks:    c.marks[:0],
	}
}

// run is the pipeline: lex the text, find and classify the statement,
// refuse what is never verified, parse the statement (which verifies each
// query block as it closes it and applies the write rules), and settle the
// findings into the verdict.
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
	end, multi := c.statementEnd()
	c.kind, c.op = c.kindOfFirst()
	if end == 0 && !multi {
		return c.verdict() // empty statement (only comments / semicolons)
	}
	if c.refused(end, multi) || c.nothingToVerify() {
		return c.verdict()
	}
	if c.closed && c.opRun && c.g.dialect == Postgres {
		c.operators(end)
	}
	c.statement(0, end)
	c.settle(end)
	return c.verdict()
}

// statementEnd returns the index of the first semicolon (or len(toks)),
// and whether another statement follows it.
func (c *checker) statementEnd() (end int, multi bool) {
	// A step per token read, counted from the index after the loop: an
	// increment of c.steps in it would make the compiler reload c.toks.
	n := len(c.toks)
	end = n
	for k := 0; k < n; k++ {
		if c.toks[k].kind == tkSemi {
			end = k
			break
		}
	}
	for k := end + 1; k < n; k++ {
		if c.toks[k].kind != tkSemi {
			c.steps += k + 1
			return end, true
		}
	}
	c.steps += n
	return end, false
}

// refused reports (with its finding) text that is never verified, whatever
// the statement: calls of dangerous functions, several statements naming a
// tenant table, and identifiers that may fold to a tenant table or column.
func (c *checker) refused(end int, multi bool) bool {
	switch {
	case c.danger:
		c.collectMentions()
		for k := range c.toks {
			c.steps++
			if c.toks[k].flags&tfDanger != 0 {
				t := &c.toks[k]
				c.finding(Unverifiable, "", int(t.pos), "calls "+strings.ToLower(c.text(k))+
					"(), which can read tables that are not named in the SQL text")
				break
			}
		}
	case multi:
		if c.collectMentions() {
			c.finding(Unverifiable, "", int(c.toks[end].pos), "multiple statements in one query text")
		}
	case c.suspicious || (c.suspiciousCol && c.anyTenant):
		c.collectMentions()
		what := "table"
		if !c.suspicious {
			what = "column"
		}
		c.finding(Unverifiable, "", c.suspiciousPos,
			"identifier with non-ASCII or escaped characters may fold to a tenant "+what+" name")
	default:
		return false
	}
	return true
}

// nothingToVerify reports a query or write that names no tenant table.
func (c *checker) nothingToVerify() bool {
	if c.anyTenant || c.closed {
		return false
	}
	first := &c.toks[0]
	if first.kind == tkLParen {
		return true
	}
	if first.kind != tkIdent {
		return false
	}
	switch first.kw {
	case kwSELECT, kwVALUES, kwINSERT, kwUPDATE, kwDELETE, kwREPLACE:
		return true
	}
	return false
}

// settle replaces the findings of a statement the parser could not take
// (opaque: another verb) or failed on by one Unverifiable finding, when it
// names a tenant table.
func (c *checker) settle(end int) {
	switch {
	case c.opaque:
		c.first, c.count, c.attempted = nil, 0, ""
		if c.copiesDatabase(end) {
			c.collectMentions()
			c.finding(Unverifiable, "", int(c.toks[0].pos), "VACUUM INTO copies every table")
			return
		}
		if c.collectMentions() {
			c.finding(Unverifiable, "", int(c.toks[0].pos), c.op+" statement on a tenant table cannot be verified")
		}
	case c.failed:
		c.first, c.count, c.attempted = nil, 0, ""
		if c.collectMentions() || c.anyTenant || c.closed {
			c.finding(Unverifiable, "", c.failPos, c.failMsg)
		}
	}
}

// copiesDatabase reports SQLite's VACUUM ... INTO, which writes a copy of
// every table (tenant tables included) without naming them.
func (c *checker) copiesDatabase(end int) bool {
	if c.g.dialect != SQLite || c.toks[0].kind != tkIdent || !equalFoldASCII(c.text(0), "vacuum") {
		return false
	}
	for k := 1; k < end; k++ {
		c.steps++
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
	c.steps += len(c.toks) // one more pass over the text, counted like the lexer's
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

// The work budget of a statement: stepsBase steps, and stepsPerToken more
// per token. The parser's loops are linear in the tokens, or in the table
// references of one block (at most maxRefs), and ordinary statements take
// few steps per token: at most 7 over the corpus and the hand-written cases
// (short statements, where the passes over the whole text weigh most), 3
// to 5 for the large linear shapes of TestPathological. 32 leaves a margin
// of more than four. A path that is quadratic in the input (every
// tenant-column assignment reading a whole VALUES CTE, every unrestricted
// table reference scanning a long WHERE) outgrows the budget and fails
// closed instead of running for seconds; as the loops that drive the parse
// test the budget (live), the work stops close to it. Only tests change
// these.
var (
	stepsBase     = 1024
	stepsPerToken = 32
)

// tooMuchWork is the finding of a statement over its work budget.
const tooMuchWork = "statement needs too much work to verify: split it into smaller statements " +
	"(fewer tables, conditions, CTEs or rows in each)"

// live reports whether the parse goes on: it has not failed, and it has
// not spent more steps than its budget (then it fails). The loops that
// drive the parse test it.
func (c *checker) live() bool {
	if c.steps > c.budget {
		c.exhausted()
	}
	return !c.failed
}

// exhausted fails the parse for exceeding its work budget. It is kept out
// of line: live, inlined in the loops, only compares.
//
//go:noinline
func (c *checker) exhausted() {
	if c.failed {
		return
	}
	c.failed, c.failMsg, c.failPos = true, tooMuchWork, 0
	if len(c.toks) > 0 {
		c.failPos = int(c.toks[0].pos)
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
