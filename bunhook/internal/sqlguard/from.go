package sqlguard

// tref is one table reference (FROM item, JOIN target, UPDATE/DELETE/INSERT
// target) of the query block being checked.
type tref struct {
	tbl      int16 // 1-based tenant table index; 0 when not a tenant table
	nameTok  int32 // token of the (last part of the) table name; -1 for derived tables
	qualTok  int32 // token that qualifies its columns (alias, or the name); -1 if none
	onS, onE int32 // ON clause token range; onS < 0 when there is none
	schemaQ  bool  // the name was schema-qualified
	onCounts bool  // ON restricts this table (inner/left/cross join target)
	// usingS, usingE: the column list of an INNER/LEFT JOIN ... USING (...)
	// of this table (usingS < 0 when there is none).
	usingS, usingE int32
}

// maxRefs bounds the table references of one query block.
const maxRefs = 512

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
	for c.live() {
		c.steps++
		i = c.fromItem(i, end)
		for c.live() {
			c.steps++
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
				if kind == jkInner || kind == jkLeft {
					r := &c.refs[len(c.refs)-1]
					r.usingS, r.usingE = int32(i+2), c.toks[i+1].match
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
	r := tref{nameTok: -1, qualTok: -1, onS: -1, onE: -1, usingS: -1}
	t := &c.toks[i]
	switch {
	case t.kind == tkLParen:
		// Derived table.
		i = c.subquery(i, end, "parenthesised join or unsupported FROM item")
		if c.failed {
			return end
		}
		i = c.alias(i, end, &r, true)
	case c.isName(i):
		i = c.namedTable(i, end, &r)
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

// namedTable parses a table name, or a table function, with what may follow
// it (PostgreSQL's inheritance star, MySQL's PARTITION list and index
// hints, an alias) into r, and returns the index after it.
func (c *checker) namedTable(i, end int, r *tref) int {
	if c.reserved(i) {
		c.fail(i, "expected a table name")
		return end
	}
	last := c.lastPart(i, end)
	if last-i > 4 {
		c.fail(i, "table name with too many parts")
		return end
	}
	next := last + 1
	if c.isKind(next, tkLParen) && next < end {
		// Table function.
		if c.toks[last].table() != 0 {
			c.fail(last, "function named like a tenant table")
			return end
		}
		c.call(i, last, true)
		c.group(next)
		return c.alias(int(c.toks[next].match)+1, end, r, true)
	}
	if c.isKind(next, tkOp) && c.sql[c.toks[next].pos] == '*' && c.toks[next].end == c.toks[next].pos+1 && c.g.dialect == Postgres {
		next++ // inheritance: t *
	}
	r.tbl = c.toks[last].table()
	if r.tbl != 0 {
		c.tables.add(c.tableName(r.tbl))
	} else {
		c.relation(i, last)
	}
	r.nameTok, r.qualTok = int32(last), int32(last)
	r.schemaQ = last > i
	if c.isKw(next, kwPARTITION) && c.isKind(next+1, tkLParen) {
		next = c.identList(next + 1)
	}
	next = c.alias(next, end, r, r.tbl == 0)
	return c.indexHints(next, end)
}

// lastPart returns the index of the last part of the dotted name
// (schema.table, t.col) that starts at toks[i].
func (c *checker) lastPart(i, end int) int {
	for c.isKind(i+1, tkDot) && c.isName(i+2) && i+2 < end {
		c.steps++
		i += 2
	}
	return i
}

// reserved reports whether toks[i] is a keyword that can neither name a
// table nor be an implicit alias.
func (c *checker) reserved(i int) bool {
	t := &c.toks[i]
	return t.kind == tkIdent && t.kw != kwNone && kwNoAlias[t.kw]
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
		has = !c.reserved(i)
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
		c.steps++
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
