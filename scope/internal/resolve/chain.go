package resolve

import (
	"errors"

	"github.com/tenantshield/tenantshield-go/scope"
)

// Chain runs the n strategies of a chain through step, which returns the
// tenant, the subject ("" when unknown) and the error of strategy i; notApp
// is the door's "does not apply" sentinel (errors.Is), which step may return
// as well as ErrNotApplicable.
//
// Without consistent, the first strategy that applies wins. With it, all are
// consulted and two that name different tenants give a [*Conflict]. In both
// modes a strategy that applies but fails ends the chain with its error: a
// bad credential never falls through to a weaker source. When none applies,
// Chain returns ErrNotApplicable.
func Chain(consistent bool, n int, notApp error, step func(i int) (scope.Tenant, string, error)) (scope.Tenant, string, error) {
	var (
		found   scope.Tenant
		from    int
		subject string
	)
	for i := range n {
		t, sub, err := step(i)
		switch {
		case errors.Is(err, notApp), errors.Is(err, ErrNotApplicable):
			continue
		case err != nil:
			return scope.Tenant{}, "", err
		case t.IsZero():
			continue
		}
		if !consistent {
			return t, sub, nil
		}
		if subject == "" {
			subject = sub
		}
		if found.IsZero() {
			found, from = t, i
			continue
		}
		if t != found {
			return scope.Tenant{}, "", &Conflict{First: found, Second: t, FirstIndex: from, SecondIndex: i}
		}
	}
	if found.IsZero() {
		return scope.Tenant{}, "", ErrNotApplicable
	}
	return found, subject, nil
}
