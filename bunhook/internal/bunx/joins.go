package bunx

import (
	"reflect"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// Inline (has-one / belongs-to) relations are LEFT JOINed into the parent's
// SELECT, and bun runs no hook for the joined model. bun renders a join's
// additionalJoinOnConditions (the RelationWithOpts option) into its ON
// clause, but keeps the list of requested joins unexported. ScopeJoins walks
// that list and appends the tenant condition of every joined tenant-owned
// table, so a joined row of another tenant is not loaded (the relation stays
// nil, as for a dangling key).

const joinCondQuery = "?.? = ?"

// TenantColumn tells the tenant column of a table, and whether the table is
// tenant-owned at all.
type TenantColumn func(*schema.Table) (column string, owned bool)

// ScopeJoins adds "<alias>.<tenant column> = tenant" to the ON clause of
// every inline join of q on a tenant-owned table, and of the link table of
// every m2m relation.
func ScopeJoins(q *bun.SelectQuery, tenant string, columnOf TenantColumn) {
	// The table model a SelectQuery renders its joins from. GetModel returns
	// the query's model, which is the same object except on a Clone: the
	// clone renders from a copy of the joins, so they must be scoped there
	// (the original may be in use by a concurrent Scan, as in ScanAndCount).
	if tm, ok := queryTableModel(q); ok {
		scopeModelJoins(tm, "", tenant, columnOf)
		return
	}
	if model := q.GetModel(); model != nil {
		scopeModelJoins(reflect.ValueOf(model), "", tenant, columnOf)
	}
}

func queryTableModel(q *bun.SelectQuery) (reflect.Value, bool) {
	if selectTableModel == nil {
		return reflect.Value{}, false
	}
	f := reflect.ValueOf(q).Elem().FieldByIndex(selectTableModel)
	if f.Kind() != reflect.Interface || f.IsNil() || !f.CanAddr() {
		return reflect.Value{}, false
	}
	return writable(f), true
}

// scopeModelJoins appends tenant conditions to the inline joins of a table
// model value (a *structTableModel or *sliceTableModel).
func scopeModelJoins(model reflect.Value, parentAlias, tenant string, columnOf TenantColumn) {
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
	joins := writable(jf)
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
			if col, owned := columnOf(rel.M2MTable); owned {
				appendJoinCond(j, rel.M2MTable.Alias, col, tenant)
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
			if col, owned := columnOf(rel.JoinTable); owned {
				appendJoinCond(j, alias, col, tenant)
			}
		}
		if jm := j.FieldByName("JoinModel"); jm.IsValid() {
			scopeModelJoins(jm, alias, tenant, columnOf)
		}
	}
}

var queryWithArgsTy = reflect.TypeFor[[]schema.QueryWithArgs]()

func appendJoinCond(j reflect.Value, alias, column, tenant string) {
	cf := j.FieldByName(condsFieldName)
	if !cf.IsValid() || cf.Type() != queryWithArgsTy || !cf.CanAddr() {
		return
	}
	conds := writable(cf)
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
