package scope

import (
	"context"
	"runtime"
	"strings"
)

// Bypass is an explicit decision to run queries without tenant enforcement.
// It records why, and where in the code it was declared.
type Bypass struct {
	Reason   string
	File     string
	Line     int
	Function string
	// Unlisted is set when a bypass manifest is in force ([SetBypassSites])
	// and does not list the site this bypass was declared at.
	Unlisted bool
}

type bypassKey struct{}

// WithBypass returns a copy of ctx in which tenant enforcement is explicitly
// bypassed, for work that legitimately spans tenants (migrations, a nightly
// billing run, an admin report). The reason is mandatory; the caller's file,
// line and function are recorded. Every query that runs under the bypass is
// audited as ENFORCEMENT_BYPASS with the reason and location, so a bypass is
// visible in code review and in the audit trail.
//
// An empty or blank reason returns ctx unchanged and [ErrInvalidBypass].
func WithBypass(ctx context.Context, reason string) (context.Context, error) {
	if strings.TrimSpace(reason) == "" {
		return ctx, ErrInvalidBypass
	}
	b := &Bypass{Reason: reason}
	if pc, file, line, ok := runtime.Caller(1); ok {
		b.File, b.Line = file, line
		if fn := runtime.FuncForPC(pc); fn != nil {
			b.Function = fn.Name()
		}
	}
	checkSite(ctx, b)
	return context.WithValue(ctx, bypassKey{}, b), nil
}

// BypassFromContext returns the bypass declared in ctx, if any.
func BypassFromContext(ctx context.Context) (*Bypass, bool) {
	b, ok := ctx.Value(bypassKey{}).(*Bypass)
	return b, ok && b != nil
}

// WithoutBypass returns a copy of ctx in which an inherited bypass no longer
// applies (for code that must be enforced again inside bypassed work).
func WithoutBypass(ctx context.Context) context.Context {
	if _, ok := BypassFromContext(ctx); !ok {
		return ctx
	}
	return context.WithValue(ctx, bypassKey{}, (*Bypass)(nil))
}
