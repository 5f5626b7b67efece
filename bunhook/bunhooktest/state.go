package bunhooktest

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/tenantshield/tenantshield-go/scope"
)

// OpenRaw opens the separate handle Run reads the true state through:
// bun.NewDB over a *sql.DB of its own (driverName is a registered
// database/sql driver, e.g. "pg" with bun's pgdriver imported, "mysql",
// sqliteshim.ShimName), closed at the end of the test.
func OpenRaw(t testing.TB, driverName, dsn string, d schema.Dialect) *bun.DB {
	t.Helper()
	sqldb, err := sql.Open(driverName, dsn)
	if err != nil {
		t.Fatalf("bunhooktest.OpenRaw: %v", err)
	}
	raw := bun.NewDB(sqldb, d)
	t.Cleanup(func() { _ = raw.Close() })
	return raw
}

// capture records the statements bun sends on the kit's contexts.
type capture struct{}

type captureKey struct{}

type recorder struct {
	mu   sync.Mutex
	sqls []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.sqls = append(r.sqls, s)
	r.mu.Unlock()
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sqls...)
}

func (capture) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (capture) AfterQuery(ctx context.Context, e *bun.QueryEvent) {
	r, ok := ctx.Value(captureKey{}).(*recorder)
	if !ok {
		return
	}
	s := e.Query
	if e.Err != nil {
		s += "  -- error: " + firstLine(e.Err.Error())
	}
	r.add(s)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// tableState is the true content of a table: primary key (or the whole row
// when the table has no single key) -> tenant and the row's text.
type tableState map[string]rowState

type rowState struct {
	tenant string
	text   string
}

// snapshot reads every kit table through the raw handle.
func (k *kit) snapshot(ctx context.Context) (map[*subject]tableState, error) {
	ctx, err := scope.WithBypass(scope.WithoutBypass(ctx), "bunhooktest: reading the true state through the raw handle")
	if err != nil {
		return nil, err
	}
	out := make(map[*subject]tableState, len(k.subjects))
	for _, s := range k.subjects {
		st, err := k.tableState(ctx, s)
		if err != nil {
			return nil, err
		}
		out[s] = st
	}
	return out, nil
}

func (k *kit) tableState(ctx context.Context, s *subject) (tableState, error) {
	rows, err := k.raw.DB.QueryContext(ctx, "SELECT * FROM "+string(s.table.SQLName))
	if err != nil {
		return nil, fmt.Errorf("reading %s through the raw handle: %w", s.table.Name, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	ti, pi := -1, -1
	for i, c := range cols {
		if strings.EqualFold(c, s.tenantCol) {
			ti = i
		}
		if s.pk != nil && strings.EqualFold(c, s.pk.Name) {
			pi = i
		}
	}
	if ti < 0 {
		return nil, fmt.Errorf("table %s has no column %s", s.table.Name, s.tenantCol)
	}
	st := tableState{}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var b strings.Builder
		for i, v := range vals {
			fmt.Fprintf(&b, "%s=%q ", cols[i], v.String)
		}
		key := b.String()
		if pi >= 0 {
			key = vals[pi].String
		}
		st[key] = rowState{tenant: vals[ti].String, text: b.String()}
	}
	return st, rows.Err()
}

// diff describes every change between before and after to a row that is
// not bound's, or that became or stopped being bound's.
func diff(before, after tableState, bound string) []string {
	var out []string
	for key, b := range before {
		a, ok := after[key]
		switch {
		case !ok && b.tenant != bound:
			out = append(out, fmt.Sprintf("deleted row %s of tenant %q", key, b.tenant))
		case !ok:
		case a.tenant != b.tenant:
			out = append(out, fmt.Sprintf("moved row %s from tenant %q to %q", key, b.tenant, a.tenant))
		case b.tenant != bound && a.text != b.text:
			out = append(out, fmt.Sprintf("changed row %s of tenant %q: %s -> %s", key, b.tenant, b.text, a.text))
		}
	}
	for key, a := range after {
		if _, ok := before[key]; !ok && a.tenant != bound {
			out = append(out, fmt.Sprintf("created row %s of tenant %q", key, a.tenant))
		}
	}
	sort.Strings(out)
	return out
}

func (st tableState) count(tenant string) int64 {
	var n int64
	for _, r := range st {
		if r.tenant == tenant {
			n++
		}
	}
	return n
}

func scopeBypass(ctx context.Context) (context.Context, error) {
	return scope.WithBypass(scope.WithoutBypass(ctx), "bunhooktest: reading the true state through the raw handle")
}
