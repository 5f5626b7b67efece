package tenantvet

import (
	"go/ast"
	"go/constant"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/types/typeutil"
)

// calleeIn reports whether call calls the function or method pkgPath.name
// (for a method, name is the method's name whatever its receiver).
func calleeIn(info *types.Info, call *ast.CallExpr, pkgPath string, names ...string) bool {
	fn, ok := typeutil.Callee(info, call).(*types.Func)
	if !ok || fn.Pkg() == nil || fn.Pkg().Path() != pkgPath {
		return false
	}
	for _, n := range names {
		if fn.Name() == n {
			return true
		}
	}
	return false
}

// constString returns the value of e when it is a constant string.
func constString(info *types.Info, e ast.Expr) (string, bool) {
	tv, ok := info.Types[e]
	if !ok || tv.Value == nil || tv.Value.Kind() != constant.String {
		return "", false
	}
	return constant.StringVal(tv.Value), true
}

// methodCall returns the selector of call when it calls a method, and the
// type of the receiver expression.
func methodCall(info *types.Info, call *ast.CallExpr) (*ast.SelectorExpr, types.Type, bool) {
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok {
		return nil, nil, false
	}
	s, ok := info.Selections[sel]
	if !ok || s.Kind() != types.MethodVal {
		return nil, nil, false
	}
	return sel, s.Recv(), true
}

// isBunType reports whether t, or the type t points to, is one of the
// named types of package bun.
func isBunType(t types.Type, names ...string) bool {
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	for _, n := range names {
		if isNamed(t, bunPath, n) {
			return true
		}
	}
	return false
}

// isBackgroundCall reports whether e is a call of context.Background or
// context.TODO.
func isBackgroundCall(info *types.Info, e ast.Expr) (*ast.CallExpr, bool) {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok || len(call.Args) != 0 {
		return nil, false
	}
	return call, calleeIn(info, call, "context", "Background", "TODO")
}

// bypassVars returns the local variables of the package that are only ever
// assigned the context returned by scope.WithBypass (not parameters, which
// hold the caller's context until such an assignment).
func bypassVars(pass *analysis.Pass) map[types.Object]bool {
	fromBypass := map[types.Object]bool{}
	other := map[types.Object]bool{}
	mark := func(lhs ast.Expr, bypass bool) {
		id, ok := ast.Unparen(lhs).(*ast.Ident)
		if !ok {
			return
		}
		obj := pass.TypesInfo.ObjectOf(id)
		if obj == nil {
			return
		}
		if bypass {
			fromBypass[obj] = true
		} else {
			other[obj] = true
		}
	}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				if len(n.Rhs) == 1 && len(n.Lhs) == 2 {
					call, ok := ast.Unparen(n.Rhs[0]).(*ast.CallExpr)
					isBypass := ok && calleeIn(pass.TypesInfo, call, scopePath, "WithBypass")
					mark(n.Lhs[0], isBypass)
					return true
				}
				for _, l := range n.Lhs {
					mark(l, false)
				}
			case *ast.FuncType:
				// A parameter holds whatever the caller passed, also
				// before a later assignment from WithBypass.
				for _, fl := range []*ast.FieldList{n.Params, n.Results} {
					if fl == nil {
						continue
					}
					for _, field := range fl.List {
						for _, id := range field.Names {
							mark(id, false)
						}
					}
				}
			case *ast.ValueSpec:
				for _, id := range n.Names {
					if len(n.Values) > 0 {
						mark(id, false)
					}
				}
			}
			return true
		})
	}
	for obj := range other {
		delete(fromBypass, obj)
	}
	return fromBypass
}

// chainCalls returns the method calls of the chain that call belongs to,
// from the innermost (the call itself, or the start of its receiver chain)
// outwards: in db.NewSelect().Model(m).Scan(ctx), starting from any of the
// three calls, [NewSelect, Model, Scan]. parents maps a node to its parent.
func chainCalls(call *ast.CallExpr, parents map[ast.Node]ast.Node) []*ast.CallExpr {
	// Go out to the outermost call whose receiver is the chain so far.
	top := call
	for {
		sel, ok := parents[top].(*ast.SelectorExpr)
		if !ok {
			break
		}
		outer, ok := parents[sel].(*ast.CallExpr)
		if !ok || outer.Fun != sel {
			break
		}
		top = outer
	}
	// Collect inwards along receivers.
	var out []*ast.CallExpr
	for c := top; c != nil; {
		out = append(out, c)
		sel, ok := ast.Unparen(c.Fun).(*ast.SelectorExpr)
		if !ok {
			break
		}
		c, _ = ast.Unparen(sel.X).(*ast.CallExpr)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// parentMap returns the parent of every node of the package's files.
func parentMap(pass *analysis.Pass) map[ast.Node]ast.Node {
	parents := map[ast.Node]ast.Node{}
	for _, f := range pass.Files {
		var stack []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			if len(stack) > 0 {
				parents[n] = stack[len(stack)-1]
			}
			stack = append(stack, n)
			return true
		})
	}
	return parents
}

// isContext reports whether t is context.Context.
func isContext(t types.Type) bool { return isNamed(t, "context", "Context") }
