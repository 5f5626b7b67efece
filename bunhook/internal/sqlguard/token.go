package sqlguard

// Tokens, and the names identifier and string tokens spell: keywords,
// tenant tables, dangerous functions, names in disguise.

type tokKind uint8

const (
	tkIdent       tokKind = iota + 1 // unquoted identifier or keyword
	tkQIdent                         // quoted identifier ("x", `x`, [x])
	tkUIdent                         // PostgreSQL U&"..." identifier (never resolved)
	tkString                         // plain '...' literal (may match the tenant)
	tkOtherString                    // E'..', U&'..', $$..$$, MySQL "..": never matches
	tkNumber
	tkParam // $1
	tkLParen
	tkRParen
	tkComma
	tkSemi
	tkDot
	tkOp // any other operator or punctuation
)

// Operator codes of tkOp tokens.
const (
	opOther uint8 = iota
	opEq          // =
	opPipes       // ||
	opAmps        // &&
	opCast        // ::
)

// Token flags.
const (
	tfDoubled   uint8 = 1 << iota // string/identifier contains a doubled quote
	tfBackslash                   // string contains a backslash
	tfNonASCII                    // identifier contains non-ASCII bytes
	tfDanger                      // identifier names a dangerous function
)

// token is 16 bytes: the lexer appends one per token on the hot path.
type token struct {
	pos, end int32 // byte range in the SQL text, quotes included
	// match is, for parentheses, the index of the matching one and, for
	// identifiers, the 1-based index of the tenant table they name (0: none).
	match int32
	kind  tokKind
	kw    kwID
	flags uint8
	op    uint8
}

// pushTok appends a token. It writes the fields into the new slot instead of
// copying a composite literal, which avoids a store-forwarding stall per
// token.
func pushTok(toks []token, pos, end int, kind tokKind) []token {
	toks = append(toks, token{})
	t := &toks[len(toks)-1]
	t.pos, t.end, t.kind = int32(pos), int32(end), kind
	return toks
}

// table returns the 1-based tenant table index of an identifier token.
func (t *token) table() int16 { return int16(t.match) }

// classifyIdent looks the identifier w up among keywords, tenant tables
// and dangerous functions.
func (c *checker) classifyIdent(t *token, w string, afterDot, nonASCII bool) {
	if nonASCII {
		t.flags |= tfNonASCII
	}
	if len(w) > pgMaxIdent && c.g.dialect == Postgres {
		w = w[:pgMaxIdent]
	}
	if c.g.words.mayContain(w) {
		if e := c.g.words.lookup(w); e != nil {
			// After a dot a keyword is a column or table name (t.offset).
			if !afterDot {
				t.kw = e.kw
			}
			t.match = int32(e.tbl)
			if e.danger {
				t.flags |= tfDanger
				c.danger = true
			}
			if e.tbl != 0 {
				c.anyTenant = true
			}
		}
	}
	if nonASCII {
		c.checkNonASCII(w, t, int(t.pos))
	}
}

// quotedTable returns the 1-based index of the tenant table that name, the
// text between the quotes of an identifier or string, spells exactly (0:
// none), and marks the statement as naming a tenant table when there is
// one.
func (c *checker) quotedTable(name string) int32 {
	if c.g.tblLenMask&(1<<uint(len(name))) == 0 {
		return 0 // the common case, decided inline
	}
	return c.lookupTable(name)
}

// quotedDanger marks a quoted identifier that names a dangerous function:
// quoting does not make a call safe ("set_config"(...) is set_config).
func (c *checker) quotedDanger(t *token, name string) {
	if c.g.lenMask&(1<<uint(len(name))) == 0 {
		return
	}
	if e := c.g.words.lookup(name); e != nil && e.danger {
		t.flags |= tfDanger
		c.danger = true
	}
}

// lookupTable is quotedTable for a name whose length is a tenant table's.
func (c *checker) lookupTable(name string) int32 {
	if e := c.g.words.lookup(name); e != nil && e.tbl != 0 {
		c.anyTenant = true
		return int32(e.tbl)
	}
	return 0
}

// checkNonASCII flags identifiers that may fold to a tenant table name
// (always refused) or to a tenant column name (refused when the statement
// names a tenant table). See mayNameTable.
func (c *checker) checkNonASCII(w string, t *token, pos int) {
	if c.g.dialect != MySQL {
		return
	}
	if t.match == 0 && c.g.mayNameTable(w) >= 0 {
		c.suspicious = true
		c.suspiciousPos = pos
		return
	}
	if c.g.mayNameColumn(w) {
		c.suspiciousCol = true
		c.suspiciousPos = pos
	}
}
