package scopegrpc

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"

	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/internal/resolve"
)

// Sentinel errors of the strategies. Invalid tenant identifiers match
// [scope.ErrInvalidTenant], conflicting sources [scope.ErrTenantConflict] and
// policy denials [scope.ErrPolicyDenied].
var (
	// ErrNotApplicable is returned by a [Strategy] whose source is absent from
	// the call's metadata: the next strategy of a [Chain] is tried.
	ErrNotApplicable = errors.New("scopegrpc: the strategy does not apply to this call")

	// ErrMissingTenant means that the call names no tenant. It also matches
	// [scope.ErrNoTenant].
	ErrMissingTenant error = missingTenantError{}

	// ErrInvalidToken means that a credential (a bearer token, a propagation
	// token) is malformed, forged, expired or otherwise not accepted.
	ErrInvalidToken = errors.New("scopegrpc: invalid credentials")
)

type missingTenantError struct{}

func (missingTenantError) Error() string { return "scopegrpc: the call names no tenant" }

// Is reports whether target is [scope.ErrNoTenant].
func (missingTenantError) Is(target error) bool { return target == scope.ErrNoTenant }

// StrategyError reports that a strategy applied to a call but could not
// resolve a valid tenant from it. Err is the class ([ErrMissingTenant],
// [ErrInvalidToken] or [scope.ErrInvalidTenant]); Cause the underlying error,
// if any. Strategy and Reason show call input only in scope's quoted and
// truncated display form; they go to the audit record, never to the client.
type StrategyError struct {
	Strategy string // what the strategy looked at, e.g. "metadata x-tenant-id"
	Reason   string // what is wrong
	Err      error  // the class
	Cause    error  // the underlying error, or nil
}

// Error returns the strategy and the reason.
func (e *StrategyError) Error() string { return "scopegrpc: " + e.Strategy + ": " + e.Reason }

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
func (e *StrategyError) ErrorType() string {
	switch {
	case errors.Is(e.Err, ErrInvalidToken):
		return "tenant.invalid_token"
	case errors.Is(e.Err, ErrMissingTenant):
		return "tenant.missing"
	case errors.Is(e.Err, scope.ErrInvalidTenant):
		return "tenant.invalid"
	}
	return otelobs.ErrorType(e.Err)
}

// ConflictError reports that two strategies of a consistent [Chain] named
// different tenants for the same call. It matches [scope.ErrTenantConflict].
type ConflictError struct {
	First, Second             scope.Tenant
	FirstSource, SecondSource string
}

// Error names both tenants and their sources.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("scopegrpc: the call names two different tenants: %q (%s) and %q (%s)",
		e.First.String(), e.FirstSource, e.Second.String(), e.SecondSource)
}

// Is reports whether target is [scope.ErrTenantConflict].
func (e *ConflictError) Is(target error) bool { return target == scope.ErrTenantConflict }

// ErrorType returns a low-cardinality error.type.
func (e *ConflictError) ErrorType() string { return "tenant.conflict" }

// StatusError is the error a call's binding ends with when the handler
// failed with a server-side status (Unknown, DeadlineExceeded,
// Unimplemented, Internal, Unavailable, DataLoss): the unit of work failed
// even though it did not panic. Client errors (InvalidArgument, NotFound...)
// end the binding with success, as 4xx do over HTTP.
type StatusError struct {
	Code codes.Code
}

// Error names the code.
func (e *StatusError) Error() string { return "scopegrpc: the handler failed with " + e.Code.String() }

// ErrorType returns the canonical code name, e.g. "Internal".
func (e *StatusError) ErrorType() string { return e.Code.String() }

func serverFailure(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented, codes.Internal, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

// convert turns an error of the shared resolution core into this package's.
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
	se := &StrategyError{Strategy: re.Strategy, Reason: re.Reason, Cause: re.Cause}
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
