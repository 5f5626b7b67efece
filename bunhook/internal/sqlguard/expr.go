package sqlguard

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

// kwStops maps a keyword to the clause it starts, where it starts one
// (stopClass checks the context of FROM, GROUP, ORDER, FOR, LOCK and the
// join keywords).
var kwStops = [kwCount]uint32{
	kwFROM: stFrom, kwWHERE: stWhere, kwGROUP: stGroupBy, kwHAVING: stHaving,
	kwWINDOW: stWindow, kwORDER: stOrderBy, kwLIMIT: stLimit, kwOFFSET: stLimit,
	kwFETCH: stLimit, kwFOR: stLock, kwLOCK: stLock, kwINTO: stInto,
	kwUNION: stSetOp, kwINTERSECT: stSetOp, kwEXCEPT: stSetOp,
	kwJOIN: stJoin, kwINNER: stJoin, kwLEFT: stJoin, kwRIGHT: stJoin, kwFULL: stJoin,
	kwCROSS: stJoin, kwNATURAL: stJoin, kwSTRAIGHTJOIN: stJoin,
	kwON: stOn, kwUSING: stUsing, kwRETURNING: stReturning, kwSET: stSet, kwDO: stDo,
}

// stopClass reports which clause (if any) the keyword at toks[i] starts.
func (c *checker) stopClass(i int) uint32 {
	t := &c.toks[i]
	if t.kind == tkComma {
		return stComma
	}
	if t.kind != tkIdent {
		return 0
	}
	st := kwStops[t.kw]
	if st == 0 {
		return 0
	}
	switch t.kw {
	case kwFROM:
		// IS [NOT] DISTINCT FROM
		if c.isKw(i-1, kwDISTINCT) && (c.isKw(i-2, kwIS) || (c.isKw(i-2, kwNOT) && c.isKw(i-3, kwIS))) {
			return 0
		}
	case kwGROUP, kwORDER:
		if !c.isKw(i+1, kwBY) {
			return 0
		}
	case kwFOR:
		if !c.isKw(i+1, kwUPDATE) && !c.isKw(i+1, kwSHARE) && !c.isKw(i+1, kwNO) && !c.isKw(i+1, kwKEY) {
			return 0
		}
	case kwLOCK:
		if !c.isKw(i+1, kwIN) {
			return 0
		}
	case kwJOIN, kwINNER, kwLEFT, kwRIGHT, kwFULL, kwCROSS, kwNATURAL, kwSTRAIGHTJOIN:
		if k, _ := c.joinStart(i); k == 0 {
			return 0
		}
	}
	return st
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
		c.steps++
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
			if c.closed && c.isKind(i+1, tkLParen) && i+1 < end {
				c.callAt(i)
			}
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
			if c.closed && c.isKind(i+1, tkLParen) && i+1 < end {
				c.callAt(i)
			}
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

// closeParen returns the index of the ')' matching the '(' that must stand
// at toks[i] (before end), or -1 after failing with msg.
func (c *checker) closeParen(i, end int, msg string) int {
	if !c.isKind(i, tkLParen) || i >= end {
		c.fail(i, msg)
		return -1
	}
	return int(c.toks[i].match)
}

// listNext returns the index after the comma at toks[i] and true when one
// continues a list there, else i and false.
func (c *checker) listNext(i, end int) (int, bool) {
	if c.isKind(i, tkComma) && i < end {
		return i + 1, true
	}
	return i, false
}

// identList checks that the group opened at toks[open] holds only names,
// dots and commas (column lists), and returns the index after it.
func (c *checker) identList(open int) int {
	// A step per token read, counted from the index (see statementEnd).
	m := int(c.toks[open].match)
	for k := open + 1; k < m; k++ {
		switch c.toks[k].kind {
		case tkIdent, tkQIdent, tkComma, tkDot:
		default:
			c.steps += k - open
			c.fail(k, "expected a column list")
			return m + 1
		}
	}
	c.steps += m - open - 1
	return m + 1
}
