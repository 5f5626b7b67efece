package scope

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

func TestParseBypassSites(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		n        int
		err      string
	}{
		{"empty", "", 0, ""},
		{"sites", "# made by tenantshieldvet\nexample.com/app/billing\trun.go\t12\t\"nightly billing\"\n\nmain\tmain.go\t7\t\"\"\n", 2, ""},
		{"fields", "example.com/app\trun.go\t12\n", 0, "line 1: want package, file, line and reason"},
		{"line", "example.com/app\trun.go\ttwelve\t\"x\"\n", 0, "line 1: "},
		{"zero line", "example.com/app\trun.go\t0\t\"x\"\n", 0, "is not a site"},
		{"path", "example.com/app\tsub/run.go\t3\t\"x\"\n", 0, "is not a site"},
		{"reason", "example.com/app\trun.go\t3\tnot quoted\n", 0, "the reason is not a quoted string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseBypassSites(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || s.Len() != tc.n {
				t.Fatalf("%v, %d sites; want %d", err, s.Len(), tc.n)
			}
		})
	}
}

func TestBypassSiteMatching(t *testing.T) {
	s, err := ParseBypassSites(strings.NewReader("example.com/app/billing\trun.go\t12\t\"nightly\"\nmain\tmain.go\t7\t\"m\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		b    Bypass
		want bool
	}{
		{Bypass{File: "/src/app/billing/run.go", Line: 12, Function: "example.com/app/billing.(*Run).Do.func1"}, true},
		{Bypass{File: "example.com/app/billing/run.go", Line: 12, Function: "example.com/app/billing.Run[...]"}, true}, // -trimpath, generic
		{Bypass{File: `C:\src\app\billing\run.go`, Line: 12, Function: "example.com/app/billing.Run"}, true},
		{Bypass{File: "/src/app/billing/run.go", Line: 13, Function: "example.com/app/billing.Run"}, false},
		{Bypass{File: "/src/app/billing/other.go", Line: 12, Function: "example.com/app/billing.Run"}, false},
		{Bypass{File: "/src/app/billing/run.go", Line: 12, Function: "example.com/app/billingx.Run"}, false},
		{Bypass{File: "/src/cmd/tool/main.go", Line: 7, Function: "main.main"}, true},
	} {
		if got := s.Contains(&tc.b); got != tc.want {
			t.Errorf("%+v: Contains = %v, want %v", tc.b, got, tc.want)
		}
	}
}

// FuzzParseBypassSites: any input parses or fails with an error, never a
// panic, and a parsed manifest answers Contains.
func FuzzParseBypassSites(f *testing.F) {
	f.Add("example.com/app\trun.go\t12\t\"x\"\n")
	f.Add("main\tmain.go\t1\t\"\\t\"\n# c\n\n")
	f.Add("a\tb\t-1\t\"\"")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseBypassSites(strings.NewReader(in))
		if err != nil {
			if s != nil {
				t.Fatal("a manifest and an error")
			}
			return
		}
		_ = s.Contains(&Bypass{File: "run.go", Line: 12, Function: "example.com/app.F"})
	})
}

// TestUnlistedBypassIsReported: with a manifest in force, a bypass from a
// site it lacks still takes effect, is marked, and is reported; one from a
// listed site is not.
func TestUnlistedBypassIsReported(t *testing.T) {
	empty, err := ParseBypassSites(strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	sink := auditlog.NewMemorySink()
	defaultBinder.Bus().Register(sink)
	defer defaultBinder.Bus().Unregister(sink)
	SetBypassSites(empty)
	defer SetBypassSites(nil)
	ctx, err := WithBypass(t.Context(), "support tool")
	b, ok := BypassFromContext(ctx)
	if err != nil || !ok || !b.Unlisted {
		t.Fatalf("an unlisted bypass: %+v, %v", b, err)
	}
	reports := sink.Events(auditlog.EnforcementViolation)
	if len(reports) != 1 || reports[0].Outcome != auditlog.OutcomeReported || !strings.Contains(reports[0].Reason, "bypass_sites_test.go:") ||
		reports[0].Caller.Line != b.Line {
		t.Fatalf("reports of the unlisted bypass: %+v", reports)
	}
	listed, err := ParseBypassSites(strings.NewReader(strings.Join([]string{funcPackage(b.Function), "bypass_sites_test.go",
		strconv.Itoa(b.Line), `"support tool"`}, "\t")))
	if err != nil {
		t.Fatal(err)
	}
	if !listed.Contains(b) {
		t.Fatalf("the manifest made from the bypass's own site does not contain it: %+v", b)
	}
	SetBypassSites(listed)
	sink.Reset()
	if b2 := mustBypass(t); !b2.Unlisted || len(sink.Events()) != 1 {
		t.Fatalf("another site is unlisted too: %+v, %d reports", b2, len(sink.Events()))
	}
	if _, err := WithBypass(t.Context(), ""); !errors.Is(err, ErrInvalidBypass) {
		t.Fatalf("a blank reason with a manifest in force: %v", err)
	}
}

func mustBypass(t *testing.T) *Bypass {
	t.Helper()
	ctx, err := WithBypass(t.Context(), "another site")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BypassFromContext(ctx)
	return b
}
