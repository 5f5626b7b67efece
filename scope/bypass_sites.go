package scope

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// BypassSites is the set of places in the code where a bypass may be
// declared: the bypass manifest that tenantshieldvet writes
// (go vet -vettool=tenantshieldvet -bypassreason.manifest=FILE ./...).
// Given to [SetBypassSites], it closes the loop between review and run
// time: a [WithBypass] call from a site the manifest does not list (code
// added or moved since the manifest was made, or a bypass made through
// reflection) is reported as it happens.
type BypassSites struct {
	sites map[bypassSite]string // site -> reason
}

type bypassSite struct {
	pkg, file string
	line      int
}

// ParseBypassSites reads a bypass manifest: one site per line, as package
// path ("main" for a command), file name, line and quoted reason separated
// by tabs. Blank lines and lines starting with # are ignored; a malformed
// line is an error naming it.
func ParseBypassSites(r io.Reader) (*BypassSites, error) {
	s := &BypassSites{sites: map[bypassSite]string{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("scope: bypass manifest line %d: want package, file, line and reason separated by tabs", n)
		}
		line, err := strconv.Atoi(f[2])
		if err != nil || line <= 0 || f[0] == "" || f[1] == "" || strings.ContainsRune(f[1], '/') {
			return nil, fmt.Errorf("scope: bypass manifest line %d: %q is not a site (package, file name, line)", n, strings.Join(f[:3], " "))
		}
		reason, err := strconv.Unquote(f[3])
		if err != nil {
			return nil, fmt.Errorf("scope: bypass manifest line %d: the reason is not a quoted string", n)
		}
		s.sites[bypassSite{pkg: f[0], file: f[1], line: line}] = reason
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scope: reading the bypass manifest: %w", err)
	}
	return s, nil
}

// Len returns the number of sites.
func (s *BypassSites) Len() int { return len(s.sites) }

// Contains reports whether b was declared at a listed site.
func (s *BypassSites) Contains(b *Bypass) bool {
	_, ok := s.sites[siteOf(b)]
	return ok
}

// siteOf is where b was declared, in the manifest's terms: the package
// from the function's name, the file's base name, the line.
func siteOf(b *Bypass) bypassSite {
	return bypassSite{pkg: funcPackage(b.Function), file: path.Base(strings.ReplaceAll(b.File, "\\", "/")), line: b.Line}
}

// funcPackage is the package path of a runtime function name
// ("example.com/app/billing.(*Run).Do.func1" -> "example.com/app/billing").
func funcPackage(fn string) string {
	slash := strings.LastIndexByte(fn, '/')
	if dot := strings.IndexByte(fn[slash+1:], '.'); dot >= 0 {
		return fn[:slash+1+dot]
	}
	return fn
}

var bypassSites atomic.Pointer[BypassSites]

// SetBypassSites makes every later [WithBypass] check its caller against
// sites: a bypass declared elsewhere still takes effect (the check
// reports, it does not refuse), is marked [Bypass.Unlisted], and is
// audited at once as an ENFORCEMENT_VIOLATION with outcome "reported" on
// the default binder's bus, naming the site. nil turns the check off (the
// default).
func SetBypassSites(sites *BypassSites) { bypassSites.Store(sites) }

// checkSite marks and reports b when a manifest is set and lacks its site.
func checkSite(ctx context.Context, b *Bypass) {
	s := bypassSites.Load()
	if s == nil || s.Contains(b) {
		return
	}
	b.Unlisted = true
	site := siteOf(b)
	defaultBinder.Bus().Emit(ctx, auditlog.Event{
		Type: auditlog.EnforcementViolation, Operation: "bypass", Outcome: auditlog.OutcomeReported,
		Reason: fmt.Sprintf("scope.WithBypass(%q) at %s/%s:%d is not in the bypass manifest: review it and regenerate the manifest "+
			"(go vet -vettool=tenantshieldvet -bypassreason.manifest=FILE ./...)", b.Reason, site.pkg, site.file, site.line),
		Caller: auditlog.Caller{File: b.File, Line: b.Line, Function: b.Function},
	})
}
