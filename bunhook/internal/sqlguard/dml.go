package sqlguard

import "fmt"

// ---------------------------------------------------------------------------
// INSERT / REPLACE

func (c *checker) insertStmt(i, end int) int {
	replace := c.isKw(i, kwREPLACE)
	verb := c.text(i)
	i++
	for {
		switch {
		case c.isKw(i, kwLOWPRIORITY), c.isKw(i, kwDELAYED), c.isKw(i, kwHIGHPRIORITY), c.isKw(i, kwIGNORE):
			i++
			continue
		case c.isKw(i, kwOR) && c.g.dialect == SQLite:
			// INSERT OR REPLACE/IGNORE/ABORT/FAIL/ROLLBACK
			if c.isKw(i+1, kwREPLACE) {
				replace = true
			}
			i += 2
			continue
		}
		break
	}
	if c.isKw(i, kwINTO) {
		i++
	}
	if !c.isName(i) || i >= end {
		c.fail(i, "expected a table name")
		return end
	}
	if t := &c.toks[i]; t.kind == tkIdent && t.kw != kwNone && kwNoAlias[t.kw] {
		c.fail(i, "expected a table name")
		return end
	}
	last := i
	for c.isKind(last+1, tkDot) && c.isName(last+2) && last+2 < end {
		last += 2
	}
	target := tref{tbl: c.toks[last].table(), nameTok: int32(last), qualTok: int32(last), onS: -1, onE: -1, schemaQ: last != i}
	i = last + 1
	if c.isKw(i, kwAS) {
		if !c.isName(i + 1) {
			c.fail(i, "expected an alias")
			return end
		}
		target.qualTok = int32(i + 1)
		i += 2
	}
	if c.isKw(i, kwPARTITION) && c.isKind(i+1, tkLParen) {
		i = c.identList(i + 1)
	}
	tenant := target.tbl != 0
	var name, col string
	if tenant {
		name, col = c.tableName(target.tbl), c.tenantCol(target.tbl)
		c.tables.add(name)
		if replace {
			c.finding(Unverifiable, name, int(c.toks[target.nameTok].pos),
				fmt.Sprintf("%s into tenant table %s can delete another tenant's conflicting row", verb, name))
		}
	}

	// Column list.
	ncols, tpos := -1, -1
	if c.isKind(i, tkLParen) && i < end && !c.groupIsQuery(i) {
		m := int(c.toks[i].match)
		ncols = 0
		expectName := true
		for k := i + 1; k < m; k++ {
			switch {
			case expectName && c.isName(k):
				// MySQL allows tbl.col in the column list.
				for c.isKind(k+1, tkDot) && c.isName(k+2) && k+2 < m {
					k += 2
				}
				if tenant && c.isTenantCol(k, col) {
					if tpos >= 0 {
						c.fail(k, "tenant column listed twice")
						return end
					}
					tpos = ncols
				}
				ncols++
				expectName = false
			case !expectName && c.isKind(k, tkComma):
				expectName = true
			default:
				c.fail(k, "expected a column list")
				return end
			}
		}
		i = m + 1
	}
	if c.isKw(i, kwOVERRIDING) {
		i += 3
	}

	switch {
	case c.isKw(i, kwVALUES) || c.isKw(i, kwVALUE):
		i = c.insertRows(i+1, end, tenant, ncols, tpos, &target)
	case c.isKw(i, kwDEFAULT) && c.isKw(i+1, kwVALUES):
		if tenant {
			c.finding(TenantColumnMissing, name, int(c.toks[i].pos),
				fmt.Sprintf("INSERT INTO %s DEFAULT VALUES does not set tenant column %s", name, col))
		}
		i += 2
	case c.isKw(i, kwSELECT) || c.isKw(i, kwWITH) || c.isKind(i, tkLParen):
		if tenant {
			c.finding(InsertSelect, name, int(c.toks[i].pos),
				fmt.Sprintf("INSERT INTO %s ... SELECT: the inserted tenant values cannot be verified", name))
		}
		i = c.queryExpr(i, end)
	case c.isKw(i, kwSET):
		if tenant {
			c.fail(i, "INSERT ... SET into a tenant table")
			return end
		}
		i = c.assignments(i+1, end, len(c.refs), len(c.refs), false, stOn|stReturning)
	default:
		c.fail(i, "expected VALUES or SELECT")
		return end
	}
	if c.failed {
		return end
	}
	// MySQL 8 row alias: VALUES (...) AS new [(cols)]
	if c.isKw(i, kwAS) && c.isName(i+1) {
		i += 2
		if c.isKind(i, tkLParen) {
			i = c.identList(i)
		}
	}

	// Upsert clauses.
	for !c.failed && c.isKw(i, kwON) && i < end {
		switch {
		case c.isKw(i+1, kwCONFLICT):
			i = c.onConflict(i+2, end, tenant, &target)
		case c.isKw(i+1, kwDUPLICATE) && c.isKw(i+2, kwKEY) && c.isKw(i+3, kwUPDATE):
			if tenant {
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
func (c *checker) insertRows(i, end int, tenant bool, ncols, tpos int, target *tref) int {
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
	for !c.failed {
		if c.isKw(i, kwROW) {
			i++
		}
		if !c.isKind(i, tkLParen) || i >= end {
			c.fail(i, "expected a VALUES row")
			return end
		}
		m := int(c.toks[i].match)
		k := i + 1
		item := 0
		for k < m && !c.failed {
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
			c.fail(i, fmt.Sprintf("VALUES row has %d values for %d columns", item, ncols))
			return end
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

// onConflict parses the part after ON CONFLICT.
func (c *checker) onConflict(i, end int, tenant bool, target *tref) int {
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
	ws, we := -1, -1
	if !c.failed && c.isKw(i, kwWHERE) {
		ws = i + 1
		i = c.exprRegion(ws, end, stReturning|stOn)
		we = i
	}
	if c.failed {
		return end
	}
	c.checkPending(pbase)
	if tenant {
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
// UPDATE

func (c *checker) updateStmt(i, end int) int {
	i++
	orReplace := false
	for {
		switch {
		case c.isKw(i, kwLOWPRIORITY), c.isKw(i, kwIGNORE):
			i++
			continue
		case c.isKw(i, kwOR) && c.g.dialect == SQLite:
			if c.isKw(i+1, kwREPLACE) {
				orReplace = true
			}
			i += 2
			continue
		}
		break
	}
	base := len(c.refs)
	pbase := len(c.pending)
	i = c.fromList(i, end, 0)
	if c.failed {
		return end
	}
	ntargets := len(c.refs) - base
	if orReplace {
		for k := base; k < base+ntargets; k++ {
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
	if !c.failed && c.isKw(i, kwFROM) {
		i = c.fromList(i+1, end, stWhere|stReturning|stOrderBy|stLimit)
	}
	ws, we := -1, -1
	if !c.failed && c.isKw(i, kwWHERE) {
		ws = i + 1
		i = c.exprRegion(ws, end, stReturning|stOrderBy|stLimit)
		we = i
	}
	i = c.dmlTail(i, end)
	if c.failed {
		return end
	}
	c.checkPending(pbase)
	c.verifyBlock(base, ws, we)
	c.refs = c.refs[:base]
	return i
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

// ---------------------------------------------------------------------------
// DELETE

func (c *checker) deleteStmt(i, end int) int {
	i++
	for c.isKw(i, kwLOWPRIORITY) || c.isKw(i, kwQUICK) || c.isKw(i, kwIGNORE) {
		i++
	}
	if !c.isKw(i, kwFROM) {
		c.fail(i, "multi-table DELETE")
		return end
	}
	base := len(c.refs)
	i = c.fromItem(i+1, end)
	if c.failed {
		return end
	}
	if c.isKind(i, tkComma) {
		c.fail(i, "multi-table DELETE")
		return end
	}
	if c.isKw(i, kwUSING) {
		i = c.fromList(i+1, end, stWhere|stReturning|stOrderBy|stLimit)
	}
	ws, we := -1, -1
	if !c.failed && c.isKw(i, kwWHERE) {
		ws = i + 1
		i = c.exprRegion(ws, end, stReturning|stOrderBy|stLimit)
		we = i
	}
	i = c.dmlTail(i, end)
	if c.failed {
		return end
	}
	c.verifyBlock(base, ws, we)
	c.refs = c.refs[:base]
	return i
}
