package tenantvet_test

import (
	"testing"

	"github.com/tenantshield/tenantshield-go/tenantvet"
	"golang.org/x/tools/go/analysis/analysistest"
)

// The testdata packages import stand-ins of bun, bunhook and scope
// (testdata/src/github.com/...): the analyzers know those packages by import
// path only.

func TestTenantOwned(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), tenantvet.TenantOwnedAnalyzer, "models")
}

func TestRawSQL(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), tenantvet.RawSQLAnalyzer, "rawsql")
}

func TestBypassReason(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), tenantvet.BypassReasonAnalyzer, "bypassreason")
}

func TestBackgroundCtx(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), tenantvet.BackgroundCtxAnalyzer, "backgroundctx")
}

func TestDirectives(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), tenantvet.DirectiveAnalyzer, "directives")
}

func TestDetachedCtx(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), tenantvet.DetachedCtxAnalyzer, "detachedctx")
}

func TestJobCtx(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), tenantvet.JobCtxAnalyzer, "jobctx")
}
