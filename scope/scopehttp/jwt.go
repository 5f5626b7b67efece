package scopehttp

import (
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/internal/resolve"
)

// DefaultClaim is the claim that names the tenant unless configured otherwise.
const DefaultClaim = resolve.DefaultClaim

// DefaultMaxTokenBytes is the largest bearer token parsed unless configured
// otherwise.
const DefaultMaxTokenBytes = resolve.DefaultMaxTokenBytes

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
	core *resolve.JWT
}

// NewJWTStrategy returns a bearer token strategy, or an error when cfg is
// unsafe or incomplete: no algorithm, "none" or an unknown algorithm, HMAC
// mixed with public-key algorithms, no key or both Keys and KeyFunc, a nil
// key, an HMAC secret shorter than 32 bytes, an RSA key shorter than 2048
// bits, or a key that fits none of the algorithms.
func NewJWTStrategy(cfg JWTConfig) (*JWTStrategy, error) {
	core, err := resolve.NewJWT(resolve.JWTConfig(cfg))
	if err != nil {
		return nil, prefixed(err)
	}
	return &JWTStrategy{core: core}, nil
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
	t, sub, err := s.core.Parse(r.Header["Authorization"])
	return t, sub, convert(err)
}
