package scopetoken

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tenantshield/tenantshield-go/scope"
)

// Keyring holds the secrets that sign and verify propagation tokens: one
// active key id that Sign uses, and every key id that Verify accepts (for
// rotation). Build it with [NewKeyring]; it is safe for concurrent use and
// immutable.
type Keyring struct {
	active    string
	keys      map[string][]byte
	ttl       time.Duration
	leeway    time.Duration
	now       func() time.Time
	validator *scope.Validator
}

// Option configures a [Keyring].
type Option interface{ apply(*Keyring) }

type optionFunc func(*Keyring)

func (f optionFunc) apply(k *Keyring) { f(k) }

// WithTTL sets how long the tokens Sign makes are valid, and the longest
// validity Verify accepts (default [DefaultTTL]; at most [MaxTTL]).
func WithTTL(d time.Duration) Option { return optionFunc(func(k *Keyring) { k.ttl = d }) }

// WithLeeway sets the clock skew allowed between signer and verifier
// (default [DefaultLeeway]).
func WithLeeway(d time.Duration) Option { return optionFunc(func(k *Keyring) { k.leeway = d }) }

// WithClock sets the clock (default time.Now). For tests.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(k *Keyring) {
		if now != nil {
			k.now = now
		}
	})
}

// WithValidator sets the validator of the tenants Verify accepts (default:
// scope.DefaultValidator() when the keyring is built).
func WithValidator(v *scope.Validator) Option {
	return optionFunc(func(k *Keyring) {
		if v != nil {
			k.validator = v
		}
	})
}

// NewKeyring returns a keyring that signs with keys[active] and verifies
// with any of keys. Key ids are 1 to 32 characters [A-Za-z0-9_-]; secrets
// are at least [MinKeyBytes] long (generate them with crypto/rand). The
// secrets are copied.
func NewKeyring(active string, keys map[string][]byte, opts ...Option) (*Keyring, error) {
	k := &Keyring{active: active, keys: make(map[string][]byte, len(keys)), ttl: DefaultTTL, leeway: DefaultLeeway,
		now: time.Now, validator: scope.DefaultValidator()}
	for id, secret := range keys {
		if !validKeyID(id) {
			return nil, fmt.Errorf("scopetoken: key id %s: use 1 to %d characters of A-Z a-z 0-9 - _", strconv.QuoteToASCII(id), maxKeyIDLen)
		}
		if len(secret) < MinKeyBytes {
			return nil, fmt.Errorf("scopetoken: key %q is %d bytes long; use at least %d random bytes", id, len(secret), MinKeyBytes)
		}
		k.keys[id] = append([]byte(nil), secret...)
	}
	if _, ok := k.keys[active]; !ok {
		return nil, fmt.Errorf("scopetoken: the active key id %s is not among the keys", strconv.QuoteToASCII(active))
	}
	for _, o := range opts {
		o.apply(k)
	}
	switch {
	case k.ttl <= 0:
		return nil, errors.New("scopetoken: the TTL must be positive")
	case k.ttl > MaxTTL:
		return nil, fmt.Errorf("scopetoken: a TTL of %s is longer than the %s allowed: a token is replayable within its TTL", k.ttl, MaxTTL)
	case k.leeway < 0 || k.leeway > time.Minute:
		return nil, errors.New("scopetoken: the leeway must be between 0 and 1m")
	}
	return k, nil
}

// ActiveKeyID returns the key id Sign uses.
func (k *Keyring) ActiveKeyID() string { return k.active }

// TTL returns the tokens' validity.
func (k *Keyring) TTL() time.Duration { return k.ttl }
