package tenantvet

import (
	"fmt"
	"go/ast"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// manifestPath is bypassreason's -manifest flag: the file every
// scope.WithBypass site is appended to.
var manifestPath string

func init() {
	BypassReasonAnalyzer.Flags.StringVar(&manifestPath, "manifest", "",
		"append every scope.WithBypass site (package, file, line, reason) to this file: the bypass manifest that "+
			"scope.ParseBypassSites reads, so that a bypass from a site it does not list is reported at run time")
}

// manifestLine is one bypass site as scope.ParseBypassSites reads it:
// package, file name, line and quoted reason, separated by tabs. The
// package is "main" for a command, as the runtime names it; the line is
// the line of the call's parenthesis, which is the line the runtime
// reports for the call.
func manifestLine(pass *analysis.Pass, call *ast.CallExpr, reason string) string {
	pkg := pass.Pkg.Path()
	if pass.Pkg.Name() == "main" {
		pkg = "main"
	}
	pos := pass.Fset.Position(call.Lparen)
	return fmt.Sprintf("%s\t%s\t%d\t%s\n", pkg, filepath.Base(pos.Filename), pos.Line, strconv.Quote(reason))
}

// appendManifest appends the package's sites to the manifest in one write
// (go vet runs one process per package; O_APPEND keeps their lines whole).
func appendManifest(lines []string) error {
	if manifestPath == "" || len(lines) == 0 {
		return nil
	}
	f, err := os.OpenFile(manifestPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("bypassreason: the bypass manifest: %w", err)
	}
	_, werr := f.WriteString(strings.Join(lines, ""))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("bypassreason: writing the bypass manifest %s: %w", manifestPath, werr)
	}
	return nil
}
