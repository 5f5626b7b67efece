package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	down := func(context.Context, tier, string) error { return errors.New("connection refused") }
	up := func(context.Context, tier, string) error { return nil }
	for _, tc := range []struct {
		name  string
		env   map[string]string
		probe func(context.Context, tier, string) error
		want  []string
	}{
		{"unset", map[string]string{}, up, []string{"PostgreSQL  SKIPPED: TS_PG_DSN is not set", "MariaDB     SKIPPED: TS_MYSQL_DSN is not set"}},
		{"unset required", map[string]string{"TS_REQUIRE_DBS": "1"}, up, []string{"PostgreSQL  FAILS: TS_PG_DSN is not set"}},
		{"reachable", map[string]string{"TS_PG_DSN": "postgres://u:secret@h:5432/test", "TS_MYSQL_DSN": "root:pw@tcp(h:3306)/test"}, up,
			[]string{"PostgreSQL  runs (postgres://u:xxxxx@h:5432/test)", "MariaDB     runs (root:xxxxx@tcp(h:3306)/test)"}},
		{"unreachable", map[string]string{"TS_PG_DSN": "postgres://u@h/test"}, down,
			[]string{"PostgreSQL  SKIPPED: postgres://u@h/test is unreachable (connection refused)"}},
		{"unreachable required", map[string]string{"TS_PG_DSN": "postgres://u@h/test", "TS_REQUIRE_DBS": "1"}, down,
			[]string{"PostgreSQL  FAILS: postgres://u@h/test is unreachable and TS_REQUIRE_DBS is set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			report(&b, func(k string) string { return tc.env[k] }, tc.probe)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
			if strings.Contains(b.String(), "secret") || strings.Contains(b.String(), ":pw@") {
				t.Errorf("a password is printed:\n%s", b.String())
			}
		})
	}
}
