package tenantvet

import "golang.org/x/tools/go/analysis"

// Analyzers returns the analyzers of tenantshieldvet: the fact producer
// tenantowned, the checks rawsql, bypassreason, backgroundctx, detachedctx
// and jobctx, and tenantignore, which reports malformed ignore directives.
func Analyzers() []*analysis.Analyzer {
	return []*analysis.Analyzer{
		TenantOwnedAnalyzer,
		RawSQLAnalyzer,
		BypassReasonAnalyzer,
		BackgroundCtxAnalyzer,
		DetachedCtxAnalyzer,
		JobCtxAnalyzer,
		DirectiveAnalyzer,
	}
}
