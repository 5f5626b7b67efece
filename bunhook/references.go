package bunhook

import (
	"context"
	"database/sql/driver"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/tenantshield/tenantshield-go/bunhook/internal/bunx"
	"github.com/tenantshield/tenantshield-go/bunhook/internal/sqlguard"
	"github.com/tenantshield/tenantshield-go/scope"
)

// Tenant-consistent references. A row of a tenant-owned table that holds
// the key of a row of another tenant-owned table (a foreign key that a bun
// relation maps) must point at a row of the bound tenant: otherwise tenant
// A's invoice could name tenant B's customer, which the database's foreign
// key accepts (it cannot see tenants) and B's row could later be reached or
// cascaded through it. The references come from the relations of every
// registered model: belongs-to (this table's column → the joined table's
// key) and has-one / has-many (the joined table's column → this table's
// key). Only single-column keys are checked.

// reference is a column of a child table that holds the key of a row of a
// parent table.
type reference struct {
	column string // on the child table
	parent *schema.Table
	key    string // on the parent table
	// enforced: the database enforces the reference with a foreign key
	// that pairs the tenant columns (PostureCheck.TrustForeignKeys).
	enforced bool
}

// references maps a lower-case child table name to its references.
type references struct {
	mu sync.RWMutex
	m  map[string][]reference
}

func (r *references) add(child string, ref reference) {
	key := strings.ToLower(child)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string][]reference{}
	}
	for _, x := range r.m[key] {
		if x.column == ref.column && x.parent.Name == ref.parent.Name {
			return
		}
	}
	r.m[key] = append(r.m[key], ref)
}

// trust marks the reference child.column -> parent.key as enforced by the
// database, and reports whether there was one.
func (r *references) trust(child, column, parent, key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	refs := r.m[strings.ToLower(child)]
	for i := range refs {
		x := &refs[i]
		if strings.EqualFold(x.column, column) && strings.EqualFold(x.parent.Name, parent) && strings.EqualFold(x.key, key) {
			x.enforced = true
			return true
		}
	}
	return false
}

func (r *references) of(child string) []reference {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[strings.ToLower(child)]
}

// learnReferences records the references that the relations of tbl map.
func (e *Enforcer) learnReferences(tbl *schema.Table) {
	for _, rel := range tbl.Relations {
		if rel.JoinTable == nil || len(rel.BasePKs) != 1 || len(rel.JoinPKs) != 1 || rel.PolymorphicField != nil {
			continue // composite keys and polymorphic relations are not checked
		}
		base, join := rel.BasePKs[0], rel.JoinPKs[0]
		switch {
		case rel.Type == schema.BelongsToRelation,
			// has-one with the foreign key on this table (join:profile_id=id)
			rel.Type == schema.HasOneRelation && !base.IsPK && join.IsPK:
			e.refs.add(tbl.Name, reference{column: base.Name, parent: rel.JoinTable, key: join.Name})
		case rel.Type == schema.HasOneRelation, rel.Type == schema.HasManyRelation:
			e.refs.add(rel.JoinTable.Name, reference{column: join.Name, parent: tbl, key: base.Name})
		}
	}
}

// checkReferences verifies that the rows q inserts refer only to rows of
// tenant in tenant-owned tables. It counts the referenced rows of the bound
// tenant with one scoped query per reference, on q's own connection or
// transaction (so that a parent inserted earlier in the transaction is
// seen). A Value override of a reference column replaces the rows' values;
// the Set of an upsert branch is checked like an UPDATE's (EXCLUDED.col
// writes the inserted row's own key).
func (e *Enforcer) checkReferences(ctx context.Context, q *bun.InsertQuery, mi *modelInfo, tenant string) error {
	if len(e.refs.of(mi.table.Name)) == 0 {
		return nil
	}
	as, ok := e.insertAssignments(q)
	return e.checkWrites(ctx, &refWrites{
		op: "INSERT", db: q.DB(), conn: bunx.InsertConn(q), mi: mi, tenant: tenant,
		as: as, readable: ok, model: q.GetModel(),
	})
}

// checkUpdateReferences is checkReferences for an UPDATE: the keys it
// writes come from Set, SetColumn and Value ("customer_id = 7"; a Bulk()
// update's "customer_id = _data.customer_id" takes them from its rows) and
// from the model's struct rows for the columns it updates (all data columns
// unless restricted with Column/ExcludeColumn, none when Set is used without
// Column). A key set to anything but a literal (an expression, another
// column, a subquery) cannot be verified and is refused. as are q's
// assignments (updateAssignments), asOK whether they could be read.
func (e *Enforcer) checkUpdateReferences(ctx context.Context, q *bun.UpdateQuery, mi *modelInfo, tenant string,
	as []assignment, asOK bool) error {
	if len(e.refs.of(mi.table.Name)) == 0 {
		return nil
	}
	cols, colsOK := bunx.UpdateColumns(q)
	hasSet := false
	for _, a := range as {
		hasSet = hasSet || a.from == "Set"
	}
	bulk := bunx.BulkData(q)
	return e.checkWrites(ctx, &refWrites{
		op: "UPDATE", db: q.DB(), conn: bunx.UpdateConn(q), mi: mi, tenant: tenant,
		as: as, readable: asOK && colsOK, model: q.GetModel(),
		bulk: bulk, hasSet: hasSet, cols: cols,
	})
}

// refWrites is what one write puts into reference columns.
type refWrites struct {
	op     string
	db     *bun.DB
	conn   bun.IConn // the write's connection or transaction, nil for the pool
	mi     *modelInfo
	tenant string

	as       []assignment // its Set and Value assignments
	readable bool         // false: bun's state could not be read
	model    bun.Model    // the struct rows it writes (eachRow)

	// Of an UPDATE: whether it is bun's Bulk() (its _data CTE holds the
	// model's rows), has a Set, and the columns it is restricted to (nil:
	// all).
	bulk, hasSet bool
	cols         []schema.QueryWithArgs
}

// ownKey reports an assignment whose value is the row's own key: EXCLUDED.col
// of an upsert, _data.col of Bulk().
func (w *refWrites) ownKey(value, column string) bool {
	if w.op == "INSERT" {
		return excludedValue(value, column)
	}
	return w.bulk && bulkValue(value, column)
}

// rowsWritten reports whether the write takes column from its struct rows
// (unless a Value overrides it): an INSERT always; an UPDATE for the
// columns it updates (all data columns unless restricted with Column, none
// when Set is used without Column).
func (w *refWrites) rowsWritten(column string) bool {
	if w.op == "INSERT" {
		return true
	}
	return (!w.hasSet || w.cols != nil) && (w.cols == nil || namesColumn(w.cols, column))
}

// checkWrites verifies every reference column that w writes.
func (e *Enforcer) checkWrites(ctx context.Context, w *refWrites) error {
	for _, ref := range e.refs.of(w.mi.table.Name) {
		f, ok := w.mi.table.FieldMap[ref.column]
		if !ok || ref.enforced {
			continue
		}
		var kv keyValues
		reason := ""
		if !w.readable {
			reason = "bunhook cannot read the Set, Value and Column lists of this " + w.op
		}
		overridden := false
		for _, a := range w.as {
			switch {
			case !a.assigns(ref.column):
			case a.from == "Set" && w.ownKey(a.Value, ref.column):
				kv.fromRows(f, w.model, w.mi)
			default:
				overridden = overridden || a.from == "Value"
				if r := kv.addLiteral(a, w.mi, ref); r != "" {
					reason = r
				}
			}
		}
		if !overridden && w.rowsWritten(ref.column) {
			kv.fromRows(f, w.model, w.mi)
		}
		if reason != "" {
			return e.unverifiableReference(ctx, w.op, w.mi, w.tenant, reason)
		}
		if err := e.verifyReferences(ctx, w.db, w.conn, w.op, w.mi, w.tenant, ref, kv.vals); err != nil {
			return err
		}
	}
	return nil
}

// bulkValue reports whether value is bun's Bulk() reference to the rows'
// own column: _data.<column>, quoted or not.
func bulkValue(value, column string) bool {
	rest, ok := strings.CutPrefix(value, "_data.")
	return ok && strings.EqualFold(strings.Trim(rest, "\"`"), column)
}

// excludedValue reports whether value is an upsert's reference to the
// inserted row's own column: EXCLUDED.<column> (PostgreSQL, SQLite) or
// VALUES(<column>) (MySQL), quoted or not.
func excludedValue(value, column string) bool {
	v := strings.ToLower(strings.NewReplacer("\"", "", "`", "", " ", "").Replace(value))
	c := strings.ToLower(column)
	return v == "excluded."+c || v == "values("+c+")"
}

// addLiteral adds the key an assignment writes, or returns why it cannot be
// checked.
func (kv *keyValues) addLiteral(a assignment, mi *modelInfo, ref reference) string {
	switch a.Kind {
	case sqlguard.ValueLiteral:
		kv.add(a.Literal)
	case sqlguard.ValueOther:
		return fmt.Sprintf("%s gives %s.%s a value that is not a literal, so the row it refers to cannot be checked",
			a.from, mi.table.Name, ref.column)
	}
	return ""
}

// unverifiableReference records a write whose reference cannot be checked.
func (e *Enforcer) unverifiableReference(ctx context.Context, op string, mi *modelInfo, tenant, reason string) error {
	o := modelOutcome(violated, op, mi, tenant, true)
	o.err, o.reason = scope.ErrCrossTenant, reason
	o.fix = "set foreign keys to literal values (Set(\"col = ?\", id)) or through the model's fields"
	return e.record(ctx, nil, &o)
}

// verifyReferences counts the rows of the bound tenant among the keys vals
// of ref's parent table, on conn when the write runs on one, and records a
// violation when one is missing (another tenant's row, or none).
func (e *Enforcer) verifyReferences(ctx context.Context, db *bun.DB, conn bun.IConn, op string, mi *modelInfo, tenant string,
	ref reference, vals []any) error {
	pmi := e.modelInfo(ref.parent)
	if len(vals) == 0 || !pmi.owned || pmi.err != nil {
		return nil
	}
	sel := db.NewSelect()
	if conn != nil {
		sel = sel.Conn(conn)
	}
	var n int
	err := sel.ColumnExpr("count(DISTINCT p.?)", bun.Ident(ref.key)).TableExpr("? AS p", bun.Ident(ref.parent.Name)).
		Where("p.? = ?", pmi.ident, tenant).Where("p.? IN (?)", bun.Ident(ref.key), bun.List(vals)).Scan(ctx, &n)
	if err != nil {
		return fmt.Errorf("bunhook: checking that %s.%s refers to rows of tenant %q: %w", mi.table.Name, ref.column, tenant, err)
	}
	if n >= len(vals) {
		return nil
	}
	o := modelOutcome(violated, op, mi, tenant, true)
	o.err = scope.ErrCrossTenant
	o.reason = fmt.Sprintf("%s.%s refers to a row of %s that is not the bound tenant's (another tenant's, or none)",
		mi.table.Name, ref.column, ref.parent.Name)
	o.fix = "refer only to rows of the bound tenant; a row's tenant never changes, so neither may its references cross tenants"
	return e.record(ctx, nil, &o)
}

// keyValues collects distinct keys. Integer and string keys (the common
// case) are told apart by value without formatting them; anything else by
// its type and printed value.
type keyValues struct {
	ints  map[int64]struct{}
	strs  map[string]struct{}
	other map[string]struct{}
	vals  []any
}

func (kv *keyValues) add(v any) {
	switch x := v.(type) {
	case int64:
		kv.addInt(x)
	case int:
		kv.addInt(int64(x))
	case int32:
		kv.addInt(int64(x))
	case int16:
		kv.addInt(int64(x))
	case int8:
		kv.addInt(int64(x))
	case string:
		kv.addString(x)
	default:
		k := fmt.Sprintf("%T:%v", v, v) // also for []byte keys
		if kv.other == nil {
			kv.other = map[string]struct{}{}
		}
		if _, dup := kv.other[k]; !dup {
			kv.other[k] = struct{}{}
			kv.vals = append(kv.vals, v)
		}
	}
}

func (kv *keyValues) addInt(i int64)     { addDistinct(&kv.ints, &kv.vals, i) }
func (kv *keyValues) addString(s string) { addDistinct(&kv.strs, &kv.vals, s) }

// addDistinct appends k to vals unless seen holds it (boxing it only then).
func addDistinct[K comparable](seen *map[K]struct{}, vals *[]any, k K) {
	if *seen == nil {
		*seen = map[K]struct{}{}
	}
	if _, dup := (*seen)[k]; !dup {
		(*seen)[k] = struct{}{}
		*vals = append(*vals, k)
	}
}

var valuerType = reflect.TypeFor[driver.Valuer]()

// fromRows adds the keys the rows of model hold in field f. A field of a
// plain integer or string type is read without boxing each row's value.
func (kv *keyValues) fromRows(f *schema.Field, model bun.Model, mi *modelInfo) {
	typ := f.StructField.Type
	direct := !typ.Implements(valuerType)
	switch typ.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.String:
	default:
		direct = false
	}
	eachRow(model, mi, func(row reflect.Value) bool {
		fv := f.Value(row)
		switch {
		case !direct:
			if v, ok := referenceValue(fv); ok {
				kv.add(v)
			}
		case fv.Kind() == reflect.String:
			if s := fv.String(); s != "" {
				kv.addString(s)
			}
		default:
			if i := fv.Int(); i != 0 {
				kv.addInt(i)
			}
		}
		return true
	})
}

func namesColumn(cols []schema.QueryWithArgs, column string) bool {
	for _, c := range cols {
		if c.Args == nil && strings.EqualFold(c.Query, column) {
			return true
		}
	}
	return false
}

// referenceValue returns the key a foreign-key field holds, as the driver
// will see it, and false when it holds none (zero, nil, an invalid
// sql.Null*).
func referenceValue(fv reflect.Value) (any, bool) {
	if !fv.IsValid() || fv.IsZero() {
		return nil, false
	}
	v := fv.Interface()
	if dv, ok := v.(driver.Valuer); ok {
		x, err := dv.Value()
		if err != nil || x == nil {
			return nil, false
		}
		return x, true
	}
	for fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return nil, false
		}
		fv = fv.Elem()
	}
	return fv.Interface(), true
}

// eachRow calls fn with every struct row of model that is a row of mi's
// table, until fn returns false.
func eachRow(model bun.Model, mi *modelInfo, fn func(row reflect.Value) bool) {
	if model == nil {
		return
	}
	v := reflect.ValueOf(model.Value())
	if !v.IsValid() || (v.Kind() == reflect.Pointer && v.IsNil()) {
		return
	}
	v = reflect.Indirect(v)
	visit := func(row reflect.Value) bool {
		for row.Kind() == reflect.Pointer {
			if row.IsNil() {
				return true
			}
			row = row.Elem()
		}
		if row.Kind() == reflect.Struct && row.Type() == mi.table.Type {
			return fn(row)
		}
		return true
	}
	switch v.Kind() {
	case reflect.Struct:
		visit(v)
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if !visit(v.Index(i)) {
				return
			}
		}
	}
}
