package resolve

import (
	"errors"

	"github.com/tenantshield/tenantshield-go/scope"
)

// ErrNotApplicable reports that the strategy's source is absent.
var ErrNotApplicable = errors.New("resolve: the strategy does not apply")

// Class is what kind of failure an [*Error] is; each door maps it to its own
// sentinel.
type Class int

// The classes of a strategy failure.
const (
	ClassInvalidTenant Class = iota + 1 // matches scope.ErrInvalidTenant
	ClassMissingTenant                  // the source names no tenant
	ClassInvalidToken                   // a credential is malformed, forged, expired...
)

// ChallengeInvalidToken is the WWW-Authenticate challenge for a bad bearer
// token (RFC 6750, section 3).
const ChallengeInvalidToken = `Bearer error="invalid_token"`

// Error is a strategy that applied but could not resolve a valid tenant.
// Strategy and Reason are safe to show: request input appears in them only in
// scope's quoted and truncated display form.
type Error struct {
	Strategy  string
	Reason    string
	Class     Class
	Cause     error
	Challenge string
}

func (e *Error) Error() string { return e.Strategy + ": " + e.Reason }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Conflict reports that two strategies of a consistent chain named different
// tenants: those of strategies FirstIndex and SecondIndex.
type Conflict struct {
	First, Second           scope.Tenant
	FirstIndex, SecondIndex int
}

func (e *Conflict) Error() string { return "the request names two different tenants" }

// ParseTenant validates id, read by strategy from source.
func ParseTenant(v *scope.Validator, id, strategy, source string) (scope.Tenant, error) {
	t, err := ValidatorOr(v).Parse(id)
	if err == nil {
		return t, nil
	}
	e := &Error{Strategy: strategy, Class: ClassInvalidTenant, Cause: err, Reason: "the tenant id from " + source + " is invalid"}
	var ite *scope.InvalidTenantError
	if errors.As(err, &ite) {
		e.Reason = "the tenant id " + ite.ID + " from " + source + " is invalid: " + ite.Reason
	}
	return scope.Tenant{}, e
}

// ValidatorOr returns v, or scope's default validator when v is nil.
func ValidatorOr(v *scope.Validator) *scope.Validator {
	if v == nil {
		return scope.DefaultValidator()
	}
	return v
}
