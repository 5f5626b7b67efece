package sqlguard

import "strings"

// maxDepth bounds parenthesis nesting (and so the parser's recursion).
const maxDepth = 256

// identByte marks identifier continuation bytes (including '$').
var identByte [256]bool

func init() {
	for i := range identByte {
		identByte[i] = isIdentByte(byte(i))
	}
}

// lex tokenises c.sql into c.toks. It returns false and sets c.lexErr when
// the text cannot be tokenised unambiguously.
func (c *checker) lex() bool {
	toks, ok := c.lexAll()
	c.toks = toks
	// The lexer is one forward pass: it counts a step per token.
	c.steps += len(toks)
	c.budget = stepsBase + stepsPerToken*len(toks)
	if ok && len(c.stack) > 0 {
		return c.lexFail(int(c.toks[c.stack[len(c.stack)-1]].pos), "unbalanced '('")
	}
	if ok {
		if k := strings.IndexByte(c.sql, 0); k >= 0 {
			// In a string or comment. MySQL ends comments at NUL; bun
			// never renders NUL.
			return c.lexFail(k, "NUL byte in SQL text")
		}
	}
	return ok
}

// lexAll dispatches on the dialect's class of each token's first byte.
// Identifiers, strings and punctuation, the bulk of bun's SQL, are read
// here; the other token classes have a helper each that appends the token
// (comments append none) and returns the index after it, or -1 after
// lexError. A '-', '/' or '$' that starts no comment or quote, like any
// byte of class bcOp, is read as an operator at the end of the loop.
func (c *checker) lexAll() ([]token, bool) {
	s := c.sql
	n := len(s)
	if n > 1<<30 {
		return c.toks[:0], c.lexFail(0, "statement too long")
	}
	class := &lexClasses[c.g.dialect]
	toks := c.toks[:0]
	for i := 0; i < n; {
		b := s[i]
		switch class[b] {
		case bcSpace:
			i++
			continue

		case bcPGPrefix:
			if pgQuotePrefix(s, i) {
				if toks, i = c.lexPGQuoted(toks, i); i < 0 {
					return toks, false
				}
				continue
			}
			fallthrough
		case bcIdent:
			// The one scan of unquoted identifiers and keywords.
			j := i + 1
			or := b
			for j < n && identByte[s[j]] {
				or |= s[j]
				j++
			}
			toks = pushTok(toks, i, j, tkIdent)
			c.classifyIdent(&toks[len(toks)-1], s[i:j], len(toks) > 1 && toks[len(toks)-2].kind == tkDot, or >= 0x80)
			i = j
			continue

		case bcCtrl:
			return toks, c.lexFail(i, "control character in SQL text")
		case bcBackslash:
			return toks, c.lexFail(i, "backslash outside a string literal")
		case bcMinus, bcSlash:
			j := c.comment(i)
			if j < 0 {
				return toks, false
			}
			if j != i {
				i = j
				continue
			}
		case bcHash:
			i = c.skipLineComment(i)
			continue
		case bcQuote, bcDQString:
			// '...', the only string that can match the tenant, or
			// MySQL's "...".
			j, fl, ok := c.lexString(i, b, c.g.dialect == MySQL)
			if !ok {
				return toks, false
			}
			k := tkString
			if b == '"' {
				k = tkOtherString
			}
			toks = pushTok(toks, i, j, k)
			toks[len(toks)-1].flags = fl
			// A string that spells a tenant table names it: SQLite reads
			// 'invoices' as an identifier where a string is not allowed,
			// MySQL with ANSI_QUOTES reads "invoices" as one. The parse
			// then refuses a string in a table position.
			c.quotedTable(s[i+1 : j-1])
			i = j
			continue
		case bcDQuote, bcBacktick, bcLBracket:
			closeq := b
			if b == '[' {
				closeq = ']' // SQLite; no doubling, no fast path
			} else if next, ok := c.fastQuotedIdent(&toks, i, b); ok {
				i = next
				continue
			}
			if toks, i = c.lexQuoted(toks, i, closeq); i < 0 {
				return toks, false
			}
			continue
		case bcDollar:
			t, j := c.lexDollar(toks, i)
			if j < 0 {
				return toks, false
			}
			if j != i {
				toks, i = t, j
				continue
			}
		case bcDigit:
			toks, i = c.scanNumber(toks, i)
			continue
		case bcDot:
			if i+1 < n && s[i+1] >= '0' && s[i+1] <= '9' {
				toks, i = c.scanNumber(toks, i)
				continue
			}
			toks = pushTok(toks, i, i+1, tkDot)
			i++
			continue
		case bcLParen:
			if len(c.stack) >= maxDepth {
				return toks, c.lexFail(i, "parentheses nested too deeply")
			}
			c.stack = append(c.stack, int32(len(toks)))
			toks = pushTok(toks, i, i+1, tkLParen)
			i++
			continue
		case bcRParen:
			if len(c.stack) == 0 {
				return toks, c.lexFail(i, "unbalanced ')'")
			}
			open := c.stack[len(c.stack)-1]
			c.stack = c.stack[:len(c.stack)-1]
			toks[open].match = int32(len(toks))
			toks = pushTok(toks, i, i+1, tkRParen)
			toks[len(toks)-1].match = open
			i++
			continue
		case bcComma:
			toks = pushTok(toks, i, i+1, tkComma)
			i++
			continue
		case bcSemi:
			toks = pushTok(toks, i, i+1, tkSemi)
			i++
			continue
		}

		// Operators and other punctuation; "||", "&&" and "::" are one
		// token.
		op, end := opOther, i+1
		if b == '=' {
			op = opEq
		} else if pair := pairOps[b]; pair != opOther && i+1 < n && s[i+1] == b {
			op, end = pair, i+2
		}
		// An operator of several characters, or one that is not built-in
		// alone, is for the closed world to check (operators in closed.go).
		if !pgOp1[b] || end-i > 1 || (len(toks) > 0 && toks[len(toks)-1].kind == tkOp && int(toks[len(toks)-1].end) == i) {
			c.opRun = true
		}
		toks = pushTok(toks, i, end, tkOp)
		toks[len(toks)-1].op = op
		i = end
	}
	return toks, true
}

// pairOps are the operators of two equal bytes the parser tells apart.
var pairOps = [256]uint8{'|': opPipes, '&': opAmps, ':': opCast}

// comment returns the index after the comment at s[i] ("--" or "/*"), i
// when s[i] starts none (a '-' or '/' operator), or -1 on error.
func (c *checker) comment(i int) int {
	if c.sql[i] == '-' {
		return c.dashComment(i)
	}
	return c.blockComment(i)
}

// dashComment returns the index after the "--" comment at s[i] (the end
// of its line), i when s[i] is a '-' operator, or -1 on error.
func (c *checker) dashComment(i int) int {
	s := c.sql
	n := len(s)
	if i+1 >= n || s[i+1] != '-' {
		return i
	}
	if c.g.dialect == MySQL && i+2 < n {
		// MySQL only treats "--" as a comment when followed by
		// whitespace or a control character.
		x := s[i+2]
		switch {
		case lexClasses[MySQL][x] == bcSpace:
		case x < 0x20 || x == 0x7f || x >= 0x80:
			return c.lexError(i, "ambiguous '--' sequence")
		default:
			return i
		}
	}
	return c.skipLineComment(i + 2)
}

// skipLineComment returns the index of the end of the line comment whose
// text starts at s[i]: the next "\n" (or "\r" on PostgreSQL), or the end.
func (c *checker) skipLineComment(i int) int {
	s := c.sql
	n := len(s)
	pg := c.g.dialect == Postgres
	for i < n {
		x := s[i]
		if x == '\n' || (x == '\r' && pg) {
			break
		}
		i++
	}
	return i
}

// blockComment returns the index after the "/* */" comment (nested on
// PostgreSQL) at s[i], i when s[i] is a '/' operator, or -1 on error. MySQL
// executable comments are refused.
func (c *checker) blockComment(i int) int {
	s := c.sql
	n := len(s)
	if i+1 >= n || s[i+1] != '*' {
		return i
	}
	d := c.g.dialect
	if d == MySQL && i+2 < n && (s[i+2] == '!' || (s[i+2] == 'M' && i+3 < n && s[i+3] == '!')) {
		return c.lexError(i, "MySQL executable comment")
	}
	start := i
	i += 2
	depth := 1
	for {
		if i+1 >= n {
			return c.lexError(start, "unterminated comment")
		}
		if s[i] == '*' && s[i+1] == '/' {
			i += 2
			depth--
			if depth == 0 {
				return i
			}
			continue
		}
		if d == Postgres && s[i] == '/' && s[i+1] == '*' {
			depth++
			i += 2
			continue
		}
		i++
	}
}

// pgQuotePrefix reports whether s[i] starts a PostgreSQL E'...', U&'...'
// or U&"..." token.
func pgQuotePrefix(s string, i int) bool {
	n := len(s)
	if i+1 >= n {
		return false
	}
	switch s[i] {
	case 'e', 'E':
		return s[i+1] == '\''
	case 'u', 'U':
		return s[i+1] == '&' && i+2 < n && (s[i+2] == '\'' || s[i+2] == '"')
	}
	return false
}

// lexPGQuoted reads a PostgreSQL E'...' string (backslash escapes),
// U&'...' string or U&"..." identifier (which can spell any name with
// escapes, so it is never resolved).
func (c *checker) lexPGQuoted(toks []token, i int) ([]token, int) {
	s := c.sql
	n := len(s)
	q, j, backslash := byte('\''), i+2, true
	if s[i+1] == '&' {
		q, j, backslash = s[i+2], i+3, false
	}
	for {
		if j >= n {
			if backslash {
				return toks, c.lexError(i, "unterminated string literal")
			}
			return toks, c.lexError(i, "unterminated quoted text")
		}
		if backslash && s[j] == '\\' {
			j += 2
			continue
		}
		if s[j] == q {
			if j+1 < n && s[j+1] == q {
				j += 2
				continue
			}
			j++
			break
		}
		j++
	}
	k := tkOtherString
	if q == '"' {
		k = tkUIdent
		c.suspicious = true
		c.suspiciousPos = i
	}
	return pushTok(toks, i, j, k), j
}

// lexDollar reads a PostgreSQL parameter ($1) or dollar-quoted string
// ($tag$ ... $tag$, where tag is empty or an identifier without '$'). It
// returns i for any other '$', an operator.
func (c *checker) lexDollar(toks []token, i int) ([]token, int) {
	s := c.sql
	n := len(s)
	j := i + 1
	if j < n && s[j] >= '0' && s[j] <= '9' {
		for j < n && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		return pushTok(toks, i, j, tkParam), j
	}
	for j < n && identByte[s[j]] && s[j] != '$' {
		if j == i+1 && s[j] >= '0' && s[j] <= '9' {
			break
		}
		j++
	}
	if j >= n || s[j] != '$' {
		return toks, i // an operator
	}
	tag := s[i : j+1]
	k := strings.Index(s[j+1:], tag)
	c.scanned += searched(k, n-j-1)
	if k < 0 {
		return toks, c.lexError(i, "unterminated dollar-quoted string")
	}
	end := j + 1 + k + len(tag)
	return pushTok(toks, i, end, tkOtherString), end
}

// scanNumber reads a numeric literal. Text like 0x1F or 1abc is an
// identifier in MySQL and junk elsewhere: it is classified like an
// identifier (conservative).
func (c *checker) scanNumber(toks []token, i int) ([]token, int) {
	s := c.sql
	n := len(s)
	j := i
	numeric := true
	seenExp := false
	for j < n {
		x := s[j]
		if x >= '0' && x <= '9' || x == '.' {
			j++
			continue
		}
		if (x == 'e' || x == 'E') && numeric && !seenExp && j+1 < n &&
			(s[j+1] >= '0' && s[j+1] <= '9' || ((s[j+1] == '+' || s[j+1] == '-') && j+2 < n && s[j+2] >= '0' && s[j+2] <= '9')) {
			seenExp = true
			j += 2
			continue
		}
		if identByte[x] {
			numeric = false
			j++
			continue
		}
		break
	}
	if numeric {
		return pushTok(toks, i, j, tkNumber), j
	}
	afterDot := len(toks) > 0 && toks[len(toks)-1].kind == tkDot
	toks = pushTok(toks, i, j, tkIdent)
	c.classifyIdent(&toks[len(toks)-1], s[i:j], afterDot, hasNonASCII(s[i:j]))
	return toks, j
}

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

func isIdentByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '$' || b >= 0x80
}

func (c *checker) lexFail(pos int, msg string) bool {
	c.lexErr = msg
	c.lexPos = pos
	return false
}

// lexError is lexFail for the token helpers: it returns their failure
// index, -1.
func (c *checker) lexError(pos int, msg string) int {
	c.lexFail(pos, msg)
	return -1
}

// lexQuoted reads a quoted identifier starting at s[i] and ending with
// closeq ("x", `x` with doubling; SQLite [x] without), appends it and
// returns the index after it (-1 on error).
func (c *checker) lexQuoted(toks []token, i int, closeq byte) ([]token, int) {
	s := c.sql
	n := len(s)
	doubling := closeq != ']'
	var flags uint8
	j := i + 1
	for {
		k := strings.IndexByte(s[j:], closeq)
		c.scanned += searched(k, n-j)
		if k < 0 {
			return toks, c.lexError(i, "unterminated quoted identifier")
		}
		j += k
		if doubling && j+1 < n && s[j+1] == closeq {
			flags |= tfDoubled
			j += 2
			continue
		}
		j++
		break
	}
	toks = pushTok(toks, i, j, tkQIdent)
	t := &toks[len(toks)-1]
	content := s[i+1 : j-1]
	if hasNonASCII(content) {
		flags |= tfNonASCII
	}
	t.flags = flags
	name := content
	if len(name) > pgMaxIdent && c.g.dialect == Postgres && flags&tfDoubled == 0 {
		name = name[:pgMaxIdent]
	}
	if flags&tfDoubled == 0 {
		t.match = c.quotedTable(name)
		c.quotedDanger(t, name)
	}
	if flags&tfNonASCII != 0 {
		c.checkNonASCII(content, t, i)
	}
	return toks, j
}

// fastQuotedIdent lexes the common quoted identifier at s[i] (the opening
// quote): ASCII, no doubled quote, at most pgMaxIdent bytes. It pushes the
// token, marks a tenant table, and returns the index after the closing
// quote; ok is false when the identifier needs the general lexQuoted.
func (c *checker) fastQuotedIdent(toks *[]token, i int, quote byte) (next int, ok bool) {
	s, n := c.sql, len(c.sql)
	j := i + 1
	for j < n && s[j] != quote && s[j] < 0x80 {
		j++
	}
	if j >= n || s[j] != quote || (j+1 < n && s[j+1] == quote) || j-i-1 > pgMaxIdent {
		return i, false
	}
	*toks = pushTok(*toks, i, j+1, tkQIdent)
	// quotedTable and quotedDanger, written out: this is the hot path.
	if name := s[i+1 : j]; c.g.lenMask&(1<<uint(len(name))) != 0 {
		if e := c.g.words.lookup(name); e != nil {
			t := &(*toks)[len(*toks)-1]
			if e.tbl != 0 {
				t.match = int32(e.tbl)
				c.anyTenant = true
			}
			if e.danger {
				t.flags |= tfDanger
				c.danger = true
			}
		}
	}
	return j + 1, true
}

// searched is how many bytes a search of rest bytes that returned k
// examined (a counter for tests: the lexer's searches must not look past
// what they consume, see TestLexerSearchesLinear).
func searched(k, rest int) int {
	if k < 0 {
		return rest
	}
	return k + 1
}

// lexString reads a string literal starting at s[i] == q and returns the
// index after it and its flags. With backslash set (MySQL), backslash
// escapes are honoured; a backslash that escapes the closing quote is
// rejected as ambiguous, because under NO_BACKSLASH_ESCAPES the server
// would end the literal there.
func (c *checker) lexString(i int, q byte, backslash bool) (int, uint8, bool) {
	s := c.sql
	n := len(s)
	var flags uint8
	j := i + 1
	for {
		k := strings.IndexByte(s[j:], q)
		c.scanned += searched(k, n-j)
		// A backslash is looked for only up to the quote: searching the
		// rest of the text for each string made a MySQL INSERT of many rows
		// quadratic.
		if backslash && k >= 0 {
			b := strings.IndexByte(s[j:j+k], '\\')
			c.scanned += searched(b, k)
			if b >= 0 {
				flags |= tfBackslash
				j += b
				if j+1 < n && s[j+1] == q {
					return 0, 0, c.lexFail(j, "ambiguous backslash-escaped quote in string literal")
				}
				j += 2
				if j > n {
					return 0, 0, c.lexFail(i, "unterminated string literal")
				}
				continue
			}
		}
		if k < 0 {
			return 0, 0, c.lexFail(i, "unterminated string literal")
		}
		j += k
		if j+1 < n && s[j+1] == q {
			flags |= tfDoubled
			j += 2
			continue
		}
		return j + 1, flags, true
	}
}
