package scoperiver

import (
	"errors"
	"fmt"
)

// Sentinel errors. The errors of this package match one of them, or one of
// package scope's ([scope.ErrNoTenant], [scope.ErrInvalidTenant],
// [scope.ErrInvalidBypass]), with errors.Is.
var (
	// ErrNoClaim: a job carries no tenant claim in its metadata (it was
	// enqueued by a client without the middleware, or the claim was
	// removed).
	ErrNoClaim = errors.New("scoperiver: the job carries no tenant claim: enqueue it through a River client " +
		"configured with scoperiver's middleware, in a context with a tenant bound (scope.Run)")
	// ErrMalformedClaim: the job's metadata holds something that is not a
	// well-formed claim.
	ErrMalformedClaim = errors.New("scoperiver: malformed tenant claim")
	// ErrUnknownKey: the claim was tagged with a key the keyring does not
	// hold (a key retired too early, or a forgery).
	ErrUnknownKey = errors.New("scoperiver: the tenant claim names an unknown key")
	// ErrTagMismatch: the claim's tag does not match the job's tenant, kind
	// and arguments: the claim was edited, forged or copied from another job.
	ErrTagMismatch = errors.New("scoperiver: the tenant claim's integrity tag does not match")
	// ErrMalformedArgs: a job's encoded arguments are not JSON that the tag
	// can cover (numbers are limited to 4096 characters and exponents to
	// ±1000).
	ErrMalformedArgs = errors.New("scoperiver: job arguments cannot be tagged")
	// ErrInvalidKeyring: NewKeyring was given an unusable key.
	ErrInvalidKeyring = errors.New("scoperiver: invalid keyring")
)

// InsertError is the error of an insert the middleware refused: no job of
// the batch was inserted. Err is the cause ([scope.ErrNoTenant],
// [scope.ErrTenantConflict], [scope.ErrInvalidBypass], [ErrMalformedArgs]).
type InsertError struct {
	Kind string // the kind of the job refused
	Err  error
}

func (e *InsertError) Error() string {
	return fmt.Sprintf("scoperiver: refused to enqueue a job of kind %q: %v", e.Kind, e.Err)
}

// Unwrap returns the cause.
func (e *InsertError) Unwrap() error { return e.Err }

// JobError is the error a job was cancelled with because its tenant claim
// could not be trusted: the worker did not run. Err is the cause
// ([ErrNoClaim], [ErrMalformedClaim], [ErrUnknownKey], [ErrTagMismatch],
// [ErrMalformedArgs], [scope.ErrInvalidTenant]). River wraps it in a
// river.JobCancelError.
type JobError struct {
	JobID   int64
	Kind    string
	Claimed string // the tenant the claim named, "" when none could be read
	Err     error
}

func (e *JobError) Error() string {
	msg := fmt.Sprintf("scoperiver: job %d of kind %q cancelled without running", e.JobID, e.Kind)
	if e.Claimed != "" {
		msg += fmt.Sprintf(" (claimed tenant %q)", e.Claimed)
	}
	return msg + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *JobError) Unwrap() error { return e.Err }

// ErrorType returns a low-cardinality error.type.
func (e *JobError) ErrorType() string {
	switch {
	case errors.Is(e.Err, ErrNoClaim):
		return "tenant.job.no_claim"
	case errors.Is(e.Err, ErrUnknownKey):
		return "tenant.job.unknown_key"
	case errors.Is(e.Err, ErrTagMismatch):
		return "tenant.job.tag_mismatch"
	}
	return "tenant.job.invalid_claim"
}
