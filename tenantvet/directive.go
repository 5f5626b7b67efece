package tenantvet

import (
	"go/ast"
	"go/token"
	"slices"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// directivePrefix starts a comment that silences one check on its own line
// and the next: //tenantshield:ignore <check> <reason>.
const directivePrefix = "//tenantshield:ignore"

// checkNames are the checks a directive may name.
var checkNames = []string{"rawsql", "bypassreason", "backgroundctx", "detachedctx", "jobctx"}

// directive is one //tenantshield:ignore comment.
type directive struct {
	pos    token.Pos
	file   string
	line   int
	check  string
	reason string
}

// parseDirectives returns the directives of the package's files.
func parseDirectives(pass *analysis.Pass) []directive {
	var out []directive
	for _, f := range pass.Files {
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				rest, ok := strings.CutPrefix(c.Text, directivePrefix)
				if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
					continue
				}
				// A reason ends where another comment starts.
				rest, _, _ = strings.Cut(rest, "//")
				fields := strings.Fields(rest)
				d := directive{pos: c.Pos()}
				p := pass.Fset.Position(c.Pos())
				d.file, d.line = p.Filename, p.Line
				if len(fields) > 0 {
					d.check = fields[0]
					d.reason = strings.Join(fields[1:], " ")
				}
				out = append(out, d)
			}
		}
	}
	return out
}

// reporter reports the diagnostics of one check, except where a valid
// directive for the check silences them.
type reporter struct {
	pass   *analysis.Pass
	check  string
	silent map[string]map[int]bool // file -> lines silenced
}

func newReporter(pass *analysis.Pass, check string) *reporter {
	r := &reporter{pass: pass, check: check, silent: map[string]map[int]bool{}}
	for _, d := range parseDirectives(pass) {
		if d.check != check || d.reason == "" {
			continue
		}
		lines := r.silent[d.file]
		if lines == nil {
			lines = map[int]bool{}
			r.silent[d.file] = lines
		}
		lines[d.line] = true
		lines[d.line+1] = true
	}
	return r
}

// report reports msg at node unless a directive silences the check there.
func (r *reporter) report(node ast.Node, msg string) {
	p := r.pass.Fset.Position(node.Pos())
	if r.silent[p.Filename][p.Line] {
		return
	}
	r.pass.Report(analysis.Diagnostic{Pos: node.Pos(), End: node.End(), Category: r.check, Message: r.check + ": " + msg})
}

// DirectiveAnalyzer reports malformed //tenantshield:ignore directives: a
// directive must name a check and give a reason (a directive without one
// silences nothing).
var DirectiveAnalyzer = &analysis.Analyzer{
	Name: "tenantignore",
	Doc:  "report //tenantshield:ignore directives that name no known check or give no reason",
	URL:  "https://github.com/tenantshield/tenantshield-go/tree/main/tenantvet",
	Run:  runDirectives,
}

func runDirectives(pass *analysis.Pass) (any, error) {
	known := strings.Join(checkNames, ", ")
	for _, d := range parseDirectives(pass) {
		switch {
		case d.check == "":
			pass.Reportf(d.pos, "tenantignore: %s needs a check (%s) and a reason", directivePrefix, known)
		case !slices.Contains(checkNames, d.check):
			pass.Reportf(d.pos, "tenantignore: %s names unknown check %q (known: %s)", directivePrefix, d.check, known)
		case d.reason == "":
			pass.Reportf(d.pos, "tenantignore: %s %s needs a reason after the check name; without one it silences nothing", directivePrefix, d.check)
		}
	}
	return nil, nil
}
