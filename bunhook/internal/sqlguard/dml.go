package sqlguard

import "fmt"

// Modifiers that may follow a DML verb (verbModifiers).
const (
	modInsert   uint8 = 1 << iota // MySQL DELAYED, HIGH_PRIORITY
	modQuick                      // MySQL QUICK
	modConflict                   // SQLite OR REPLACE/IGNORE/ABORT/FAIL/ROLLBACK
)

// verbModifiers skips what may follow the verb at toks[i]: MySQL's
// LOW_PRIORITY and IGNORE, with mods also INSERT's DELAYED and
// HIGH_PRIORITY, DELETE's QUICK, and SQLite's conflict clause (INSERT OR
// REPLACE, UPDATE OR IGNORE, ...). It returns the index after them and
// whether the conflict clause is OR REPLACE.
func (c *checker) verbModifiers(i int, mods uint8) (next int, orReplace bool) {
	i++
	for {
		c.steps++
		switch {
		case c.isKw(i, kwLOWPRIORITY), c.isKw(i, kwIGNORE),
			mods&modInsert != 0 && (c.isKw(i, kwDELAYED) || c.isKw(i, kwHIGHPRIORITY)),
			mods&modQuick != 0 && c.isKw(i, kwQUICK):
			i++
		case mods&modConflict != 0 && c.isKw(i, kwOR) && c.g.dialect == SQLite:
			if c.isKw(i+1, kwREPLACE) {
				orReplace = true
			}
			i += 2
		default:
			return i, orReplace
		}
	}
}

// ---------------------------------------------------------------------------
// INSERT / REPLACE

// insertStmt parses INSERT or REPLACE at toks[i] up to end.
func (c *checker) insertStmt(i, end int) int {
	replace := c.isKw(i, kwREPLACE)
	verb := c.text(i)
	i, orReplace := c.verbModifiers(i, modInsert|modConflict)
	if c.isKw(i, kwINTO) {
		i++
	}
	target, i := c.insertTarget(i, end)
	if c.failed {
		return end
	}
	var col string
	if target.tbl != 0 {
		name := c.tableName(target.tbl)
		col = c.tenantCol(target.tbl)
		c.tables.add(name)
		if replace || orReplace {
			c.finding(Unverifiable, name, int(c.toks[target.nameTok].pos),
				fmt.Sprintf("%s into tenant table %s can delete another tenant's conflicting row", verb, name))
		}
	}
	ncols, tpos := -1, -1
	if c.isKind(i, tkLParen) && i < end && !c.groupIsQuery(i) {
		if i, ncols, tpos = c.insertColumns(i, target.tbl != 0, col); c.failed {
			return end
		}
	}
	if c.isKw(i, kwOVERRIDING) {
		i += 3
	}
	if i = c.insertSource(i, end, &target, ncols, tpos); c.failed {
		return end
	}
	return c.insertTail(i, end, &target)
}

// insertTarget parses the target table of an INSERT, [AS alias] and a
// MySQL PARTITION list.
func (c *checker) insertTarget(i, end int) (tref, int) {
	if !c.isName(i) || i >= end || c.reserved(i) {
		c.fail(i, "expected a table name")
		return tref{}, end
	}
	last := c.lastPart(i, end)
	target := tref{tbl: c.toks[last].table(), nameTok: int32(last), qualTok: int32(last), onS: -1, onE: -1, usingS: -1, schemaQ: last != i}
	if target.tbl == 0 {
		c.inTarget = true
		c.relation(i, last)
		c.inTarget = false
	}
	i = last + 1
	if c.isKw(i, kwAS) {
		if !c.isName(i + 1) {
			c.fail(i, "expected an alias")
			return target, end
		}
		target.qualTok = int32(i + 1)
		i += 2
	}
	if c.isKw(i, kwPARTITION) && c.isKind(i+1, tkLParen) {
		i = c.identList(i + 1)
	}
	return target, i
}

// insertColumns parses the column list opened at toks[open] and returns
// the index after it, the number of columns and the position of the
// tenant column col of a tenant target (-1 when it is not listed).
func (c *checker) insertColumns(open int, tenant bool, col string) (next, ncols, tpos int) {
	m := int(c.toks[open].match)
	tpos = -1
	expectName := true
	for k := open + 1; k < m; k++ {
		c.steps++
		switch {
		case expectName && c.isName(k):
			// MySQL allows tbl.col in the column list.
			k = c.lastPart(k, m)
			if tenant && c.isTenantCol(k, col) {
				if tpos >= 0 {
					c.fail(k, "tenant column listed twice")
					return m + 1, ncols, tpos
				}
				tpos = ncols
			}
			ncols++
			expectName = false
		case !expectName && c.isKind(k, tkComma):
			expectName = true
		default:
			c.fail(k, "expected a column list")
			return m + 1, ncols, tpos
		}
	}
	return m + 1, ncols, tpos
}

// insertSource parses what an INSERT inserts: VALUES rows, DEFAULT
// VALUES, a query, or MySQL's SET assignments.
func (c *checker) insertSource(i, end int, target *tref, ncols, tpos int) int {
	var name string
	if target.tbl != 0 {
		name = c.tableName(target.tbl)
	}
	switch {
	case c.isKw(i, kwVALUES) || c.isKw(i, kwVALUE):
		return c.insertRows(i+1, end, target, ncols, tpos)
	case c.isKw(i, kwDEFAULT) && c.isKw(i+1, kwVALUES):
		if name != "" {
			c.finding(TenantColumnMissing, name, int(c.toks[i].pos),
				fmt.Sprintf("INSERT INTO %s DEFAULT VALUES does not set tenant column %s", name, c.tenantCol(target.tbl)))
		}
		return i + 2
	case c.isKw(i, kwSELECT) || c.isKw(i, kwWITH) || c.isKind(i, tkLParen):
		if name != "" {
			c.finding(InsertSelect, name, int(c.toks[i].pos),
				fmt.Sprintf("INSERT INTO %s ... SELECT: the inserted tenant values cannot be verified", name))
		}
		return c.queryExpr(i, end)
	case c.isKw(i, kwSET):
		if name != "" {
			c.fail(i, "INSERT ... SET into a tenant table")
			return end
		}
		return c.assignments(i+1, end, len(c.refs), len(c.refs), false, stOn|stReturning)
	}
	c.fail(i, "expected VALUES or SELECT")
	return end
}

// insertTail parses what may follow the inserted rows: MySQL 8's row
// alias, the upsert clauses and RETURNING.
func (c *checker) insertTail(i, end int, target *tref) int {
	// MySQL 8 row alias: VALUES (...) AS new [(cols)]
	if c.isKw(i, kwAS) && c.isName(i+1) {
		i += 2
		if c.isKind(i, tkLParen) {
			i = c.identList(i)
		}
	}
	for c.live() && c.isKw(i, kwON) && i < end {
		c.steps++
		switch {
		case c.isKw(i+1, kwCONFLICT):
			i = c.onConflict(i+2, end, target)
		case c.isKw(i+1, kwDUPLICATE) && c.isKw(i+2, kwKEY) && c.isKw(i+3, kwUPDATE):
			if target.tbl != 0 {
				name := c.tableName(target.tbl)
				c.finding(DuplicateKeyUpdate, name, int(c.toks[i].pos),
					fmt.Sprintf("INSERT INTO %s ... ON DUPLICATE KEY UPDATE may update another tenant's row", name))
			}
			i = c.exprRegion(i+4, end, stReturning)
		default:
			c.fail(i, "unexpected ON")
			return end
		}
	}
	if c.failed {
		return end
	}
	if c.isKw(i, kwRETURNING) {
		i = c.exprRegion(i+1, end, 0)
	}
	return i
}

// insertRows checks the VALUES rows of an INSERT.
func (c *checker) insertRows(i, end int, target *tref, ncols, tpos int) int {
	tenant := target.tbl != 0
	name := ""
	if tenant {
		name = c.tableName(target.tbl)
		switch {
		case ncols < 0:
			c.finding(TenantColumnMissing, name, int(c.toks[target.nameTok].pos),
				fmt.Sprintf("INSERT INTO %s without a column list: the tenant column cannot be verified", name))
			tenant = false
		case tpos < 0:
			c.finding(TenantColumnMissing, name, int(c.toks[target.nameTok].pos),
				fmt.Sprintf("INSERT INTO %s does not set tenant column %s", name, c.tenantCol(target.tbl)))
			tenant = false
		}
	}
	for c.live() {
		c.steps++
		open, m := c.valuesRow(i, end)
		if m < 0 {
			return end
		}
		k := open + 1
		item := 0
		for k < m && !c.failed {
			c.steps++
			e := c.exprRegion(k, m, stComma)
			if e == k {
				c.fail(k, "empty value")
				return end
			}
			if tenant && item == tpos && !(e == k+1 && c.isTenantLit(k)) {
				c.tenantAssigned(k, e, name, c.tenantCol(target.tbl), "VALUES")
			}
			item++
			k = e
			if k < m && c.isKind(k, tkComma) {
				k++
				if k == m {
					c.fail(k, "trailing comma")
					return end
				}
			}
		}
		if c.failed {
			return end
		}
		if ncols >= 0 && item != ncols {
			c.fail(open, fmt.Sprintf("VALUES row has %d values for %d columns", item, ncols))
			return end
		}
		next, more := c.listNext(m+1, end)
		if !more {
			return next
		}
		i = next
	}
	return end
}

// onConflict parses the part after ON CONFLICT.
func (c *checker) onConflict(i, end int, target *tref) int {
	if c.isKind(i, tkLParen) && i < end {
		c.group(i)
		i = int(c.toks[i].match) + 1
		if c.isKw(i, kwWHERE) {
			i = c.exprRegion(i+1, end, stDo)
		}
	} else if c.isKw(i, kwON) && c.isKw(i+1, kwCONSTRAINT) && c.isName(i+2) {
		i += 3
	}
	if !c.isKw(i, kwDO) {
		c.fail(i, "expected DO")
		return end
	}
	i++
	if c.isKw(i, kwNOTHING) {
		return i + 1
	}
	if !c.isKw(i, kwUPDATE) || !c.isKw(i+1, kwSET) {
		c.fail(i, "expected DO NOTHING or DO UPDATE SET")
		return end
	}
	base := len(c.refs)
	pbase := len(c.pending)
	c.refs = append(c.refs, *target)
	i = c.assignments(i+2, end, base, base+1, true, stWhere|stReturning|stOn)
	i, ws, we := c.whereClause(i, end, stReturning|stOn)
	if c.failed {
		return end
	}
	c.checkPending(pbase)
	if target.tbl != 0 {
		r := &c.refs[base]
		name := c.tableName(r.tbl)
		if ws < 0 || !c.hasPred(ws, we, r, false) {
			code := MissingPredicate
			if ws >= 0 && c.predUnderOr(ws, we, r, false) {
				code = OrEscape
			}
			c.finding(code, name, int(c.toks[r.nameTok].pos), fmt.Sprintf(
				"ON CONFLICT DO UPDATE on %s needs WHERE %s.%s = '<tenant>' as a top-level AND condition, "+
					"otherwise it can overwrite another tenant's conflicting row",
				name, c.content(int(r.qualTok)), c.tenantCol(r.tbl)))
		}
	}
	c.refs = c.refs[:base]
	return i
}

// ---------------------------------------------------------------------------
// UPDATE and DELETE

// updateStmt parses UPDATE at toks[i] up to end.
func (c *checker) updateStmt(i, end int) int {
	i, orReplace := c.verbModifiers(i, modConflict)
	base := len(c.refs)
	pbase := len(c.pending)
	c.inTarget = true
	i = c.fromList(i, end, 0)
	c.inTarget = false
	if c.failed {
		return end
	}
	ntargets := len(c.refs) - base
	if orReplace {
		for k := base; k < base+ntargets; k++ {
			c.steps++
			if r := &c.refs[k]; r.tbl != 0 {
				c.finding(Unverifiable, c.tableName(r.tbl), int(c.toks[r.nameTok].pos),
					"UPDATE OR REPLACE on a tenant table can delete another tenant's conflicting row")
			}
		}
	}
	if !c.isKw(i, kwSET) {
		c.fail(i, "expected SET")
		return end
	}
	const setStops = stFrom | stWhere | stReturning | stOrderBy | stLimit
	i = c.assignments(i+1, end, base, base+ntargets, false, setStops)
	return c.dmlRest(i, end, kwFROM, base, pbase)
}

// deleteStmt parses DELETE at toks[i] up to end.
func (c *checker) deleteStmt(i, end int) int {
	i, _ = c.verbModifiers(i, modQuick)
	if !c.isKw(i, kwFROM) {
		c.fail(i, "multi-table DELETE")
		return end
	}
	base := len(c.refs)
	pbase := len(c.pending)
	c.inTarget = true
	i = c.fromItem(i+1, end)
	c.inTarget = false
	if c.failed {
		return end
	}
	if c.isKind(i, tkComma) {
		c.fail(i, "multi-table DELETE")
		return end
	}
	return c.dmlRest(i, end, kwUSING, base, pbase)
}

// dmlRest parses what follows the targets (and SET) of an UPDATE or
// DELETE: more tables after from (FROM or USING), WHERE, ORDER BY, LIMIT
// and RETURNING. It then checks the tenant-column assignments queued from
// pending[pbase] on and closes the block of refs[base:].
func (c *checker) dmlRest(i, end int, from kwID, base, pbase int) int {
	const stops = stWhere | stReturning | stOrderBy | stLimit
	if !c.failed && c.isKw(i, from) {
		i = c.fromList(i+1, end, stops)
	}
	i, ws, we := c.whereClause(i, end, stops&^stWhere)
	i = c.dmlTail(i, end)
	if !c.failed {
		c.checkPending(pbase)
	}
	return c.closeBlock(i, end, base, ws, we)
}

// dmlTail parses ORDER BY / LIMIT / RETURNING of UPDATE and DELETE.
func (c *checker) dmlTail(i, end int) int {
	if !c.failed && c.isKw(i, kwORDER) && c.isKw(i+1, kwBY) {
		i = c.exprRegion(i+2, end, stLimit|stReturning)
	}
	if !c.failed && c.isKw(i, kwLIMIT) {
		i = c.exprRegion(i+1, end, stReturning)
	}
	if !c.failed && c.isKw(i, kwRETURNING) {
		i = c.exprRegion(i+1, end, 0)
	}
	if c.failed {
		return end
	}
	return i
}
