package sqlguard

import (
	"strings"
	"testing"
)

func TestSplitAssignments(t *testing.T) {
	cases := []struct {
		d        Dialect
		text     string
		noTarget bool
		want     string // targets=value/kind per assignment, ";"-joined; "!" when not ok
	}{
		{Postgres, `number = 'x', customer_id = 3`, false, `number='x'/1;customer_id=3/1`},
		{Postgres, `"invoice"."customer_id" = 3`, false, `invoice,customer_id=3/1`},
		{Postgres, `number = 'x' /* it's */, customer_id = 3`, false, `number='x'/1;customer_id=3/1`},
		{Postgres, `number = $$it's$$, customer_id = 3`, false, `number=$$it's$$/0;customer_id=3/1`},
		{Postgres, `number = E'\'', customer_id = 3`, false, `number=E'\''/0;customer_id=3/1`},
		{Postgres, `(a, customer_id) = (1, 3)`, false, `a,customer_id=(1, 3)/0`},
		{Postgres, `customer_id = f(1, 2), b = NULL`, false, `customer_id=f(1, 2)/0;b=NULL/2`},
		{Postgres, `customer_id = ? + 0`, false, `customer_id=? + 0/0`},
		{Postgres, `customer_id = 3 + 0`, false, `customer_id=3 + 0/0`},
		{MySQL, "`number` = 'a\\\\', customer_id = 3", false, "number='a\\\\'/0;customer_id=3/1"},
		{MySQL, "number = 'x\\', customer_id = 3", false, "!"},
		{Postgres, `number = 'x`, false, `!`},
		{Postgres, `number`, false, `!`},
		{Postgres, `number = 1; DROP TABLE x`, false, `!`},
		{Postgres, `'B'`, true, `='B'/1`},
		{Postgres, `_data.customer_id`, true, `=_data.customer_id/0`},
	}
	for _, tc := range cases {
		g := New(tc.d, nil)
		as, ok := g.SplitAssignments(tc.text, tc.noTarget)
		var got []string
		for _, a := range as {
			got = append(got, strings.Join(a.Targets, ",")+"="+a.Value+"/"+string(rune('0'+a.Kind)))
		}
		s := strings.Join(got, ";")
		if !ok {
			s = "!"
		}
		if s != tc.want {
			t.Errorf("%s %q: got %s, want %s", tc.d, tc.text, s, tc.want)
		}
	}
}

// FuzzSplitAssignments: never panics; every value it returns is a part of
// the text, and a literal's value is inside its value's text.
func FuzzSplitAssignments(f *testing.F) {
	for _, s := range []string{`a = 1, b = 'x'`, `a = f(1, 2)`, `(a, b) = (1, 2)`, `a = $$,$$, b = 2`, "a = 'x\\', b = 2"} {
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, text string, d uint8) {
		g := New(Dialect(d%3+1), nil)
		as, ok := g.SplitAssignments(text, false)
		if !ok {
			return
		}
		for _, a := range as {
			if !strings.Contains(text, a.Value) {
				t.Fatalf("value %q not in %q", a.Value, text)
			}
			if s, isString := a.Literal.(string); isString && !strings.Contains(a.Value, s) {
				t.Fatalf("literal %q not in value %q", s, a.Value)
			}
		}
	})
}
