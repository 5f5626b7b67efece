package scopehttp_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

func TestJWTStrategy(t *testing.T) {
	t.Parallel()
	keys(t)
	hsStrategy := mustJWT(t, hsConfig())
	noExp := hsConfig()
	noExp.AllowMissingExpiry = true
	orgClaim := hsConfig()
	orgClaim.Claim = "org"
	rotated := hsConfig()
	rotated.Keys = []any{otherHMAC, hmacKey}
	small := hsConfig()
	small.MaxTokenBytes = 64
	rsCfg := scopehttp.JWTConfig{Algorithms: []string{"RS256", "PS256"}, Keys: []any{&rsaKey.PublicKey}, Now: hsConfig().Now}
	esCfg := scopehttp.JWTConfig{Algorithms: []string{"ES256"}, Keys: []any{&ecKey.PublicKey}, Now: hsConfig().Now}
	edCfg := scopehttp.JWTConfig{Algorithms: []string{"EdDSA"}, Keys: []any{edPub}, Now: hsConfig().Now}
	kidCfg := hsConfig()
	kidCfg.Keys = nil
	kidCfg.KeyFunc = func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] == "k2" {
			return otherHMAC, nil
		}
		return nil, errors.New("unknown kid")
	}

	valid := claims("acme", nil)
	now := testNow
	unix := func(d time.Duration) int64 { return now.Add(d).Unix() }

	// Forgeries.
	noneTok := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid)
	tampered := func() string {
		good := strings.Split(hs(t, valid), ".")
		payload, _ := base64.RawURLEncoding.DecodeString(good[1])
		evil := strings.Replace(string(payload), `"acme"`, `"globex"`, 1)
		return good[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(evil)) + "." + good[2]
	}()
	pubPEM := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()
	confused := sign(t, jwt.SigningMethodHS256, pubPEM, valid) // HS256 keyed with the RSA public key
	kid2 := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, valid)
		tok.Header["kid"] = "k2"
		s, err := tok.SignedString(otherHMAC)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()

	tests := []struct {
		name string
		cfg  *scopehttp.JWTConfig // nil: hsConfig()
		auth []string             // Authorization values; nil: absent
		want outcome
	}{
		{name: "valid", auth: []string{"Bearer " + hs(t, valid)}, want: outcome{tenant: "acme"}},
		{name: "scheme lower case", auth: []string{"bearer " + hs(t, valid)}, want: outcome{tenant: "acme"}},
		{name: "scheme upper case", auth: []string{"BEARER " + hs(t, valid)}, want: outcome{tenant: "acme"}},
		{name: "extra spaces", auth: []string{"Bearer   " + hs(t, valid) + " "}, want: outcome{tenant: "acme"}},
		{name: "no Authorization", want: outcome{na: true}},
		{name: "Basic", auth: []string{"Basic YWxhZGRpbjpvcGVuc2VzYW1l"}, want: outcome{na: true}},
		{name: "empty Authorization", auth: []string{""}, want: outcome{na: true}},
		{name: "Bearer without token", auth: []string{"Bearer"}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "empty"}},
		{name: "Bearer and blanks", auth: []string{"Bearer   "}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "empty"}},
		{name: "two Authorization headers", auth: []string{"Bearer " + hs(t, valid), "Bearer " + hs(t, valid)}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "sent 2 times"}},
		{name: "garbage", auth: []string{"Bearer not-a-jwt"}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "malformed"}},
		{name: "control characters", auth: []string{"Bearer a\x00b.c\x7fd.e\ne"}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "malformed"}},
		{name: "too large", cfg: &small, auth: []string{"Bearer " + hs(t, valid)}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "longer than 64 bytes"}},
		{name: "alg none", auth: []string{"Bearer " + noneTok}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "algorithm that is not accepted"}},
		{name: "wrong key", auth: []string{"Bearer " + sign(t, jwt.SigningMethodHS256, otherHMAC, valid)}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "signature is invalid"}},
		{name: "tampered payload", auth: []string{"Bearer " + tampered}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "signature is invalid"}},
		{name: "HS384 not allowed", auth: []string{"Bearer " + sign(t, jwt.SigningMethodHS384, hmacKey, valid)}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "not accepted"}},
		{name: "RS256 not allowed", auth: []string{"Bearer " + sign(t, jwt.SigningMethodRS256, rsaKey, valid)}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "not accepted"}},
		{name: "algorithm confusion", cfg: &rsCfg, auth: []string{"Bearer " + confused}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "not accepted"}},
		{name: "expired", auth: []string{"Bearer " + hs(t, claims("acme", map[string]any{"exp": unix(-time.Minute)}))}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "expired"}},
		{name: "expired within leeway", auth: []string{"Bearer " + hs(t, claims("acme", map[string]any{"exp": unix(-10 * time.Second)}))}, want: outcome{tenant: "acme"}},
		{name: "not yet valid", auth: []string{"Bearer " + hs(t, claims("acme", map[string]any{"nbf": unix(time.Minute)}))}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "not valid yet"}},
		{name: "not yet valid within leeway", auth: []string{"Bearer " + hs(t, claims("acme", map[string]any{"nbf": unix(10 * time.Second)}))}, want: outcome{tenant: "acme"}},
		{name: "issued in the future", auth: []string{"Bearer " + hs(t, claims("acme", map[string]any{"iat": unix(time.Hour)}))}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "issued in the future"}},
		{name: "wrong issuer", auth: []string{"Bearer " + hs(t, claims("acme", map[string]any{"iss": "https://evil.test"}))}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "issuer"}},
		{name: "missing issuer", auth: []string{"Bearer " + hs(t, claims("acme", map[string]any{"iss": nil}))}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "lacks required claims: iss"}},
		{name: "wrong audience", auth: []string{"Bearer " + hs(t, claims("acme", map[string]any{"aud": "billing-api"}))}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "audience"}},
		{name: "audience list", auth: []string{"Bearer " + hs(t, claims("acme", map[string]any{"aud": []string{"billing-api", "orders-api"}}))}, want: outcome{tenant: "acme"}},
		{name: "missing audience", auth: []string{"Bearer " + hs(t, claims("acme", map[string]any{"aud": nil}))}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "lacks required claims: aud"}},
		{name: "missing exp", auth: []string{"Bearer " + hs(t, claims("acme", map[string]any{"exp": nil}))}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "lacks required claims: exp"}},
		{name: "missing exp allowed", cfg: &noExp, auth: []string{"Bearer " + hs(t, claims("acme", map[string]any{"exp": nil}))}, want: outcome{tenant: "acme"}},
		{name: "exp of the wrong type", auth: []string{"Bearer " + hs(t, claims("acme", map[string]any{"exp": "tomorrow"}))}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "invalid type"}},
		{name: "missing claim", auth: []string{"Bearer " + hs(t, claims(nil, nil))}, want: outcome{err: scopehttp.ErrMissingTenant, reason: `no "tenant_id" claim`}},
		{name: "empty claim", auth: []string{"Bearer " + hs(t, claims("", nil))}, want: outcome{err: scopehttp.ErrMissingTenant, reason: `no "tenant_id" claim`}},
		{name: "numeric claim", auth: []string{"Bearer " + hs(t, claims(42, nil))}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "not a string"}},
		{name: "object claim", auth: []string{"Bearer " + hs(t, claims(map[string]any{"id": "acme"}, nil))}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "not a string"}},
		{name: "invalid claim", auth: []string{"Bearer " + hs(t, claims("ac me\u202e", nil))}, want: outcome{err: scope.ErrInvalidTenant, reason: `"ac me\u202e"`}},
		{name: "oversized claim", auth: []string{"Bearer " + hs(t, claims(strings.Repeat("a", 300), nil))}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "the limit is 64"}},
		{name: "custom claim", cfg: &orgClaim, auth: []string{"Bearer " + hs(t, claims(nil, map[string]any{"org": "globex"}))}, want: outcome{tenant: "globex"}},
		{name: "custom claim missing", cfg: &orgClaim, auth: []string{"Bearer " + hs(t, valid)}, want: outcome{err: scopehttp.ErrMissingTenant, reason: `"org"`}},
		{name: "rotated keys", cfg: &rotated, auth: []string{"Bearer " + hs(t, valid)}, want: outcome{tenant: "acme"}},
		{name: "key func", cfg: &kidCfg, auth: []string{"Bearer " + kid2}, want: outcome{tenant: "acme"}},
		{name: "key func refuses", cfg: &kidCfg, auth: []string{"Bearer " + hs(t, valid)}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "cannot be verified"}},
		{name: "RS256", cfg: &rsCfg, auth: []string{"Bearer " + sign(t, jwt.SigningMethodRS256, rsaKey, valid)}, want: outcome{tenant: "acme"}},
		{name: "PS256", cfg: &rsCfg, auth: []string{"Bearer " + sign(t, jwt.SigningMethodPS256, rsaKey, valid)}, want: outcome{tenant: "acme"}},
		{name: "ES256", cfg: &esCfg, auth: []string{"Bearer " + sign(t, jwt.SigningMethodES256, ecKey, valid)}, want: outcome{tenant: "acme"}},
		{name: "EdDSA", cfg: &edCfg, auth: []string{"Bearer " + sign(t, jwt.SigningMethodEdDSA, edKey, valid)}, want: outcome{tenant: "acme"}},
		{name: "EdDSA with ES key", cfg: &esCfg, auth: []string{"Bearer " + sign(t, jwt.SigningMethodEdDSA, edKey, valid)}, want: outcome{err: scopehttp.ErrInvalidToken, reason: "not accepted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := hsStrategy
			if tt.cfg != nil {
				s = mustJWT(t, *tt.cfg)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range tt.auth {
				r.Header.Add("Authorization", v)
			}
			got, err := s.Resolve(r)
			checkOutcome(t, got, err, tt.want)
			if err == nil || tt.want.na {
				return
			}
			var se *scopehttp.StrategyError
			_ = errors.As(err, &se)
			if se.Challenge != `Bearer error="invalid_token"` {
				t.Errorf("Challenge = %q", se.Challenge)
			}
			// The token never appears in the message.
			for _, v := range tt.auth {
				if _, tok, _ := strings.Cut(v, " "); len(tok) > 20 && strings.Contains(err.Error(), strings.TrimSpace(tok)) {
					t.Errorf("message %q contains the token", err)
				}
			}
		})
	}
}

func TestJWTStrategyErrorsWrapJWT(t *testing.T) {
	t.Parallel()
	s := mustJWT(t, hsConfig())
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+hs(t, claims("acme", map[string]any{"exp": testNow.Add(-time.Hour).Unix()})))
	_, err := s.Resolve(r)
	if !errors.Is(err, jwt.ErrTokenExpired) || !errors.Is(err, scopehttp.ErrInvalidToken) {
		t.Fatalf("error %v does not match both jwt.ErrTokenExpired and ErrInvalidToken", err)
	}
	var se *scopehttp.StrategyError
	if !errors.As(err, &se) || se.ErrorType() != "tenant.invalid_token" {
		t.Fatalf("errors.As: %v", err)
	}
	if s.AuthScheme() != "Bearer" || s.String() != "bearer token" {
		t.Fatalf("AuthScheme %q, String %q", s.AuthScheme(), s.String())
	}
}

func TestNewJWTStrategyRefuses(t *testing.T) {
	t.Parallel()
	keys(t)
	kf := func(*jwt.Token) (any, error) { return hmacKey, nil }
	tests := []struct {
		name string
		cfg  scopehttp.JWTConfig
		want string
	}{
		{"no algorithms", scopehttp.JWTConfig{Keys: []any{hmacKey}}, "allow-list"},
		{"empty algorithms", scopehttp.JWTConfig{Algorithms: []string{}, Keys: []any{hmacKey}}, "allow-list"},
		{"none", scopehttp.JWTConfig{Algorithms: []string{"none"}, Keys: []any{hmacKey}}, `"none"`},
		{"NONE among others", scopehttp.JWTConfig{Algorithms: []string{"HS256", "NONE"}, Keys: []any{hmacKey}}, `"none"`},
		{"unknown", scopehttp.JWTConfig{Algorithms: []string{"XS999"}, Keys: []any{hmacKey}}, "unknown"},
		{"HMAC mixed with RSA", scopehttp.JWTConfig{Algorithms: []string{"HS256", "RS256"}, KeyFunc: kf}, "mix"},
		{"no key", scopehttp.JWTConfig{Algorithms: []string{"HS256"}}, "Keys or a KeyFunc"},
		{"keys and key func", scopehttp.JWTConfig{Algorithms: []string{"HS256"}, Keys: []any{hmacKey}, KeyFunc: kf}, "not both"},
		{"nil key", scopehttp.JWTConfig{Algorithms: []string{"HS256"}, Keys: []any{nil}}, "nil"},
		{"empty secret", scopehttp.JWTConfig{Algorithms: []string{"HS256"}, Keys: []any{[]byte{}}}, "at least 32"},
		{"short secret", scopehttp.JWTConfig{Algorithms: []string{"HS256"}, Keys: []any{[]byte("secret")}}, "at least 32"},
		{"small RSA key", scopehttp.JWTConfig{Algorithms: []string{"RS256"}, Keys: []any{smallRSA(t)}}, "at least 2048"},
		{"string secret", scopehttp.JWTConfig{Algorithms: []string{"HS256"}, Keys: []any{"secret"}}, "string cannot verify"},
		{"private key", scopehttp.JWTConfig{Algorithms: []string{"RS256"}, Keys: []any{rsaKey}}, "public keys"},
		{"secret for RS256", scopehttp.JWTConfig{Algorithms: []string{"RS256"}, Keys: []any{hmacKey}}, "fits none"},
		{"RSA key for HS256", scopehttp.JWTConfig{Algorithms: []string{"HS256"}, Keys: []any{&rsaKey.PublicKey}}, "fits none"},
		{"EC key for RS256", scopehttp.JWTConfig{Algorithms: []string{"RS256"}, Keys: []any{&ecKey.PublicKey}}, "fits none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := scopehttp.NewJWTStrategy(tt.cfg)
			if err == nil || s != nil {
				t.Fatalf("NewJWTStrategy succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// A bearer token strategy never reads anything but the Authorization header.
func TestJWTStrategyIgnoresOtherSources(t *testing.T) {
	t.Parallel()
	s := mustJWT(t, hsConfig())
	r := httptest.NewRequest(http.MethodGet, "/?access_token="+hs(t, claims("acme", nil)), nil)
	r.AddCookie(&http.Cookie{Name: "token", Value: hs(t, claims("acme", nil))})
	r.Header.Set("X-Authorization", "Bearer "+hs(t, claims("acme", nil)))
	if _, err := s.Resolve(r); !errors.Is(err, scopehttp.ErrNotApplicable) {
		t.Fatal(fmt.Sprint("want ErrNotApplicable, got ", err))
	}
}

func smallRSA(t *testing.T) *rsa.PublicKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return &k.PublicKey
}
