package bunhook_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// ---------------------------------------------------------------------------
// True database state, through the raw handle.

type snapRow struct {
	tenant string
	full   string
}

type tableSnap struct {
	missing bool
	rows    map[string]snapRow // key: id, or the whole row for tables without id
}

type snapshot map[string]tableSnap

var snapTables = []string{"customers", "invoices", "items"}

func (td *testDB) snapshot(t *testing.T, tables []string) snapshot {
	t.Helper()
	s := snapshot{}
	for _, tbl := range tables {
		rows, err := td.raw.QueryContext(context.Background(), "SELECT * FROM "+tbl)
		if err != nil {
			s[tbl] = tableSnap{missing: true}
			continue
		}
		ts := tableSnap{rows: map[string]snapRow{}}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var full []string
			var id, tenant string
			for i, c := range cols {
				v := asString(vals[i])
				full = append(full, strings.ToLower(c)+"="+v)
				switch strings.ToLower(c) {
				case "id":
					id = v
				case "tenant_id":
					tenant = v
				}
			}
			f := strings.Join(full, " ")
			key := id
			if key == "" {
				key = f
			}
			ts.rows[key] = snapRow{tenant: tenant, full: f}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		_ = rows.Close()
		s[tbl] = ts
	}
	return s
}

type change struct {
	table, key    string
	before, after *snapRow
	missingBefore bool
	missingAfter  bool
}

func (c change) String() string {
	b, a := "-", "-"
	if c.before != nil {
		b = c.before.full
	}
	if c.after != nil {
		a = c.after.full
	}
	return fmt.Sprintf("%s[%s]: {%s} -> {%s}", c.table, c.key, b, a)
}

func (c change) touches(tenant string) bool {
	return (c.before != nil && c.before.tenant == tenant) || (c.after != nil && c.after.tenant == tenant)
}

func diff(before, after snapshot) []change {
	var out []change
	names := make([]string, 0, len(before))
	for n := range before {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b, a := before[n], after[n]
		if b.missing != a.missing {
			out = append(out, change{table: n, key: "<table>", missingBefore: b.missing, missingAfter: a.missing})
		}
		keys := map[string]bool{}
		for k := range b.rows {
			keys[k] = true
		}
		for k := range a.rows {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			br, bok := b.rows[k]
			ar, aok := a.rows[k]
			if bok && aok && br == ar {
				continue
			}
			c := change{table: n, key: k}
			if bok {
				c.before = &br
			}
			if aok {
				c.after = &ar
			}
			out = append(out, c)
		}
	}
	return out
}
