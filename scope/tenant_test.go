package scope_test

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/tenantshield/tenantshield-go/scope"
)

func TestParseDefaultValidator(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		id     string
		reason string // "" means valid
	}{
		{"slug", "acme", ""},
		{"upper", "ACME", ""},
		{"slug with separators", "acme-corp.eu_west:1", ""},
		{"number", "42", ""},
		{"zero", "0", ""},
		{"uuid", "0190a5d2-8c1e-7b3a-9f2e-4c5d6e7f8a9b", ""},
		{"max length", strings.Repeat("a", scope.DefaultMaxLength), ""},

		{"empty", "", "it is empty"},
		{"too long", strings.Repeat("a", scope.DefaultMaxLength+1), "65 bytes long; the limit is 64"},
		{"space", "ac me", `whitespace ' ' at byte 2`},
		{"leading space", " acme", "whitespace"},
		{"trailing space", "acme ", "whitespace ' ' at byte 4"},
		{"tab", "ac\tme", `whitespace '\t'`},
		{"newline", "acme\n", `whitespace '\n'`},
		{"carriage return", "ac\rme", "whitespace"},
		{"control", "ac\x01me", `control character '\x01' at byte 2`},
		{"escape", "acme\x1b[31m", "control character"},
		{"delete", "ac\x7fme", "control character"},
		{"NUL", "acme\x00", `control character '\x00' at byte 4`},
		{"non-ASCII letter", "acmé", `'\u00e9' at byte 3; allowed: ASCII letters`},
		{"cyrillic homoglyph", "аcme", `'\u0430' at byte 0`},
		{"NBSP", "ac\u00a0me", `whitespace '\u00a0'`},
		{"NEL", "ac\u0085me", "whitespace"},
		{"zero-width space", "ac\u200bme", `invisible format character '\u200b' at byte 2`},
		{"bidi override", "acme\u202e", `invisible format character '\u202e'`},
		{"BOM", "\ufeffacme", "invisible format character"},
		{"invalid UTF-8", "ac\xffme", "not valid UTF-8 at byte 2"},
		{"truncated UTF-8", "acme\xc3", "not valid UTF-8 at byte 4"},
		{"leading dash", "-acme", "must start with a letter or digit"},
		{"leading dot", ".acme", "must start with a letter or digit"},
		{"leading underscore", "_acme", "must start with a letter or digit"},
		{"leading colon", ":acme", "must start with a letter or digit"},
		{"slash", "acme/../globex", `'/' at byte 4`},
		{"quote", "acme'--", `'\'' at byte 4`},
		{"percent", "acme%00", `'%'`},
		{"at", "a@b", `'@'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn, err := scope.Parse(tc.id)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Parse(%q) = %v, want valid", tc.id, err)
				}
				if tn.String() != tc.id || tn.IsZero() {
					t.Fatalf("Parse(%q) = %q", tc.id, tn)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse(%q) accepted, want rejected because %s", tc.id, tc.reason)
			}
			if !tn.IsZero() {
				t.Fatal("a rejected id returned a non-zero Tenant")
			}
			checkInvalid(t, err, tc.reason)
		})
	}
}

// checkInvalid checks the error contract of a rejected id.
func checkInvalid(t *testing.T, err error, reason string) {
	t.Helper()
	if !errors.Is(err, scope.ErrInvalidTenant) {
		t.Fatalf("%v does not match ErrInvalidTenant", err)
	}
	var ite *scope.InvalidTenantError
	if !errors.As(err, &ite) {
		t.Fatalf("%v (%T) is not an *InvalidTenantError", err, err)
	}
	if errors.Is(err, scope.ErrNoTenant) || errors.Is(err, scope.ErrTenantConflict) {
		t.Fatal("an invalid id matches an unrelated sentinel")
	}
	if !strings.Contains(ite.Reason, reason) {
		t.Fatalf("reason %q does not contain %q", ite.Reason, reason)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "tenantshield: invalid tenant id ") || !strings.Contains(msg, ite.Reason) {
		t.Fatalf("message %q does not name the reason", msg)
	}
	for _, r := range msg {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			t.Fatalf("message %q carries a raw non-printable or non-ASCII rune %U", msg, r)
		}
	}
	if ite.ErrorType() != "tenant.invalid" {
		t.Fatalf("ErrorType = %q", ite.ErrorType())
	}
}

func TestParseMessageTruncatesHugeInput(t *testing.T) {
	t.Parallel()
	for _, huge := range []string{
		strings.Repeat("x", 1<<20),
		strings.Repeat("é", 1<<16), // multi-byte: cut on a rune boundary
		strings.Repeat("\u202e", 1<<12),
	} {
		_, err := scope.Parse(huge)
		if err == nil {
			t.Fatal("huge id accepted")
		}
		var ite *scope.InvalidTenantError
		errors.As(err, &ite)
		if len(err.Error()) > 600 {
			t.Fatalf("message is %d bytes long; a huge input must be truncated", len(err.Error()))
		}
		if !strings.HasSuffix(ite.ID, "...") || strings.ContainsRune(ite.ID, '\ufffd') {
			t.Fatalf("ID %q: want a quoted prefix ending in ..., cut on a rune boundary", ite.ID)
		}
		if !strings.Contains(ite.Reason, "bytes long") {
			t.Fatalf("reason %q", ite.Reason)
		}
	}
}

func TestValidatorMaxLength(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		max, okLen, limit int
	}{
		{max: 5, okLen: 5, limit: 5},
		{max: 0, okLen: scope.DefaultMaxLength, limit: scope.DefaultMaxLength},
		{max: -3, okLen: scope.DefaultMaxLength, limit: scope.DefaultMaxLength},
		{max: scope.HardMaxLength, okLen: scope.HardMaxLength, limit: scope.HardMaxLength},
		{max: 100000, okLen: scope.HardMaxLength, limit: scope.HardMaxLength}, // capped
	} {
		v := &scope.Validator{MaxLength: tc.max}
		if _, err := v.Parse(strings.Repeat("a", tc.okLen)); err != nil {
			t.Errorf("MaxLength %d: %d bytes rejected: %v", tc.max, tc.okLen, err)
		}
		_, err := v.Parse(strings.Repeat("a", tc.okLen+1))
		if err == nil {
			t.Errorf("MaxLength %d: %d bytes accepted", tc.max, tc.okLen+1)
			continue
		}
		checkInvalid(t, err, "the limit is "+strconv.Itoa(tc.limit))
	}
}

func TestValidatorPattern(t *testing.T) {
	t.Parallel()
	numeric := &scope.Validator{Pattern: regexp.MustCompile(`^t-[0-9]{1,6}$`)}
	letters := &scope.Validator{Pattern: regexp.MustCompile(`^\pL[\pL\pN-]*$`), MaxLength: 32}
	for _, tc := range []struct {
		v      *scope.Validator
		id     string
		reason string
	}{
		{numeric, "t-42", ""},
		{numeric, "acme", "does not match the allowed pattern ^t-[0-9]{1,6}$"},
		{numeric, "t-1234567", "does not match"},
		{numeric, "", "it is empty"},
		{letters, "café", ""},
		{letters, "München-2", ""},
		{letters, "ca fé", "whitespace ' '"},
		{letters, "café\u00a0", `whitespace '\u00a0'`},
		{letters, "caf\u200be", `invisible format character '\u200b'`},
		{letters, "abc\u202edef", `invisible format character '\u202e'`},
		{letters, "ab\u2066c", "invisible format character"},
		{letters, "ab\x00c", `control character '\x00'`},
		{letters, "ab\u0085c", "whitespace"},
		{letters, "ab\x9bc", "not valid UTF-8 at byte 2"},
		{letters, "ab\u009bc", "control character"},
		{letters, "-abc", "does not match"},
		{letters, strings.Repeat("é", 17), "34 bytes long; the limit is 32"},
	} {
		tn, err := tc.v.Parse(tc.id)
		if tc.reason == "" {
			if err != nil || tn.String() != tc.id {
				t.Errorf("%s: Parse(%q) = %q, %v", tc.v.Pattern, tc.id, tn, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: Parse(%q) accepted", tc.v.Pattern, tc.id)
			continue
		}
		checkInvalid(t, err, tc.reason)
	}
}

// TestSetDefaultValidator changes the process-wide validator: not parallel,
// and the default is restored.
func TestSetDefaultValidator(t *testing.T) {
	t.Cleanup(func() { scope.SetDefaultValidator(nil) })
	v := &scope.Validator{Pattern: regexp.MustCompile(`^t-[0-9]+$`)}
	scope.SetDefaultValidator(v)
	if scope.DefaultValidator() != v {
		t.Fatal("DefaultValidator does not return the one set")
	}
	if _, err := scope.Parse("acme"); !errors.Is(err, scope.ErrInvalidTenant) {
		t.Fatalf("Parse with a custom default = %v", err)
	}
	if _, err := scope.Parse("t-7"); err != nil {
		t.Fatal(err)
	}
	scope.SetDefaultValidator(nil)
	if _, err := scope.Parse("acme"); err != nil {
		t.Fatalf("SetDefaultValidator(nil) did not restore the defaults: %v", err)
	}
}

func TestMustParseAndZeroTenant(t *testing.T) {
	t.Parallel()
	if scope.MustParse("acme") != acme {
		t.Fatal("tenants with the same id must be ==")
	}
	var zero scope.Tenant
	if !zero.IsZero() || zero.String() != "" {
		t.Fatal("zero Tenant")
	}
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || !errors.Is(err, scope.ErrInvalidTenant) {
			t.Fatalf("MustParse panicked with %v, want the *InvalidTenantError", r)
		}
	}()
	scope.MustParse("not valid")
}
