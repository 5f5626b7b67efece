package bunhook

import (
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/tenantshield/tenantshield-go/bunhook/internal/bunx"
	"github.com/tenantshield/tenantshield-go/bunhook/internal/sqlguard"
)

// The assignments a write makes explicitly, beside the model's fields: Set
// and SetColumn expressions of an UPDATE or of an INSERT's upsert branch
// ("a = 1, b = f(x)" is two), and Value overrides. The model hooks read them,
// with the guard's lexer, to keep the tenant column immutable and
// references within the tenant; the guard still verifies the final SQL.

// assignment is one "target = value".
type assignment struct {
	sqlguard.Assignment
	from string // "Set" or "Value"
}

// assigns reports whether the assignment writes column (compared
// case-insensitively; qualified, or in a tuple).
func (a assignment) assigns(column string) bool {
	for _, t := range a.Targets {
		if strings.EqualFold(t, column) {
			return true
		}
	}
	return false
}

// updateAssignments returns what q assigns with Set, SetColumn and Value;
// ok is false when bun's state or an expression cannot be read (the
// caller fails closed).
func (e *Enforcer) updateAssignments(q *bun.UpdateQuery) ([]assignment, bool) {
	sets, ok1 := bunx.UpdateSets(q)
	vals, ok2 := bunx.ModelValues(q)
	if !ok1 || !ok2 {
		return nil, false
	}
	return e.assignments(q.DB().QueryGen(), sets, vals)
}

// insertAssignments returns what q assigns with Value and with the Set of
// its upsert branch.
func (e *Enforcer) insertAssignments(q *bun.InsertQuery) ([]assignment, bool) {
	sets, ok1 := bunx.InsertSets(q)
	vals, ok2 := bunx.ModelValues(q)
	if !ok1 || !ok2 {
		return nil, false
	}
	return e.assignments(q.DB().QueryGen(), sets, vals)
}

func (e *Enforcer) assignments(gen schema.QueryGen, sets []schema.QueryWithArgs, vals map[string]schema.QueryWithArgs) ([]assignment, bool) {
	g := e.guard.Load()
	var out []assignment
	add := func(text string, from string, target string) bool {
		as, ok := g.SplitAssignments(text, target != "")
		if !ok || (target != "" && len(as) != 1) {
			return false
		}
		for _, a := range as {
			if target != "" {
				a.Targets = []string{target}
			}
			out = append(out, assignment{Assignment: a, from: from})
		}
		return true
	}
	for _, s := range sets {
		b, err := s.AppendQuery(gen, nil)
		if err != nil || !add(string(b), "Set", "") {
			return nil, false
		}
	}
	for col, v := range vals {
		b, err := v.AppendQuery(gen, nil)
		if err != nil || !add(string(b), "Value", col) {
			return nil, false
		}
	}
	return out, true
}
