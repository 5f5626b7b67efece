package scopehttp_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

// outcome is what a strategy is expected to return: a tenant, not
// applicable (na), or an error of class err whose reason contains reason.
type outcome struct {
	tenant string
	na     bool
	err    error
	reason string
}

func checkOutcome(t *testing.T, got scope.Tenant, err error, want outcome) {
	t.Helper()
	switch {
	case want.tenant != "":
		if err != nil || got.String() != want.tenant {
			t.Fatalf("got (%q, %v), want tenant %q", got, err, want.tenant)
		}
		if _, perr := scope.Parse(got.String()); perr != nil {
			t.Fatalf("accepted tenant %q fails scope.Parse: %v", got, perr)
		}
		return
	case want.na:
		if !errors.Is(err, scopehttp.ErrNotApplicable) || !got.IsZero() {
			t.Fatalf("got (%q, %v), want ErrNotApplicable", got, err)
		}
		return
	}
	if err == nil || !got.IsZero() {
		t.Fatalf("got (%q, %v), want an error matching %v", got, err, want.err)
	}
	if errors.Is(err, scopehttp.ErrNotApplicable) {
		t.Fatalf("got ErrNotApplicable, want an error matching %v", want.err)
	}
	if !errors.Is(err, want.err) {
		t.Fatalf("error %v does not match %v", err, want.err)
	}
	var se *scopehttp.StrategyError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *StrategyError", err, err)
	}
	if !strings.Contains(se.Reason, want.reason) {
		t.Fatalf("reason %q does not contain %q", se.Reason, want.reason)
	}
	checkSafe(t, se.Reason)
}

// checkSafe fails if s could carry raw hostile input: it must be printable
// ASCII and short.
func checkSafe(t testing.TB, s string) {
	t.Helper()
	if len(s) > 512 {
		t.Fatalf("message of %d bytes: %.100q...", len(s), s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			t.Fatalf("message %q contains byte %#x at %d", s, c, i)
		}
	}
}

func TestHeaderStrategy(t *testing.T) {
	t.Parallel()
	digits := &scope.Validator{Pattern: regexp.MustCompile(`^[0-9]+$`)}
	tests := []struct {
		name   string
		cfg    scopehttp.HeaderConfig
		values []string // values of the configured header; nil: absent
		set    func(h http.Header)
		want   outcome
	}{
		{name: "valid", values: []string{"acme"}, want: outcome{tenant: "acme"}},
		{name: "valid with allowed punctuation", values: []string{"org:acme.eu_1-2"}, want: outcome{tenant: "org:acme.eu_1-2"}},
		{name: "case kept", values: []string{"ACME"}, want: outcome{tenant: "ACME"}},
		{name: "absent", want: outcome{na: true}},
		{name: "other header only", set: func(h http.Header) { h.Set("X-Tenant", "acme") }, want: outcome{na: true}},
		{name: "name is case-insensitive (lower)", set: func(h http.Header) { h.Set("x-tenant-id", "acme") }, want: outcome{tenant: "acme"}},
		{name: "name is case-insensitive (upper)", set: func(h http.Header) { h.Add("X-TENANT-ID", "acme") }, want: outcome{tenant: "acme"}},
		{name: "configured lower-case name", cfg: scopehttp.HeaderConfig{Name: "x-org"}, set: func(h http.Header) { h.Set("X-ORG", "acme") }, want: outcome{tenant: "acme"}},
		{name: "empty", values: []string{""}, want: outcome{err: scope.ErrInvalidTenant, reason: "it is empty"}},
		{name: "oversized", values: []string{strings.Repeat("a", 65)}, want: outcome{err: scope.ErrInvalidTenant, reason: "65 bytes long; the limit is 64"}},
		{name: "huge", values: []string{strings.Repeat("\x01", 100000)}, want: outcome{err: scope.ErrInvalidTenant, reason: "..."}},
		{name: "NUL", values: []string{"ac\x00me"}, want: outcome{err: scope.ErrInvalidTenant, reason: `control character '\x00'`}},
		{name: "DEL", values: []string{"acme\x7f"}, want: outcome{err: scope.ErrInvalidTenant, reason: "control character"}},
		{name: "CRLF injection", values: []string{"acme\r\nX-Admin: 1"}, want: outcome{err: scope.ErrInvalidTenant, reason: "whitespace"}},
		{name: "inner space", values: []string{"ac me"}, want: outcome{err: scope.ErrInvalidTenant, reason: "whitespace"}},
		{name: "bidi override", values: []string{"acme\u202e"}, want: outcome{err: scope.ErrInvalidTenant, reason: `"acme\u202e"`}},
		{name: "zero width", values: []string{"ac\u200bme"}, want: outcome{err: scope.ErrInvalidTenant, reason: "invisible"}},
		{name: "homoglyph", values: []string{"\u0430cme"}, want: outcome{err: scope.ErrInvalidTenant, reason: "allowed"}},
		{name: "invalid UTF-8", values: []string{"a\xffb"}, want: outcome{err: scope.ErrInvalidTenant, reason: "UTF-8"}},
		{name: "leading dash", values: []string{"-acme"}, want: outcome{err: scope.ErrInvalidTenant, reason: "start with a letter or digit"}},
		{name: "path traversal", values: []string{"../acme"}, want: outcome{err: scope.ErrInvalidTenant, reason: "start with"}},
		{name: "comma list", values: []string{"acme,globex"}, want: outcome{err: scope.ErrInvalidTenant, reason: "','"}},
		{name: "sent twice", values: []string{"acme", "globex"}, want: outcome{err: scope.ErrInvalidTenant, reason: "sent 2 times"}},
		{name: "sent twice, equal", values: []string{"acme", "acme"}, want: outcome{err: scope.ErrInvalidTenant, reason: "sent 2 times"}},
		{name: "custom validator accepts", cfg: scopehttp.HeaderConfig{Validator: digits}, values: []string{"42"}, want: outcome{tenant: "42"}},
		{name: "custom validator rejects", cfg: scopehttp.HeaderConfig{Validator: digits}, values: []string{"acme"}, want: outcome{err: scope.ErrInvalidTenant, reason: "pattern"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustHeader(t, tt.cfg)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range tt.values {
				r.Header.Add(scopehttp.DefaultHeader, v)
			}
			if tt.set != nil {
				tt.set(r.Header)
			}
			got, err := s.Resolve(r)
			checkOutcome(t, got, err, tt.want)
			if err != nil && !tt.want.na {
				var se *scopehttp.StrategyError
				_ = errors.As(err, &se)
				if se.ErrorType() != "tenant.invalid" || !utf8.ValidString(err.Error()) {
					t.Fatalf("ErrorType %q, message %q", se.ErrorType(), err)
				}
			}
		})
	}
}

func TestNewHeaderStrategy(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"X Tenant", "X-Tenant:", "X-Tenant\n", "Tenänt", "(x)"} {
		if _, err := scopehttp.NewHeaderStrategy(scopehttp.HeaderConfig{Name: name}); err == nil {
			t.Errorf("NewHeaderStrategy(%q) succeeded", name)
		}
	}
	s := mustHeader(t, scopehttp.HeaderConfig{})
	if got := s.String(); got != "header X-Tenant-Id" {
		t.Errorf("String() = %q", got)
	}
}
