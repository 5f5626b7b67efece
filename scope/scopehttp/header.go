package scopehttp

import (
	"net/http"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/internal/resolve"
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
	core resolve.Header
}

// NewHeaderStrategy returns a header strategy, or an error if cfg.Name is not
// a valid header field name.
func NewHeaderStrategy(cfg HeaderConfig) (*HeaderStrategy, error) {
	name := cfg.Name
	if name == "" {
		name = DefaultHeader
	}
	f, err := resolve.NewField(name)
	if err != nil {
		return nil, prefixed(err)
	}
	return &HeaderStrategy{core: resolve.Header{Field: f, Desc: "header " + f.Canonical, V: cfg.Validator}}, nil
}

// Resolve returns the tenant named by the header, [ErrNotApplicable] when the
// header is absent, or a [*StrategyError] matching [scope.ErrInvalidTenant].
func (s *HeaderStrategy) Resolve(r *http.Request) (scope.Tenant, error) {
	t, err := s.core.Parse(r.Header[s.core.Field.Canonical])
	return t, convert(err)
}

// String names the strategy in messages, e.g. "header X-Tenant-Id".
func (s *HeaderStrategy) String() string { return s.core.Desc }

// parseTenant validates id, read by strategy from source.
func parseTenant(v *scope.Validator, id, strategy, source string) (scope.Tenant, error) {
	t, err := resolve.ParseTenant(v, id, strategy, source)
	return t, convert(err)
}
