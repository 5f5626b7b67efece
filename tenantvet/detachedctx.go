package tenantvet

import (
	"fmt"
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
)

// DetachedCtxAnalyzer reports goroutines that drop the tenant context: a go
// statement, in a function that has a context (a context.Context or an
// *http.Request parameter, its own or an enclosing function's), that passes
// context.Background() or context.TODO() to the function it starts, or
// whose function literal makes a fresh context that way. The goroutine then
// runs without the tenant bound in the caller's context: its queries fail
// with scope.ErrNoTenant, or run unscoped under a bypass it makes itself.
//
// A fresh context given to scope.Run, Bind, NewContext or WithBypass is not
// reported (the goroutine binds a tenant or a bypass explicitly), nor one
// given to a bun query (backgroundctx reports those on tenant tables).
var DetachedCtxAnalyzer = &analysis.Analyzer{
	Name: "detachedctx",
	Doc: "report goroutines started with context.Background() or context.TODO() where the enclosing function " +
		"has a context: they drop the tenant bound in it",
	URL: "https://github.com/tenantshield/tenantshield-go/tree/main/tenantvet",
	Run: runDetachedCtx,
}

// binders take a fresh context and bind a tenant or a bypass to it.
var binders = []string{"Run", "Bind", "NewContext", "WithBypass"}

const detachedMsg = "goroutine started with %s while the enclosing function has a context: it drops the tenant bound " +
	"there; pass that context (context.WithoutCancel(ctx) to outlive the request), or bind the tenant inside " +
	"with scope.Run"

func runDetachedCtx(pass *analysis.Pass) (any, error) {
	r := newReporter(pass, "detachedctx")
	info := pass.TypesInfo
	var walk func(n ast.Node, hasCtx bool)
	walk = func(n ast.Node, hasCtx bool) {
		ast.Inspect(n, func(m ast.Node) bool {
			switch x := m.(type) {
			case *ast.FuncDecl:
				if x.Body != nil {
					walk(x.Body, contextParam(info, x.Type))
				}
				return false
			case *ast.FuncLit:
				walk(x.Body, hasCtx || contextParam(info, x.Type))
				return false
			case *ast.GoStmt:
				if hasCtx {
					reportDetached(info, r, x)
				}
			}
			return true
		})
	}
	for _, f := range pass.Files {
		walk(f, false)
	}
	return nil, nil
}

// contextParam reports whether the function type has a context.Context or
// *http.Request parameter.
func contextParam(info *types.Info, ft *ast.FuncType) bool {
	if ft.Params == nil {
		return false
	}
	for _, p := range ft.Params.List {
		t := info.TypeOf(p.Type)
		if t == nil {
			continue
		}
		if isContext(t) {
			return true
		}
		if ptr, ok := types.Unalias(t).(*types.Pointer); ok && isNamed(ptr.Elem(), "net/http", "Request") {
			return true
		}
	}
	return false
}

// reportDetached reports the fresh contexts of one go statement: arguments
// of the call it starts, and, when it starts a function literal, those the
// literal makes (but not those of go statements nested in it, which are
// reported on their own).
func reportDetached(info *types.Info, r *reporter, g *ast.GoStmt) {
	for _, a := range g.Call.Args {
		if bg, ok := isBackgroundCall(info, a); ok {
			r.report(bg, sprintfDetached(bg))
		}
	}
	lit, ok := ast.Unparen(g.Call.Fun).(*ast.FuncLit)
	if !ok {
		return
	}
	excused := map[*ast.CallExpr]bool{}
	var fresh []*ast.CallExpr
	ast.Inspect(lit.Body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.GoStmt:
			return false
		case *ast.CallExpr:
			if bg, ok := isBackgroundCall(info, x); ok {
				fresh = append(fresh, bg)
				return false
			}
			if len(x.Args) > 0 && (calleeIn(info, x, scopePath, binders...) || bunExecutor(info, x)) {
				if bg, ok := isBackgroundCall(info, x.Args[0]); ok {
					excused[bg] = true
				}
			}
		}
		return true
	})
	for _, bg := range fresh {
		if !excused[bg] {
			r.report(bg, sprintfDetached(bg))
		}
	}
}

// bunExecutor reports a call of a method of bun's query types that runs
// the query (its first argument is the context).
func bunExecutor(info *types.Info, call *ast.CallExpr) bool {
	sel, recv, ok := methodCall(info, call)
	return ok && executors[sel.Sel.Name] && isBunQuery(recv)
}

func sprintfDetached(bg *ast.CallExpr) string { return fmt.Sprintf(detachedMsg, freshName(bg)) }
