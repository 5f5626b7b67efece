package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestGoVet builds tenantshieldvet and runs it through go vet -vettool on
// testdata/smoke, a module that uses the real bun, bunhook and scope of
// this checkout (replace directive): the models live in one package and are
// used in another, so the tenant tables reach app as facts. Every line
// marked "// want <check>" must be reported by that check, and nothing else.
func TestGoVet(t *testing.T) {
	tool, mod := fixture(t, "smoke")

	env := []string{"GOWORK=off", "GOFLAGS=-mod=mod"}
	cmd := exec.CommandContext(t.Context(), "go", "vet", "-vettool="+tool, "./...")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("go vet: %v\n%s", err, out)
	}

	got := findings(t, string(out))
	want := wants(t, mod)
	if !slices.Equal(got, want) {
		t.Errorf("go vet -vettool findings:\n got %q\nwant %q\noutput:\n%s", got, want, out)
	}
}

// TestBypassManifest closes the loop between the analyzer and run time:
// tenantshieldvet -bypassreason.manifest writes the bypass sites of a
// program, the program run with that manifest finds both of its sites
// listed (a call over two lines and one in a method included) and
// reports nothing; run with the manifest without one of them, it marks
// that bypass unlisted and audits one report.
func TestBypassManifest(t *testing.T) {
	tool, mod := fixture(t, "manifest")
	env := []string{"GOWORK=off", "GOFLAGS=-mod=mod"}
	manifest := filepath.Join(t.TempDir(), "bypass-sites.txt")
	run(t, mod, env, tool, "-bypassreason.manifest="+manifest, "./...")
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("manifest:\n%s\nwant the 2 sites of the program", b)
	}
	bin := filepath.Join(t.TempDir(), "bypasser")
	run(t, mod, env, "go", "build", "-o", bin, "./cmd/bypasser")
	if out := run(t, mod, nil, bin, manifest); out != "migration unlisted=false\nsweep unlisted=false\nreports=0\n" {
		t.Fatalf("with the full manifest:\n%s", out)
	}
	var partial []string
	for _, l := range lines {
		if !strings.Contains(l, "retention") {
			partial = append(partial, l)
		}
	}
	less := filepath.Join(t.TempDir(), "partial.txt")
	if err := os.WriteFile(less, []byte(strings.Join(partial, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := run(t, mod, nil, bin, less); out != "migration unlisted=false\nsweep unlisted=true\nreports=1\n" {
		t.Fatalf("with the sweep's site left out of the manifest:\n%s", out)
	}
}

// fixture builds tenantshieldvet and copies testdata/<name> to a module
// that uses this checkout (a replace directive) with its go.sum.
func fixture(t *testing.T, name string) (tool, mod string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the tool and runs go vet")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("go command not on PATH: %v", err)
	}
	tmp := t.TempDir()
	tool = filepath.Join(tmp, "tenantshieldvet")
	run(t, ".", nil, "go", "build", "-o", tool, ".")
	gomod := strings.TrimSpace(run(t, ".", nil, "go", "env", "GOMOD"))
	root := filepath.Dir(gomod)

	mod = filepath.Join(tmp, name)
	if err := os.CopyFS(mod, os.DirFS(filepath.Join("testdata", name))); err != nil {
		t.Fatal(err)
	}
	bunVersion := strings.TrimSpace(run(t, root, nil, "go", "list", "-m", "-f", "{{.Version}}", "github.com/uptrace/bun"))
	goMod := "module example.com/smoke\n\ngo 1.26\n\nrequire (\n" +
		"\tgithub.com/tenantshield/tenantshield-go v0.0.0\n" +
		"\tgithub.com/uptrace/bun " + bunVersion + "\n)\n\n" +
		"replace github.com/tenantshield/tenantshield-go => " + root + "\n"
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(goMod), 0o600); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, "go.sum"), sum, 0o600); err != nil {
		t.Fatal(err)
	}
	return tool, mod
}

// findings returns "file:line check" for each diagnostic of go vet's output.
func findings(t *testing.T, out string) []string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^(?:\./)?([\w/.]+\.go):(\d+):\d+: (\w+): `)
	var got []string
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		got = append(got, filepath.Base(m[1])+":"+m[2]+" "+m[3])
	}
	slices.Sort(got)
	return got
}

// wants returns "file:line check" for each "// want check" comment below dir.
func wants(t *testing.T, dir string) []string {
	t.Helper()
	var want []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range bytes.Split(src, []byte("\n")) {
			if _, check, ok := bytes.Cut(line, []byte("// want ")); ok {
				want = append(want, filepath.Base(p)+":"+strconv.Itoa(i+1)+" "+string(bytes.TrimSpace(check)))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	return want
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}
