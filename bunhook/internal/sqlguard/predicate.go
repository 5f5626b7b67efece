package sqlguard

import (
	"fmt"
	"strings"
)

func (c *checker) tableName(tbl int16) string { return c.g.tables[tbl-1].name }
func (c *checker) tenantCol(tbl int16) string { return c.g.tables[tbl-1].column }

// verifyBlock checks every tenant table reference in refs[base:] against
// the block's WHERE range [ws, we) and its own ON range. A reference is
// restricted by its tenant predicate there, or, transitively, by an
// equality of its tenant column with the tenant column of a restricted
// reference of the same block, as a top-level conjunct of the WHERE or of
// its own ON (of an inner, left or cross join).
func (c *checker) verifyBlock(base, ws, we int) {
	refs := c.refs[base:]
	cbase, ebase := len(c.cands), len(c.eqs)
	if ws >= 0 {
		c.collectPreds(ws, we)
	}
	cwhere, ewhere := len(c.cands), len(c.eqs)
	defer func() { c.cands, c.eqs = c.cands[:cbase], c.eqs[:ebase] }()
	var done uint64 // refs[i] restricted, for i < 64 (others need their own predicate)
	pending := false
	for ri := range refs {
		if !c.live() {
			return
		}
		c.steps++
		r := &refs[ri]
		if r.tbl == 0 {
			continue
		}
		for rj := range refs {
			c.steps++
			if rj != ri && refs[rj].qualTok >= 0 && c.maybeSameIdent(int(refs[rj].qualTok), int(r.qualTok)) {
				c.fail(int(r.qualTok), "ambiguous table qualifier")
				return
			}
		}
		c.cands, c.eqs = c.cands[:cwhere], c.eqs[:ewhere]
		switch {
		case c.matchCands(cbase, r, len(refs) == 1),
			r.onS >= 0 && r.onCounts && c.hasPred(int(r.onS), int(r.onE), r, false):
			if ri < 64 {
				done |= 1 << uint(ri)
			}
		case ri >= 64:
			c.unrestricted(r, ws, we, false) // beyond 64, only a predicate of its own restricts
		default:
			pending = true
		}
	}
	c.cands, c.eqs = c.cands[:cwhere], c.eqs[:ewhere]
	for changed := pending && done != 0; changed; {
		c.steps++
		changed = false
		for ri := 0; ri < len(refs) && ri < 64; ri++ {
			if !c.live() {
				return
			}
			c.steps++
			if refs[ri].tbl != 0 && done&(1<<uint(ri)) == 0 && c.equated(refs, ri, done, ebase, ewhere) {
				done |= 1 << uint(ri)
				changed = true
			}
		}
	}
	for ri := 0; ri < len(refs) && ri < 64; ri++ {
		if !c.live() {
			return
		}
		c.steps++
		if r := &refs[ri]; r.tbl != 0 && done&(1<<uint(ri)) == 0 {
			c.unrestricted(r, ws, we, len(refs) == 1)
		}
	}
}

// equated reports whether refs[ri]'s tenant column is equated with the
// tenant column of a restricted reference (done) by a conjunct of the
// WHERE (eqs[ews:ewe]) or of refs[ri]'s own ON.
func (c *checker) equated(refs []tref, ri int, done uint64, ews, ewe int) bool {
	if c.equatedIn(refs, ri, done, ews, ewe) || c.usingRestricted(refs, ri, done) {
		return true
	}
	r := &refs[ri]
	if r.onS < 0 || !r.onCounts {
		return false
	}
	cb, eb := len(c.cands), len(c.eqs)
	c.collectPreds(int(r.onS), int(r.onE))
	ok := c.equatedIn(refs, ri, done, eb, len(c.eqs))
	c.cands, c.eqs = c.cands[:cb], c.eqs[:eb]
	return ok
}

func (c *checker) equatedIn(refs []tref, ri int, done uint64, from, to int) bool {
	for _, q := range c.eqs[from:to] {
		c.steps++
		for _, side := range [2][4]int32{{q.q1, q.c1, q.q2, q.c2}, {q.q2, q.c2, q.q1, q.c1}} {
			if !c.isRefColumn(&refs[ri], side[0], side[1]) {
				continue
			}
			for rs := 0; rs < len(refs) && rs < 64; rs++ {
				c.steps++
				if rs != ri && done&(1<<uint(rs)) != 0 && c.isRefColumn(&refs[rs], side[2], side[3]) {
					return true
				}
			}
		}
	}
	return false
}

// usingRestricted reports whether refs[ri] is the target of an INNER or
// LEFT JOIN ... USING (<its tenant column>) whose left side holds only
// tenant tables, one of them restricted with a tenant column of that name:
// the joined rows then carry the left side's value, the bound tenant. (A
// left side with another table could supply the column from it; two
// tables with it make the statement fail as ambiguous.)
func (c *checker) usingRestricted(refs []tref, ri int, done uint64) bool {
	r := &refs[ri]
	if r.usingS < 0 {
		return false
	}
	col := c.tenantCol(r.tbl)
	named := false
	for k := int(r.usingS); k < int(r.usingE); k++ {
		c.steps++
		if c.isTenantCol(k, col) {
			named = true
		}
	}
	if !named {
		return false
	}
	left := false
	for rs := 0; rs < ri; rs++ {
		c.steps++
		s := &refs[rs]
		if s.tbl == 0 {
			return false
		}
		if done&(1<<uint(rs)) != 0 && c.tenantCol(s.tbl) == col {
			left = true
		}
	}
	return left
}

// isRefColumn reports whether <toks[q]>.<toks[col]> is r's tenant column.
func (c *checker) isRefColumn(r *tref, q, col int32) bool {
	return r.tbl != 0 && r.qualTok >= 0 && c.identEqual(int(q), int(r.qualTok)) && c.isTenantCol(int(col), c.tenantCol(r.tbl))
}

// unrestricted records the finding for a tenant reference of a block that
// nothing restricts.
func (c *checker) unrestricted(r *tref, ws, we int, allowUnqual bool) {
	name := c.tableName(r.tbl)
	where := "its WHERE clause"
	if r.onS >= 0 && r.onCounts {
		where = "its WHERE or JOIN ... ON clause"
	}
	if (ws >= 0 && c.predUnderOr(ws, we, r, allowUnqual)) ||
		(r.onS >= 0 && r.onCounts && c.predUnderOr(int(r.onS), int(r.onE), r, false)) {
		c.finding(OrEscape, name, int(c.toks[r.nameTok].pos), fmt.Sprintf(
			"table %s (qualifier %s): the tenant predicate %s.%s = '<tenant>' appears only under OR in %s",
			name, c.content(int(r.qualTok)), c.content(int(r.qualTok)), c.tenantCol(r.tbl), where))
		return
	}
	extra := ""
	if r.onS >= 0 && !r.onCounts {
		extra = " (the ON clause of a RIGHT/FULL/NATURAL join does not restrict the joined table)"
	}
	c.finding(MissingPredicate, name, int(c.toks[r.nameTok].pos), fmt.Sprintf(
		"table %s (qualifier %s) is not restricted by %s.%s = '<tenant>' as a top-level AND condition of %s%s",
		name, c.content(int(r.qualTok)), c.content(int(r.qualTok)), c.tenantCol(r.tbl), where, extra))
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

// eqCand is a top-level conjunct of the shape <q1>.<c1> = <q2>.<c2>, found
// by collectPreds: an equality that may carry a restriction from one table
// to another.
type eqCand struct{ q1, c1, q2, c2 int32 }

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
	for _, p := range c.cands[from:] {
		c.steps++
		if c.restricts(p, r, allowUnqual) {
			return true
		}
	}
	return false
}

// restricts reports whether the candidate predicate p is r's: its column
// is r's tenant column and its qualifier r's (or, with allowUnqual, it has
// none).
func (c *checker) restricts(p predCand, r *tref, allowUnqual bool) bool {
	if !c.isTenantCol(int(p.col), c.tenantCol(r.tbl)) {
		return false
	}
	if p.q < 0 {
		return allowUnqual
	}
	return r.qualTok >= 0 && c.identEqual(int(p.q), int(r.qualTok))
}

// collectPreds appends to c.cands the candidate tenant predicates among
// the conjuncts of toks[s:e] that are reachable from the root through AND
// and parentheses only. A clause with an OR (XOR, MySQL ||) at its depth 0
// contributes nothing; ANDs inside BETWEEN ... AND and CASE ... END do not
// split.
func (c *checker) collectPreds(s, e int) {
	// The steps are counted in n and added once: an increment of c.steps
	// in the loops would make the compiler reload c.toks.
	n := 0
	for s < e && c.toks[s].kind == tkLParen && int(c.toks[s].match) == e-1 {
		n++
		s++
		e--
	}
	if s >= e {
		c.steps += n
		return
	}
	for k := s; k < e; k++ {
		n++
		t := &c.toks[k]
		if t.kind == tkLParen {
			k = int(t.match)
			continue
		}
		if c.isOr(t) {
			c.steps += n
			return
		}
	}
	start, caseDepth, between := s, 0, false
	for k := s; k < e; k++ {
		n++
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
	c.steps += n
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
	switch n := e - s; n {
	case 5, 3:
		if p, ok := c.predAt(s, n); ok {
			c.cands = append(c.cands, p)
		}
	case 7:
		if c.isName(s) && c.isKind(s+1, tkDot) && c.isName(s+2) && c.isEq(s+3) &&
			c.isName(s+4) && c.isKind(s+5, tkDot) && c.isName(s+6) {
			c.eqs = append(c.eqs, eqCand{int32(s), int32(s + 2), int32(s + 4), int32(s + 6)})
		}
	}
}

// predAt matches the n tokens at toks[s] against the shapes of the tenant
// predicate: for n == 5 <q>.<col> = '<tenant>', for n == 3 <col> =
// '<tenant>' (q < 0), operands in either order. Whose predicate it is
// (restricts) is left to the caller.
func (c *checker) predAt(s, n int) (predCand, bool) {
	switch n {
	case 5:
		if c.isName(s) && c.isKind(s+1, tkDot) && c.isName(s+2) && c.isEq(s+3) && c.isTenantLit(s+4) {
			return predCand{int32(s), int32(s + 2)}, true
		}
		if c.isTenantLit(s) && c.isEq(s+1) && c.isName(s+2) && c.isKind(s+3, tkDot) && c.isName(s+4) {
			return predCand{int32(s + 2), int32(s + 4)}, true
		}
	case 3:
		if c.isName(s) && c.isEq(s+1) && c.isTenantLit(s+2) {
			return predCand{-1, int32(s)}, true
		}
		if c.isTenantLit(s) && c.isEq(s+1) && c.isName(s+2) {
			return predCand{-1, int32(s + 2)}, true
		}
	}
	return predCand{}, false
}

// predUnderOr reports whether the predicate for r occurs anywhere in
// toks[s:e] while the range also contains an OR.
func (c *checker) predUnderOr(s, e int, r *tref, allowUnqual bool) bool {
	hasOr, hasPred := false, false
	for k := s; k < e; k++ {
		c.steps++
		if c.isOr(&c.toks[k]) {
			hasOr = true
		}
		if k+5 <= e {
			if p, ok := c.predAt(k, 5); ok && c.restricts(p, r, false) {
				hasPred = true
			}
		}
		if allowUnqual && k+3 <= e {
			if p, ok := c.predAt(k, 3); ok && c.restricts(p, r, true) {
				hasPred = true
			}
		}
	}
	return hasOr && hasPred
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
