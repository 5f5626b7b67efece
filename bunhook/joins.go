package bunhook

import (
	"reflect"
	"sync"
	"unsafe"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// Inline (has-one / belongs-to) relations are LEFT JOINed into the parent's
// SELECT, and bun runs no hook for the joined model. bun renders a join's
// additionalJoinOnConditions (the RelationWithOpts option) into its ON clause,
// but keeps the list of requested joins unexported. scopeJoins walks that list
// by reflection, against the pinned bun version, and appends the tenant
// condition of every joined tenant-owned table, so a joined row of another
// tenant is not loaded (the relation stays nil, as for a dangling key). If
// bun's internals move, the walk finds nothing and the guard blocks the
// unscoped join instead: enforcement degrades to fail-closed, never open.

const joinCondQuery = "?.? = ?"

var (
	joinsFieldName  = "joins"
	condsFieldName  = "additionalJoinOnConditions"
	queryWithArgsTy = reflect.TypeOf([]schema.QueryWithArgs(nil))
)

func (e *Enforcer) scopeJoins(q *bun.SelectQuery, tenant string) {
	if tm, ok := queryTableModel(q); ok {
		e.scopeModelJoins(tm, "", tenant)
		return
	}
	model := q.GetModel()
	if model == nil {
		return
	}
	e.scopeModelJoins(reflect.ValueOf(model), "", tenant)
}

// selectTableModel is the index of the table model a SelectQuery renders its
// joins from. GetModel returns the query's model, which is the same object
// except on a Clone: the clone renders from a copy of the joins, so they
// must be scoped there (the guard's re-rendering of Count, Exists and Rows
// with relations depends on it, and the original may be in use by a
// concurrent Scan, as in ScanAndCount).
var selectTableModel = fieldIndex(reflect.TypeOf(bun.SelectQuery{}), "tableModel")

func queryTableModel(q *bun.SelectQuery) (reflect.Value, bool) {
	if selectTableModel == nil {
		return reflect.Value{}, false
	}
	f := reflect.ValueOf(q).Elem().FieldByIndex(selectTableModel)
	if f.Kind() != reflect.Interface || f.IsNil() || !f.CanAddr() {
		return reflect.Value{}, false
	}
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem(), true
}

// scopeModelJoins appends tenant conditions to the inline joins of a table
// model value (a *structTableModel or *sliceTableModel).
func (e *Enforcer) scopeModelJoins(model reflect.Value, parentAlias string, tenant string) {
	for model.Kind() == reflect.Interface || model.Kind() == reflect.Pointer {
		if model.IsNil() {
			return
		}
		model = model.Elem()
	}
	if model.Kind() != reflect.Struct {
		return
	}
	idx := joinsIndex(model.Type())
	if idx == nil {
		return
	}
	jf := model.FieldByIndex(idx)
	if jf.Kind() != reflect.Slice || jf.Len() == 0 || !jf.CanAddr() {
		return
	}
	joins := reflect.NewAt(jf.Type(), unsafe.Pointer(jf.UnsafeAddr())).Elem()
	for i := 0; i < joins.Len(); i++ {
		j := joins.Index(i)
		relV := j.FieldByName("Relation")
		if !relV.IsValid() || relV.IsNil() {
			continue
		}
		rel, ok := relV.Interface().(*schema.Relation)
		if !ok || rel.Field == nil {
			continue
		}
		if rel.Type == schema.ManyToManyRelation && rel.M2MTable != nil {
			// The m2m Scan hooks the joined model but JOINs the link table
			// with this join's additional conditions: scope the link table.
			if mi := e.modelInfo(rel.M2MTable); mi.owned && mi.err == nil {
				appendJoinCond(j, rel.M2MTable.Alias, mi.column, tenant)
			}
			continue
		}
		if rel.Type != schema.HasOneRelation && rel.Type != schema.BelongsToRelation {
			continue // has-many runs its own hooked Scan
		}
		alias := rel.Field.Name
		if parentAlias != "" {
			alias = parentAlias + "__" + alias
		}
		if rel.JoinTable != nil {
			mi := e.modelInfo(rel.JoinTable)
			if mi.owned && mi.err == nil {
				appendJoinCond(j, alias, mi.column, tenant)
			}
		}
		if jm := j.FieldByName("JoinModel"); jm.IsValid() {
			e.scopeModelJoins(jm, alias, tenant)
		}
	}
}

var joinsIndexes sync.Map // reflect.Type -> []int (nil slice when absent)

func joinsIndex(t reflect.Type) []int {
	if v, ok := joinsIndexes.Load(t); ok {
		return v.([]int)
	}
	var idx []int
	if f, ok := t.FieldByName(joinsFieldName); ok {
		idx = f.Index
	}
	joinsIndexes.Store(t, idx)
	return idx
}

func appendJoinCond(j reflect.Value, alias, column, tenant string) {
	cf := j.FieldByName(condsFieldName)
	if !cf.IsValid() || cf.Type() != queryWithArgsTy || !cf.CanAddr() {
		return
	}
	conds := reflect.NewAt(cf.Type(), unsafe.Pointer(cf.UnsafeAddr())).Elem()
	cur := conds.Interface().([]schema.QueryWithArgs)
	for _, c := range cur {
		if c.Query == joinCondQuery && len(c.Args) == 3 && c.Args[2] == tenant {
			return // already scoped (the query is scanned again)
		}
	}
	// A fresh slice: the clone of a query shares the old backing array.
	next := make([]schema.QueryWithArgs, len(cur), len(cur)+1)
	copy(next, cur)
	next = append(next, schema.SafeQuery(joinCondQuery, []any{bun.Ident(alias), bun.Ident(column), tenant}))
	conds.Set(reflect.ValueOf(next))
}
