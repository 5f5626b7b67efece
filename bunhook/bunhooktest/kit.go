package bunhooktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/tenantshield/tenantshield-go/scope"
)

// Class is a leak class: a family of query shapes that can reach rows of
// another tenant when enforcement is missing or incomplete. Each class runs
// as a subtest named by the class.
type Class string

// The leak classes, in the order [Run] runs them.
const (
	// NoTenant: reads and writes with no tenant bound must fail closed.
	NoTenant Class = "NoTenant"
	// NoWhere: model queries without a WHERE, and point queries on the
	// other tenant's primary keys.
	NoWhere Class = "NoWhere"
	// Or: a top-level WhereOr, WhereGroup(" OR ", ...) and OR inside raw
	// conditions, on reads, updates and deletes.
	Or Class = "Or"
	// Join: manual joins of the model to itself and to the other models
	// given to Run.
	Join Class = "Join"
	// CountExists: Count, Exists and ScanAndCount.
	CountExists Class = "CountExists"
	// Bulk: updates and deletes of many rows, bulk inserts of slices,
	// Bulk() updates and slice deletes.
	Bulk Class = "Bulk"
	// Upsert: ON CONFLICT DO UPDATE (PostgreSQL, SQLite) and ON DUPLICATE
	// KEY UPDATE (MySQL, MariaDB) colliding with the other tenant's row.
	Upsert Class = "Upsert"
	// RawSQL: NewRaw, DB.ExecContext/QueryContext and the embedded *sql.DB.
	RawSQL Class = "RawSQL"
	// Relation: bun relations (belongs-to, has-one, has-many) over a
	// planted cross-tenant reference.
	Relation Class = "Relation"
	// Subquery: subqueries, derived tables and CTEs built from the model.
	Subquery Class = "Subquery"
	// CrossTenantWrite: moving a row to the other tenant, and writing,
	// inserting or deleting with the other tenant's id or rows.
	CrossTenantWrite Class = "CrossTenantWrite"
)

// Classes returns every leak class, in the order Run runs them.
func Classes() []Class {
	return []Class{NoTenant, NoWhere, Or, Join, CountExists, Bulk, Upsert, RawSQL, Relation, Subquery, CrossTenantWrite}
}

// Option configures [Run].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	a, b    string
	classes []Class
}

// WithTenants sets the two tenants the kit seeds and binds (default: two
// random canonical ids, "kita" and "kitb" followed by 8 hex digits, so that
// rows of earlier runs and of the application's own tests never look like
// the kit's). The kit acts as a and attacks b's rows.
func WithTenants(a, b string) Option {
	return optionFunc(func(c *config) { c.a, c.b = a, b })
}

// WithClasses runs only the given classes.
func WithClasses(classes ...Class) Option {
	return optionFunc(func(c *config) { c.classes = append(c.classes, classes...) })
}

// Leak is one failed expectation: an operation of a class on a model that
// returned or changed rows of a tenant other than the bound one.
type Leak struct {
	Class  Class
	Model  string   // the model's Go type name
	Op     string   // the operation, e.g. "Scan with WhereOr(pk = other tenant's row)"
	Detail string   // what leaked
	SQL    []string // the statements the operation sent, as bun rendered them
}

func (l Leak) String() string {
	s := fmt.Sprintf("%s/%s: %s: LEAK: %s", l.Class, l.Model, l.Op, l.Detail)
	if len(l.SQL) > 0 {
		s += "\n\tSQL: " + strings.Join(l.SQL, "\n\t     ")
	} else {
		s += "\n\tSQL: (none captured)"
	}
	return s
}

// Report is what Run found.
type Report struct {
	mu    sync.Mutex
	leaks []Leak
	ops   int
}

// Leaks returns the leaks found, in the order found.
func (r *Report) Leaks() []Leak {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.leaks)
}

// LeakingClasses returns the classes with at least one leak, in Run's order.
func (r *Report) LeakingClasses() []Class {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Class
	for _, c := range Classes() {
		for _, l := range r.leaks {
			if l.Class == c {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// Operations returns how many operations ran.
func (r *Report) Operations() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ops
}

func (r *Report) add(l Leak) {
	r.mu.Lock()
	r.leaks = append(r.leaks, l)
	r.mu.Unlock()
}

// Run seeds two tenants in the tables of models through db (the handle the
// application uses, opened with bunhook) and runs every leak class against
// each model, acting as the first tenant. raw is a separate handle on the
// same database that the kit reads the true state through, and must not
// share db's enforcement: open it with bun.NewDB over its own *sql.DB (see
// [OpenRaw]); the kit queries it by SQL text only, under a
// scope.WithBypass context.
//
// The tables must exist. Run adds rows to them and changes and deletes rows
// of its own tenants; it never changes other rows through raw but to plant
// cross-tenant references between its own rows for the Relation class.
// Give the kit a database (or schema) of its own, or at least do not run it
// in parallel with tests that write the same tables: it compares the whole
// tables before and after every operation.
//
// Every operation's expectation: a read returns only rows of the bound
// tenant (a count no larger than the bound tenant's rows), or fails; a
// write changes, creates and deletes no row of any other tenant and moves
// no row between tenants, or fails. A failed expectation is reported with
// t.Errorf, naming the class, model, operation, what leaked and the SQL
// sent. With t a *testing.T each class is a subtest named by the class,
// with a subtest per model. Run fails the test (t.Fatalf) when it cannot
// seed or read the state.
func Run(t testing.TB, db, raw *bun.DB, models []Model, opts ...Option) *Report {
	t.Helper()
	cfg := config{a: "kita" + randHex(4), b: "kitb" + randHex(4)}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if len(cfg.classes) == 0 {
		cfg.classes = Classes()
	}
	ta, err := scope.Parse(cfg.a)
	if err != nil {
		t.Fatalf("bunhooktest: tenant %q: %v", cfg.a, err)
	}
	tb, err := scope.Parse(cfg.b)
	if err != nil {
		t.Fatalf("bunhooktest: tenant %q: %v", cfg.b, err)
	}
	if db == nil || raw == nil || len(models) == 0 {
		t.Fatalf("bunhooktest.Run needs the enforced handle, a raw handle and at least one model")
	}
	if db.DB == raw.DB {
		t.Fatalf("bunhooktest.Run: raw shares db's *sql.DB; open it separately (bunhooktest.OpenRaw)")
	}
	// A clone of db with the capture hook: db itself is left as it is.
	k := &kit{db: db.WithQueryHook(capture{}), raw: raw, a: ta, b: tb, report: &Report{}}
	for _, m := range models {
		if m.s == nil {
			t.Fatalf("bunhooktest: a zero Model; build models with bunhooktest.For")
		}
		s := *m.s
		if err := s.resolve(db); err != nil {
			t.Fatalf("bunhooktest: %v", err)
		}
		k.subjects = append(k.subjects, &s)
	}
	for _, s := range k.subjects {
		for _, r := range s.table.Relations {
			if u := k.subjectOf(r.JoinTable); u != nil && (r.Type == schema.HasOneRelation || r.Type == schema.HasManyRelation) {
				for _, f := range r.JoinPKs {
					u.fks[f.Name] = true
				}
			}
		}
	}
	for _, class := range cfg.classes {
		runSub(t, string(class), func(t testing.TB) {
			for _, s := range k.subjects {
				runSub(t, s.name, func(t testing.TB) { k.runClass(t, class, s) })
			}
		})
	}
	return k.report
}

// runSub runs fn as a subtest when t can run subtests, and inline otherwise
// (a testing.TB of the caller's own, such as a recorder).
func runSub(t testing.TB, name string, fn func(t testing.TB)) {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		tt.Run(name, func(t *testing.T) { fn(t) })
		return
	}
	fn(t)
}

type kit struct {
	db, raw  *bun.DB
	a, b     scope.Tenant
	subjects []*subject
	report   *Report
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var randRead = rand.Read

// bind returns ctx bound to tenant ("" for none).
func (k *kit) bind(ctx context.Context, tenant string) context.Context {
	if tenant == "" {
		return scope.WithoutBypass(ctx)
	}
	return scope.NewContext(ctx, scope.MustParse(tenant))
}
