package tenantvet

import (
	"fmt"
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/types/typeutil"
)

// JobCtxAnalyzer reports River job enqueues that drop the tenant context:
// a call of Insert, InsertTx, InsertMany, InsertManyTx, InsertManyFast or
// InsertManyFastTx on a *river.Client whose context is
// context.Background() or context.TODO(). scope/scoperiver takes the job's
// tenant from that context, so such an insert fails at run time with
// scope.ErrNoTenant (or, without scoperiver, enqueues a job that runs for
// no tenant). A single insert whose arguments implement
// scoperiver.MaintenanceArgs (a MaintenanceReason() string method) is
// enqueued without a tenant on purpose and is not reported.
var JobCtxAnalyzer = &analysis.Analyzer{
	Name: "jobctx",
	Doc: "report River job inserts made with context.Background() or context.TODO(): " +
		"the job's tenant is taken from the context",
	URL: "https://github.com/tenantshield/tenantshield-go/tree/main/tenantvet",
	Run: runJobCtx,
}

// riverPath is River's import path.
const riverPath = "github.com/riverqueue/river"

// jobInserts are the methods of river.Client that enqueue jobs, and
// whether they take the job's arguments as their second (after ctx) or
// third (after ctx and the transaction) parameter; -1 for the batch forms.
var jobInserts = map[string]int{
	"Insert": 1, "InsertTx": 2,
	"InsertMany": -1, "InsertManyTx": -1, "InsertManyFast": -1, "InsertManyFastTx": -1,
}

const jobMsg = "job enqueued with %s: scoperiver takes the job's tenant from the context, so this insert " +
	"fails with scope.ErrNoTenant; pass the caller's context (scope.Detach(ctx) when the request may end first), " +
	"or give a job that spans tenants arguments implementing scoperiver.MaintenanceArgs"

func runJobCtx(pass *analysis.Pass) (any, error) {
	r := newReporter(pass, "jobctx")
	info := pass.TypesInfo
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			argIdx, ok := riverInsert(info, call)
			if !ok {
				return true
			}
			bg, ok := isBackgroundCall(info, call.Args[0])
			if !ok {
				return true
			}
			if argIdx > 0 && argIdx < len(call.Args) && isMaintenance(info.TypeOf(call.Args[argIdx])) {
				return true
			}
			r.report(bg, fmt.Sprintf(jobMsg, freshName(bg)))
			return true
		})
	}
	return nil, nil
}

// riverInsert reports whether call enqueues jobs on a River client, and the
// index of its job arguments (-1 for a batch).
func riverInsert(info *types.Info, call *ast.CallExpr) (int, bool) {
	fn, ok := typeutil.Callee(info, call).(*types.Func)
	if !ok || fn.Pkg() == nil || fn.Pkg().Path() != riverPath {
		return 0, false
	}
	idx, ok := jobInserts[fn.Name()]
	if !ok {
		return 0, false
	}
	sig, ok := fn.Type().(*types.Signature)
	if !ok || sig.Recv() == nil {
		return 0, false
	}
	recv := sig.Recv().Type()
	if p, ok := types.Unalias(recv).(*types.Pointer); ok {
		recv = p.Elem()
	}
	named, ok := types.Unalias(recv).(*types.Named)
	if !ok || named.Obj().Name() != "Client" {
		return 0, false
	}
	return idx, true
}

// isMaintenance reports whether t has a MaintenanceReason() string method
// (scoperiver.MaintenanceArgs).
func isMaintenance(t types.Type) bool {
	if t == nil {
		return false
	}
	obj, _, _ := types.LookupFieldOrMethod(t, true, nil, "MaintenanceReason")
	m, ok := obj.(*types.Func)
	if !ok {
		return false
	}
	sig, ok := m.Type().(*types.Signature)
	return ok && sig.Params().Len() == 0 && sig.Results().Len() == 1 &&
		types.Identical(sig.Results().At(0).Type(), types.Typ[types.String])
}
