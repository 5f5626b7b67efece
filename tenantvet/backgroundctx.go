package tenantvet

import (
	"fmt"
	"go/ast"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// BackgroundCtxAnalyzer reports bun queries on tenant-owned models run with
// context.Background() or context.TODO() as their context argument.
var BackgroundCtxAnalyzer = &analysis.Analyzer{
	Name: "backgroundctx",
	Doc: "report bun queries on tenant-owned models executed with context.Background() or context.TODO(), " +
		"which carry no tenant and fail at run time with scope.ErrNoTenant",
	URL:      "https://github.com/tenantshield/tenantshield-go/tree/main/tenantvet",
	Run:      runBackgroundCtx,
	Requires: []*analysis.Analyzer{TenantOwnedAnalyzer},
}

// executors are the methods of bun's query types that run the query and
// take the context as first argument.
var executors = map[string]bool{
	"Scan": true, "Exec": true, "Count": true, "ScanAndCount": true, "Exists": true, "Rows": true,
}

func runBackgroundCtx(pass *analysis.Pass) (any, error) {
	tables := pass.ResultOf[TenantOwnedAnalyzer].(*Tables)
	r := newReporter(pass, "backgroundctx")
	var parents map[ast.Node]ast.Node
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, recv, ok := methodCall(pass.TypesInfo, call)
			if !ok || !executors[sel.Sel.Name] || !isBunQuery(recv) {
				return true
			}
			bg, ok := isBackgroundCall(pass.TypesInfo, call.Args[0])
			if !ok {
				return true
			}
			if parents == nil {
				parents = parentMap(pass)
			}
			chain := chainCalls(call, parents)
			tt := chainModel(pass.TypesInfo, tables, chain)
			if tt == nil && sel.Sel.Name == "Scan" {
				// Without Model, bun takes the destination as the model.
				for _, a := range call.Args[1:] {
					if tt = tables.ForType(pass.TypesInfo.TypeOf(a)); tt != nil {
						break
					}
				}
			}
			if tt == nil {
				return true
			}
			r.report(bg, fmt.Sprintf("%s on tenant table %s runs with %s, which carries no tenant: it fails at run time "+
				"with scope.ErrNoTenant; pass the request's context, or bind a tenant with scope.Run", sel.Sel.Name, tt.Table, freshName(bg)))
			return true
		})
	}
	return nil, nil
}

// freshName spells the call of context.Background or context.TODO that bg
// is, for a message.
func freshName(bg *ast.CallExpr) string {
	if s, ok := ast.Unparen(bg.Fun).(*ast.SelectorExpr); ok && s.Sel.Name == "TODO" {
		return "context.TODO()"
	}
	return "context.Background()"
}

// isBunQuery reports whether t is a pointer to one of bun's query types.
func isBunQuery(t types.Type) bool {
	p, ok := types.Unalias(t).(*types.Pointer)
	if !ok {
		return false
	}
	n, ok := types.Unalias(p.Elem()).(*types.Named)
	if !ok {
		return false
	}
	obj := n.Obj()
	return obj.Pkg() != nil && obj.Pkg().Path() == bunPath && strings.HasSuffix(obj.Name(), "Query")
}

// chainModel returns the tenant table the query chain works on: the
// tenant-owned type given to Model, or a tenant table named by a constant
// Table argument; nil if there is none.
func chainModel(info *types.Info, tables *Tables, chain []*ast.CallExpr) *TenantTable {
	for _, c := range chain {
		sel, recv, ok := methodCall(info, c)
		if !ok || !isBunQuery(recv) || len(c.Args) == 0 {
			continue
		}
		switch sel.Sel.Name {
		case "Model":
			if tt := tables.ForType(info.TypeOf(c.Args[0])); tt != nil {
				return tt
			}
		case "Table":
			for _, a := range c.Args {
				s, ok := constString(info, a)
				if !ok {
					continue
				}
				for _, tt := range tables.All() {
					if strings.EqualFold(tt.Table, s) {
						return tt
					}
				}
			}
		}
	}
	return nil
}
