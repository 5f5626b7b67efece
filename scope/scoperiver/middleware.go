package scoperiver

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/attribute"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/scope"
)

// MaintenanceArgs is implemented by the arguments of jobs that legitimately
// span tenants (a retention sweep, a fan-out that enqueues one job per
// tenant). Such a job is enqueued without a tenant and runs under an
// explicit bypass ([scope.WithBypass]) whose reason is MaintenanceReason,
// audited as ENFORCEMENT_BYPASS when it starts (and, through bunhook, for
// every query it runs). Return a constant: the reason is a property of the
// job kind, not of one job, and it is covered by the job's integrity tag.
type MaintenanceArgs interface {
	river.JobArgs
	MaintenanceReason() string
}

// Audit operations of the events this package emits.
const (
	OperationInsert = "river.insert"
	OperationWork   = "river.work"
)

// Attribute keys of the events this package emits.
const (
	AttrJobKind = attribute.Key("river.job.kind")
	AttrJobID   = attribute.Key("river.job.id")
	AttrKeyID   = attribute.Key("tenant.claim.key_id")
)

// Middleware carries the tenant from the context that enqueues a job to the
// context the job runs in. Install one instance as River middleware (in
// river.Config.Middleware), after otelriver's if you use it: on insert it
// stores the tenant bound in the context, tagged, in the job's metadata; on
// work it verifies the tag, binds the tenant for the job's duration and
// releases it after, or cancels a job it cannot trust without running it.
type Middleware struct {
	river.MiddlewareDefaults

	keys      *Keyring
	binder    *scope.Binder
	validator *scope.Validator
}

var (
	_ rivertype.JobInsertMiddleware = (*Middleware)(nil)
	_ rivertype.WorkerMiddleware    = (*Middleware)(nil)
)

// Option configures a [Middleware].
type Option interface{ apply(*Middleware) }

type optionFunc func(*Middleware)

func (f optionFunc) apply(m *Middleware) { f(m) }

// WithBinder sets the binder that binds each job's tenant and whose audit
// bus receives this package's events (default: scope.DefaultBinder()).
func WithBinder(b *scope.Binder) Option {
	return optionFunc(func(m *Middleware) {
		if b != nil {
			m.binder = b
		}
	})
}

// WithValidator sets the validator the tenant of every job is checked with
// before it is bound (default: scope.DefaultValidator() at the time of
// work).
func WithValidator(v *scope.Validator) Option {
	return optionFunc(func(m *Middleware) { m.validator = v })
}

// NewMiddleware returns the middleware, tagging and verifying with keys.
// Every process that enqueues or works the same jobs needs the same keys.
func NewMiddleware(keys *Keyring, opts ...Option) (*Middleware, error) {
	if keys == nil {
		return nil, fmt.Errorf("%w: scoperiver.NewMiddleware needs a keyring", ErrInvalidKeyring)
	}
	m := &Middleware{keys: keys, binder: scope.DefaultBinder()}
	for _, o := range opts {
		o.apply(m)
	}
	return m, nil
}

// InsertMany stamps every job of the batch with its claim: the tenant bound
// in ctx, or the maintenance reason of jobs whose arguments implement
// [MaintenanceArgs]. The tenant always comes from ctx, never from the job's
// arguments or the caller's metadata. When a job of the batch cannot be
// stamped (no tenant bound, an empty maintenance reason, arguments the tag
// cannot cover), nothing is inserted, the insert fails with an
// [*InsertError] and an ENFORCEMENT_VIOLATION is audited.
func (m *Middleware) InsertMany(ctx context.Context, params []*rivertype.JobInsertParams,
	doInner func(context.Context) ([]*rivertype.JobInsertResult, error),
) ([]*rivertype.JobInsertResult, error) {
	stamped := make([][]byte, len(params))
	for i, p := range params {
		md, err := m.stamp(ctx, p)
		if err != nil {
			ierr := &InsertError{Kind: p.Kind, Err: err}
			bound, _ := scope.FromContext(ctx)
			m.binder.Bus().Emit(ctx, auditlog.Event{
				Type: auditlog.EnforcementViolation, Tenant: bound.String(), Operation: OperationInsert,
				Reason: ierr.Error(), Outcome: auditlog.OutcomeBlocked,
				Attributes: []attribute.KeyValue{AttrJobKind.String(p.Kind)},
			})
			return nil, ierr
		}
		stamped[i] = md
	}
	for i, p := range params {
		p.Metadata = stamped[i]
	}
	return doInner(ctx)
}

// stamp returns p's metadata with its claim.
func (m *Middleware) stamp(ctx context.Context, p *rivertype.JobInsertParams) ([]byte, error) {
	mode, value := modeTenant, ""
	if ma, ok := p.Args.(MaintenanceArgs); ok {
		mode, value = modeBypass, ma.MaintenanceReason()
		if strings.TrimSpace(value) == "" {
			return nil, fmt.Errorf("%T.MaintenanceReason: %w", p.Args, scope.ErrInvalidBypass)
		}
	} else {
		t, err := scope.Require(ctx)
		if err != nil {
			return nil, err
		}
		value = t.String()
	}
	c, err := m.keys.sign(mode, value, p.Kind, p.EncodedArgs)
	if err != nil {
		return nil, err
	}
	md, err := withClaim(p.Metadata, c)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedClaim, err)
	}
	return md, nil
}

// Work runs the job for the tenant its claim names, after verifying the
// claim against the job's kind and arguments as stored: the tenant is bound
// with the binder's real lifecycle (CONTEXT_BOUND when the job starts,
// CONTEXT_RELEASED with its outcome when it ends) on the context River made
// for this job alone, so nothing of one job's tenant reaches the next job a
// worker goroutine runs. A bypass inherited from the client's context is
// dropped.
//
// A job whose claim is missing, malformed, tagged with an unknown key, does
// not match its tag, or names an invalid tenant fails closed: the worker
// does not run, an ENFORCEMENT_VIOLATION is audited and the job is
// cancelled (river.JobCancel) with a [*JobError]. It is cancelled rather
// than failed because the claim is part of the stored job and no retry can
// repair it: retrying would only repeat the refusal up to the job's
// attempt limit; the cancelled row stays for inspection.
//
// A maintenance job runs under [scope.WithBypass] with its reason, after an
// ENFORCEMENT_BYPASS record.
func (m *Middleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	ctx = scope.WithoutBypass(ctx)
	c, err := parseClaim(job.Metadata)
	if err == nil {
		err = m.keys.verify(c, job.Kind, job.EncodedArgs)
	}
	var t scope.Tenant
	if err == nil && c.Bypass == "" {
		v := m.validator
		if v == nil {
			v = scope.DefaultValidator()
		}
		t, err = v.Parse(c.Tenant)
	}
	if err != nil {
		return m.refuse(ctx, job, c, err)
	}
	if c.Bypass != "" {
		return m.bypass(ctx, job, c, doInner)
	}
	return m.binder.Run(ctx, t, doInner)
}

// refuse audits a job that cannot run and cancels it.
func (m *Middleware) refuse(ctx context.Context, job *rivertype.JobRow, c claim, cause error) error {
	// The claimed tenant comes from a row that may be forged: bounded and
	// quoted unless it is short plain ASCII, so it cannot flood or forge
	// lines of the audit trail.
	claimed := boundedID(c.Tenant)
	jerr := &JobError{JobID: job.ID, Kind: job.Kind, Claimed: claimed, Err: cause}
	attrs := []attribute.KeyValue{AttrJobKind.String(job.Kind), AttrJobID.Int64(job.ID), attribute.String("error.type", jerr.ErrorType())}
	if c.KeyID != "" {
		attrs = append(attrs, AttrKeyID.String(c.KeyID))
	}
	m.binder.Bus().Emit(ctx, auditlog.Event{
		Type: auditlog.EnforcementViolation, AttemptedTenant: claimed, Operation: OperationWork,
		Reason: jerr.Error(), Outcome: auditlog.OutcomeBlocked, Attributes: attrs,
	})
	return river.JobCancel(jerr)
}

// bypass runs a maintenance job under an explicit bypass.
func (m *Middleware) bypass(ctx context.Context, job *rivertype.JobRow, c claim, doInner func(context.Context) error) error {
	// The reason is the constant MaintenanceReason of the job's arguments,
	// carried in the tagged claim from the insert.
	//tenantshield:ignore bypassreason the reason is MaintenanceArgs.MaintenanceReason, a constant per job kind, verified by the claim's tag
	bctx, err := scope.WithBypass(ctx, c.Bypass)
	if err != nil {
		return m.refuse(ctx, job, c, err) // a blank reason
	}
	if err := m.binder.Bus().EmitChecked(bctx, auditlog.Event{
		Type: auditlog.EnforcementBypass, Operation: OperationWork, Reason: c.Bypass, Outcome: auditlog.OutcomeBypassed,
		Attributes: []attribute.KeyValue{AttrJobKind.String(job.Kind), AttrJobID.Int64(job.ID), AttrKeyID.String(c.KeyID)},
	}); err != nil {
		// A blocking audit sink could not record the bypass: the job does
		// not run now; River retries it.
		return fmt.Errorf("scoperiver: the bypass of job %d could not be audited: %w", job.ID, err)
	}
	return doInner(bctx)
}

// boundedID is s as is when it is at most 80 bytes of printable ASCII,
// else quoted and cut to 80 bytes.
func boundedID(s string) string {
	const limit = 80
	plain := len(s) <= limit
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] >= 0x20 && s[i] < 0x7f
	}
	if plain {
		return s
	}
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.QuoteToASCII(s[:cut]) + "..."
	}
	return strconv.QuoteToASCII(s)
}
