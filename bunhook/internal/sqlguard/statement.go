package sqlguard

import "strings"

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
		return c.kindAfterWith()
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

// kindAfterWith classifies a statement that starts with WITH by its main
// verb, the first verb keyword at depth 0 after the CTEs. A data-modifying
// CTE makes a SELECT a write.
func (c *checker) kindAfterWith() (Kind, string) {
	cteKw := kwNone
	for k := 1; k < len(c.toks); k++ {
		c.steps++
		tk := &c.toks[k]
		if tk.kind == tkLParen {
			if tk.match > 0 {
				if cteKw == kwNone && c.isWrite(k+1) {
					cteKw = c.toks[k+1].kw
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

// isWrite reports whether toks[i] is INSERT, REPLACE, UPDATE or DELETE.
func (c *checker) isWrite(i int) bool {
	if i < 0 || i >= len(c.toks) || c.toks[i].kind != tkIdent {
		return false
	}
	switch c.toks[i].kw {
	case kwINSERT, kwREPLACE, kwUPDATE, kwDELETE:
		return true
	}
	return false
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

// groupIsQuery reports whether the parenthesised group opened at toks[open]
// holds a query (possibly behind further parentheses).
func (c *checker) groupIsQuery(open int) bool {
	j := open + 1
	if c.parensFrom <= j && j <= c.parensTo {
		// In the run of '(' scanned last: the groups of ((( ... ))) are
		// checked one inside the other, and all end their run at the same
		// token, so the run is scanned once, not once per group.
		j = c.parensTo
	} else {
		for j < len(c.toks) && c.toks[j].kind == tkLParen {
			c.steps++
			j++
		}
		c.parensFrom, c.parensTo = open+1, j
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

// subquery parses the parenthesised query opened at toks[open] (a query
// term, a derived table) and returns the index after the closing
// parenthesis. notQuery is the failure when the group holds no query.
func (c *checker) subquery(open, end int, notQuery string) int {
	m := int(c.toks[open].match)
	if !c.groupIsQuery(open) {
		c.fail(open, notQuery)
		return end
	}
	c.expectEnd(c.queryExpr(open+1, m), m)
	return m + 1
}

// queryExpr parses [WITH ...] term { set-op term } [ORDER BY ...] [LIMIT ...]
// and returns the index of the first token after it.
func (c *checker) queryExpr(i, end int) int {
	// A nested query's tables are not targets, and its CTEs are visible
	// only inside it.
	mark, target := len(c.cteScope), c.inTarget
	c.inTarget = false
	defer func() { c.cteScope, c.inTarget = c.cteScope[:mark], target }()
	if c.isKw(i, kwWITH) {
		i = c.withClause(i, end, false)
	}
	i = c.queryTerm(i, end)
	for c.live() && i < end {
		c.steps++
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
		return c.subquery(i, end, "expected a query in parentheses")
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
	for c.live() {
		c.steps++
		open, m := c.valuesRow(i, end)
		if m < 0 {
			return end
		}
		c.expectEnd(c.exprRegion(open+1, m, 0), m)
		next, more := c.listNext(m+1, end)
		if !more {
			return next
		}
		i = next
	}
	return end
}

// valuesRow finds the row `[ROW] (...)` of a VALUES list at toks[i] and
// returns the indexes of its parentheses (shut < 0 after a failure).
func (c *checker) valuesRow(i, end int) (open, shut int) {
	if c.isKw(i, kwROW) {
		i++
	}
	return i, c.closeParen(i, end, "expected a VALUES row")
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
	i, ws, we := c.whereClause(i, end, selectStops&^(stFrom|stWhere))
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
	return c.closeBlock(i, end, base, ws, we)
}

// whereClause parses an optional WHERE clause at toks[i] up to a clause in
// stops, and returns the index after it and the range [ws, we) of its
// condition (-1, -1 when there is none).
func (c *checker) whereClause(i, end int, stops uint32) (next, ws, we int) {
	if c.failed || !c.isKw(i, kwWHERE) {
		return i, -1, -1
	}
	ws = i + 1
	next = c.exprRegion(ws, end, stops)
	return next, ws, next
}

// closeBlock ends the query block whose table references start at
// refs[base]: it verifies them against the block's WHERE range [ws, we)
// and their ON clauses, pops them, and returns i (end when the parse has
// failed, which skips the verification).
func (c *checker) closeBlock(i, end, base, ws, we int) int {
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
	for c.live() && i < end {
		c.steps++
		switch {
		case c.isKw(i, kwORDER) && c.isKw(i+1, kwBY):
			i = c.exprRegion(i+2, end, tailStops&^stOrderBy)
		case c.isKw(i, kwLIMIT) || c.isKw(i, kwOFFSET) || c.isKw(i, kwFETCH):
			i = c.exprRegion(i+1, end, tailStops&^stOrderBy)
		case c.isKw(i, kwFOR) && c.stopClass(i) == stLock:
			i++
			for i < end && (c.isName(i) || c.isKind(i, tkComma) || c.isKind(i, tkDot)) {
				c.steps++
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

// withClause parses WITH [RECURSIVE] name [(cols)] AS [[NOT] MATERIALIZED] (...), ...
func (c *checker) withClause(i, end int, top bool) int {
	i++
	recursive := c.isKw(i, kwRECURSIVE)
	if recursive {
		i++
	}
	for c.live() {
		c.steps++
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
		m := c.closeParen(i, end, "expected ( after AS")
		if m < 0 {
			return end
		}
		b := i + 1
		if recursive {
			c.cteScope = append(c.cteScope, int32(nameTok))
		}
		if c.isWrite(b) {
			if c.cteKw == kwNone {
				c.cteKw = c.toks[b].kw
			}
			c.dml(b, m)
		} else {
			c.expectEnd(c.queryExpr(b, m), m)
		}
		if c.failed {
			return end
		}
		if !recursive {
			// Visible in the CTEs after it and the statement's body.
			c.cteScope = append(c.cteScope, int32(nameTok))
		}
		if top {
			c.recordValuesCTE(nameTok, colsS, colsE, b, m)
		}
		next, more := c.listNext(m+1, end)
		if !more {
			return next
		}
		i = next
	}
	return end
}
