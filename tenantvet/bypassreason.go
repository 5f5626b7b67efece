package tenantvet

import (
	"go/ast"

	"golang.org/x/tools/go/analysis"
)

// BypassReasonAnalyzer reports scope.WithBypass calls whose reason is not a
// constant string. With -bypassreason.manifest=FILE it also appends every
// scope.WithBypass site to FILE, the bypass manifest: given to
// scope.SetBypassSites at run time, it makes a bypass declared anywhere else
// (code added since the manifest was made) an audited report.
var BypassReasonAnalyzer = &analysis.Analyzer{
	Name: "bypassreason",
	Doc:  "report scope.WithBypass calls whose reason is not a constant string (the audit trail should be greppable)",
	URL:  "https://github.com/tenantshield/tenantshield-go/tree/main/tenantvet",
	Run:  runBypassReason,
}

func runBypassReason(pass *analysis.Pass) (any, error) {
	r := newReporter(pass, "bypassreason")
	var sites []string
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 || !calleeIn(pass.TypesInfo, call, scopePath, "WithBypass") {
				return true
			}
			s, ok := constString(pass.TypesInfo, call.Args[1])
			sites = append(sites, manifestLine(pass, call, s))
			if ok && s != "" {
				return true
			}
			r.report(call.Args[1], "the reason given to scope.WithBypass is not a constant string: "+
				"use a constant reason so the audit trail is greppable (put variable details in the audit attributes or a log line)")
			return true
		})
	}
	return nil, appendManifest(sites)
}
