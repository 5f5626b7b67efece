package scopehttp

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/tenantshield/tenantshield-go/scope"
)

// DefaultHeader is the header the header strategy reads unless configured
// otherwise.
const DefaultHeader = "X-Tenant-Id"

// HeaderConfig configures [NewHeaderStrategy]. The zero value reads
// [DefaultHeader] with scope's default validator.
type HeaderConfig struct {
	// Name is the header name, matched case-insensitively. Empty means
	// DefaultHeader.
	Name string
	// Validator validates the value. Nil means scope.DefaultValidator() at
	// the time of each request.
	Validator *scope.Validator
}

// HeaderStrategy resolves the tenant from a request header. Build it with
// [NewHeaderStrategy].
//
// An absent header does not apply. A header sent more than once is refused
// (even with equal values), and so is a value that the validator rejects,
// including an empty one: a client that sends the header must send a valid
// tenant id. The value is not trimmed beyond what net/http already does, and
// not case-folded.
//
// The header is chosen by the client: use it behind an authenticating proxy
// that sets it, or check it against a credential with [NewConsistentChain].
type HeaderStrategy struct {
	key  string // canonical form of the header name
	desc string
	v    *scope.Validator
}

// NewHeaderStrategy returns a header strategy, or an error if cfg.Name is not
// a valid header field name.
func NewHeaderStrategy(cfg HeaderConfig) (*HeaderStrategy, error) {
	name := cfg.Name
	if name == "" {
		name = DefaultHeader
	}
	if !validFieldName(name) {
		return nil, fmt.Errorf("scopehttp: header name %s is not a valid HTTP field name", strconv.QuoteToASCII(name))
	}
	key := http.CanonicalHeaderKey(name)
	return &HeaderStrategy{key: key, desc: "header " + key, v: cfg.Validator}, nil
}

// Resolve returns the tenant named by the header, [ErrNotApplicable] when the
// header is absent, or a [*StrategyError] matching [scope.ErrInvalidTenant].
func (s *HeaderStrategy) Resolve(r *http.Request) (scope.Tenant, error) {
	vals := r.Header[s.key]
	switch len(vals) {
	case 0:
		return scope.Tenant{}, ErrNotApplicable
	case 1:
	default:
		return scope.Tenant{}, &StrategyError{
			Strategy: s.desc, Err: scope.ErrInvalidTenant,
			Reason: s.desc + " was sent " + strconv.Itoa(len(vals)) + " times; send it once",
		}
	}
	return parseTenant(validatorOr(s.v), vals[0], s.desc, s.desc)
}

// String names the strategy in messages, e.g. "header X-Tenant-Id".
func (s *HeaderStrategy) String() string { return s.desc }

func validatorOr(v *scope.Validator) *scope.Validator {
	if v == nil {
		return scope.DefaultValidator()
	}
	return v
}

// parseTenant validates id, read by strategy from source.
func parseTenant(v *scope.Validator, id, strategy, source string) (scope.Tenant, error) {
	t, err := v.Parse(id)
	if err == nil {
		return t, nil
	}
	se := &StrategyError{Strategy: strategy, Err: scope.ErrInvalidTenant, Cause: err, Reason: "the tenant id from " + source + " is invalid"}
	var ite *scope.InvalidTenantError
	if errors.As(err, &ite) {
		se.Reason = "the tenant id " + ite.ID + " from " + source + " is invalid: " + ite.Reason
	}
	return scope.Tenant{}, se
}

// validFieldName reports whether s is an RFC 9110 token.
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '!', c == '#', c == '$', c == '%', c == '&', c == '\'', c == '*', c == '+', c == '-', c == '.',
			c == '^', c == '_', c == '`', c == '|', c == '~':
		default:
			return false
		}
	}
	return true
}
