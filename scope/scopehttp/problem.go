package scopehttp

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/internal/resolve"
)

// Problem type URIs, one per rejection case. They are a stable contract:
// clients may switch on them.
const (
	ProblemMissingTenant    = "https://tenantshield.dev/problems/missing-tenant"
	ProblemInvalidTenant    = "https://tenantshield.dev/problems/invalid-tenant"
	ProblemInvalidToken     = "https://tenantshield.dev/problems/invalid-token"
	ProblemTenantConflict   = "https://tenantshield.dev/problems/tenant-conflict"
	ProblemTenantForbidden  = "https://tenantshield.dev/problems/tenant-forbidden"
	ProblemAuditUnavailable = "https://tenantshield.dev/problems/audit-unavailable"
)

// ProblemContentType is the media type of the default rejection body.
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type     string `json:"type"`               // one of the Problem* URIs
	Title    string `json:"title"`              // a short, fixed summary of the type
	Status   int    `json:"status"`             // the HTTP status code
	Detail   string `json:"detail,omitempty"`   // what is wrong with this request; never raw input
	Instance string `json:"instance,omitempty"` // "urn:uuid:…", also recorded on the audit event and the span event
}

// Rejection is a request the middleware refused, handed to the
// [RejectionHandler].
type Rejection struct {
	// Problem is the response body of the default handler.
	Problem Problem
	// Challenge is the WWW-Authenticate header value for a 401, or "".
	Challenge string
	// Err is why the request was refused: a [*StrategyError], a
	// [*ConflictError], a [*scope.ConflictError], a [*scope.PolicyError] or
	// an error of a [StrategyFunc]. It may contain raw request input: do not
	// send its message to the client.
	Err error
	// Attempted is the tenant the request named, when it is known: a valid
	// id, or an invalid one in scope's quoted and truncated display form.
	Attempted string
}

// RejectionHandler writes the response to a refused request. It runs instead
// of the application handler; no tenant is bound in r's context.
type RejectionHandler func(w http.ResponseWriter, r *http.Request, rej *Rejection)

// WriteProblem is the default [RejectionHandler]: it writes rej.Problem as
// application/problem+json with its status, the WWW-Authenticate challenge of
// a 401 and Cache-Control: no-store.
func WriteProblem(w http.ResponseWriter, _ *http.Request, rej *Rejection) {
	body, err := json.Marshal(rej.Problem)
	if err != nil { // cannot happen: Problem holds strings and an int
		body = []byte(`{"type":"about:blank","status":` + strconv.Itoa(rej.Problem.Status) + `}`)
	}
	h := w.Header()
	h.Set("Content-Type", ProblemContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if rej.Challenge != "" {
		h.Set("WWW-Authenticate", rej.Challenge)
	}
	w.WriteHeader(rej.Problem.Status)
	_, _ = w.Write(append(body, '\n'))
}

// rejection classifies err. The order matters: a token whose tenant claim is
// invalid is an invalid token (its error also matches scope.ErrInvalidTenant
// through the cause).
func rejection(err error) *Rejection {
	rej := &Rejection{Err: err}
	var se *StrategyError
	hasSE := errors.As(err, &se)
	if hasSE {
		rej.Challenge = se.Challenge
	}
	var ite *scope.InvalidTenantError
	if errors.As(err, &ite) {
		rej.Attempted = ite.ID
	}
	var (
		pc  *ConflictError
		sc  *scope.ConflictError
		pol *scope.PolicyError
	)
	p := &rej.Problem
	switch {
	case errors.As(err, &pol):
		rej.Attempted = pol.Op.Tenant.String()
		p.Type, p.Title, p.Status = ProblemTenantForbidden, "Tenant forbidden", http.StatusForbidden
		p.Detail = "tenant " + strconv.Quote(pol.Op.Tenant.String()) + " is not allowed to " + string(pol.Op.Action) + " this resource"
		if pol.Op.Tenant.IsZero() {
			p.Detail = "a request without a tenant is not allowed to " + string(pol.Op.Action) + " this resource"
		}
	case errors.As(err, &pc):
		rej.Attempted = pc.Second.String()
		p.Type, p.Title, p.Status = ProblemTenantConflict, "Conflicting tenants", http.StatusBadRequest
		p.Detail = "the request names two different tenants: " + strconv.Quote(pc.First.String()) + " (" + pc.FirstSource +
			") and " + strconv.Quote(pc.Second.String()) + " (" + pc.SecondSource + ")"
	case errors.As(err, &sc):
		rej.Attempted = sc.Requested
		p.Type, p.Title, p.Status = ProblemTenantConflict, "Conflicting tenants", http.StatusBadRequest
		p.Detail = "a different tenant is already bound for this request"
	case errors.Is(err, auditlog.ErrNotRecorded):
		// The blocking audit mode could not record the binding: the
		// request is refused, and may be retried.
		p.Type, p.Title, p.Status = ProblemAuditUnavailable, "Audit unavailable", http.StatusServiceUnavailable
		p.Detail = "the request could not be audited, so it was not processed; retry later"
	case errors.Is(err, ErrInvalidToken):
		p.Type, p.Title, p.Status = ProblemInvalidToken, "Invalid token", http.StatusUnauthorized
		p.Detail = "the bearer token is invalid"
		if rej.Challenge == "" {
			rej.Challenge = challengeInvalid
		}
	case errors.Is(err, ErrMissingTenant):
		p.Type, p.Title, p.Status = ProblemMissingTenant, "Missing tenant", http.StatusBadRequest
		p.Detail = "the request names no tenant"
		if rej.Challenge != "" {
			p.Status = http.StatusUnauthorized
		}
	case errors.Is(err, scope.ErrInvalidTenant):
		p.Type, p.Title, p.Status = ProblemInvalidTenant, "Invalid tenant", http.StatusBadRequest
		p.Detail = "the tenant id is invalid"
		if ite != nil {
			p.Detail = "the tenant id " + ite.ID + " is invalid: " + ite.Reason
		}
	default: // an error of a user strategy: its message is not shown
		p.Type, p.Title, p.Status = ProblemInvalidTenant, "Invalid tenant", http.StatusBadRequest
		p.Detail = "the tenant could not be resolved from the request"
	}
	if hasSE && se.Reason != "" {
		p.Detail = se.Reason
	}
	if p.Status != http.StatusUnauthorized {
		rej.Challenge = ""
	}
	p.Instance = newInstance()
	return rej
}

// rejectionReason is the tenant.rejection.reason of a problem type.
func rejectionReason(problemType string) string {
	switch problemType {
	case ProblemMissingTenant:
		return otelobs.RejectionMissingTenant
	case ProblemInvalidToken:
		return otelobs.RejectionInvalidToken
	case ProblemTenantConflict:
		return otelobs.RejectionTenantConflict
	case ProblemTenantForbidden:
		return otelobs.RejectionTenantForbidden
	case ProblemAuditUnavailable:
		return otelobs.RejectionAuditUnavailable
	}
	return otelobs.RejectionInvalidTenant
}

// errorType returns the error.type of a rejection.
func errorType(err error) string {
	var se *StrategyError
	if errors.As(err, &se) {
		return se.ErrorType()
	}
	return otelobs.ErrorType(err)
}

// newInstance returns "urn:uuid:" and a random (version 4) UUID, identifying
// one rejection without echoing anything from the request.
func newInstance() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails (crypto/rand since Go 1.24)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	const hexDigits = "0123456789abcdef"
	buf := make([]byte, 0, 9+36)
	buf = append(buf, "urn:uuid:"...)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf = append(buf, '-')
		}
		buf = append(buf, hexDigits[c>>4], hexDigits[c&0x0f])
	}
	return string(buf)
}

// challengeInvalid is the WWW-Authenticate challenge for a bad bearer token
// (RFC 6750).
const challengeInvalid = resolve.ChallengeInvalidToken
