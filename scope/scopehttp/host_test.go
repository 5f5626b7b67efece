package scopehttp_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenantshield/tenantshield-go/scope"
	"github.com/tenantshield/tenantshield-go/scope/scopehttp"
)

func TestHostStrategy(t *testing.T) {
	t.Parallel()
	base := scopehttp.HostConfig{BaseDomains: []string{"example.com"}}
	multi := scopehttp.HostConfig{BaseDomains: []string{"example.com", "EU.Example.com."}}
	custom := scopehttp.HostConfig{BaseDomains: []string{"example.com"}, Reserved: []string{"Admin"}}
	none := scopehttp.HostConfig{BaseDomains: []string{"example.com"}, Reserved: []string{}}
	tests := []struct {
		name string
		cfg  scopehttp.HostConfig
		host string
		want outcome
	}{
		{name: "tenant", cfg: base, host: "acme.example.com", want: outcome{tenant: "acme"}},
		{name: "upper case", cfg: base, host: "ACME.Example.COM", want: outcome{tenant: "acme"}},
		{name: "port", cfg: base, host: "acme.example.com:8443", want: outcome{tenant: "acme"}},
		{name: "empty port", cfg: base, host: "acme.example.com:", want: outcome{tenant: "acme"}},
		{name: "trailing dot", cfg: base, host: "acme.example.com.", want: outcome{tenant: "acme"}},
		{name: "trailing dot and port", cfg: base, host: "acme.example.com.:443", want: outcome{tenant: "acme"}},
		{name: "punycode", cfg: base, host: "xn--caf-dma.example.com", want: outcome{tenant: "xn--caf-dma"}},
		{name: "digits", cfg: base, host: "42.example.com", want: outcome{tenant: "42"}},
		{name: "www", cfg: base, host: "www.example.com", want: outcome{na: true}},
		{name: "WWW", cfg: base, host: "WWW.EXAMPLE.COM:80", want: outcome{na: true}},
		{name: "api", cfg: base, host: "api.example.com", want: outcome{na: true}},
		{name: "custom reserved", cfg: custom, host: "admin.example.com", want: outcome{na: true}},
		{name: "custom reserved replaces defaults", cfg: custom, host: "www.example.com", want: outcome{tenant: "www"}},
		{name: "nothing reserved", cfg: none, host: "api.example.com", want: outcome{tenant: "api"}},
		{name: "bare base", cfg: base, host: "example.com", want: outcome{na: true}},
		{name: "bare base, dot and port", cfg: base, host: "example.com.:80", want: outcome{na: true}},
		{name: "empty", cfg: base, host: "", want: outcome{na: true}},
		{name: "foreign domain", cfg: base, host: "acme.example.org", want: outcome{na: true}},
		{name: "suffix without dot", cfg: base, host: "acmeexample.com", want: outcome{na: true}},
		{name: "look-alike suffix", cfg: base, host: "acme.notexample.com", want: outcome{na: true}},
		{name: "base as prefix", cfg: base, host: "acme.example.com.evil.net", want: outcome{na: true}},
		{name: "two trailing dots", cfg: base, host: "acme.example.com..", want: outcome{na: true}},
		{name: "Kelvin sign is not folded", cfg: base, host: "acme.exampl\u212a.com", want: outcome{na: true}},
		{name: "IPv4", cfg: base, host: "127.0.0.1", want: outcome{na: true}},
		{name: "IPv4 and port", cfg: base, host: "10.1.2.3:8080", want: outcome{na: true}},
		{name: "IPv6 bracketed", cfg: base, host: "[::1]", want: outcome{na: true}},
		{name: "IPv6 bracketed and port", cfg: base, host: "[2001:db8::1]:443", want: outcome{na: true}},
		{name: "IPv6 zone", cfg: base, host: "[fe80::1%25eth0]:80", want: outcome{na: true}},
		{name: "IPv6 bare", cfg: base, host: "::1", want: outcome{na: true}},
		{name: "IPv4-mapped IPv6", cfg: base, host: "[::ffff:127.0.0.1]", want: outcome{na: true}},
		{name: "bad port", cfg: base, host: "acme.example.com:http", want: outcome{na: true}},
		{name: "two labels", cfg: base, host: "a.b.example.com", want: outcome{err: scope.ErrInvalidTenant, reason: "more than one label"}},
		{name: "www above a tenant", cfg: base, host: "www.acme.example.com", want: outcome{err: scope.ErrInvalidTenant, reason: "more than one label"}},
		{name: "IPv4 under base", cfg: base, host: "1.2.3.4.example.com", want: outcome{err: scope.ErrInvalidTenant, reason: "more than one label"}},
		{name: "empty label", cfg: base, host: ".example.com", want: outcome{err: scope.ErrInvalidTenant, reason: "it is empty"}},
		{name: "underscore", cfg: base, host: "a_b.example.com", want: outcome{tenant: "a_b"}},
		{name: "leading dash", cfg: base, host: "-acme.example.com", want: outcome{err: scope.ErrInvalidTenant, reason: "start with"}},
		{name: "oversized label", cfg: base, host: strings.Repeat("a", 65) + ".example.com", want: outcome{err: scope.ErrInvalidTenant, reason: "the limit is 64"}},
		{name: "non-ASCII label", cfg: base, host: "\u212acme.example.com", want: outcome{err: scope.ErrInvalidTenant, reason: `'\u212a'`}},
		{name: "control character", cfg: base, host: "ac\x00me.example.com", want: outcome{err: scope.ErrInvalidTenant, reason: "control character"}},
		{name: "longest base wins", cfg: multi, host: "acme.eu.example.com", want: outcome{tenant: "acme"}},
		{name: "shorter base still works", cfg: multi, host: "acme.example.com", want: outcome{tenant: "acme"}},
		{name: "other base bare", cfg: multi, host: "eu.example.com", want: outcome{na: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustHost(t, tt.cfg)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Host = tt.host
			got, err := s.Resolve(r)
			checkOutcome(t, got, err, tt.want)
		})
	}
}

func TestNewHostStrategy(t *testing.T) {
	t.Parallel()
	bad := [][]string{
		nil,
		{},
		{""},
		{"."},
		{"127.0.0.1"},
		{"::1"},
		{"example.123"},
		{"exa mple.com"},
		{"a..example.com"},
		{"example.com", "exämple.com"},
		{strings.Repeat("a", 64) + ".com"},
	}
	for _, bases := range bad {
		if _, err := scopehttp.NewHostStrategy(scopehttp.HostConfig{BaseDomains: bases}); err == nil {
			t.Errorf("NewHostStrategy(%q) succeeded", bases)
		}
	}
	for _, bases := range [][]string{{"example.com"}, {"Example.COM."}, {"localhost"}, {"a.b.c.example.co.uk", "example.com", "example.com"}} {
		if _, err := scopehttp.NewHostStrategy(scopehttp.HostConfig{BaseDomains: bases}); err != nil {
			t.Errorf("NewHostStrategy(%q): %v", bases, err)
		}
	}
}
