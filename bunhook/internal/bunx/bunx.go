package bunx

import (
	"reflect"
	"sync"
	"unsafe"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// Field paths into bun's unexported state, resolved once.
var (
	selectWhereHasOr = fieldIndex(reflect.TypeFor[bun.SelectQuery](), "whereHasOr")
	updateWhereHasOr = fieldIndex(reflect.TypeFor[bun.UpdateQuery](), "whereHasOr")
	deleteWhereHasOr = fieldIndex(reflect.TypeFor[bun.DeleteQuery](), "whereHasOr")
	insertOnField    = fieldIndex(reflect.TypeFor[bun.InsertQuery](), "on")
	deleteFlags      = fieldIndex(reflect.TypeFor[bun.DeleteQuery](), "flags")
	selectTableModel = fieldIndex(reflect.TypeFor[bun.SelectQuery](), "tableModel")
	dbStateField     = fieldIndex(reflect.TypeFor[bun.DB](), "noCopyState")
	insertConnField  = fieldIndex(reflect.TypeFor[bun.InsertQuery](), "conn")
	updateConnField  = fieldIndex(reflect.TypeFor[bun.UpdateQuery](), "conn")
	updateSetField   = fieldIndex(reflect.TypeFor[bun.UpdateQuery](), "set")
	updateColsField  = fieldIndex(reflect.TypeFor[bun.UpdateQuery](), "columns")
	updateValsField  = fieldIndex(reflect.TypeFor[bun.UpdateQuery](), "modelValues")
	insertSetField   = fieldIndex(reflect.TypeFor[bun.InsertQuery](), "set")
	updateWithField  = fieldIndex(reflect.TypeFor[bun.UpdateQuery](), "with")
	insertValsField  = fieldIndex(reflect.TypeFor[bun.InsertQuery](), "modelValues")
	forceDeleteBit   = probeForceDeleteBit()
)

const (
	joinsFieldName    = "joins"
	condsFieldName    = "additionalJoinOnConditions"
	resolverFieldName = "resolver"
)

// Pinned lists the bun internals that could not be found (empty when every
// accessor works with the bun version this binary was built with).
func Pinned() []string {
	var missing []string
	for name, idx := range map[string][]int{
		"SelectQuery.whereHasOr": selectWhereHasOr, "UpdateQuery.whereHasOr": updateWhereHasOr,
		"DeleteQuery.whereHasOr": deleteWhereHasOr, "InsertQuery.on": insertOnField,
		"DeleteQuery.flags": deleteFlags, "SelectQuery.tableModel": selectTableModel, "DB.noCopyState": dbStateField,
		"InsertQuery.conn": insertConnField, "UpdateQuery.set": updateSetField,
		"UpdateQuery.conn": updateConnField, "UpdateQuery.columns": updateColsField,
		"UpdateQuery.modelValues": updateValsField, "InsertQuery.modelValues": insertValsField,
		"InsertQuery.set": insertSetField, "UpdateQuery.with": updateWithField,
	} {
		if idx == nil {
			missing = append(missing, name)
		}
	}
	if forceDeleteBit == 0 {
		missing = append(missing, "DeleteQuery.ForceDelete flag")
	}
	return missing
}

func fieldIndex(t reflect.Type, name string) []int {
	f, ok := t.FieldByName(name)
	if !ok {
		return nil
	}
	return f.Index
}

// probeForceDeleteBit learns which bit of bun's unexported query flags
// ForceDelete sets (0 if the field cannot be read).
func probeForceDeleteBit() uint64 {
	if deleteFlags == nil {
		return 0
	}
	f := reflect.ValueOf(new(bun.DeleteQuery).ForceDelete()).Elem().FieldByIndex(deleteFlags)
	if f.Kind() != reflect.Uint64 {
		return 0
	}
	return f.Uint()
}

// writable returns an addressable, settable view of the unexported field v.
func writable(v reflect.Value) reflect.Value {
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
}

func readBool(v reflect.Value, idx []int) bool {
	if idx == nil {
		return false
	}
	f := v.Elem().FieldByIndex(idx)
	return f.Kind() == reflect.Bool && f.Bool()
}

// HasOr reports whether q (a *bun.SelectQuery, *bun.UpdateQuery or
// *bun.DeleteQuery) has a top-level WhereOr, which would let rows escape a
// predicate ANDed to its WHERE clause.
func HasOr(q any) bool {
	switch q := q.(type) {
	case *bun.SelectQuery:
		return readBool(reflect.ValueOf(q), selectWhereHasOr)
	case *bun.UpdateQuery:
		return readBool(reflect.ValueOf(q), updateWhereHasOr)
	case *bun.DeleteQuery:
		return readBool(reflect.ValueOf(q), deleteWhereHasOr)
	}
	return false
}

// InsertOn returns the text of q's On clause ("CONFLICT (id) DO UPDATE",
// "DUPLICATE KEY UPDATE"), or "" when it has none or it cannot be read.
func InsertOn(q *bun.InsertQuery) string {
	if insertOnField == nil {
		return ""
	}
	f := reflect.ValueOf(q).Elem().FieldByIndex(insertOnField)
	if f.Type() != reflect.TypeFor[schema.QueryWithArgs]() {
		return ""
	}
	return f.FieldByName("Query").String()
}

// SoftDelete reports whether bun renders q, a delete on a model of table
// tbl, as a soft delete (an UPDATE of the soft_delete column). When bun's
// flags cannot be read it answers false.
func SoftDelete(q *bun.DeleteQuery, tbl *schema.Table) bool {
	if tbl.SoftDeleteField == nil || forceDeleteBit == 0 {
		return false
	}
	return reflect.ValueOf(q).Elem().FieldByIndex(deleteFlags).Uint()&forceDeleteBit == 0
}

// UpdateSets returns the expressions q was given with Set and SetColumn
// (each "column = value"), ok false when they cannot be read.
func UpdateSets(q *bun.UpdateQuery) (sets []schema.QueryWithArgs, ok bool) {
	return queryArgsList(reflect.ValueOf(q), updateSetField)
}

// InsertSets returns the expressions of q's upsert branch (On("CONFLICT
// ... DO UPDATE").Set(...)), ok false when they cannot be read.
func InsertSets(q *bun.InsertQuery) (sets []schema.QueryWithArgs, ok bool) {
	return queryArgsList(reflect.ValueOf(q), insertSetField)
}

// BulkData reports whether the CTE named _data of q is the one bun's
// Bulk() builds from q's own model (a VALUES query over the same slice):
// then "col = _data.col" writes the model rows' values.
func BulkData(q *bun.UpdateQuery) bool {
	if updateWithField == nil {
		return false
	}
	f := reflect.ValueOf(q).Elem().FieldByIndex(updateWithField)
	if f.Kind() != reflect.Slice || !f.CanAddr() {
		return false
	}
	f = writable(f)
	found := false
	for i := 0; i < f.Len(); i++ {
		w := f.Index(i)
		name, query := w.FieldByName("name"), w.FieldByName("query")
		if !name.IsValid() || !query.IsValid() || name.Kind() != reflect.String || !name.CanAddr() || !query.CanAddr() {
			return false
		}
		if writable(name).String() != "_data" {
			continue
		}
		vq, ok := writable(query).Interface().(*bun.ValuesQuery)
		if found || !ok || vq.GetModel() != q.GetModel() {
			return false
		}
		found = true
	}
	return found
}

// UpdateColumns returns the columns q was restricted to with Column or
// ExcludeColumn (nil: every data column of the model), ok false when they
// cannot be read.
func UpdateColumns(q *bun.UpdateQuery) (cols []schema.QueryWithArgs, ok bool) {
	return queryArgsList(reflect.ValueOf(q), updateColsField)
}

// ModelValues returns the values q (a *bun.InsertQuery or *bun.UpdateQuery)
// was given for model columns with Value, by column; ok false when they
// cannot be read.
func ModelValues(q any) (vals map[string]schema.QueryWithArgs, ok bool) {
	var idx []int
	switch q.(type) {
	case *bun.InsertQuery:
		idx = insertValsField
	case *bun.UpdateQuery:
		idx = updateValsField
	}
	if idx == nil {
		return nil, false
	}
	f := reflect.ValueOf(q).Elem().FieldByIndex(idx)
	if f.Type() != reflect.TypeFor[map[string]schema.QueryWithArgs]() || !f.CanAddr() {
		return nil, false
	}
	return writable(f).Interface().(map[string]schema.QueryWithArgs), true
}

func queryArgsList(v reflect.Value, idx []int) ([]schema.QueryWithArgs, bool) {
	if idx == nil {
		return nil, false
	}
	f := v.Elem().FieldByIndex(idx)
	if f.Type() != reflect.TypeFor[[]schema.QueryWithArgs]() || !f.CanAddr() {
		return nil, false
	}
	// The type is checked above; reading through the field's address does
	// not box the slice (Interface would allocate on every statement).
	return *(*[]schema.QueryWithArgs)(unsafe.Pointer(f.UnsafeAddr())), true
}

// InsertConn returns the connection q was bound to with Conn (a bun.Tx,
// bun.Conn, ...), or nil when it runs on its DB's pool.
func InsertConn(q *bun.InsertQuery) bun.IConn {
	return queryConn(reflect.ValueOf(q), insertConnField)
}

// UpdateConn is InsertConn for an UPDATE.
func UpdateConn(q *bun.UpdateQuery) bun.IConn {
	return queryConn(reflect.ValueOf(q), updateConnField)
}

func queryConn(v reflect.Value, idx []int) bun.IConn {
	if idx == nil {
		return nil
	}
	f := v.Elem().FieldByIndex(idx)
	if f.Kind() != reflect.Interface || f.IsNil() || !f.CanAddr() {
		return nil
	}
	c, _ := writable(f).Interface().(bun.IConn)
	return c
}

var selectQueryPtr = reflect.TypeFor[*bun.SelectQuery]()

// Rewrap builds around sel a query of iq's type when iq is one of bun's
// unexported count/exists wrappers (a struct embedding *SelectQuery only),
// so that sel renders the way iq did. It returns nil for anything else.
func Rewrap(iq bun.Query, sel *bun.SelectQuery) schema.QueryAppender {
	t := reflect.TypeOf(iq)
	if t == nil || t.Kind() != reflect.Struct || t.NumField() != 1 || t.Field(0).Type != selectQueryPtr {
		return nil
	}
	v := reflect.New(t).Elem()
	writable(v.Field(0)).Set(reflect.ValueOf(sel))
	qa, _ := v.Interface().(schema.QueryAppender)
	return qa
}

// Resolver returns db's ConnResolver, and false when it has none or it
// cannot be read. (bun.WithConnResolver replaces it.)
func Resolver(db *bun.DB) (bun.ConnResolver, bool) {
	if dbStateField == nil {
		return nil, false
	}
	st := reflect.ValueOf(db).Elem().FieldByIndex(dbStateField)
	if st.Kind() != reflect.Pointer || st.IsNil() {
		return nil, false
	}
	f := st.Elem().FieldByName(resolverFieldName)
	if !f.IsValid() || f.Kind() != reflect.Interface || f.IsNil() || !f.CanAddr() {
		return nil, false
	}
	r, ok := writable(f).Interface().(bun.ConnResolver)
	return r, ok && r != nil
}

var joinsIndexes sync.Map // reflect.Type -> []int (nil slice when absent)

func joinsIndex(t reflect.Type) []int {
	if v, ok := joinsIndexes.Load(t); ok {
		return v.([]int)
	}
	idx := fieldIndex(t, joinsFieldName)
	joinsIndexes.Store(t, idx)
	return idx
}
