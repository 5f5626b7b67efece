package bunhook

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/schema"

	"github.com/tenantshield/tenantshield-go/bunhook/internal/bunx"
)

// The assignments a write makes explicitly, beside the model's fields: Set
// and SetColumn expressions of an UPDATE ("a = 1, b = f(x)" is two) and
// Value overrides of an INSERT or UPDATE. The model hooks read them to keep
// the tenant column immutable and references within the tenant; the guard
// still verifies the final SQL.

// assignment is one "target = value".
type assignment struct {
	target string // left of '=': a column, t.col, or a tuple of columns
	value  string // right of '=', trimmed
	from   string // "Set" or "Value"
}

// assigns reports whether the assignment writes column (compared
// case-insensitively, quoted or not, qualified or not, alone or in a tuple).
func (a assignment) assigns(column string) bool {
	for _, w := range strings.FieldsFunc(a.target, func(r rune) bool {
		return r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if strings.EqualFold(w, column) {
			return true
		}
	}
	return false
}

// updateAssignments returns what q assigns with Set, SetColumn and Value;
// ok is false when bun's state cannot be read (the caller fails closed).
func updateAssignments(q *bun.UpdateQuery) (as []assignment, ok bool) {
	sets, ok1 := bunx.UpdateSets(q)
	vals, ok2 := bunx.ModelValues(q)
	if !ok1 || !ok2 {
		return nil, false
	}
	gen := q.DB().QueryGen()
	backslash := q.DB().Dialect().Name() == dialect.MySQL
	for _, s := range sets {
		b, err := s.AppendQuery(gen, nil)
		if err != nil {
			continue // bun fails the statement with this error itself
		}
		for _, part := range splitTopLevel(string(b), backslash) {
			target, value, _ := strings.Cut(part, "=")
			as = append(as, assignment{target: target, value: strings.TrimSpace(value), from: "Set"})
		}
	}
	return append(as, valueAssignments(gen, vals)...), true
}

// insertAssignments returns what q assigns with Value.
func insertAssignments(q *bun.InsertQuery) (as []assignment, ok bool) {
	vals, ok := bunx.ModelValues(q)
	if !ok {
		return nil, false
	}
	return valueAssignments(q.DB().QueryGen(), vals), true
}

func valueAssignments(gen schema.QueryGen, vals map[string]schema.QueryWithArgs) []assignment {
	var as []assignment
	for col, v := range vals {
		b, err := v.AppendQuery(gen, nil)
		if err != nil {
			continue
		}
		as = append(as, assignment{target: col, value: strings.TrimSpace(string(b)), from: "Value"})
	}
	return as
}

// splitTopLevel splits s at the commas outside parentheses, quotes and
// brackets. With backslash (MySQL), a backslash escapes the next byte of a
// string.
func splitTopLevel(s string, backslash bool) []string {
	var parts []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if backslash && c == '\\' && quote == '\'' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

type valueKind uint8

const (
	valueOther valueKind = iota
	valueLiteral
	valueNull
)

// literal reads a rendered value: an integer or a plain string literal,
// NULL, or something else (an expression, a column, a subquery).
func literal(v string) (any, valueKind) {
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, "NULL") {
		return nil, valueNull
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, valueLiteral
	}
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' && !strings.ContainsAny(v[1:len(v)-1], "'\\") {
		return v[1 : len(v)-1], valueLiteral
	}
	return nil, valueOther
}
