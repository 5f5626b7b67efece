package tenantvet

import (
	"fmt"
	"go/ast"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// RawSQLAnalyzer reports raw SQL on a bun handle that reads or writes a
// tenant table without a tenant predicate, and raw SQL whose text is not a
// constant.
var RawSQLAnalyzer = &analysis.Analyzer{
	Name: "rawsql",
	Doc: "report raw SQL on bun handles (NewRaw, ExecContext, QueryContext, QueryRowContext, TableExpr, ModelTableExpr, ColumnExpr) " +
		"that names a tenant table without a tenant predicate, or whose text is not a constant",
	URL:      "https://github.com/tenantshield/tenantshield-go/tree/main/tenantvet",
	Run:      runRawSQL,
	Requires: []*analysis.Analyzer{TenantOwnedAnalyzer},
}

// rawTextArg returns the index of the SQL text argument of a call of the
// method name on a receiver of type recv, or -1 when the call is not raw
// SQL on a bun handle.
func rawTextArg(name string, recv types.Type, fn *types.Func) int {
	handle := isBunType(recv, "DB", "Tx", "Conn", "IDB")
	switch name {
	case "NewRaw", "Exec", "Query", "QueryRow":
		if handle {
			return 0
		}
	case "ExecContext", "QueryContext", "QueryRowContext":
		if handle {
			return 1
		}
	case "TableExpr", "ModelTableExpr", "ColumnExpr":
		if fn != nil && fn.Pkg() != nil && fn.Pkg().Path() == bunPath {
			return 0
		}
	}
	return -1
}

const rawFix = "use a model query (bunhook scopes it), write the tenant predicate, " +
	"or run it under scope.WithBypass(ctx, \"reason\")"

func runRawSQL(pass *analysis.Pass) (any, error) {
	tables := pass.ResultOf[TenantOwnedAnalyzer].(*Tables)
	r := newReporter(pass, "rawsql")
	var parents map[ast.Node]ast.Node
	var bypass map[types.Object]bool
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, recv, ok := methodCall(pass.TypesInfo, call)
			if !ok {
				return true
			}
			fn, _ := pass.TypesInfo.Uses[sel.Sel].(*types.Func)
			i := rawTextArg(sel.Sel.Name, recv, fn)
			if i < 0 || i >= len(call.Args) {
				return true
			}
			if parents == nil {
				parents, bypass = parentMap(pass), bypassVars(pass)
			}
			if runsUnderBypass(pass.TypesInfo, chainCalls(call, parents), bypass) {
				return true
			}
			text, ok := constString(pass.TypesInfo, call.Args[i])
			if !ok {
				r.report(sel.Sel, fmt.Sprintf("the SQL text of %s is not a constant, so it cannot be checked for tenant tables; %s",
					sel.Sel.Name, rawFix))
				return true
			}
			candidates := tables.All()
			if sel.Sel.Name == "ModelTableExpr" {
				// It renames the model's own table, which the model hooks
				// scope; other tables it names are still checked.
				candidates = withoutTable(candidates, chainModel(pass.TypesInfo, tables, chainCalls(call, parents)))
			}
			predicates := text
			if name := sel.Sel.Name; name == "TableExpr" || name == "ModelTableExpr" || name == "ColumnExpr" {
				// A query builder: the predicate may be in another clause
				// of the chain, e.g. TableExpr("invoices AS i").Where("i.tenant_id = ?", t).
				predicates = chainText(pass.TypesInfo, chainCalls(call, parents))
			}
			if tt := unscopedTable(text, predicates, candidates); tt != nil {
				r.report(sel.Sel, fmt.Sprintf("%s names tenant table %s without a %s = predicate; %s",
					sel.Sel.Name, tt.Table, tt.Column, rawFix))
			}
			return true
		})
	}
	return nil, nil
}

// runsUnderBypass reports whether a call of the chain takes, as its
// context argument, a variable that holds a scope.WithBypass context.
func runsUnderBypass(info *types.Info, chain []*ast.CallExpr, bypass map[types.Object]bool) bool {
	for _, c := range chain {
		for _, a := range c.Args {
			id, ok := ast.Unparen(a).(*ast.Ident)
			if !ok || !isContext(info.TypeOf(id)) {
				continue
			}
			if bypass[info.ObjectOf(id)] {
				return true
			}
		}
	}
	return false
}

// unscopedTable returns the first tenant table that text names without a
// predicate on its tenant column (the column followed by "=") in
// predicates, or nil. The check is textual: a word match of the table name
// (without schema) and of the column.
func unscopedTable(text, predicates string, tables []*TenantTable) *TenantTable {
	lower, preds := strings.ToLower(text), strings.ToLower(predicates)
	for _, tt := range tables {
		name := strings.ToLower(tt.Table)
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[i+1:]
		}
		if !containsWord(lower, name, nil) {
			continue
		}
		if !containsWord(preds, strings.ToLower(tt.Column), isEqualsNext) {
			return tt
		}
	}
	return nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// containsWord reports whether s contains word with no identifier
// character on either side, and, if after is not nil, after(rest) holds
// for the text following it.
func containsWord(s, word string, after func(rest string) bool) bool {
	if word == "" {
		return false
	}
	for off := 0; ; {
		i := strings.Index(s[off:], word)
		if i < 0 {
			return false
		}
		start, end := off+i, off+i+len(word)
		off = start + 1
		if start > 0 && isIdentByte(s[start-1]) || end < len(s) && isIdentByte(s[end]) {
			continue
		}
		if after == nil || after(s[end:]) {
			return true
		}
	}
}

// isEqualsNext reports whether rest starts, after a closing quote and
// blanks, with "=" (and not "=>" or "==").
func isEqualsNext(rest string) bool {
	rest = strings.TrimLeft(rest, "\"`]")
	rest = strings.TrimLeft(rest, " \t\r\n")
	return strings.HasPrefix(rest, "=") && !strings.HasPrefix(rest, "==") && !strings.HasPrefix(rest, "=>")
}

func withoutTable(all []*TenantTable, t *TenantTable) []*TenantTable {
	if t == nil {
		return all
	}
	var out []*TenantTable
	for _, tt := range all {
		if tt.Table != t.Table {
			out = append(out, tt)
		}
	}
	return out
}

// chainClauses are the query-builder methods whose constant first argument
// may hold a tenant predicate.
var chainClauses = map[string]bool{
	"Where": true, "Join": true, "JoinOn": true, "TableExpr": true, "ModelTableExpr": true, "ColumnExpr": true,
}

// chainText joins the constant SQL texts of the clauses of a query chain.
func chainText(info *types.Info, chain []*ast.CallExpr) string {
	var b strings.Builder
	for _, c := range chain {
		sel, ok := ast.Unparen(c.Fun).(*ast.SelectorExpr)
		if !ok || !chainClauses[sel.Sel.Name] || len(c.Args) == 0 {
			continue
		}
		if s, ok := constString(info, c.Args[0]); ok {
			b.WriteString(s)
			b.WriteString("\n")
		}
	}
	return b.String()
}
