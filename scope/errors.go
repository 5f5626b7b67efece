package scope

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this module returns for a tenant-isolation
// reason matches one of them with errors.Is, also through bun, which returns
// hook errors unchanged.
var (
	// ErrNoTenant: an operation that needs a tenant ran with none bound.
	ErrNoTenant = errors.New("tenantshield: no tenant bound in the context: bind one with scope.Bind or scope.Run " +
		"(the scopehttp middleware does it per request), or declare an explicit bypass with scope.WithBypass(ctx, reason)")
	// ErrCrossTenant: an operation tried to read or change another tenant's data.
	ErrCrossTenant = errors.New("tenantshield: cross-tenant access")
	// ErrInvalidTenant: a tenant identifier failed validation.
	ErrInvalidTenant = errors.New("tenantshield: invalid tenant id")
	// ErrTenantConflict: a different tenant was bound over an already bound one.
	ErrTenantConflict = errors.New("tenantshield: conflicting tenant binding")
	// ErrPolicyDenied: a policy denied the operation.
	ErrPolicyDenied = errors.New("tenantshield: denied by policy")
	// ErrInvalidBypass: a bypass or switch was declared without a reason.
	ErrInvalidBypass = errors.New("tenantshield: a bypass needs a non-empty reason")
	// ErrUnscopedQuery: a statement could not be verified as restricted to the
	// bound tenant.
	ErrUnscopedQuery = errors.New("tenantshield: statement not verifiably scoped to the tenant")
)

// InvalidTenantError reports why a tenant identifier was rejected.
type InvalidTenantError struct {
	ID     string // the rejected input, quoted and truncated for safe display
	Reason string
}

func (e *InvalidTenantError) Error() string {
	return fmt.Sprintf("tenantshield: invalid tenant id %s: %s", e.ID, e.Reason)
}

// Is reports whether target is [ErrInvalidTenant].
func (e *InvalidTenantError) Is(target error) bool { return target == ErrInvalidTenant }

// ErrorType returns a low-cardinality error.type.
func (e *InvalidTenantError) ErrorType() string { return "tenant.invalid" }

// ConflictError reports an attempt to bind a tenant over a different one.
type ConflictError struct {
	Bound     string // the tenant already bound
	Requested string // the tenant that was refused
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("tenantshield: tenant %q is already bound in this context; refusing to bind %q over it "+
		"(start from a context without a tenant, or use scope.Switch with a reason)", e.Bound, e.Requested)
}

// Is reports whether target is [ErrTenantConflict].
func (e *ConflictError) Is(target error) bool { return target == ErrTenantConflict }

// ErrorType returns a low-cardinality error.type.
func (e *ConflictError) ErrorType() string { return "tenant.conflict" }

// ViolationError is the error of an operation that enforcement blocked. Err is
// the sentinel ([ErrNoTenant], [ErrCrossTenant], [ErrUnscopedQuery],
// [ErrPolicyDenied], ...) that errors.Is matches.
type ViolationError struct {
	Op        string // the operation, e.g. SELECT, UPDATE, bind
	Table     string // the table or tables concerned
	Model     string // the Go model, when known
	Bound     string // the bound tenant ("" when none)
	Attempted string // the tenant the operation tried to reach, when known
	Reason    string // what was wrong
	Fix       string // what to do about it
	Err       error  // the sentinel
}

func (e *ViolationError) Error() string {
	msg := "tenantshield: " + e.Op
	if e.Table != "" {
		msg += " on " + e.Table
	}
	msg += " blocked"
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	switch {
	case e.Bound != "" && e.Attempted != "":
		msg += fmt.Sprintf(" (bound tenant %q, attempted %q)", e.Bound, e.Attempted)
	case e.Bound != "":
		msg += fmt.Sprintf(" (bound tenant %q)", e.Bound)
	}
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

// Unwrap returns the sentinel.
func (e *ViolationError) Unwrap() error { return e.Err }

// ErrorType returns a low-cardinality error.type derived from the sentinel.
func (e *ViolationError) ErrorType() string {
	switch {
	case errors.Is(e.Err, ErrNoTenant):
		return "tenant.missing"
	case errors.Is(e.Err, ErrCrossTenant):
		return "tenant.cross_tenant"
	case errors.Is(e.Err, ErrUnscopedQuery):
		return "tenant.unscoped_query"
	case errors.Is(e.Err, ErrPolicyDenied):
		return "tenant.policy_denied"
	case errors.Is(e.Err, ErrTenantConflict):
		return "tenant.conflict"
	}
	return "tenant.violation"
}

// PolicyError is returned when a policy denies an operation.
type PolicyError struct {
	Op     Operation
	Reason string
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("tenantshield: policy denied %s on %s for tenant %q: %s", e.Op.Action, e.Op.Table, e.Op.Tenant.String(), e.Reason)
}

// Is reports whether target is [ErrPolicyDenied].
func (e *PolicyError) Is(target error) bool { return target == ErrPolicyDenied }

// ErrorType returns a low-cardinality error.type.
func (e *PolicyError) ErrorType() string { return "tenant.policy_denied" }
