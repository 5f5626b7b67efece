package scopehttp

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/internal/resolve"
)

// Sentinel errors of the strategies. Invalid tenant identifiers match
// [scope.ErrInvalidTenant], conflicting sources [scope.ErrTenantConflict] and
// policy denials [scope.ErrPolicyDenied].
var (
	// ErrNotApplicable is returned by a [Strategy] whose source is absent from
	// the request (no such header, a host outside the base domains, no bearer
	// token): the next strategy of a [Chain] is tried.
	ErrNotApplicable = errors.New("scopehttp: the strategy does not apply to this request")

	// ErrMissingTenant means that the request names no tenant: no strategy
	// applied, or a bearer token carries no tenant claim. It also matches
	// [scope.ErrNoTenant].
	ErrMissingTenant error = missingTenantError{}

	// ErrInvalidToken means that the bearer token is malformed, forged,
	// expired, not yet valid, from another issuer or audience, or signed with
	// an algorithm that is not allowed.
	ErrInvalidToken = errors.New("scopehttp: invalid bearer token")
)

type missingTenantError struct{}

func (missingTenantError) Error() string { return "scopehttp: the request names no tenant" }

// Is reports whether target is [scope.ErrNoTenant].
func (missingTenantError) Is(target error) bool { return target == scope.ErrNoTenant }

// StrategyError reports that a strategy applied to a request but could not
// resolve a valid tenant from it. Err is the class, which errors.Is matches:
// [ErrMissingTenant], [ErrInvalidToken] or [scope.ErrInvalidTenant]. Cause is
// the underlying error, if any (a [*scope.InvalidTenantError], an error of
// package jwt), which errors.Is and errors.As reach as well.
//
// Strategy and Reason are safe to show to the client: any part of the request
// they contain is in scope's quoted and truncated display form.
type StrategyError struct {
	Strategy  string // what the strategy looked at, e.g. "header X-Tenant-Id", "host", "bearer token"
	Reason    string // what is wrong, for the client and the audit record
	Err       error  // the class: ErrMissingTenant, ErrInvalidToken or scope.ErrInvalidTenant
	Cause     error  // the underlying error, or nil
	Challenge string // the WWW-Authenticate value when the failure calls for credentials, or ""
}

// Error returns the strategy and the reason.
func (e *StrategyError) Error() string {
	return "scopehttp: " + e.Strategy + ": " + e.Reason
}

// Unwrap returns the class and the cause.
func (e *StrategyError) Unwrap() []error {
	errs := make([]error, 0, 2)
	for _, err := range [...]error{e.Err, e.Cause} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// ErrorType returns a low-cardinality error.type for the class.
func (e *StrategyError) ErrorType() string { return classErrorType(e.Err) }

func classErrorType(err error) string {
	switch {
	case errors.Is(err, ErrInvalidToken):
		return "tenant.invalid_token"
	case errors.Is(err, ErrMissingTenant):
		return "tenant.missing"
	case errors.Is(err, scope.ErrInvalidTenant):
		return "tenant.invalid"
	}
	return otelobs.ErrorType(err)
}

// ConflictError reports that two strategies of a consistent [Chain] named
// different tenants for the same request, for example a header and a bearer
// token. It matches [scope.ErrTenantConflict].
type ConflictError struct {
	First, Second             scope.Tenant // the tenants, in chain order
	FirstSource, SecondSource string       // the strategies that named them
}

// Error names both tenants and their sources.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("scopehttp: the request names two different tenants: %q (%s) and %q (%s)",
		e.First.String(), e.FirstSource, e.Second.String(), e.SecondSource)
}

// Is reports whether target is [scope.ErrTenantConflict].
func (e *ConflictError) Is(target error) bool { return target == scope.ErrTenantConflict }

// ErrorType returns a low-cardinality error.type.
func (e *ConflictError) ErrorType() string { return "tenant.conflict" }

// StatusError is the error a request's binding ends with when the handler
// answered with a 5xx status: the unit of work failed even though it did not
// panic.
type StatusError struct {
	Code int // the HTTP status code
}

// Error names the status.
func (e *StatusError) Error() string {
	return "scopehttp: the handler answered " + strconv.Itoa(e.Code) + " " + http.StatusText(e.Code)
}

// ErrorType returns the status code, as the OpenTelemetry HTTP semantic
// conventions do for server errors.
func (e *StatusError) ErrorType() string { return strconv.Itoa(e.Code) }

// convert turns an error of the shared resolution core into this package's
// errors: its sentinel for "does not apply", a [*StrategyError] with this
// package's class.
func convert(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, resolve.ErrNotApplicable) {
		return ErrNotApplicable
	}
	var re *resolve.Error
	if !errors.As(err, &re) {
		return err
	}
	se := &StrategyError{Strategy: re.Strategy, Reason: re.Reason, Cause: re.Cause, Challenge: re.Challenge}
	switch re.Class {
	case resolve.ClassMissingTenant:
		se.Err = ErrMissingTenant
	case resolve.ClassInvalidToken:
		se.Err = ErrInvalidToken
	default:
		se.Err = scope.ErrInvalidTenant
	}
	return se
}

// prefixed adds the package's prefix to a configuration error of the core.
func prefixed(err error) error { return fmt.Errorf("scopehttp: %w", err) }
