package bunhook

import (
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/schema"

	"github.com/tenantshield/tenantshield-go/auditlog"
	"github.com/tenantshield/tenantshield-go/bunhook/internal/driverwrap"
	"github.com/tenantshield/tenantshield-go/bunhook/internal/sqlguard"
	"github.com/tenantshield/tenantshield-go/otelobs"
	"github.com/tenantshield/tenantshield-go/scope"
)

// ErrNotInstalled is returned by the model hooks of a tenant-owned model used
// on a *bun.DB that was not opened with [Open]: enforcement cannot run, so the
// query fails closed.
var ErrNotInstalled = errors.New("bunhook: this *bun.DB was not opened with bunhook.Open " +
	"(or sqlitedb/pgdb/mysqldb.Open), so tenant enforcement is not installed; open it through bunhook")

// ErrModel is matched by the errors of invalid tenant-owned model declarations.
var ErrModel = errors.New("bunhook: invalid tenant-owned model")

// Enforcer holds a DB's enforcement configuration and the registry of its
// tenant-owned tables. Get it with [EnforcerOf].
type Enforcer struct {
	policy      scope.Policy
	policyAllow bool
	bus         *auditlog.Bus
	obs         *otelobs.Observer
	metrics     *otelobs.Metrics
	mode        atomic.Int32
	allowDupKey bool
	rls         bool
	attached    bool // made by Attach: no driver layer (see Coverage)
	folding     bool // tenant ids must be canonical (CollationFolding)
	dialect     sqlguard.Dialect
	system      string // db.system.name

	mu     sync.Mutex        // serialises registration
	tables map[string]string // guarded by mu; copied into guard
	owners map[string]string // guarded by mu: who declared each table (a model's type, or WithTenantTable)
	// shared are the tables without tenant rows, by lower-case name, with
	// who declared them; sharedNames their names as given (guarded by mu).
	shared      map[string]string
	sharedNames []string
	functions   []string // user-defined functions allowed under a scope
	configErr   error    // invalid options, returned by Open
	guard       atomic.Pointer[sqlguard.Guard]
	models      sync.Map // *schema.Table -> *modelInfo

	filled   filledInserts // model INSERTs whose tenant bunhook filled (model.go)
	refusals refusals      // sub-queries Scope refused (see Scope)
	refs     references    // foreign keys between tenant-owned tables (references.go)
}

func newEnforcer(d schema.Dialect, c *config) *Enforcer {
	e := &Enforcer{policy: c.policy, policyAllow: c.policyAllow, bus: c.bus, obs: c.obs, metrics: c.metrics, allowDupKey: c.allowDupKey,
		tables: map[string]string{}, owners: map[string]string{}, shared: map[string]string{}}
	e.mode.Store(int32(c.mode))
	switch d.Name() {
	case dialect.PG:
		e.dialect, e.system, e.rls = sqlguard.Postgres, "postgresql", c.rls
	case dialect.MySQL:
		e.dialect, e.system = sqlguard.MySQL, "mysql"
	default:
		e.dialect, e.system = sqlguard.SQLite, "sqlite"
	}
	e.folding = c.collation == CollationFolding || (c.collation == CollationDefault && e.dialect == sqlguard.MySQL)
	var errs []error
	for t, col := range c.tables {
		if !sqlguard.ValidName(t) || !sqlguard.ValidName(col) {
			errs = append(errs, fmt.Errorf("%w: bunhook.WithTenantTable(%q, %q): table and column must be plain identifiers "+
				"(ASCII letters, digits and '_', without a schema)", ErrModel, t, col))
			continue
		}
		e.tables[t] = col
		e.owners[t] = "bunhook.WithTenantTable"
	}
	for _, f := range c.functions {
		if !sqlguard.ValidName(f) {
			errs = append(errs, fmt.Errorf("%w: bunhook.WithFunctions(%q): a function is named by a plain identifier", ErrModel, f))
			continue
		}
		e.functions = append(e.functions, f)
	}
	e.configErr = errors.Join(errs...)
	e.rebuild()
	return e
}

// rebuild builds the guard from the registry (the caller holds mu, or owns
// e alone).
func (e *Enforcer) rebuild() {
	e.guard.Store(sqlguard.New(e.dialect, e.tables, sqlguard.ClosedWorld(),
		sqlguard.WithShared(e.sharedNames...), sqlguard.WithFunctions(e.functions...)))
}

// EnforcerOf returns the Enforcer of a *bun.DB opened with [Open] or made
// by [Attach] (or any clone of it, and any *bun.DB built over the same
// *sql.DB).
func EnforcerOf(db *bun.DB) (*Enforcer, bool) {
	if db == nil {
		return nil, false
	}
	e := enforcerOfSQL(db.DB)
	return e, e != nil
}

func enforcerOfSQL(sqldb *sql.DB) *Enforcer {
	if e, ok := driverwrap.OwnerOf(sqldb).(*Enforcer); ok {
		return e
	}
	return attachedEnforcer(sqldb)
}

// Mode returns the current enforcement mode.
func (e *Enforcer) Mode() Mode { return Mode(e.mode.Load()) }

// SetMode switches the enforcement mode at run time.
func (e *Enforcer) SetMode(m Mode) { e.mode.Store(int32(m)) }

func (e *Enforcer) reportOnly() bool { return Mode(e.mode.Load()) == ModeReport }

// Tables returns the registered tenant-owned tables and their tenant columns.
func (e *Enforcer) Tables() map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]string, len(e.tables))
	for k, v := range e.tables {
		out[k] = v
	}
	return out
}

// RegisterModels registers tenant-owned models with db's enforcer. See
// [WithModels].
func RegisterModels(db *bun.DB, models ...any) error {
	e, ok := EnforcerOf(db)
	if !ok {
		return ErrNotInstalled
	}
	var errs []error
	for _, m := range models {
		tbl, err := modelTable(db, m, "RegisterModels")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		mi := e.modelInfo(tbl)
		if mi.err != nil {
			errs = append(errs, mi.err)
		} else if !mi.owned {
			errs = append(errs, fmt.Errorf("%w: %s does not embed bunhook.TenantOwned; add the field `bunhook.TenantOwned` to mark it tenant-owned, "+
				"or register it with bunhook.WithSharedModels if its table holds no tenant's rows", ErrModel, tbl.Type))
		}
	}
	return errors.Join(errs...)
}

// RegisterSharedModels registers models whose tables hold no tenant's rows
// with db's enforcer. See [WithSharedModels].
func RegisterSharedModels(db *bun.DB, models ...any) error {
	e, ok := EnforcerOf(db)
	if !ok {
		return ErrNotInstalled
	}
	var errs []error
	for _, m := range models {
		tbl, err := modelTable(db, m, "RegisterSharedModels")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, owned := findTenantOwned(tbl.Type); owned {
			errs = append(errs, fmt.Errorf("%w: %s embeds bunhook.TenantOwned, so its table holds tenant rows: "+
				"register it with bunhook.WithModels, not as shared", ErrModel, tbl.Type))
			continue
		}
		errs = append(errs, e.registerShared([]string{tbl.Name}, tbl.Type.String()))
	}
	return errors.Join(errs...)
}

// modelTable returns the bun table of model m (a typed nil pointer, a
// pointer to a struct or slice of structs).
func modelTable(db *bun.DB, m any, caller string) (*schema.Table, error) {
	typ := reflect.TypeOf(m)
	if typ == nil {
		return nil, fmt.Errorf("%w: %s got a nil interface; pass a typed nil pointer such as (*Invoice)(nil)", ErrModel, caller)
	}
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%w: %s is not a struct model", ErrModel, typ)
	}
	return db.Table(typ), nil
}

// modelInfo is what enforcement needs to know about a model's table.
type modelInfo struct {
	table  *schema.Table
	owned  bool
	column string
	ident  any // bun.Ident(column), boxed once: a query argument without an allocation
	field  *schema.Field
	err    error // invalid declaration
	// inline reports whether the model has has-one, belongs-to or m2m
	// relations, whose joins may need tenant conditions.
	inline bool
	// byAlias and byFQN keep the arguments of the last tenant predicate
	// (tenantArgs, fqnTenantArgs).
	byAlias, byFQN atomic.Pointer[predArgs]
}

// predArgs are the query arguments of a tenant predicate: the column (or
// its qualified name) and the tenant, boxed once.
type predArgs struct {
	left, tenant string
	args         []any
}

// tenantArgs returns the arguments {column, tenant} of the predicate
// "?TableAlias.? = ?" on mi's tenant column. The slice is kept for the last
// tenant and shared by the statements of that tenant (bun only reads query
// arguments), so that they pay no allocation for the predicate's arguments.
func (mi *modelInfo) tenantArgs(tenant string) []any {
	if p := mi.byAlias.Load(); p != nil && p.tenant == tenant {
		return p.args
	}
	p := &predArgs{tenant: tenant, args: []any{mi.ident, tenant}}
	mi.byAlias.Store(p)
	return p.args
}

// fqnTenantArgs is tenantArgs for the predicate "? = ?" with the column's
// name as the query qualifies it (bun's FQN of an UPDATE).
func (mi *modelInfo) fqnTenantArgs(fqn bun.Ident, tenant string) []any {
	if p := mi.byFQN.Load(); p != nil && p.tenant == tenant && p.left == string(fqn) {
		return p.args
	}
	p := &predArgs{left: string(fqn), tenant: tenant, args: []any{fqn, tenant}}
	mi.byFQN.Store(p)
	return p.args
}

var tenantOwnedType = reflect.TypeFor[TenantOwned]()

// modelInfo returns (and caches) what the model of tbl declares, registering a
// tenant-owned table with the guard the first time it is seen.
func (e *Enforcer) modelInfo(tbl *schema.Table) *modelInfo {
	if v, ok := e.models.Load(tbl); ok {
		return v.(*modelInfo)
	}
	mi := inspectModel(tbl)
	e.learnReferences(tbl)
	if mi.owned && mi.err == nil {
		// A conflicting declaration makes this model fail closed for good.
		mi.err = e.registerTable(tbl.Name, mi.column, tbl.Type.String())
	}
	v, _ := e.models.LoadOrStore(tbl, mi)
	return v.(*modelInfo)
}

// tenantColumn tells the joins of package bunx which tables are tenant-owned.
func (e *Enforcer) tenantColumn(tbl *schema.Table) (string, bool) {
	mi := e.modelInfo(tbl)
	return mi.column, mi.owned && mi.err == nil
}

func inspectModel(tbl *schema.Table) *modelInfo {
	mi := &modelInfo{table: tbl}
	for _, rel := range tbl.Relations {
		switch rel.Type {
		case schema.HasOneRelation, schema.BelongsToRelation, schema.ManyToManyRelation:
			mi.inline = true
		}
	}
	sf, ok := findTenantOwned(tbl.Type)
	if !ok {
		return mi
	}
	mi.owned = true
	if sf.Type.Kind() == reflect.Pointer {
		mi.err = fmt.Errorf("%w: %s embeds *bunhook.TenantOwned; embed bunhook.TenantOwned by value (bun calls its hooks on a nil pointer otherwise)",
			ErrModel, tbl.TypeName)
		return mi
	}
	mi.column = DefaultTenantColumn
	if tag, ok := sf.Tag.Lookup("tenant"); ok && strings.TrimSpace(tag) != "" {
		mi.column = strings.TrimSpace(tag)
	}
	f, ok := tbl.FieldMap[mi.column]
	if !ok {
		mi.err = fmt.Errorf("%w: %s embeds bunhook.TenantOwned but has no column %q: add a field such as "+
			"`TenantID string `bun:\"%s,notnull\"``, or name the tenant column with `bunhook.TenantOwned `tenant:\"column\"``",
			ErrModel, tbl.TypeName, mi.column, mi.column)
		return mi
	}
	if f.IndirectType.Kind() != reflect.String {
		mi.err = fmt.Errorf("%w: %s.%s (column %q) holds the tenant and must be a string, not %s",
			ErrModel, tbl.TypeName, f.GoName, mi.column, f.IndirectType)
		return mi
	}
	mi.field = f
	mi.ident = bun.Ident(mi.column)
	return mi
}

func findTenantOwned(typ reflect.Type) (reflect.StructField, bool) {
	for i := 0; i < typ.NumField(); i++ {
		sf := typ.Field(i)
		if !sf.Anonymous {
			continue
		}
		if sf.Type == tenantOwnedType {
			return sf, true
		}
		if sf.Type.Kind() == reflect.Pointer && sf.Type.Elem() == tenantOwnedType {
			// Pointer embedding gives nil receivers; treat it as a declaration
			// error rather than silently working half-way.
			return sf, true
		}
	}
	return reflect.StructField{}, false
}

// registerTable makes table tenant-owned with its tenant column, declared
// by owner. A table is declared once: another tenant column for it (from a
// second model on the same table, or WithTenantTable) is an error naming
// both declarations, since the guard would verify the statements of one of
// them against the wrong column.
func (e *Enforcer) registerTable(name, column, owner string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := strings.ToLower(name)
	if cur, ok := e.tables[key]; ok {
		if cur == column {
			return nil
		}
		return fmt.Errorf("%w: table %q is declared tenant-owned twice with different tenant columns: "+
			"%s says %q, %s says %q; give every model of a table the same `tenant` tag", ErrModel, name, e.owners[key], cur, owner, column)
	}
	if other, ok := e.shared[key]; ok {
		return sharedConflict(name, other, owner)
	}
	e.tables[key] = column
	e.owners[key] = owner
	e.rebuild()
	return nil
}

// registerShared registers tables without tenant rows, declared by owner.
func (e *Enforcer) registerShared(names []string, owner string) error {
	if len(names) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, name := range names {
		key := strings.ToLower(name)
		switch {
		case !sqlguard.ValidName(name):
			errs = append(errs, fmt.Errorf("%w: %s: shared table %q must be a plain identifier (ASCII letters, digits and '_', without a schema)",
				ErrModel, owner, name))
		case e.tables[key] != "":
			errs = append(errs, sharedConflict(name, owner, e.owners[key]))
		case e.shared[key] == "":
			e.shared[key] = owner
			e.sharedNames = append(e.sharedNames, name)
		}
	}
	e.rebuild()
	return errors.Join(errs...)
}

func sharedConflict(table, sharedBy, ownedBy string) error {
	return fmt.Errorf("%w: table %q is declared both shared (by %s) and tenant-owned (by %s); "+
		"a table holds tenant rows or it does not: remove one declaration", ErrModel, table, sharedBy, ownedBy)
}
