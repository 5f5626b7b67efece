package scopetoken

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/scope"
)

// Version is the token format version, its first field.
const Version = "v1"

// HTTPHeader is the header that carries the token over HTTP, and
// MetadataKey the gRPC metadata key.
const (
	HTTPHeader  = "Tenantshield-Token"
	MetadataKey = "tenantshield-token"
)

// MaxTokenBytes is the largest token Parse and Verify look at.
const MaxTokenBytes = 512

// DefaultTTL is how long a token is valid unless [WithTTL] says otherwise,
// MaxTTL the longest TTL allowed, and DefaultLeeway the clock skew allowed.
const (
	DefaultTTL    = 30 * time.Second
	MaxTTL        = 5 * time.Minute
	DefaultLeeway = 5 * time.Second
)

// MinKeyBytes is the shortest secret a keyring accepts (the HMAC-SHA256
// output size).
const MinKeyBytes = 32

// maxKeyIDLen is the longest key id.
const maxKeyIDLen = 32

// macPrefix separates this use of the keys from any other.
const macPrefix = "tenantshield-propagation-token\x00"

// Sentinel errors. Every verification failure matches ErrInvalid and one of
// the others.
var (
	ErrInvalid       = errors.New("scopetoken: invalid propagation token")
	ErrTooLarge      = errors.New("scopetoken: the token is too large")
	ErrMalformed     = errors.New("scopetoken: the token is malformed")
	ErrUnknownKey    = errors.New("scopetoken: the token names an unknown key")
	ErrBadSignature  = errors.New("scopetoken: the token's signature is invalid")
	ErrExpired       = errors.New("scopetoken: the token has expired")
	ErrLifetime      = errors.New("scopetoken: the token is valid for longer than allowed")
	ErrInvalidTenant = errors.New("scopetoken: the token names an invalid tenant")
	ErrTraceMismatch = errors.New("scopetoken: the token was made for another trace")
	// ErrNoTrace is returned by Sign when the context has no valid span
	// context: a token is bound to a trace.
	ErrNoTrace = errors.New("scopetoken: no trace in the context; a propagation token is bound to the current trace (start a span first)")
)

// Error is a verification failure. Kind is one of the sentinels; Reason is a
// fixed sentence that is safe to show and log (it never contains the token).
type Error struct {
	Kind   error
	Reason string
}

func (e *Error) Error() string { return "scopetoken: " + e.Reason }

// Is matches [ErrInvalid] and e.Kind.
func (e *Error) Is(target error) bool { return target == ErrInvalid || target == e.Kind }

// ErrorType returns a low-cardinality error.type.
func (e *Error) ErrorType() string {
	if t, ok := errorTypes[e.Kind]; ok {
		return t
	}
	return "token.invalid"
}

var errorTypes = map[error]string{
	ErrTooLarge: "token.too_large", ErrMalformed: "token.malformed", ErrUnknownKey: "token.unknown_key",
	ErrBadSignature: "token.bad_signature", ErrExpired: "token.expired", ErrLifetime: "token.lifetime",
	ErrInvalidTenant: "token.invalid_tenant", ErrTraceMismatch: "token.trace_mismatch",
}

func fail(kind error, reason string) *Error { return &Error{Kind: kind, Reason: reason} }

// Claims are the fields of a parsed token, not yet verified.
type Claims struct {
	KeyID   string
	Tenant  string
	TraceID trace.TraceID
	Expiry  time.Time
	signed  string // the MAC's input after the prefix
	mac     [sha256.Size]byte
}

var b64 = base64.RawURLEncoding.Strict()

// Parse splits token into its fields, strictly: the version, a key id of 1
// to 32 characters [A-Za-z0-9_-], a tenant in unpadded base64url of 1 to
// scope.HardMaxLength bytes, 32 lower-case hex digits of a non-zero trace id,
// the expiry in unix seconds without leading zeros, and the 32-byte MAC in
// unpadded base64url. It does not verify anything.
func Parse(token string) (Claims, error) {
	var c Claims
	if len(token) > MaxTokenBytes {
		return c, fail(ErrTooLarge, "the token is longer than "+strconv.Itoa(MaxTokenBytes)+" bytes")
	}
	malformed := func(what string) (Claims, error) {
		return Claims{}, fail(ErrMalformed, "the token is malformed: "+what)
	}
	var f [6]string
	rest := token
	for i := range 5 {
		var ok bool
		f[i], rest, ok = strings.Cut(rest, ".")
		if !ok {
			return malformed("it has fewer than 6 fields")
		}
	}
	if strings.Contains(rest, ".") {
		return malformed("it has more than 6 fields")
	}
	f[5] = rest
	if f[0] != Version {
		return malformed("unknown version")
	}
	if !validKeyID(f[1]) {
		return malformed("bad key id")
	}
	c.KeyID = f[1]
	// encoding/base64 skips \r and \n: check the alphabet first.
	tenant, err := b64.DecodeString(f[2])
	if !base64URL(f[2]) || err != nil || len(tenant) == 0 || len(tenant) > scope.HardMaxLength {
		return malformed("bad tenant field")
	}
	c.Tenant = string(tenant)
	if len(f[3]) != 32 || strings.ToLower(f[3]) != f[3] {
		return malformed("bad trace id")
	}
	if _, err := hex.Decode(c.TraceID[:], []byte(f[3])); err != nil || !c.TraceID.IsValid() {
		return malformed("bad trace id")
	}
	if len(f[4]) == 0 || len(f[4]) > 12 || f[4][0] == '0' || strings.Trim(f[4], "0123456789") != "" {
		return malformed("bad expiry")
	}
	exp, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil || exp <= 0 {
		return malformed("bad expiry")
	}
	c.Expiry = time.Unix(exp, 0)
	mac, err := b64.DecodeString(f[5])
	if !base64URL(f[5]) || err != nil || len(mac) != sha256.Size {
		return malformed("bad signature field")
	}
	copy(c.mac[:], mac)
	c.signed = token[:len(token)-len(f[5])-1]
	return c, nil
}

// base64URL reports whether s holds only characters of the base64url
// alphabet (no padding, no line breaks).
func base64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func validKeyID(s string) bool {
	if s == "" || len(s) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func mac(key []byte, signed string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(macPrefix))
	h.Write([]byte(signed))
	return h.Sum(nil)
}

// Sign returns a token for t and the trace of ctx's span context, valid for
// the keyring's TTL, under the active key. It fails with [ErrNoTrace] when
// ctx has no valid span context, and with a [*scope.InvalidTenantError] for
// a zero tenant.
func (k *Keyring) Sign(ctx context.Context, t scope.Tenant) (string, error) {
	if t.IsZero() {
		return "", &scope.InvalidTenantError{ID: `""`, Reason: "it is empty (obtain tenants with scope.Parse)"}
	}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.TraceID().IsValid() {
		return "", ErrNoTrace
	}
	return k.sign(t.String(), sc.TraceID(), k.now().Add(k.ttl)), nil
}

func (k *Keyring) sign(tenant string, traceID trace.TraceID, exp time.Time) string {
	var b strings.Builder
	b.Grow(160)
	b.WriteString(Version)
	b.WriteByte('.')
	b.WriteString(k.active)
	b.WriteByte('.')
	b.WriteString(b64.EncodeToString([]byte(tenant)))
	b.WriteByte('.')
	b.WriteString(traceID.String())
	b.WriteByte('.')
	b.WriteString(strconv.FormatInt(exp.Unix(), 10))
	signed := b.String()
	return signed + "." + b64.EncodeToString(mac(k.keys[k.active], signed))
}

// Verify checks token (see the package documentation) against the trace of
// ctx's span context and returns the tenant it names, or a [*Error].
func (k *Keyring) Verify(ctx context.Context, token string) (scope.Tenant, error) {
	c, err := Parse(token)
	if err != nil {
		return scope.Tenant{}, err
	}
	key, ok := k.keys[c.KeyID]
	if !ok {
		return scope.Tenant{}, fail(ErrUnknownKey, "the token names a key this service does not know")
	}
	if !hmac.Equal(mac(key, c.signed), c.mac[:]) {
		return scope.Tenant{}, fail(ErrBadSignature, "the token's signature is invalid")
	}
	now := k.now()
	if now.After(c.Expiry.Add(k.leeway)) {
		return scope.Tenant{}, fail(ErrExpired, "the token has expired")
	}
	if c.Expiry.After(now.Add(k.ttl + k.leeway)) {
		return scope.Tenant{}, fail(ErrLifetime, "the token is valid for longer than this service allows")
	}
	t, err := k.validator.Parse(c.Tenant)
	if err != nil {
		return scope.Tenant{}, fail(ErrInvalidTenant, "the token names an invalid tenant")
	}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.TraceID().IsValid() {
		return scope.Tenant{}, fail(ErrTraceMismatch, "the call carries no trace; the token is bound to its caller's trace")
	}
	if sc.TraceID() != c.TraceID {
		return scope.Tenant{}, fail(ErrTraceMismatch, "the token was made for another trace")
	}
	return t, nil
}
