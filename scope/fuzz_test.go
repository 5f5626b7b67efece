package scope_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/tenantshield/tenantshield-go/scope"
)

// FuzzParse checks the validator's invariants on arbitrary input, with the
// default validator and with a permissive custom pattern (which exercises the
// generic Unicode checks).
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"", "acme", "ACME-42", "0190a5d2-8c1e-7b3a-9f2e-4c5d6e7f8a9b", "-acme", "a b", "a\tb", "a\x00b",
		"acmé", "ac\u200bme", "ac\u202eme", "\ufeff", "\xff", "a\xc3", "a\u00a0b", "a\u0085b",
		strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("é", 40), "org:acme.eu_1",
	} {
		f.Add(seed)
	}
	permissive := &scope.Validator{Pattern: regexp.MustCompile(`(?s)^.*$`), MaxLength: 128}

	f.Fuzz(func(t *testing.T, id string) {
		check := func(v *scope.Validator, limit int, asciiOnly bool) {
			tn, err := v.Parse(id)
			if err != nil {
				var ite *scope.InvalidTenantError
				if !errors.As(err, &ite) || !errors.Is(err, scope.ErrInvalidTenant) {
					t.Fatalf("Parse(%q) error %v (%T) is not an *InvalidTenantError", id, err, err)
				}
				if !tn.IsZero() {
					t.Fatalf("Parse(%q) rejected but returned %q", id, tn)
				}
				if ite.Reason == "" || len(err.Error()) > 1024 {
					t.Fatalf("Parse(%q): message %q", id, err)
				}
				return
			}
			s := tn.String()
			if s != id {
				t.Fatalf("String() = %q, want %q", s, id)
			}
			if s == "" || len(s) > limit {
				t.Fatalf("accepted %q of length %d (limit %d)", s, len(s), limit)
			}
			if !utf8.ValidString(s) {
				t.Fatalf("accepted invalid UTF-8 %q", s)
			}
			for _, r := range s {
				if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
					t.Fatalf("accepted %q containing %U", s, r)
				}
				if asciiOnly && r > unicode.MaxASCII {
					t.Fatalf("default validator accepted non-ASCII %q", s)
				}
			}
			again, err := v.Parse(s)
			if err != nil || again != tn {
				t.Fatalf("round trip of %q: %q, %v", s, again, err)
			}
		}
		check(scope.DefaultValidator(), scope.DefaultMaxLength, true)
		check(permissive, 128, false)
	})
}
