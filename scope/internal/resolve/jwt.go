package resolve

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantshield/tenantshield-go/scope"
)

// DefaultClaim is the claim that names the tenant unless configured otherwise.
const DefaultClaim = "tenant_id"

// DefaultMaxTokenBytes is the largest bearer token parsed unless configured
// otherwise.
const DefaultMaxTokenBytes = 8 << 10

// JWTConfig has the fields of scopehttp.JWTConfig (documented there), so that
// a door converts its config with a plain type conversion.
type JWTConfig struct {
	Algorithms         []string
	Keys               []any
	KeyFunc            jwt.Keyfunc
	Issuer             string
	Audience           []string
	Leeway             time.Duration
	AllowMissingExpiry bool
	Claim              string
	Validator          *scope.Validator
	MaxTokenBytes      int
	Now                func() time.Time
}

// JWT resolves the tenant from a claim of a bearer token (the value of an
// Authorization field).
type JWT struct {
	parser  *jwt.Parser
	keyFunc jwt.Keyfunc
	claim   string
	v       *scope.Validator
	max     int
	algs    []string
	needed  []string // registered claims that must be present
}

// NewJWT returns a bearer token strategy, or an error when cfg is unsafe or
// incomplete (see scopehttp.NewJWTStrategy). The errors carry no package
// prefix: the door adds its own.
func NewJWT(cfg JWTConfig) (*JWT, error) {
	if len(cfg.Algorithms) == 0 {
		return nil, errors.New("the JWT strategy needs an allow-list of algorithms (for example RS256)")
	}
	var hmac, public bool
	for _, alg := range cfg.Algorithms {
		if strings.EqualFold(alg, "none") {
			return nil, errors.New(`the JWT strategy refuses the "none" algorithm: unsigned tokens prove nothing`)
		}
		m := jwt.GetSigningMethod(alg)
		if m == nil {
			return nil, fmt.Errorf("unknown JWT algorithm %s", strconv.QuoteToASCII(alg))
		}
		if _, ok := m.(*jwt.SigningMethodHMAC); ok {
			hmac = true
		} else {
			public = true
		}
	}
	if hmac && public {
		return nil, errors.New("the JWT strategy refuses to mix HMAC and public-key algorithms in one allow-list " +
			"(algorithm confusion); use one strategy for each in a Chain")
	}
	s := &JWT{
		keyFunc: cfg.KeyFunc, claim: cfg.Claim, v: cfg.Validator, max: cfg.MaxTokenBytes,
		algs: slices.Clone(cfg.Algorithms),
	}
	if s.claim == "" {
		s.claim = DefaultClaim
	}
	if s.max <= 0 {
		s.max = DefaultMaxTokenBytes
	}
	switch {
	case cfg.KeyFunc != nil && len(cfg.Keys) > 0:
		return nil, errors.New("the JWT strategy takes Keys or KeyFunc, not both")
	case cfg.KeyFunc == nil && len(cfg.Keys) == 0:
		return nil, errors.New("the JWT strategy needs verification Keys or a KeyFunc")
	case cfg.KeyFunc == nil:
		set := jwt.VerificationKeySet{}
		for i, k := range cfg.Keys {
			if err := checkKey(k, s.algs); err != nil {
				return nil, fmt.Errorf("JWT key %d: %w", i, err)
			}
			set.Keys = append(set.Keys, k)
		}
		s.keyFunc = func(*jwt.Token) (any, error) { return set, nil }
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(s.algs), jwt.WithLeeway(cfg.Leeway), jwt.WithIssuedAt()}
	if !cfg.AllowMissingExpiry {
		opts = append(opts, jwt.WithExpirationRequired())
		s.needed = append(s.needed, "exp")
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
		s.needed = append(s.needed, "iss")
	}
	if len(cfg.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(cfg.Audience...))
		s.needed = append(s.needed, "aud")
	}
	if cfg.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	}
	s.parser = jwt.NewParser(opts...)
	return s, nil
}

// Minimum key sizes: the HS256 hash size, and the RSA size of RFC 7518.
const (
	minHMACBytes = 32
	minRSABits   = 2048
)

// checkKey reports whether key can verify at least one of algs.
func checkKey(key any, algs []string) error {
	var family string
	switch k := key.(type) {
	case nil:
		return errors.New("it is nil")
	case []byte:
		if len(k) < minHMACBytes {
			return fmt.Errorf("the secret is %d bytes long; HMAC needs at least %d (RFC 7518, section 3.2)", len(k), minHMACBytes)
		}
		family = "HS"
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return errors.New("it is nil")
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("the RSA key has %d bits; at least %d are needed", k.N.BitLen(), minRSABits)
		}
		family = "RSA"
	case *ecdsa.PublicKey:
		if k == nil {
			return errors.New("it is nil")
		}
		family = "ES"
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return errors.New("it is not an Ed25519 public key")
		}
		family = "EdDSA"
	default:
		return fmt.Errorf("a %T cannot verify tokens: give []byte secrets or *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey values (public keys, not private ones)", key)
	}
	for _, alg := range algs {
		switch {
		case family == "HS" && strings.HasPrefix(alg, "HS"),
			family == "RSA" && (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")),
			family == "ES" && strings.HasPrefix(alg, "ES"),
			family == "EdDSA" && (alg == "EdDSA" || alg == "Ed25519"):
			return nil
		}
	}
	return fmt.Errorf("a %T fits none of the algorithms %v", key, algs)
}

// Parse resolves the tenant from vals, the values of the Authorization field,
// and returns the token's "sub" claim ("" when it has none or it is not a
// string). It returns ErrNotApplicable when there is no bearer token, or an
// [*Error].
func (s *JWT) Parse(vals []string) (scope.Tenant, string, error) {
	t, claims, err := s.parse(vals)
	sub, _ := claims["sub"].(string)
	return t, sub, err
}

func (s *JWT) parse(vals []string) (scope.Tenant, jwt.MapClaims, error) {
	token, err := bearer(vals)
	if err != nil {
		return scope.Tenant{}, nil, err
	}
	if len(token) > s.max {
		return scope.Tenant{}, nil, tokenError("the bearer token is longer than "+strconv.Itoa(s.max)+" bytes", nil)
	}
	claims := jwt.MapClaims{}
	parsed, err := s.parser.ParseWithClaims(token, claims, s.keyFunc)
	if err != nil {
		return scope.Tenant{}, nil, tokenError(s.reason(parsed, claims, err), err)
	}
	raw, ok := claims[s.claim]
	if !ok || raw == nil || raw == "" {
		return scope.Tenant{}, nil, &Error{
			Strategy: "bearer token", Class: ClassMissingTenant, Challenge: ChallengeInvalidToken,
			Reason: "the bearer token has no " + strconv.QuoteToASCII(s.claim) + " claim naming the tenant",
		}
	}
	id, ok := raw.(string)
	if !ok {
		return scope.Tenant{}, nil, tokenError("the "+strconv.QuoteToASCII(s.claim)+" claim of the bearer token is not a string", nil)
	}
	t, err := ValidatorOr(s.v).Parse(id)
	if err != nil {
		se := tokenError("the "+strconv.QuoteToASCII(s.claim)+" claim of the bearer token is not a valid tenant id", err)
		var ite *scope.InvalidTenantError
		if errors.As(err, &ite) {
			se.Reason += ": " + ite.ID + " " + ite.Reason
		}
		return scope.Tenant{}, nil, se
	}
	return t, claims, nil
}

// bearer extracts the token of "Authorization: Bearer <token>".
func bearer(vals []string) (string, error) {
	switch len(vals) {
	case 0:
		return "", ErrNotApplicable
	case 1:
	default:
		return "", tokenError("the Authorization header was sent "+strconv.Itoa(len(vals))+" times; send it once", nil)
	}
	v := strings.TrimLeft(vals[0], " \t")
	scheme, token := v, ""
	if i := strings.IndexAny(v, " \t"); i >= 0 { // RFC 9110: the scheme ends at white space
		scheme, token = v[:i], v[i+1:]
	}
	if !strings.EqualFold(scheme, "Bearer") {
		if len(scheme) > len("Bearer") && strings.EqualFold(scheme[:len("Bearer")], "Bearer") {
			// "Bearer<token>": a bearer credential, malformed. Stepping
			// aside would let a weaker strategy of a chain decide.
			return "", tokenError("the Authorization header has no white space after Bearer", nil)
		}
		return "", ErrNotApplicable // no credential, or another scheme
	}
	token = strings.Trim(token, " \t")
	if token == "" {
		return "", tokenError("the bearer token is empty", nil)
	}
	return token, nil
}

func tokenError(reason string, cause error) *Error {
	return &Error{Strategy: "bearer token", Class: ClassInvalidToken, Cause: cause, Reason: reason, Challenge: ChallengeInvalidToken}
}

// reason turns a jwt error into a sentence that is safe to show: it never
// contains the token or its claims.
func (s *JWT) reason(parsed *jwt.Token, claims jwt.MapClaims, err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the bearer token is malformed"
	case parsed != nil && parsed.Method != nil && !slices.Contains(s.algs, parsed.Method.Alg()):
		return "the bearer token is signed with an algorithm that is not accepted"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the bearer token cannot be verified (unknown algorithm or key)"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "the bearer token's signature is invalid"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the bearer token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "the bearer token is not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the bearer token was issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer) && !errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the bearer token's issuer is not accepted"
	case errors.Is(err, jwt.ErrTokenInvalidAudience) && !errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the bearer token's audience is not accepted"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		var missing []string
		for _, c := range s.needed {
			if _, ok := claims[c]; !ok {
				missing = append(missing, c)
			}
		}
		return "the bearer token lacks required claims: " + strings.Join(missing, ", ")
	case errors.Is(err, jwt.ErrInvalidType):
		return "a registered claim of the bearer token has an invalid type"
	}
	return "the bearer token is invalid"
}
