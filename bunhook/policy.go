package bunhook

import (
	"context"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook/internal/sqlguard"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

// WithPolicy makes enforcement evaluate p for every statement on a
// tenant-owned table that passed the tenant checks, once per table, with the
// bound tenant, the table and the action (read for SELECT, delete for
// DELETE, write otherwise). A deny blocks the statement with a
// [*scope.PolicyError] (errors.Is scope.ErrPolicyDenied) and is audited as
// POLICY_DENY; statements under an explicit bypass are not evaluated.
func WithPolicy(p scope.Policy) Option {
	return optionFunc(func(c *config) { c.policy = p })
}

// WithPolicyAllowRecords also audits every allowed evaluation as
// POLICY_ALLOW. Off by default: a SIEM wants the denies, not a record per
// query.
func WithPolicyAllowRecords() Option {
	return optionFunc(func(c *config) { c.policyAllow = true })
}

func actionOf(k sqlguard.Kind) scope.Action {
	switch k {
	case sqlguard.Select:
		return scope.ActionRead
	case sqlguard.Delete:
		return scope.ActionDelete
	}
	return scope.ActionWrite
}

// checkPolicy evaluates the policy for each tenant table of a verified
// statement. It returns the error that blocks the statement, or nil (always
// nil in report-only mode).
func (e *Enforcer) checkPolicy(ctx context.Context, t scope.Tenant, v *sqlguard.Verdict) *scope.PolicyError {
	if e.policy == nil {
		return nil
	}
	action := actionOf(v.Kind)
	for i := 0; i < v.Tables.Len(); i++ {
		op := scope.Operation{Tenant: t, Table: v.Tables.At(i), Action: action}
		d := e.policy.Evaluate(ctx, op)
		if d.Allowed {
			if e.policyAllow && e.bus.Enabled() {
				e.bus.Emit(ctx, auditlog.Event{Type: auditlog.PolicyAllow, Tenant: t.String(), Table: op.Table,
					Operation: v.Operation, Outcome: auditlog.OutcomeAllowed, Reason: d.Reason})
			}
			continue
		}
		report := e.reportOnly()
		err := &scope.PolicyError{Op: op, Reason: d.Reason}
		if e.bus.Enabled() {
			outcome := auditlog.OutcomeDenied
			if report {
				outcome = auditlog.OutcomeReported
			}
			e.bus.Emit(ctx, auditlog.Event{Type: auditlog.PolicyDeny, Tenant: t.String(), Table: op.Table,
				Operation: v.Operation, Outcome: outcome, Reason: d.Reason})
		}
		if e.obs.Enabled() {
			decision := "denied"
			if report {
				decision = "reported"
			}
			e.traceBlocked(ctx, action != scope.ActionRead, otelobs.Decision{Tenant: t.String(), Decision: decision,
				Reason: d.Reason, System: e.system, Table: op.Table, Operation: v.Operation, ErrorType: err.ErrorType()})
		}
		if !report {
			return err
		}
	}
	return nil
}
