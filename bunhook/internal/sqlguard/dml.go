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

// tenantAssigned reports a write of toks[s:e] into the tenant column.
func (c *checker) tenantAssigned(s, e int, table, col, where string) {
	lit := ""
	if e == s+1 && c.toks[s].kind == tkString {
		lit = c.literalValue(s)
	}
	if lit != "" && c.attempted == "" {
		c.attempted = lit
	}
	desc := "an expression"
	if e == s+1 {
		desc = c.text(s)
	}
	c.finding(TenantAssigned, table, int(c.toks[s].pos),
		fmt.Sprintf("%s puts %s into tenant column %s.%s instead of the bound tenant", where, desc, table, col))
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

// assignments parses `target = value {, target = value}`. Targets are
// c.refs[tb:te]; assignments to a tenant column are queued in c.pending.
func (c *checker) assignments(i, end, tb, te int, excluded bool, stops uint32) int {
	for !c.failed {
		if i >= end {
			c.fail(i, "expected an assignment")
			return end
		}
		var ref = -1
		tuple := false
		switch {
		case c.isKind(i, tkLParen):
			m := int(c.toks[i].match)
			for k := i + 1; k < m; k++ {
				switch c.toks[k].kind {
				case tkIdent, tkQIdent:
					if !c.isKind(k+1, tkDot) {
						q := -1
						if c.isKind(k-1, tkDot) {
							q = k - 2
						}
						if c.assignedRef(k, q, tb, te) >= 0 {
							tuple = true
						}
					}
				case tkComma, tkDot:
				default:
					c.fail(k, "expected a column list")
					return end
				}
			}
			i = m + 1
		case c.isName(i):
			last := i
			for c.isKind(last+1, tkDot) && c.isName(last+2) && last+2 < end {
				last += 2
			}
			q := -1
			if last > i {
				q = last - 2
			}
			ref = c.assignedRef(last, q, tb, te)
			i = last + 1
		default:
			c.fail(i, "expected a column")
			return end
		}
		if !c.isEq(i) || i >= end {
			c.fail(i, "expected =")
			return end
		}
		i++
		vs := i
		i = c.exprRegion(i, end, stops|stComma)
		if c.failed {
			return end
		}
		if i == vs {
			c.fail(i, "missing value")
			return end
		}
		switch {
		case tuple:
			for k := tb; k < te; k++ {
				if r := &c.refs[k]; r.tbl != 0 {
					c.finding(TenantAssigned, c.tableName(r.tbl), int(c.toks[vs].pos),
						"tuple assignment to the tenant column cannot be verified")
					break
				}
			}
		case ref >= 0:
			c.pending = append(c.pending, pendingSet{vs: int32(vs), ve: int32(i), ref: int32(ref), blk: int32(tb), excluded: excluded})
		}
		if c.isKind(i, tkComma) && i < end {
			i++
			continue
		}
		return i
	}
	return end
}

// assignedRef returns the index of the target ref whose tenant column is
// named by toks[colTok] (qualified by toks[qualTok] when qualTok >= 0), or
// -1. A qualifier that matches no target does not hide the column: any
// tenant target with that tenant column is returned (conservative).
func (c *checker) assignedRef(colTok, qualTok, tb, te int) int {
	fallback := -1
	for k := tb; k < te; k++ {
		r := &c.refs[k]
		if r.tbl == 0 || !c.isTenantCol(colTok, c.tenantCol(r.tbl)) {
			continue
		}
		if qualTok >= 0 && r.qualTok >= 0 && c.identEqual(qualTok, int(r.qualTok)) {
			return k
		}
		if fallback < 0 {
			fallback = k
		}
	}
	return fallback
}

// checkPending verifies queued tenant-column assignments from pbase on.
func (c *checker) checkPending(pbase int) {
	for _, p := range c.pending[pbase:] {
		r := &c.refs[p.ref]
		ok, bad := c.tenantValueOK(int(p.vs), int(p.ve), r, int(p.blk), p.excluded)
		if ok {
			continue
		}
		if bad >= 0 {
			// The offending literal is in the VALUES CTE the value comes from.
			if c.attempted == "" {
				c.attempted = c.literalValue(bad)
			}
			c.finding(TenantAssigned, c.tableName(r.tbl), int(c.toks[p.vs].pos), fmt.Sprintf(
				"SET copies %s into tenant column %s.%s from a VALUES row holding %s instead of the bound tenant",
				c.sql[c.toks[p.vs].pos:c.toks[p.ve-1].end], c.tableName(r.tbl), c.tenantCol(r.tbl), c.text(bad)))
			continue
		}
		c.tenantAssigned(int(p.vs), int(p.ve), c.tableName(r.tbl), c.tenantCol(r.tbl), "SET")
	}
	c.pending = c.pending[:pbase]
}

// tenantValueOK reports whether toks[s:e], assigned to r's tenant column,
// certainly keeps the row in the bound tenant. When the value comes from a
// VALUES CTE row holding another string literal, bad is that literal's
// token (else -1).
func (c *checker) tenantValueOK(s, e int, r *tref, blk int, excluded bool) (ok bool, bad int) {
	col := c.tenantCol(r.tbl)
	switch e - s {
	case 1:
		// The bound tenant literal, or the column itself.
		return c.isTenantLit(s) || c.isTenantCol(s, col), -1
	case 3:
		if !c.isName(s) || !c.isKind(s+1, tkDot) {
			return false, -1
		}
		if c.isTenantCol(s+2, col) {
			if r.qualTok >= 0 && c.identEqual(s, int(r.qualTok)) {
				return true, -1 // t.tenant_id = t.tenant_id
			}
			if excluded && c.toks[s].kind == tkIdent && c.toks[s].kw == kwEXCLUDED {
				return true, -1 // the proposed row was verified
			}
		}
		// _data.<col> where _data is a verified VALUES CTE in FROM.
		for k := blk; k < len(c.refs); k++ {
			fr := &c.refs[k]
			if fr.tbl != 0 || fr.nameTok < 0 || fr.schemaQ || fr.qualTok < 0 || !c.identEqual(s, int(fr.qualTok)) {
				continue
			}
			for ci := range c.ctes {
				if c.identEqual(int(c.ctes[ci].nameTok), int(fr.nameTok)) {
					return c.cteColumnIsTenant(&c.ctes[ci], s+2)
				}
			}
			return false, -1
		}
	}
	return false, -1
}

// cteColumnIsTenant reports whether every row of the VALUES CTE has the
// bound tenant literal in the column named by toks[colTok]. bad is the
// first other string literal found in that column, or -1.
func (c *checker) cteColumnIsTenant(v *valuesCTE, colTok int) (ok bool, bad int) {
	bad = -1
	pos, ncols := -1, 0
	for k := int(v.colsS); k < int(v.colsE); k++ {
		if c.toks[k].kind == tkComma {
			continue
		}
		if !c.isName(k) {
			return false, bad
		}
		if pos < 0 && c.identEqual(k, colTok) {
			pos = ncols
		}
		ncols++
	}
	if pos < 0 {
		return false, bad
	}
	i, end := int(v.rowsS), int(v.rowsE)
	rows := 0
	for i < end {
		if c.isKw(i, kwROW) {
			i++
		}
		if !c.isKind(i, tkLParen) || i >= end {
			return false, bad
		}
		m := int(c.toks[i].match)
		item, k := 0, i+1
		for k < m {
			s := k
			for k < m && c.toks[k].kind != tkComma {
				if c.toks[k].kind == tkLParen {
					k = int(c.toks[k].match)
				}
				k++
			}
			if item == pos && !c.tenantCell(s, k) {
				if c.toks[s].kind == tkString {
					bad = s
				}
				return false, bad
			}
			item++
			if k < m {
				k++
			}
		}
		if item != ncols {
			return false, bad
		}
		rows++
		i = m + 1
		if i < end && c.toks[i].kind == tkComma {
			i++
			continue
		}
		if i != end {
			return false, bad
		}
	}
	return rows > 0, bad
}

// tenantCell: the bound tenant literal, optionally cast to text/varchar on
// PostgreSQL (bun renders 'A'::VARCHAR in bulk VALUES).
func (c *checker) tenantCell(s, e int) bool {
	if e == s+1 {
		return c.isTenantLit(s)
	}
	if e == s+3 && c.g.dialect == Postgres && c.isTenantLit(s) && c.isKind(s+1, tkOp) && c.toks[s+1].op == opCast {
		return c.isKw(s+2, kwVARCHAR) || c.isKw(s+2, kwTEXT)
	}
	return false
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
