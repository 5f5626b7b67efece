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
	if testing.Short() {
		t.Skip("builds the tool and runs go vet")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("go command not on PATH: %v", err)
	}
	tmp := t.TempDir()
	tool := filepath.Join(tmp, "tenantshieldvet")
	run(t, ".", nil, "go", "build", "-o", tool, ".")
	gomod := strings.TrimSpace(run(t, ".", nil, "go", "env", "GOMOD"))
	root := filepath.Dir(gomod)

	// The smoke module: testdata/smoke plus a go.mod pointing at this
	// checkout and its go.sum.
	mod := filepath.Join(tmp, "smoke")
	if err := os.CopyFS(mod, os.DirFS("testdata/smoke")); err != nil {
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
