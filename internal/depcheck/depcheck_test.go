package depcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// modulePath is the module whose layering this package enforces.
const modulePath = "github.com/tenantshield/tenantshield-go"

// otelSDK is the root of the OpenTelemetry SDK packages.
const otelSDK = "go.opentelemetry.io/otel/sdk"

// importGraph maps an import path to the packages it imports directly
// (non-test imports only).
type importGraph map[string][]string

// violation is one broken rule: Pkg, a package of the module, depends on
// Dep, which the rule forbids, along the shortest import chain Chain
// (Chain[0] == Pkg, Chain[len(Chain)-1] == Dep).
type violation struct {
	Rule  string
	Pkg   string
	Dep   string
	Chain []string
	Why   string
}

func (v violation) String() string {
	s := fmt.Sprintf("%s: %s depends on %s", v.Rule, v.Pkg, v.Dep)
	if len(v.Chain) > 2 {
		s += " (via " + strings.Join(v.Chain[1:len(v.Chain)-1], " -> ") + ")"
	}
	return s + ": " + v.Why
}

// layerRule is one dependency rule. appliesTo and forbids receive import
// paths relative to the module (rel) and full import paths (pkg, dep).
type layerRule struct {
	name      string
	why       string
	appliesTo func(rel string) bool
	// forbids reports whether dep may not be a (transitive) dependency of
	// the package rel. depRel is dep relative to the module and inModule
	// tells whether dep belongs to the module at all.
	forbids func(rel, dep, depRel string, inModule bool) bool
}

// inTree reports whether rel is dir or lies below it.
func inTree(rel, dir string) bool {
	return rel == dir || strings.HasPrefix(rel, dir+"/")
}

// relTo returns p relative to module and whether p belongs to the module.
// The module's root package is "".
func relTo(module, p string) (string, bool) {
	if p == module {
		return "", true
	}
	if rest, ok := strings.CutPrefix(p, module+"/"); ok {
		return rest, true
	}
	return "", false
}

// sdkOptIn reports whether a package may depend on the OpenTelemetry SDK:
// its last path element ends in "otlp" or "test".
func sdkOptIn(rel string) bool {
	last := path.Base(rel)
	return strings.HasSuffix(last, "otlp") || strings.HasSuffix(last, "test")
}

func isOtelSDK(p string) bool {
	return p == otelSDK || strings.HasPrefix(p, otelSDK+"/")
}

// xTools is the module of the go/analysis framework.
const xTools = "golang.org/x/tools"

// grpcDeps are the roots of gRPC and its OpenTelemetry instrumentation.
var grpcDeps = []string{"google.golang.org/grpc", "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc"}

// grpcDoor is the package that may bring gRPC into the library.
const grpcDoor = "scope/scopegrpc"

// telemetryPkg is the leaf that names the module's version, scope names and
// attribute keys; every package may import it and it imports nothing of the
// module.
const telemetryPkg = "internal/telemetry"

// riverRoot is the prefix of River's modules (the job queue and its
// drivers and contrib packages).
const riverRoot = "github.com/riverqueue/"

// riverDoor is the only library package that may depend on River.
const riverDoor = "scope/scoperiver"

// bunhookInternal is the directory of bunhook's building blocks (the SQL
// verifier, the driver layer, access to bun internals). Each is a leaf
// below bunhook: it imports nothing of the module but telemetryPkg, so that
// bunhook's pipeline is the only place where they meet.
const bunhookInternal = "bunhook/internal"

// rules returns the module's dependency rules.
func rules() []layerRule {
	// allowOnly forbids every package of the module outside the given trees
	// (and telemetryPkg, which everyone may use).
	allowOnly := func(trees ...string) func(string, string, string, bool) bool {
		return func(_, _, depRel string, inModule bool) bool {
			if !inModule || depRel == telemetryPkg {
				return false
			}
			for _, t := range trees {
				if inTree(depRel, t) {
					return false
				}
			}
			return true
		}
	}
	return []layerRule{
		{
			name:      "telemetry-leaf",
			why:       "internal/telemetry is the bottom leaf and must not import other packages of this module",
			appliesTo: func(rel string) bool { return rel == telemetryPkg },
			forbids:   func(_, _, depRel string, inModule bool) bool { return inModule && depRel != telemetryPkg },
		},
		{
			name:      "auditlog-layer",
			why:       "auditlog and its subpackages must not import other packages of this module (but internal/telemetry)",
			appliesTo: func(rel string) bool { return inTree(rel, "auditlog") },
			forbids:   allowOnly("auditlog"),
		},
		{
			name:      "otelobs-layer",
			why:       "otelobs and its subpackages must not import other packages of this module (but internal/telemetry)",
			appliesTo: func(rel string) bool { return inTree(rel, "otelobs") },
			forbids:   allowOnly("otelobs"),
		},
		{
			name:      "scope-layer",
			why:       "scope may only import auditlog and otelobs from this module",
			appliesTo: func(rel string) bool { return inTree(rel, "scope") },
			forbids:   allowOnly("scope", "auditlog", "otelobs"),
		},
		{
			name: "bunhook-internal-leaf",
			why:  "a package under bunhook/internal is a building block of bunhook's pipeline and must not import other packages of this module (but internal/telemetry)",
			appliesTo: func(rel string) bool {
				return inTree(rel, bunhookInternal) && rel != bunhookInternal
			},
			forbids: func(rel, _, depRel string, inModule bool) bool {
				return allowOnly(rel)("", "", depRel, inModule)
			},
		},
		{
			name:      "examples-leaf",
			why:       "nothing outside examples/ may import examples",
			appliesTo: func(rel string) bool { return !inTree(rel, "examples") },
			forbids: func(_, _, depRel string, inModule bool) bool {
				return inModule && inTree(depRel, "examples")
			},
		},
		{
			name:      "tenantvet-leaf",
			why:       "tenantvet knows bun, bunhook and scope by import path only and must not import packages of this module",
			appliesTo: func(rel string) bool { return inTree(rel, "tenantvet") },
			forbids:   allowOnly("tenantvet"),
		},
		{
			name: "analysis-tools-only",
			why:  "only tenantvet and cmd/tenantshieldvet may depend on tenantvet or golang.org/x/tools, so that the library does not build the analysis framework into users' binaries",
			appliesTo: func(rel string) bool {
				return !inTree(rel, "tenantvet") && !inTree(rel, "cmd/tenantshieldvet")
			},
			forbids: func(_, dep, depRel string, inModule bool) bool {
				return inModule && inTree(depRel, "tenantvet") || !inModule && inTree(dep, xTools)
			},
		},
		{
			name: "river-only-in-scoperiver",
			why:  "only scope/scoperiver (and examples) may depend on River, so that the core packages and users who do not run River do not build it",
			appliesTo: func(rel string) bool {
				return !inTree(rel, riverDoor) && !inTree(rel, "examples")
			},
			forbids: func(_, dep, _ string, inModule bool) bool {
				return !inModule && strings.HasPrefix(dep, riverRoot)
			},
		},
		{
			name: "grpc-door-only",
			why:  "only scope/scopegrpc (and the OTLP exporter wiring of *otlp packages, and examples) may depend on gRPC or otelgrpc; the core packages must not pull gRPC into users' binaries",
			appliesTo: func(rel string) bool {
				return !inTree(rel, "examples") && !inTree(rel, "internal/cmd") && !inTree(rel, grpcDoor) && !sdkOptIn(rel)
			},
			forbids: func(_, dep, _ string, inModule bool) bool {
				if inModule {
					return false
				}
				for _, g := range grpcDeps {
					if inTree(dep, g) {
						return true
					}
				}
				return false
			},
		},
		{
			name: "otel-sdk-opt-in",
			why:  "only packages whose name ends in otlp or test may depend on the OpenTelemetry SDK; use the otel API",
			appliesTo: func(rel string) bool {
				// Programs (examples, the module's own internal
				// commands) are leaves: they choose their SDK.
				return !inTree(rel, "examples") && !inTree(rel, "internal/cmd") && !sdkOptIn(rel)
			},
			forbids: func(_, dep, _ string, _ bool) bool { return isOtelSDK(dep) },
		},
	}
}

// check applies the module's rules to the packages pkgs of module, using g
// for their transitive dependencies. A rule reports each forbidden package
// reachable through allowed packages only, so a forbidden dependency is
// reported once at the edge where it enters, not again for everything it
// pulls in. The result is deterministic: in the order of pkgs, then rules,
// then breadth-first from each package.
func check(module string, pkgs []string, g importGraph) []violation {
	var out []violation
	for _, pkg := range pkgs {
		rel, ok := relTo(module, pkg)
		if !ok {
			continue
		}
		for _, r := range rules() {
			if !r.appliesTo(rel) {
				continue
			}
			out = append(out, walk(module, pkg, rel, g, r)...)
		}
	}
	return out
}

// walk searches breadth-first from pkg for dependencies forbidden by r,
// without going through them.
func walk(module, pkg, rel string, g importGraph, r layerRule) []violation {
	parent := map[string]string{pkg: ""}
	queue := []string{pkg}
	var out []violation
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		imports := slices.Clone(g[cur])
		slices.Sort(imports)
		for _, dep := range imports {
			if _, seen := parent[dep]; seen {
				continue
			}
			parent[dep] = cur
			depRel, inModule := relTo(module, dep)
			if r.forbids(rel, dep, depRel, inModule) {
				out = append(out, violation{
					Rule:  r.name,
					Pkg:   pkg,
					Dep:   dep,
					Chain: chain(parent, dep),
					Why:   r.why,
				})
				continue
			}
			queue = append(queue, dep)
		}
	}
	return out
}

func chain(parent map[string]string, dep string) []string {
	var c []string
	for p := dep; p != ""; p = parent[p] {
		c = append(c, p)
	}
	slices.Reverse(c)
	return c
}

// listedPackage is the part of `go list -json` output used here.
type listedPackage struct {
	ImportPath   string
	Imports      []string
	GoFiles      []string
	TestGoFiles  []string
	XTestGoFiles []string
	Module       *struct{ Path string }
	Error        *struct{ Err string }
}

// goCmd returns a go command run in dir, outside any go.work so that only
// dir's module counts.
func goCmd(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	return cmd
}

// loadGraph lists the packages of the module rooted at dir and all their
// dependencies. It returns the module path, the module's packages (sorted)
// and the import graph of everything listed.
func loadGraph(t *testing.T, dir string) (string, []string, importGraph, error) {
	t.Helper()
	modOut, err := goCmd(t, dir, "list", "-m").Output()
	if err != nil {
		return "", nil, nil, fmt.Errorf("go list -m: %w%s", err, stderrOf(err))
	}
	module := strings.TrimSpace(string(modOut))

	out, err := goCmd(t, dir, "list", "-e", "-deps",
		"-json=ImportPath,Imports,GoFiles,TestGoFiles,XTestGoFiles,Module,Error", "./...").Output()
	if err != nil {
		return "", nil, nil, fmt.Errorf("go list -deps ./...: %w%s", err, stderrOf(err))
	}
	g := importGraph{}
	var pkgs []string
	var loadErrs []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", nil, nil, fmt.Errorf("decoding go list output: %w", err)
		}
		g[p.ImportPath] = p.Imports
		inModule := p.Module != nil && p.Module.Path == module
		if p.Error != nil {
			// A directory with tests only has no importable package:
			// nothing depends on it and it depends on nothing.
			testOnly := inModule && len(p.GoFiles) == 0 && len(p.TestGoFiles)+len(p.XTestGoFiles) > 0
			if !testOnly {
				loadErrs = append(loadErrs, p.ImportPath+": "+p.Error.Err)
			}
			continue
		}
		if inModule {
			pkgs = append(pkgs, p.ImportPath)
		}
	}
	if len(loadErrs) > 0 {
		// An incomplete graph could hide a forbidden import.
		return "", nil, nil, fmt.Errorf("go list could not load every package:\n\t%s", strings.Join(loadErrs, "\n\t"))
	}
	slices.Sort(pkgs)
	return module, pkgs, g, nil
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return "\n" + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

func requireGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("go command not on PATH: %v", err)
	}
}

// TestModuleLayering checks the real import graph of this module.
func TestModuleLayering(t *testing.T) {
	requireGo(t)
	gomod, err := goCmd(t, ".", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v%s", err, stderrOf(err))
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))

	module, pkgs, g, err := loadGraph(t, root)
	if err != nil {
		t.Fatal(err)
	}
	if module != modulePath {
		t.Fatalf("module at %s is %q, want %q", root, module, modulePath)
	}
	self := modulePath + "/internal/depcheck"
	if !slices.Contains(pkgs, self) {
		t.Fatalf("go list ./... in %s did not list %s; got %v", root, self, pkgs)
	}
	t.Logf("checked %d packages: %s", len(pkgs), strings.Join(pkgs, " "))
	for _, v := range check(module, pkgs, g) {
		t.Error(v)
	}
}

// TestCheck runs the rules on synthetic import graphs.
func TestCheck(t *testing.T) {
	const m = modulePath
	// A graph that follows every rule; cases add edges to it.
	base := importGraph{
		m + "/auditlog":                                     {"context", "log/slog", "go.opentelemetry.io/otel/log"},
		m + "/auditlog/auditotlp":                           {m + "/auditlog", otelSDK + "/log"},
		m + "/auditlog/audittest":                           {m + "/auditlog", "testing", otelSDK + "/log/logtest"},
		m + "/otelobs":                                      {"go.opentelemetry.io/otel", "go.opentelemetry.io/otel/trace"},
		m + "/scope":                                        {m + "/auditlog", m + "/otelobs", "github.com/tenantshield/tenantshield-go-contrib/x"},
		m + "/bunhook":                                      {m + "/scope", m + "/auditlog", "github.com/uptrace/bun"},
		m + "/examples/quickstart":                          {m + "/bunhook", m + "/examples/internal/seed", otelSDK + "/trace"},
		m + "/examples/internal/seed":                       {m + "/scope"},
		m + "/internal/depcheck":                            nil,
		m + "/internal/telemetry":                           {"go.opentelemetry.io/otel/attribute"},
		m + "/bunhook/internal/sqlguard":                    {"strings"},
		m + "/bunhook/internal/driver":                      {"database/sql/driver", m + "/internal/telemetry"},
		m + "/otelobs/otlpconfig":                           {m + "/otelobs"},
		m + "/tenantvet":                                    {xTools + "/go/analysis", "go/types"},
		m + "/cmd/tenantshieldvet":                          {m + "/tenantvet", xTools + "/go/analysis/multichecker"},
		otelSDK + "/log":                                    {otelSDK + "/resource", "go.opentelemetry.io/otel/log"},
		otelSDK + "/log/logtest":                            {otelSDK + "/log"},
		otelSDK + "/trace":                                  {otelSDK + "/resource", "go.opentelemetry.io/otel/trace"},
		otelSDK + "/resource":                               {"go.opentelemetry.io/otel"},
		"go.opentelemetry.io/otel":                          {"go.opentelemetry.io/auto/sdk"},
		"go.opentelemetry.io/otel/trace":                    {"go.opentelemetry.io/otel"},
		"go.opentelemetry.io/otel/log":                      nil,
		"go.opentelemetry.io/auto/sdk":                      nil,
		"github.com/uptrace/bun":                            {"database/sql"},
		"github.com/tenantshield/tenantshield-go-contrib/x": {"github.com/uptrace/bun"},
	}

	tests := []struct {
		name string
		add  map[string][]string // extra edges
		want []string            // "rule pkg -> dep", paths relative to the module
	}{
		{name: "clean"},
		{
			name: "auditlog imports otelobs",
			add:  map[string][]string{m + "/auditlog": {m + "/otelobs"}},
			want: []string{
				// auditotlp and audittest reach otelobs through auditlog.
				"auditlog-layer auditlog -> otelobs",
				"auditlog-layer auditlog/auditotlp -> otelobs",
				"auditlog-layer auditlog/audittest -> otelobs",
			},
		},
		{
			name: "auditlog subpackage imports scope",
			add:  map[string][]string{m + "/auditlog/auditotlp": {m + "/scope"}},
			want: []string{"auditlog-layer auditlog/auditotlp -> scope"},
		},
		{
			name: "otelobs imports an internal package",
			add: map[string][]string{
				m + "/otelobs":        {m + "/internal/clock"},
				m + "/internal/clock": {"time"},
			},
			want: []string{
				"otelobs-layer otelobs -> internal/clock",
				"otelobs-layer otelobs/otlpconfig -> internal/clock",
				"scope-layer scope -> internal/clock",
			},
		},
		{
			name: "the layers use the telemetry leaf",
			add: map[string][]string{
				m + "/auditlog": {m + "/internal/telemetry"},
				m + "/otelobs":  {m + "/internal/telemetry"},
				m + "/scope":    {m + "/internal/telemetry"},
			},
		},
		{
			name: "the telemetry leaf imports a layer",
			add:  map[string][]string{m + "/internal/telemetry": {m + "/otelobs"}},
			want: []string{
				"bunhook-internal-leaf bunhook/internal/driver -> otelobs",
				"telemetry-leaf internal/telemetry -> otelobs",
			},
		},
		{
			name: "a bunhook building block imports another",
			add:  map[string][]string{m + "/bunhook/internal/driver": {m + "/bunhook/internal/sqlguard"}},
			want: []string{"bunhook-internal-leaf bunhook/internal/driver -> bunhook/internal/sqlguard"},
		},
		{
			name: "a bunhook building block imports scope",
			add:  map[string][]string{m + "/bunhook/internal/sqlguard": {m + "/scope"}},
			want: []string{"bunhook-internal-leaf bunhook/internal/sqlguard -> scope"},
		},
		{
			name: "scope imports bunhook",
			add:  map[string][]string{m + "/scope": {m + "/bunhook"}},
			want: []string{"scope-layer scope -> bunhook"},
		},
		{
			name: "scope subpackage reaches bunhook through otelobs",
			add: map[string][]string{
				m + "/scope/scopehttp": {m + "/scope"},
				m + "/otelobs":         {m + "/bunhook"},
			},
			want: []string{
				"otelobs-layer otelobs -> bunhook",
				"otelobs-layer otelobs/otlpconfig -> bunhook",
				"scope-layer scope -> bunhook",
				"scope-layer scope/scopehttp -> bunhook",
			},
		},
		{
			name: "tenantvet imports bunhook",
			add:  map[string][]string{m + "/tenantvet": {m + "/bunhook"}},
			want: []string{"tenantvet-leaf tenantvet -> bunhook"},
		},
		{
			name: "the library imports tenantvet",
			add:  map[string][]string{m + "/bunhook": {m + "/tenantvet"}},
			// scope is not involved; bunhook and the example above it are.
			want: []string{
				"analysis-tools-only bunhook -> tenantvet",
				"analysis-tools-only examples/quickstart -> tenantvet",
			},
		},
		{
			name: "the library imports x/tools",
			add:  map[string][]string{m + "/scope": {xTools + "/go/packages"}},
			want: []string{
				"analysis-tools-only bunhook -> " + xTools + "/go/packages",
				"analysis-tools-only examples/internal/seed -> " + xTools + "/go/packages",
				"analysis-tools-only examples/quickstart -> " + xTools + "/go/packages",
				"analysis-tools-only scope -> " + xTools + "/go/packages",
			},
		},
		{
			name: "scoperiver and examples import River",
			add: map[string][]string{
				m + "/scope/scoperiver":       {m + "/scope", riverRoot + "river"},
				m + "/examples/worker":        {m + "/scope/scoperiver", riverRoot + "river/riverdriver/riverpgxv5"},
				riverRoot + "river":           {riverRoot + "river/rivertype"},
				riverRoot + "river/rivertype": nil,
			},
		},
		{
			name: "the core reaches River",
			add: map[string][]string{
				m + "/bunhook":                {riverRoot + "river/rivertype"},
				m + "/scope/scopehttp":        {m + "/scope/scoperiver"},
				m + "/scope/scoperiver":       {riverRoot + "river"},
				riverRoot + "river":           {riverRoot + "river/rivertype"},
				riverRoot + "river/rivertype": nil,
			},
			want: []string{
				"river-only-in-scoperiver bunhook -> " + riverRoot + "river/rivertype",
				"river-only-in-scoperiver scope/scopehttp -> " + riverRoot + "river",
			},
		},
		{
			name: "library imports examples",
			add:  map[string][]string{m + "/bunhook": {m + "/examples/internal/seed"}},
			want: []string{"examples-leaf bunhook -> examples/internal/seed"},
		},
		{
			name: "scope imports the otel sdk",
			add:  map[string][]string{m + "/scope": {otelSDK + "/trace"}},
			// bunhook reaches the SDK through scope.
			want: []string{
				"otel-sdk-opt-in bunhook -> " + otelSDK + "/trace",
				"otel-sdk-opt-in scope -> " + otelSDK + "/trace",
			},
		},
		{
			name: "the gRPC door uses grpc and otelgrpc",
			add: map[string][]string{
				m + "/scope/scopegrpc":      {m + "/scope", "google.golang.org/grpc", grpcDeps[1] + "/otelgrpc"},
				m + "/examples/grpcservice": {m + "/scope/scopegrpc", m + "/bunhook"},
				m + "/auditlog/auditotlp":   {"google.golang.org/grpc"},
			},
		},
		{
			name: "scope imports grpc",
			add:  map[string][]string{m + "/scope": {"google.golang.org/grpc/metadata"}},
			// bunhook reaches gRPC through scope; the examples may.
			want: []string{
				"grpc-door-only bunhook -> google.golang.org/grpc/metadata",
				"grpc-door-only scope -> google.golang.org/grpc/metadata",
			},
		},
		{
			name: "bunhook reaches otelgrpc through the gRPC door",
			add:  map[string][]string{m + "/bunhook": {m + "/scope/scopegrpc"}, m + "/scope/scopegrpc": {grpcDeps[1] + "/otelgrpc"}},
			want: []string{"grpc-door-only bunhook -> " + grpcDeps[1] + "/otelgrpc"},
		},
		{
			name: "sdk reached through an otlp package",
			add:  map[string][]string{m + "/bunhook": {m + "/auditlog/auditotlp"}},
			want: []string{"otel-sdk-opt-in bunhook -> " + otelSDK + "/log"},
		},
		{
			name: "otlp must be the suffix of the last element",
			add:  map[string][]string{m + "/otelobs/otlpconfig": {otelSDK}},
			want: []string{"otel-sdk-opt-in otelobs/otlpconfig -> " + otelSDK},
		},
		{
			name: "root package",
			add:  map[string][]string{m: {m + "/examples/quickstart"}},
			// Each rule walks on its own: the SDK rule goes on through the
			// example that the examples rule stops at.
			want: []string{
				"examples-leaf  -> examples/quickstart",
				"otel-sdk-opt-in  -> " + otelSDK + "/trace",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := importGraph{}
			for k, v := range base {
				g[k] = slices.Clone(v)
			}
			for k, v := range tc.add {
				g[k] = append(g[k], v...)
			}
			var pkgs []string
			for k := range g {
				if _, ok := relTo(m, k); ok {
					pkgs = append(pkgs, k)
				}
			}
			slices.Sort(pkgs)
			var got []string
			for _, v := range check(m, pkgs, g) {
				pkg, _ := relTo(m, v.Pkg)
				dep := v.Dep
				if r, ok := relTo(m, dep); ok {
					dep = r
				}
				got = append(got, v.Rule+" "+pkg+" -> "+dep)
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("violations:\n got  %q\n want %q", got, want)
			}
		})
	}
}

func TestViolationChain(t *testing.T) {
	const m = modulePath
	g := importGraph{
		m + "/scope":              {m + "/otelobs"},
		m + "/otelobs":            {m + "/auditlog/auditotlp", "context"},
		m + "/auditlog/auditotlp": {otelSDK + "/log"},
		otelSDK + "/log":          {otelSDK + "/resource"},
	}
	// scope may import otelobs and auditlog/auditotlp, but not what they
	// drag in.
	var got []string
	for _, v := range check(m, []string{m + "/scope"}, g) {
		got = append(got, v.String())
	}
	want := []string{
		"otel-sdk-opt-in: " + m + "/scope depends on " + otelSDK + "/log (via " + m + "/otelobs -> " + m + "/auditlog/auditotlp): " +
			"only packages whose name ends in otlp or test may depend on the OpenTelemetry SDK; use the otel API",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// TestLoadGraph runs go list on a scratch module that breaks the rules, to
// show that the real loader and the rules catch forbidden imports.
func TestLoadGraph(t *testing.T) {
	requireGo(t)
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":                   "module " + modulePath + "\n\ngo 1.22\n",
		"auditlog/auditlog.go":     "package auditlog\n\nimport _ \"" + modulePath + "/scope\"\n",
		"scope/scope.go":           "package scope\n\nimport _ \"" + modulePath + "/bunhook\"\n",
		"bunhook/bunhook.go":       "package bunhook\n\nimport _ \"strings\"\n",
		"otelobs/otelobs.go":       "package otelobs\n\nimport _ \"" + modulePath + "/examples/shared\"\n",
		"examples/shared/s.go":     "package shared\n",
		"examples/quickstart/m.go": "package main\n\nimport _ \"" + modulePath + "/examples/shared\"\n\nfunc main() {}\n",
		// Test-only directory and test imports: neither counts.
		"integration/x_test.go": "package integration\n\nimport (\n\t\"testing\"\n\n\t_ \"" + modulePath + "/bunhook\"\n)\n\nfunc TestX(*testing.T) {}\n",
		"otelobs/o_test.go":     "package otelobs_test\n\nimport _ \"" + modulePath + "/bunhook\"\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	module, pkgs, g, err := loadGraph(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if module != modulePath {
		t.Fatalf("module = %q", module)
	}
	var got []string
	for _, v := range check(module, pkgs, g) {
		pkg, _ := relTo(module, v.Pkg)
		dep, _ := relTo(module, v.Dep)
		got = append(got, v.Rule+" "+pkg+" -> "+dep)
	}
	want := []string{
		"auditlog-layer auditlog -> scope",
		"examples-leaf otelobs -> examples/shared",
		"otelobs-layer otelobs -> examples/shared",
		"scope-layer scope -> bunhook",
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n got  %q\n want %q", got, want)
	}
}
