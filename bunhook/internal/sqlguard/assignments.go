package sqlguard

import "strconv"

// Assignment is one "target = value" of a SET list, as SplitAssignments
// reads it with the dialect's lexical rules (quotes, comments, dollar
// quotes, escapes).
type Assignment struct {
	// Targets are the names left of '=': the column, the parts of a
	// qualified column, or the columns of a tuple.
	Targets []string
	// Value is the text right of '='.
	Value string
	// Kind says whether Value is a literal the caller can check.
	Kind ValueKind
	// Literal is the value of a ValueLiteral: an int64 or a string.
	Literal any
}

// ValueKind classifies the value of an Assignment.
type ValueKind uint8

const (
	// ValueOther is anything but the kinds below: an expression, a column,
	// a subquery, a parameter.
	ValueOther ValueKind = iota
	// ValueLiteral is one integer or plain string literal.
	ValueLiteral
	// ValueNull is NULL.
	ValueNull
)

// SplitAssignments reads text, a SET list ("a = 1, b = f(x, 'y, z')") or
// one value (with noTarget: the list is "value"), into its assignments,
// split at the commas outside parentheses. ok is false when the text
// cannot be read (the caller fails closed).
func (g *Guard) SplitAssignments(text string, noTarget bool) (as []Assignment, ok bool) {
	c := checkerPool.Get().(*checker)
	defer func() {
		c.reset()
		checkerPool.Put(c)
	}()
	c.g, c.sql = g, text
	if !c.lex() {
		return nil, false
	}
	start := 0
	for k := 0; k <= len(c.toks); k++ {
		c.steps++
		if k < len(c.toks) {
			switch t := &c.toks[k]; t.kind {
			case tkLParen:
				k = int(t.match)
				continue
			case tkSemi:
				return nil, false
			case tkComma:
			default:
				continue
			}
		}
		a, ok := c.assignment(start, k, noTarget)
		if !ok {
			return nil, false
		}
		as = append(as, a)
		start = k + 1
	}
	return as, true
}

// assignment reads the assignment in toks[s:e].
func (c *checker) assignment(s, e int, noTarget bool) (Assignment, bool) {
	eq := s
	if !noTarget {
		for eq < e && !(c.toks[eq].kind == tkOp && c.toks[eq].op == opEq) {
			c.steps++
			if c.toks[eq].kind == tkLParen {
				eq = int(c.toks[eq].match)
			}
			eq++
		}
		if eq >= e {
			return Assignment{}, false
		}
	}
	var a Assignment
	for k := s; k < eq; k++ {
		c.steps++
		if c.isName(k) {
			a.Targets = append(a.Targets, c.content(k))
		}
	}
	vs := eq
	if !noTarget {
		vs = eq + 1
	}
	if vs >= e {
		return Assignment{}, false
	}
	a.Value = c.sql[c.toks[vs].pos:c.toks[e-1].end]
	if vs == e-1 {
		a.Kind, a.Literal = c.literalAt(vs)
	}
	return a, true
}

// literalAt reads toks[k] as an integer or plain string literal, or NULL.
func (c *checker) literalAt(k int) (ValueKind, any) {
	t := &c.toks[k]
	switch {
	case t.kind == tkNumber:
		if n, err := strconv.ParseInt(c.text(k), 10, 64); err == nil {
			return ValueLiteral, n
		}
	case t.kind == tkString && t.flags&(tfDoubled|tfBackslash) == 0:
		s := c.text(k)
		return ValueLiteral, s[1 : len(s)-1]
	case c.isKw(k, kwNULL):
		return ValueNull, nil
	}
	return ValueOther, nil
}
