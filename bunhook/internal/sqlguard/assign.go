package sqlguard

import "fmt"

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

// assignments parses `target = value {, target = value}`. Targets are
// c.refs[tb:te]; assignments to a tenant column are queued in c.pending.
func (c *checker) assignments(i, end, tb, te int, excluded bool, stops uint32) int {
	for c.live() {
		c.steps++
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
				c.steps++
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
				c.steps++
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
				c.steps++
				if r := &c.refs[k]; r.tbl != 0 {
					c.finding(TenantAssigned, c.tableName(r.tbl), int(c.toks[vs].pos),
						"tuple assignment to the tenant column cannot be verified")
					break
				}
			}
		case ref >= 0:
			c.pending = append(c.pending, pendingSet{vs: int32(vs), ve: int32(i), ref: int32(ref), blk: int32(tb), excluded: excluded})
		}
		next, more := c.listNext(i, end)
		if !more {
			return next
		}
		i = next
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
		c.steps++
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
		if !c.live() {
			break
		}
		c.steps++
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
			c.steps++
			fr := &c.refs[k]
			if fr.tbl != 0 || fr.nameTok < 0 || fr.schemaQ || fr.qualTok < 0 || !c.identEqual(s, int(fr.qualTok)) {
				continue
			}
			for ci := range c.ctes {
				c.steps++
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
		c.steps++
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
		c.steps++
		if c.isKw(i, kwROW) {
			i++
		}
		if !c.isKind(i, tkLParen) || i >= end {
			return false, bad
		}
		m := int(c.toks[i].match)
		item, k := 0, i+1
		for k < m {
			c.steps++
			s := k
			for k < m && c.toks[k].kind != tkComma {
				c.steps++
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
		next, more := c.listNext(m+1, end)
		if !more && next != end {
			return false, bad
		}
		i = next
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
