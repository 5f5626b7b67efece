package tenantvet

import (
	"go/types"
	"reflect"
	"slices"
	"strings"

	"github.com/jinzhu/inflection"
	"golang.org/x/tools/go/analysis"
)

// Import paths of the packages the analyzers know by name.
const (
	bunPath     = "github.com/uptrace/bun"
	bunhookPath = "github.com/tenantshield/tenantshield-go/bunhook"
	scopePath   = "github.com/tenantshield/tenantshield-go/scope"
)

// defaultTenantColumn is bunhook's tenant column when the embedded
// TenantOwned has no `tenant` tag.
const defaultTenantColumn = "tenant_id"

// TenantTable is the fact exported for a named struct type that embeds
// bunhook.TenantOwned by value: the table bun maps it to and its tenant
// column.
type TenantTable struct {
	Type   string // package path and type name, for messages
	Table  string // table name as bun derives it (may be schema-qualified)
	Alias  string // bun alias
	Column string // tenant column
}

// AFact marks TenantTable as an analysis fact.
func (*TenantTable) AFact() {}

func (t *TenantTable) String() string { return "tenant table " + t.Table + "(" + t.Column + ")" }

// Tables is the result of [TenantOwnedAnalyzer]: the tenant-owned types of
// the package under analysis and of its dependencies.
type Tables struct {
	pass   *analysis.Pass
	byType map[*types.TypeName]*TenantTable
	all    []*TenantTable // sorted by table name, deduplicated
}

// ForType returns the tenant table of t, after removing pointers, slices
// and arrays (the shapes bun accepts as models), or nil.
func (ts *Tables) ForType(t types.Type) *TenantTable {
	for {
		switch u := types.Unalias(t).(type) {
		case *types.Pointer:
			t = u.Elem()
			continue
		case *types.Slice:
			t = u.Elem()
			continue
		case *types.Array:
			t = u.Elem()
			continue
		case *types.Named:
			obj := u.Origin().Obj()
			if tt, ok := ts.byType[obj]; ok {
				return tt
			}
			var f TenantTable
			if obj.Pkg() != ts.pass.Pkg && ts.pass.ImportObjectFact(obj, &f) {
				return &f
			}
		}
		return nil
	}
}

// All returns every known tenant table, sorted by name.
func (ts *Tables) All() []*TenantTable { return ts.all }

// TenantOwnedAnalyzer finds the types that embed bunhook.TenantOwned and
// exports their tables as facts, so that the other analyzers know the
// tenant tables of every package the analyzed one depends on.
var TenantOwnedAnalyzer = &analysis.Analyzer{
	Name:       "tenantowned",
	Doc:        "find types that embed bunhook.TenantOwned and record their table and tenant column (facts for the other checks; reports nothing)",
	URL:        "https://github.com/tenantshield/tenantshield-go/tree/main/tenantvet",
	Run:        runTenantOwned,
	FactTypes:  []analysis.Fact{(*TenantTable)(nil)},
	ResultType: reflect.TypeFor[*Tables](),
}

func runTenantOwned(pass *analysis.Pass) (any, error) {
	ts := &Tables{pass: pass, byType: map[*types.TypeName]*TenantTable{}}
	for _, obj := range pass.TypesInfo.Defs {
		tn, ok := obj.(*types.TypeName)
		if !ok || tn.IsAlias() {
			continue
		}
		tt := tenantTableOf(tn)
		if tt == nil {
			continue
		}
		ts.byType[tn] = tt
		if tn.Parent() == pass.Pkg.Scope() {
			pass.ExportObjectFact(tn, tt)
		}
	}
	seen := map[string]bool{}
	add := func(tt *TenantTable) {
		key := tt.Table + "\x00" + tt.Column
		if !seen[key] {
			seen[key] = true
			ts.all = append(ts.all, tt)
		}
	}
	for _, tt := range ts.byType {
		add(tt)
	}
	for _, of := range pass.AllObjectFacts() {
		if tt, ok := of.Fact.(*TenantTable); ok {
			add(tt)
		}
	}
	slices.SortFunc(ts.all, func(a, b *TenantTable) int {
		return strings.Compare(a.Table+"\x00"+a.Column, b.Table+"\x00"+b.Column)
	})
	return ts, nil
}

// tenantTableOf returns the table of tn when it is a struct type embedding
// bunhook.TenantOwned by value, or nil.
func tenantTableOf(tn *types.TypeName) *TenantTable {
	st, ok := tn.Type().Underlying().(*types.Struct)
	if !ok {
		return nil
	}
	var owned bool
	column := defaultTenantColumn
	bunTag := ""
	for i := range st.NumFields() {
		f := st.Field(i)
		if !f.Embedded() {
			continue
		}
		tag := reflect.StructTag(st.Tag(i))
		switch {
		case isNamed(f.Type(), bunhookPath, "TenantOwned"):
			owned = true
			if c := tag.Get("tenant"); c != "" {
				column = c
			}
		case isNamed(f.Type(), bunPath, "BaseModel"):
			bunTag = tag.Get("bun")
		}
	}
	if !owned {
		return nil
	}
	table, alias := bunTableName(tn.Name(), bunTag)
	return &TenantTable{
		Type:   tn.Pkg().Path() + "." + tn.Name(),
		Table:  table,
		Alias:  alias,
		Column: column,
	}
}

// bunTableName returns the table name and alias bun gives to the Go type
// typeName whose bun.BaseModel field has the tag value tag: the tag's name
// or its table: option, else bun's default (the snake_case type name,
// pluralized with the inflection package bun uses); the alias: option, else
// the snake_case type name.
func bunTableName(typeName, tag string) (table, alias string) {
	model := underscore(typeName)
	table, alias = inflection.Plural(model), model
	for i, part := range strings.Split(tag, ",") {
		part = strings.TrimSpace(part)
		k, v, hasColon := strings.Cut(part, ":")
		switch {
		case i == 0 && !hasColon && part != "":
			table = part
		case k == "table" && v != "":
			table = v
		case k == "alias" && v != "":
			alias = v
		}
	}
	return strings.Trim(table, `"`), strings.Trim(alias, `"`)
}

// underscore is bun's snake_case conversion of Go names (an upper-case
// letter starts a new word when a neighbour is lower-case).
func underscore(s string) string {
	isUpper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	isLower := func(c byte) bool { return c >= 'a' && c <= 'z' }
	r := make([]byte, 0, len(s)+5)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isUpper(c) {
			r = append(r, c)
			continue
		}
		if i > 0 && i+1 < len(s) && (isLower(s[i-1]) || isLower(s[i+1])) {
			r = append(r, '_')
		}
		r = append(r, c+('a'-'A'))
	}
	return string(r)
}

// isNamed reports whether t is the named type pkgPath.name.
func isNamed(t types.Type, pkgPath, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return false
	}
	obj := n.Origin().Obj()
	return obj.Name() == name && obj.Pkg() != nil && obj.Pkg().Path() == pkgPath
}
