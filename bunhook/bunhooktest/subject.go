package bunhooktest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/tenantshield/tenantshield-go/bunhook"
)

// Model is one model the kit seeds and attacks; build it with [For].
type Model struct{ s *subject }

// ModelOption configures a [Model].
type ModelOption interface{ applyModel(*subject) }

type modelOptionFunc func(*subject)

func (f modelOptionFunc) applyModel(s *subject) { f(s) }

// TenantColumn names the model's tenant column when neither the enforcer of
// the handle given to Run nor the model's embedded bunhook.TenantOwned
// (its `tenant` tag) says it; the default is bunhook.DefaultTenantColumn.
func TenantColumn(column string) ModelOption {
	return modelOptionFunc(func(s *subject) { s.tenantCol = column })
}

// MutableColumn names the column the kit changes to see whether a write
// reached a row (default: the first string column, else the first integer
// column, that is not the primary key, the tenant column, a foreign key of
// a relation or the soft-delete column). Name one without a unique
// constraint: the kit sets it to the same value on several rows at once.
func MutableColumn(column string) ModelOption {
	return modelOptionFunc(func(s *subject) { s.mutName = column })
}

// For describes the model T (a struct type, e.g. For[Invoice]). factory
// returns a new row for the n-th seed of the tenant bound in ctx (use
// scope.FromContext(ctx) and the application's handle under ctx to find
// parent rows of the same tenant); the kit sets its tenant column when the
// factory leaves it empty and clears an auto-increment primary key. With a
// nil factory the kit fills the row by reflection: strings, numbers, bools
// and times get distinct values, and the foreign keys of belongs-to
// relations to models given to Run before this one point to a row of the
// same tenant.
func For[T any](factory func(ctx context.Context, n int) (*T, error), opts ...ModelOption) Model {
	s := &subject{typ: reflect.TypeFor[T]()}
	if factory != nil {
		s.factory = func(ctx context.Context, n int) (reflect.Value, error) {
			v, err := factory(ctx, n)
			if err != nil {
				return reflect.Value{}, err
			}
			if v == nil {
				return reflect.Value{}, errors.New("the factory returned nil")
			}
			return reflect.ValueOf(v), nil
		}
	}
	for _, o := range opts {
		o.applyModel(s)
	}
	return Model{s: s}
}

// subject is a model resolved against a handle.
type subject struct {
	typ       reflect.Type
	factory   func(ctx context.Context, n int) (reflect.Value, error)
	tenantCol string
	mutName   string

	name    string
	table   *schema.Table
	tenant  *schema.Field
	pk      *schema.Field // nil for a composite key
	mut     *schema.Field
	fks     map[string]bool
	counter int
}

func (s *subject) resolve(db *bun.DB) error {
	if s.typ.Kind() != reflect.Struct {
		return fmt.Errorf("model type %v: bunhooktest.For needs a struct type", s.typ)
	}
	s.table = db.Table(s.typ)
	s.name = s.typ.Name()
	col := s.tenantCol
	if col == "" {
		if e, ok := bunhook.EnforcerOf(db); ok {
			col = e.Tables()[strings.ToLower(s.table.Name)]
		}
	}
	if col == "" {
		if f, ok := s.typ.FieldByName("TenantOwned"); ok && f.Anonymous {
			col = f.Tag.Get("tenant")
		}
	}
	if col == "" {
		col = bunhook.DefaultTenantColumn
	}
	s.tenantCol = col
	for _, f := range s.table.Fields {
		if f.Name == col {
			s.tenant = f
		}
	}
	if s.tenant == nil || s.tenant.IndirectType.Kind() != reflect.String {
		return fmt.Errorf("model %s: no string tenant column %q (bunhooktest.TenantColumn names it)", s.name, col)
	}
	if len(s.table.PKs) == 1 {
		s.pk = s.table.PKs[0]
	}
	s.fks = map[string]bool{}
	for _, r := range s.table.Relations {
		if r.Type == schema.BelongsToRelation {
			for _, f := range r.BasePKs {
				s.fks[f.Name] = true
			}
		}
	}
	for _, kinds := range [][]reflect.Kind{{reflect.String}, {reflect.Int, reflect.Int32, reflect.Int64}} {
		for _, f := range s.table.DataFields {
			if s.mut != nil {
				break
			}
			if s.mutName != "" {
				if f.Name == s.mutName {
					s.mut = f
				}
				continue
			}
			if f == s.tenant || s.fks[f.Name] || f == s.table.SoftDeleteField || f.IsPtr {
				continue
			}
			for _, k := range kinds {
				if f.IndirectType.Kind() == k {
					s.mut = f
				}
			}
		}
	}
	if s.mutName != "" && s.mut == nil {
		return fmt.Errorf("model %s: MutableColumn(%q) is not a column", s.name, s.mutName)
	}
	return nil
}

// tenantOf returns the tenant column of row (a struct or a pointer to one).
func (s *subject) tenantOf(row reflect.Value) string {
	return s.tenant.Value(reflect.Indirect(row)).String()
}

func (s *subject) setTenant(row reflect.Value, tenant string) {
	s.tenant.Value(reflect.Indirect(row)).SetString(tenant)
}

// pkOf returns the primary key of row as the raw snapshot prints it.
func (s *subject) pkOf(row reflect.Value) string {
	if s.pk == nil {
		return ""
	}
	return fmt.Sprint(s.pk.Value(reflect.Indirect(row)).Interface())
}

func (s *subject) pkValue(row reflect.Value) any {
	return s.pk.Value(reflect.Indirect(row)).Interface()
}

// newRow returns a pointer to a new row for tenant's n-th seed.
func (k *kit) newRow(ctx context.Context, s *subject, tenant string) (reflect.Value, error) {
	s.counter++
	n := s.counter
	var row reflect.Value
	if s.factory != nil {
		v, err := s.factory(ctx, n)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("factory of %s: %w", s.name, err)
		}
		row = v
	} else {
		row = reflect.New(s.typ)
		if err := k.fill(ctx, s, row.Elem(), tenant, n); err != nil {
			return reflect.Value{}, err
		}
	}
	if s.tenantOf(row) == "" {
		s.setTenant(row, tenant)
	}
	if s.pk != nil && s.pk.AutoIncrement {
		s.pk.Value(row.Elem()).SetZero()
	}
	return row, nil
}

// fill sets the columns of a reflection-made row.
func (k *kit) fill(ctx context.Context, s *subject, v reflect.Value, tenant string, n int) error {
	for _, f := range s.table.Fields {
		if f == s.tenant || f == s.table.SoftDeleteField || (f.IsPK && f.AutoIncrement) || s.fks[f.Name] {
			continue
		}
		fv := f.Value(v)
		if f.IsPtr {
			if !f.NotNull {
				continue
			}
			fv.Set(reflect.New(f.IndirectType))
			fv = fv.Elem()
		}
		switch fv.Kind() {
		case reflect.String:
			fv.SetString(fmt.Sprintf("kit-%s-%d-%s", f.Name, n, randHex(3)))
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if f.IsPK {
				fv.SetInt(int64(n)*1000 + int64(randN(1000)))
			} else {
				fv.SetInt(int64(n))
			}
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			fv.SetUint(uint64(n))
		case reflect.Float32, reflect.Float64:
			fv.SetFloat(float64(n) + 0.5)
		case reflect.Bool:
			fv.SetBool(n%2 == 1)
		case reflect.Struct:
			if fv.Type() == reflect.TypeFor[time.Time]() {
				fv.Set(reflect.ValueOf(time.Now().UTC().Truncate(time.Millisecond)))
			}
		}
	}
	for _, r := range s.table.Relations {
		if r.Type != schema.BelongsToRelation {
			continue
		}
		parent := k.subjectOf(r.JoinTable)
		if parent == nil {
			continue
		}
		rows, err := k.load(ctx, parent, tenant)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("model %s: no %s row of tenant %s to refer to (give %s to Run before %s)", s.name, parent.name, tenant, parent.name, s.name)
		}
		for i, bf := range r.BasePKs {
			bv := bf.Value(v)
			jv := r.JoinPKs[i].Value(rows[0].Elem())
			if bf.IsPtr {
				p := reflect.New(bf.IndirectType)
				p.Elem().Set(jv.Convert(bf.IndirectType))
				bv.Set(p)
			} else {
				bv.Set(jv.Convert(bv.Type()))
			}
		}
	}
	return nil
}

func randN(n int) int {
	var b [2]byte
	_, _ = randRead(b[:])
	return (int(b[0])<<8 | int(b[1])) % n
}

func (k *kit) subjectOf(t *schema.Table) *subject {
	for _, s := range k.subjects {
		if s.table == t || s.table.Name == t.Name {
			return s
		}
	}
	return nil
}

// load returns tenant's rows of s (pointers to structs), read through the
// enforced handle under tenant's scope and filtered by their tenant column
// (on a handle that does not enforce, the scan sees every row).
func (k *kit) load(ctx context.Context, s *subject, tenant string) ([]reflect.Value, error) {
	sp := reflect.New(reflect.SliceOf(reflect.PointerTo(s.typ)))
	q := k.db.NewSelect().Model(sp.Interface())
	if s.pk != nil {
		q = q.OrderExpr("?TableAlias.?", bun.Ident(s.pk.Name))
	}
	if err := q.Scan(k.bind(ctx, tenant)); err != nil {
		return nil, fmt.Errorf("reading %s rows of tenant %s through the enforced handle: %w", s.name, tenant, err)
	}
	var out []reflect.Value
	for i := range sp.Elem().Len() {
		r := sp.Elem().Index(i)
		if s.tenantOf(r) == tenant {
			out = append(out, r)
		}
	}
	return out, nil
}

// insert seeds row through the enforced handle under tenant's scope.
func (k *kit) insert(ctx context.Context, row reflect.Value, tenant string) error {
	_, err := k.db.NewInsert().Model(row.Interface()).Exec(k.bind(ctx, tenant))
	return err
}

// clone returns a pointer to a copy of row's struct.
func clone(row reflect.Value) reflect.Value {
	c := reflect.New(row.Elem().Type())
	c.Elem().Set(row.Elem())
	return c
}

// mutate changes the mutable column of row.
func (s *subject) mutate(row reflect.Value) {
	if s.mut == nil {
		return
	}
	fv := s.mut.Value(row.Elem())
	switch fv.Kind() {
	case reflect.String:
		fv.SetString("kit-touched-" + randHex(3))
	default:
		fv.SetInt(fv.Int() + 1)
	}
}

// setMut adds a SET of the mutable column to an UPDATE.
func (s *subject) setMut(q *bun.UpdateQuery) *bun.UpdateQuery {
	if s.mut.IndirectType.Kind() == reflect.String {
		return q.Set("? = ?", bun.Ident(s.mut.Name), "kit-touched-"+randHex(3))
	}
	return q.Set("? = ? + 1", bun.Ident(s.mut.Name), bun.Ident(s.mut.Name))
}

// copyFKs copies the foreign keys of belongs-to relations from src to dst.
func (s *subject) copyFKs(dst, src reflect.Value) {
	for _, f := range s.table.Fields {
		if s.fks[f.Name] {
			f.Value(dst.Elem()).Set(f.Value(src.Elem()))
		}
	}
}
