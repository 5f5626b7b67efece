package scopehttp

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
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

// JWTConfig configures [NewJWTStrategy].
type JWTConfig struct {
	// Algorithms is the allow-list of signing algorithms ("RS256", "PS256",
	// "ES256", "EdDSA", "HS256", ...). It is required; "none" is refused, and
	// so is a list mixing HMAC (shared-secret) with public-key algorithms,
	// which is how algorithm-confusion attacks start. Use two strategies in a
	// Chain to accept both kinds.
	Algorithms []string
	// Keys are the verification keys, tried in turn (for key rotation):
	// []byte secrets for HS*, *rsa.PublicKey for RS*/PS*, *ecdsa.PublicKey
	// for ES*, ed25519.PublicKey for EdDSA. Set Keys or KeyFunc, not both.
	Keys []any
	// KeyFunc chooses the key for a parsed, not yet verified token (by its
	// "kid" header, from a JWKS cache...). It may return a
	// jwt.VerificationKeySet. It must not block for long: it runs on the
	// request path.
	KeyFunc jwt.Keyfunc
	// Issuer, when not empty, is required in the "iss" claim.
	Issuer string
	// Audience, when not empty, requires the "aud" claim to contain one of
	// these values.
	Audience []string
	// Leeway is the clock skew allowed when checking "exp", "nbf" and "iat".
	Leeway time.Duration
	// AllowMissingExpiry accepts tokens without an "exp" claim. By default
	// they are refused.
	AllowMissingExpiry bool
	// Claim is the claim that names the tenant; empty means DefaultClaim. Its
	// value must be a JSON string.
	Claim string
	// Validator validates the claim's value. Nil means
	// scope.DefaultValidator() at the time of each request.
	Validator *scope.Validator
	// MaxTokenBytes is the largest token parsed; 0 means
	// DefaultMaxTokenBytes.
	MaxTokenBytes int
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// JWTStrategy resolves the tenant from a claim of a JSON Web Token sent as
// "Authorization: Bearer <token>" (the scheme is matched case-insensitively).
// Build it with [NewJWTStrategy].
//
// A request without an Authorization header, or with another scheme (Basic),
// does not apply. Otherwise the token must be well-formed, signed with an
// allowed algorithm by one of the keys, within its validity period (exp, nbf
// and iat, with the leeway), and from the configured issuer and audience:
// if not, a [*StrategyError] matching [ErrInvalidToken] (401). A valid token
// without the tenant claim, or with an empty one, gives a [*StrategyError]
// matching [ErrMissingTenant] (401); a claim that is not a string, or that the
// validator rejects, an ErrInvalidToken one (401). Several Authorization
// headers are refused.
type JWTStrategy struct {
	parser  *jwt.Parser
	keyFunc jwt.Keyfunc
	claim   string
	v       *scope.Validator
	max     int
	algs    []string
	needed  []string // registered claims that must be present
}

// NewJWTStrategy returns a bearer token strategy, or an error when cfg is
// unsafe or incomplete: no algorithm, "none" or an unknown algorithm, HMAC
// mixed with public-key algorithms, no key or both Keys and KeyFunc, a nil
// key, an HMAC secret shorter than 32 bytes, an RSA key shorter than 2048
// bits, or a key that fits none of the algorithms.
func NewJWTStrategy(cfg JWTConfig) (*JWTStrategy, error) {
	if len(cfg.Algorithms) == 0 {
		return nil, errors.New("scopehttp: the JWT strategy needs an allow-list of algorithms (for example RS256)")
	}
	var hmac, public bool
	for _, alg := range cfg.Algorithms {
		if strings.EqualFold(alg, "none") {
			return nil, errors.New(`scopehttp: the JWT strategy refuses the "none" algorithm: unsigned tokens prove nothing`)
		}
		m := jwt.GetSigningMethod(alg)
		if m == nil {
			return nil, fmt.Errorf("scopehttp: unknown JWT algorithm %s", strconv.QuoteToASCII(alg))
		}
		if _, ok := m.(*jwt.SigningMethodHMAC); ok {
			hmac = true
		} else {
			public = true
		}
	}
	if hmac && public {
		return nil, errors.New("scopehttp: the JWT strategy refuses to mix HMAC and public-key algorithms in one allow-list " +
			"(algorithm confusion); use one strategy for each in a Chain")
	}
	s := &JWTStrategy{
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
		return nil, errors.New("scopehttp: the JWT strategy takes Keys or KeyFunc, not both")
	case cfg.KeyFunc == nil && len(cfg.Keys) == 0:
		return nil, errors.New("scopehttp: the JWT strategy needs verification Keys or a KeyFunc")
	case cfg.KeyFunc == nil:
		set := jwt.VerificationKeySet{}
		for i, k := range cfg.Keys {
			if err := checkKey(k, s.algs); err != nil {
				return nil, fmt.Errorf("scopehttp: JWT key %d: %w", i, err)
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

// AuthScheme returns "Bearer".
func (s *JWTStrategy) AuthScheme() string { return "Bearer" }

// String names the strategy in messages.
func (s *JWTStrategy) String() string { return "bearer token" }

// Resolve returns the tenant named by the bearer token's claim,
// [ErrNotApplicable] when the request carries no bearer token, or a
// [*StrategyError].
func (s *JWTStrategy) Resolve(r *http.Request) (scope.Tenant, error) {
	t, _, err := s.ResolveSubject(r)
	return t, err
}

// ResolveSubject is Resolve that also returns the token's "sub" claim (""
// when it has none, or it is not a string): the end user the audit records
// of the request name as their actor.
func (s *JWTStrategy) ResolveSubject(r *http.Request) (scope.Tenant, string, error) {
	t, claims, err := s.resolve(r)
	sub, _ := claims["sub"].(string)
	return t, sub, err
}

func (s *JWTStrategy) resolve(r *http.Request) (scope.Tenant, jwt.MapClaims, error) {
	token, err := bearer(r.Header["Authorization"])
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
		return scope.Tenant{}, nil, &StrategyError{
			Strategy: "bearer token", Err: ErrMissingTenant, Challenge: challengeInvalid,
			Reason: "the bearer token has no " + strconv.QuoteToASCII(s.claim) + " claim naming the tenant",
		}
	}
	id, ok := raw.(string)
	if !ok {
		return scope.Tenant{}, nil, tokenError("the "+strconv.QuoteToASCII(s.claim)+" claim of the bearer token is not a string", nil)
	}
	t, err := validatorOr(s.v).Parse(id)
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
	scheme, token, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNotApplicable // no credential, or another scheme
	}
	token = strings.Trim(token, " \t")
	if token == "" {
		return "", tokenError("the bearer token is empty", nil)
	}
	return token, nil
}

func tokenError(reason string, cause error) *StrategyError {
	return &StrategyError{Strategy: "bearer token", Err: ErrInvalidToken, Cause: cause, Reason: reason, Challenge: challengeInvalid}
}

// reason turns a jwt error into a sentence that is safe to show: it never
// contains the token or its claims.
func (s *JWTStrategy) reason(parsed *jwt.Token, claims jwt.MapClaims, err error) string {
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
