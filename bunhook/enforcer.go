package bunhook

import (
	"context"
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
	"go.opentelemetry.io/otel/trace"

	"github.com/tenantshield/tenantshield-go/auditlog"
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

// Mode is the enforcement mode of a DB.
type Mode int32

const (
	// ModeEnforce blocks every violation (the default).
	ModeEnforce Mode = iota
	// ModeReport audits and traces would-be blocks but lets the statements
	// run, for rolling enforcement out on an existing codebase. Rows are
	// still scoped and tenants still filled where that changes nothing for a
	// correct program.
	ModeReport
)

func (m Mode) String() string {
	if m == ModeReport {
		return "report"
	}
	return "enforce"
}

// DefaultTenantColumn is the tenant column of a tenant-owned model whose
// embedded TenantOwned has no `tenant` tag.
const DefaultTenantColumn = "tenant_id"

// RLSSetting is the PostgreSQL setting that carries the tenant for row-level
// security policies.
const RLSSetting = "app.tenant_id"

type config struct {
	bus         *auditlog.Bus
	obs         *otelobs.Observer
	mode        Mode
	models      []any
	tables      map[string]string
	allowDupKey bool
	rls         bool
	bunOpts     []bun.DBOption
	policy      scope.Policy
	policyAllow bool
}

// Option configures [Open].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithAuditBus sets the audit bus (default: auditlog.Default()).
func WithAuditBus(bus *auditlog.Bus) Option {
	return optionFunc(func(c *config) {
		if bus != nil {
			c.bus = bus
		}
	})
}

// WithObserver sets the observer (default: otelobs.Default()).
func WithObserver(obs *otelobs.Observer) Option {
	return optionFunc(func(c *config) {
		if obs != nil {
			c.obs = obs
		}
	})
}

// WithMode sets the enforcement mode (default: ModeEnforce).
func WithMode(m Mode) Option { return optionFunc(func(c *config) { c.mode = m }) }

// WithModels registers tenant-owned models (pass nil pointers, e.g.
// (*Invoice)(nil)). Open fails if one is not a valid tenant-owned model.
// Register every tenant-owned model here: raw SQL over a table is only guarded
// once the table is known.
func WithModels(models ...any) Option {
	return optionFunc(func(c *config) { c.models = append(c.models, models...) })
}

// WithTenantTable declares a tenant-owned table (or view) that has no model,
// with its tenant column, so that raw SQL over it is guarded.
func WithTenantTable(table, column string) Option {
	return optionFunc(func(c *config) {
		if c.tables == nil {
			c.tables = map[string]string{}
		}
		c.tables[strings.ToLower(table)] = column
	})
}

// WithDuplicateKeyUpdate allows MySQL/MariaDB INSERT ... ON DUPLICATE KEY
// UPDATE on tenant-owned tables. MySQL gives that clause no WHERE, so a key
// collision with another tenant's row would overwrite it: opt in only when
// every unique key of those tables includes the tenant column.
func WithDuplicateKeyUpdate() Option { return optionFunc(func(c *config) { c.allowDupKey = true }) }

// WithoutRLSSetting stops the PostgreSQL connector from setting app.tenant_id
// (on by default for PostgreSQL; the other dialects have no RLS).
func WithoutRLSSetting() Option { return optionFunc(func(c *config) { c.rls = false }) }

// WithBunOptions passes options to bun.NewDB.
func WithBunOptions(opts ...bun.DBOption) Option {
	return optionFunc(func(c *config) { c.bunOpts = append(c.bunOpts, opts...) })
}

// Enforcer holds a DB's enforcement configuration and the registry of its
// tenant-owned tables. Get it with [EnforcerOf].
type Enforcer struct {
	policy      scope.Policy
	policyAllow bool
	bus         *auditlog.Bus
	obs         *otelobs.Observer
	mode        atomic.Int32
	allowDupKey bool
	rls         bool
	dialect     sqlguard.Dialect
	system      string // db.system.name

	mu     sync.Mutex        // serialises registration
	tables map[string]string // guarded by mu; copied into guard
	guard  atomic.Pointer[sqlguard.Guard]
	models sync.Map // *schema.Table -> *modelInfo
}

func newEnforcer(d schema.Dialect, c *config) *Enforcer {
	e := &Enforcer{policy: c.policy, policyAllow: c.policyAllow, bus: c.bus, obs: c.obs, allowDupKey: c.allowDupKey, tables: map[string]string{}}
	e.mode.Store(int32(c.mode))
	switch d.Name() {
	case dialect.PG:
		e.dialect, e.system, e.rls = sqlguard.Postgres, "postgresql", c.rls
	case dialect.MySQL:
		e.dialect, e.system = sqlguard.MySQL, "mysql"
	default:
		e.dialect, e.system = sqlguard.SQLite, "sqlite"
	}
	for t, col := range c.tables {
		e.tables[t] = col
	}
	e.guard.Store(sqlguard.New(e.dialect, e.tables))
	return e
}

// EnforcerOf returns the Enforcer of a *bun.DB opened with [Open] (or any
// clone of it, and any *bun.DB built over the same *sql.DB).
func EnforcerOf(db *bun.DB) (*Enforcer, bool) {
	if db == nil {
		return nil, false
	}
	e := enforcerOfSQL(db.DB)
	return e, e != nil
}

func enforcerOfSQL(sqldb *sql.DB) *Enforcer {
	if sqldb == nil {
		return nil
	}
	if d, ok := sqldb.Driver().(*wrappedDriver); ok {
		return d.e
	}
	return nil
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
		typ := reflect.TypeOf(m)
		if typ == nil {
			errs = append(errs, fmt.Errorf("%w: RegisterModels got a nil interface; pass a typed nil pointer such as (*Invoice)(nil)", ErrModel))
			continue
		}
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct {
			errs = append(errs, fmt.Errorf("%w: %s is not a struct model", ErrModel, typ))
			continue
		}
		mi := e.modelInfo(db.Table(typ))
		if mi.err != nil {
			errs = append(errs, mi.err)
		} else if !mi.owned {
			errs = append(errs, fmt.Errorf("%w: %s does not embed bunhook.TenantOwned; add the field `bunhook.TenantOwned` to mark it tenant-owned", ErrModel, typ))
		}
	}
	return errors.Join(errs...)
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
}

var tenantOwnedType = reflect.TypeOf(TenantOwned{})

// modelInfo returns (and caches) what the model of tbl declares, registering a
// tenant-owned table with the guard the first time it is seen.
func (e *Enforcer) modelInfo(tbl *schema.Table) *modelInfo {
	if v, ok := e.models.Load(tbl); ok {
		return v.(*modelInfo)
	}
	mi := inspectModel(tbl)
	if mi.owned && mi.err == nil {
		e.registerTable(tbl.Name, mi.column)
	}
	v, _ := e.models.LoadOrStore(tbl, mi)
	return v.(*modelInfo)
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

func (e *Enforcer) registerTable(name, column string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := strings.ToLower(name)
	if e.tables[key] == column {
		return
	}
	e.tables[key] = column
	e.guard.Store(sqlguard.New(e.dialect, e.tables))
}

// tableNames renders a statement's tenant tables for reports: the name, or
// the names comma-separated in first-seen order.
func tableNames(l sqlguard.TableList) string {
	switch l.Len() {
	case 0:
		return ""
	case 1:
		return l.At(0)
	}
	return strings.Join(l.Slice(), ",")
}

// violation describes a blocked (or, in report mode, reported) operation.
type violation struct {
	op        string
	table     string
	model     string
	bound     string
	attempted string
	reason    string
	fix       string
	err       error // sentinel
	write     bool
}

// block reports v on both paths and returns the caller's error (nil in
// report-only mode).
func (e *Enforcer) block(ctx context.Context, v violation) error {
	report := e.reportOnly()
	verr := &scope.ViolationError{Op: v.op, Table: v.table, Model: v.model, Bound: v.bound, Attempted: v.attempted,
		Reason: v.reason, Fix: v.fix, Err: v.err}
	if e.bus.Enabled() {
		outcome := auditlog.OutcomeBlocked
		if report {
			outcome = auditlog.OutcomeReported
		}
		e.bus.Emit(ctx, auditlog.Event{
			Type: auditlog.EnforcementViolation, Tenant: v.bound, AttemptedTenant: v.attempted, Table: v.table,
			Model: v.model, Operation: v.op, Reason: v.reason, Outcome: outcome,
		})
	}
	if e.obs.Enabled() {
		decision := "blocked"
		if report {
			decision = "reported"
		}
		d := otelobs.Decision{Tenant: v.bound, Attempted: v.attempted, Decision: decision, Reason: v.reason,
			System: e.system, Table: v.table, Operation: v.op, ErrorType: verr.ErrorType()}
		e.traceBlocked(ctx, v.write, d)
	}
	if report {
		return nil
	}
	return verr
}

// traceBlocked records a blocked decision as a tenant.read.blocked or
// tenant.write.blocked span event: on the span active in ctx, or, when none
// is recording, on a span of its own so that it is visible on the trace.
func (e *Enforcer) traceBlocked(ctx context.Context, write bool, d otelobs.Decision) {
	name := otelobs.EventReadBlocked
	if write {
		name = otelobs.EventWriteBlocked
	}
	if trace.SpanFromContext(ctx).IsRecording() {
		e.obs.AddEvent(ctx, name, d)
		return
	}
	sctx, span := e.obs.Start(ctx, spanName(write), trace.WithSpanKind(trace.SpanKindInternal))
	e.obs.Annotate(span, d)
	e.obs.AddEvent(sctx, name, d)
	span.End()
}

// bypassed reports a statement that ran under an explicit bypass.
func (e *Enforcer) bypassed(ctx context.Context, b *scope.Bypass, tenant, op, table string) {
	if e.bus.Enabled() {
		e.bus.Emit(ctx, auditlog.Event{
			Type: auditlog.EnforcementBypass, Tenant: tenant, Table: table, Operation: op, Reason: b.Reason,
			Outcome: auditlog.OutcomeBypassed, Caller: auditlog.Caller{File: b.File, Line: b.Line, Function: b.Function},
		})
	}
}

func spanName(write bool) string {
	if write {
		return "tenant.write"
	}
	return "tenant.read"
}
