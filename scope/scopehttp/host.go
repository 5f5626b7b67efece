package scopehttp

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/tenantshield/tenantshield-go/scope"
)

// DefaultReservedLabels returns the labels that never name a tenant unless
// [HostConfig.Reserved] says otherwise: "www" and "api".
func DefaultReservedLabels() []string { return []string{"www", "api"} }

// HostConfig configures [NewHostStrategy].
type HostConfig struct {
	// BaseDomains are the domains under which a label names a tenant, e.g.
	// "example.com" for acme.example.com. At least one is required. They are
	// matched case-insensitively, with or without a trailing dot; when
	// several match, the longest wins (acme.eu.example.com is acme under
	// eu.example.com).
	BaseDomains []string
	// Reserved are labels that do not name a tenant (case-insensitive). Nil
	// means DefaultReservedLabels(); an empty non-nil slice reserves nothing.
	Reserved []string
	// Validator validates the label. Nil means scope.DefaultValidator() at
	// the time of each request.
	Validator *scope.Validator
}

// HostStrategy resolves the tenant from the leftmost label of the request's
// host (r.Host) under a configured base domain: acme.example.com names
// "acme". Build it with [NewHostStrategy].
//
// The port and one trailing dot are ignored, and the host is compared in
// ASCII lower case, so the tenant is the lower-case label (non-ASCII letters
// are not folded, and the default validator rejects them). It does not apply
// to: an empty host, IP addresses (IPv4, and IPv6 with or without brackets),
// a host outside the base domains, a bare base domain, and a reserved label
// (www.example.com).
//
// A host with more than one label below the base domain (a.b.example.com) is
// refused with a [*StrategyError] matching [scope.ErrInvalidTenant] rather
// than ignored: it is inside the service's domain but names no single
// tenant, and falling through to another strategy would hide the mistake. So
// is a label that the validator rejects (a_b.example.com with the default
// validator, or an empty one as in .example.com).
//
// r.Host is what the client sent (or what a proxy in front rewrote it to):
// headers such as X-Forwarded-Host are not read.
type HostStrategy struct {
	bases    []string // lower case, no trailing dot, longest first
	reserved map[string]struct{}
	v        *scope.Validator
}

// NewHostStrategy returns a host strategy, or an error if no base domain is
// given or one is not a valid DNS name (an IP address, an empty label, an
// all-numeric top-level label).
func NewHostStrategy(cfg HostConfig) (*HostStrategy, error) {
	if len(cfg.BaseDomains) == 0 {
		return nil, errors.New("scopehttp: the host strategy needs at least one base domain")
	}
	s := &HostStrategy{v: cfg.Validator, reserved: map[string]struct{}{}}
	for _, d := range cfg.BaseDomains {
		base := asciiLower(strings.TrimSuffix(d, "."))
		if err := checkDomain(base); err != nil {
			return nil, fmt.Errorf("scopehttp: base domain %s: %w", strconv.QuoteToASCII(d), err)
		}
		if !slices.Contains(s.bases, base) {
			s.bases = append(s.bases, base)
		}
	}
	slices.SortStableFunc(s.bases, func(a, b string) int { return len(b) - len(a) })
	reserved := cfg.Reserved
	if reserved == nil {
		reserved = DefaultReservedLabels()
	}
	for _, l := range reserved {
		s.reserved[asciiLower(l)] = struct{}{}
	}
	return s, nil
}

func checkDomain(d string) error {
	if d == "" {
		return errors.New("it is empty")
	}
	if len(d) > 253 {
		return errors.New("it is longer than 253 bytes")
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return errors.New("it is an IP address")
	}
	labels := strings.Split(d, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return errors.New("it has an empty or over-long label")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("it contains %s; allowed: letters, digits, '-' and '.'", strconv.QuoteRuneToASCII(rune(c)))
			}
		}
	}
	if last := labels[len(labels)-1]; strings.Trim(last, "0123456789") == "" {
		return errors.New("its last label is numeric")
	}
	return nil
}

// Resolve returns the tenant named by r.Host, [ErrNotApplicable], or a
// [*StrategyError] matching [scope.ErrInvalidTenant].
func (s *HostStrategy) Resolve(r *http.Request) (scope.Tenant, error) {
	host, ok := hostname(r.Host)
	if !ok {
		return scope.Tenant{}, ErrNotApplicable
	}
	host = asciiLower(host)
	if slices.Contains(s.bases, host) {
		return scope.Tenant{}, ErrNotApplicable // a bare base domain
	}
	for _, base := range s.bases {
		if len(host) <= len(base) || !strings.HasSuffix(host, base) || host[len(host)-len(base)-1] != '.' {
			continue // not under this base domain
		}
		label := host[:len(host)-len(base)-1]
		if strings.IndexByte(label, '.') >= 0 {
			return scope.Tenant{}, &StrategyError{
				Strategy: "host", Err: scope.ErrInvalidTenant,
				Reason: "the host has more than one label below the base domain " + base + "; expected <tenant>." + base,
			}
		}
		if _, ok := s.reserved[label]; ok {
			return scope.Tenant{}, ErrNotApplicable
		}
		return parseTenant(s.v, label, "host", "the host")
	}
	return scope.Tenant{}, ErrNotApplicable
}

// String names the strategy in messages.
func (s *HostStrategy) String() string { return "host" }

// hostname strips the port and one trailing dot from hostport. It reports
// false for an empty host and for IP addresses.
func hostname(hostport string) (string, bool) {
	if hostport == "" || hostport[0] == '[' {
		return "", false // empty, or a bracketed IPv6 literal
	}
	host := hostport
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		if strings.IndexByte(hostport, ':') != i {
			return "", false // an unbracketed IPv6 address, or garbage
		}
		host = hostport[:i]
		for j := i + 1; j < len(hostport); j++ {
			if c := hostport[j]; c < '0' || c > '9' {
				return "", false // not a port
			}
		}
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return "", false
	}
	if c := host[len(host)-1]; c >= '0' && c <= '9' {
		if _, err := netip.ParseAddr(host); err == nil {
			return "", false
		}
	}
	return host, true
}

// asciiLower lower-cases ASCII letters only, so that no Unicode case folding
// (such as the Kelvin sign K to k) can turn a foreign host into a base
// domain. It does not allocate when s has no upper-case ASCII letter.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + ('a' - 'A')
				}
			}
			return string(b)
		}
	}
	return s
}
