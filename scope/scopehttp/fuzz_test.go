package scopehttp_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

// resolveTwice resolves r twice and fails unless both results are equal, then
// checks the error contract: ErrNotApplicable, or a *StrategyError of a known
// class whose reason is safe to show.
func resolveTwice(t *testing.T, s scopehttp.Strategy, r *http.Request) (scope.Tenant, error) {
	t.Helper()
	t1, err1 := s.Resolve(r)
	t2, err2 := s.Resolve(r)
	if t1 != t2 || (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
		t.Fatalf("not deterministic: (%q, %v) then (%q, %v)", t1, err1, t2, err2)
	}
	if err1 == nil {
		if t1.IsZero() {
			t.Fatal("zero tenant without an error")
		}
		if _, err := scope.Parse(t1.String()); err != nil {
			t.Fatalf("accepted tenant %q fails scope.Parse: %v", t1, err)
		}
		return t1, nil
	}
	if !t1.IsZero() {
		t.Fatalf("tenant %q returned with error %v", t1, err1)
	}
	if errors.Is(err1, scopehttp.ErrNotApplicable) {
		return t1, err1
	}
	var se *scopehttp.StrategyError
	if !errors.As(err1, &se) {
		t.Fatalf("error %v (%T) is not a *StrategyError", err1, err1)
	}
	if !errors.Is(err1, scope.ErrInvalidTenant) && !errors.Is(err1, scopehttp.ErrInvalidToken) && !errors.Is(err1, scopehttp.ErrMissingTenant) {
		t.Fatalf("error %v has no known class", err1)
	}
	checkSafe(t, se.Reason)
	return t1, err1
}

func FuzzHeaderStrategy(f *testing.F) {
	for _, seed := range []string{
		"acme", "", " ", "ACME-42", "a b", "a\x00b", "\r\n", "acme\u202e", "ac\u200bme", "\xff\xfe",
		strings.Repeat("a", 64), strings.Repeat("a", 65), "org:acme.eu_1", "-x", "acme,globex",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	s, err := scopehttp.NewHeaderStrategy(scopehttp.HeaderConfig{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, value string, twice bool) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header[scopehttp.DefaultHeader] = []string{value}
		if twice {
			r.Header[scopehttp.DefaultHeader] = append(r.Header[scopehttp.DefaultHeader], value)
		}
		tn, err := resolveTwice(t, s, r)
		switch {
		case errors.Is(err, scopehttp.ErrNotApplicable):
			t.Fatal("a present header must apply")
		case err == nil && (twice || tn.String() != value):
			t.Fatalf("accepted %q from %q (twice=%v)", tn, value, twice)
		case err != nil && !twice:
			if _, perr := scope.Parse(value); perr == nil {
				t.Fatalf("refused %q, which scope.Parse accepts: %v", value, err)
			}
		}
	})
}

func FuzzHostStrategy(f *testing.F) {
	for _, seed := range []string{
		"acme.example.com", "ACME.EXAMPLE.COM.:443", "www.example.com", "example.com", "a.b.example.com",
		"127.0.0.1", "[::1]:80", "::1", "[fe80::1%25eth0]", ".example.com", "acme.example.org", "acme.eu.example.com",
		"", ":", "[", "acme.example.com:", "acme.example.com:x", "\u212acme.example.com", "acme.exampl\u212a.com",
		"1.2.3.4.example.com", "a\x00.example.com", strings.Repeat("a", 70) + ".example.com",
	} {
		f.Add(seed)
	}
	s, err := scopehttp.NewHostStrategy(scopehttp.HostConfig{BaseDomains: []string{"example.com", "eu.example.com"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Host = host
		tn, err := resolveTwice(t, s, r)
		if err != nil {
			return
		}
		id := tn.String()
		if strings.ContainsAny(id, ".:[]") || strings.ToLower(id) != id || id == "www" || id == "api" {
			t.Fatalf("accepted tenant %q from host %q", id, host)
		}
		// The host is <tenant>.<base>, up to case, a port and a trailing dot.
		h := strings.ToLower(host)
		if i := strings.LastIndexByte(h, ':'); i >= 0 {
			h = h[:i]
		}
		h = strings.TrimSuffix(h, ".")
		if h != id+".example.com" && h != id+".eu.example.com" {
			t.Fatalf("accepted tenant %q from host %q", id, host)
		}
	})
}

func FuzzBearer(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s, err := scopehttp.NewJWTStrategy(scopehttp.JWTConfig{
		Algorithms: []string{"HS256"}, Keys: []any{key}, Issuer: "iss", Audience: []string{"aud"},
		Now: func() time.Time { return now },
	})
	if err != nil {
		f.Fatal(err)
	}
	signed := func(claim any) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": "iss", "aud": "aud", "exp": now.Add(time.Hour).Unix(), "tenant_id": claim,
		}).SignedString(key)
		if err != nil {
			f.Fatal(err)
		}
		return tok
	}
	for _, seed := range []string{
		"", "Bearer", "Bearer ", "bearer x", "Basic abc", "Bearer a.b.c", "Bearer " + signed("acme"),
		"BEARER " + signed("acme"), "Bearer " + signed(""), "Bearer " + signed(42), "Bearer " + signed("a b"),
		"Bearer eyJhbGciOiJub25lIn0.eyJ0ZW5hbnRfaWQiOiJhY21lIn0.", "Bearer ..", "Bearer \x00",
	} {
		f.Add(seed, "acme")
	}
	f.Add("", "")
	f.Add("", "a\u202e")
	f.Fuzz(func(t *testing.T, auth, claim string) {
		// Arbitrary Authorization values.
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{auth}
		tn, err := resolveTwice(t, s, r)
		if err == nil && !strings.HasPrefix(strings.ToLower(strings.TrimLeft(auth, " \t")), "bearer ") {
			t.Fatalf("accepted %q from %q", tn, auth)
		}
		// A genuine token carrying an arbitrary claim: accepted exactly when
		// scope accepts the claim.
		tok := signed(claim)
		r.Header["Authorization"] = []string{"Bearer " + tok}
		tn, err = resolveTwice(t, s, r)
		if len(tok) > scopehttp.DefaultMaxTokenBytes {
			if !errors.Is(err, scopehttp.ErrInvalidToken) {
				t.Fatalf("token of %d bytes: %v", len(tok), err)
			}
			return
		}
		_, perr := scope.Parse(claim)
		switch {
		case err == nil && tn.String() != claim:
			t.Fatalf("claim %.80q resolved to %q", claim, tn)
		case err == nil && perr != nil:
			t.Fatalf("accepted claim %.80q that scope refuses", claim)
		case err != nil && perr == nil:
			t.Fatalf("refused valid claim %.80q: %v", claim, err)
		case err != nil && claim == "" && !errors.Is(err, scopehttp.ErrMissingTenant):
			t.Fatalf("empty claim: %v", err)
		case err != nil && claim != "" && !errors.Is(err, scope.ErrInvalidTenant):
			t.Fatalf("invalid claim %.80q: %.200v", claim, err)
		}
	})
}
