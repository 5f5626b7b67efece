package posture

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// pgRel is a relation of the schemas a PostgreSQL check looks at.
type pgRel struct {
	oid                int64
	schema, name, kind string // kind: pg_class.relkind
	rls, force, owned  bool
	owner              string
	truncate           bool
	searchPos          int // position of the schema in the search path, 0 if not on it
	cols               map[string]pgCol
	registered         bool
	table              Table // the registration, when registered
}

type pgCol struct {
	typ, typname, collation string
	deterministic, notNull  bool
}

// pgState is what the catalogs told about the tenant tables.
type pgState struct {
	rels    map[int64]*pgRel
	byName  map[string][]*pgRel // unqualified lower-case name -> relations
	tenants map[int64]*pgRel    // registered tenant tables found
	super   bool                // the role is a superuser: ownership and TRUNCATE are moot
}

func checkPostgres(ctx context.Context, db Querier, c *config, r *Report) error {
	super, err := pgRole(ctx, db, r)
	if err != nil {
		return err
	}
	st, err := pgRelations(ctx, db, r)
	if err != nil {
		return err
	}
	st.super = super
	if err := pgColumns(ctx, db, st, r); err != nil {
		return err
	}
	oids := oidList(st.tenants)
	if oids == "" {
		return nil
	}
	for _, step := range []func(context.Context, Querier, *config, *pgState, string, *Report) error{
		pgKeys, pgForeignKeys, pgPolicies, pgChildren, pgViews, pgDefiners, pgSetters,
	} {
		if err := step(ctx, db, c, st, oids, r); err != nil {
			return err
		}
	}
	pgTableFindings(c, st, r)
	return nil
}

// pgRole reports the connection role's attributes and returns whether it
// is a superuser (which makes every other role finding moot).
func pgRole(ctx context.Context, db Querier, r *Report) (bool, error) {
	const bypasses = "row-level security never applies to it, so a statement the guard misses reads and writes every tenant's rows"
	var super bool
	err := queryRows(ctx, db, `SELECT current_user::text, current_database()::text, r.rolsuper, r.rolbypassrls, r.rolcreaterole
FROM pg_roles r WHERE r.rolname = current_user`, func(rows *sql.Rows) error {
		var bypass, createrole bool
		if err := rows.Scan(&r.Role, &r.Database, &super, &bypass, &createrole); err != nil {
			return err
		}
		switch {
		case super:
			r.add(Finding{Kind: RoleSuperuser, Severity: Critical, Object: r.Role,
				Message: "the application connects as superuser " + strconv.Quote(r.Role),
				Why:     bypasses + "; from inside a tenant scope it can also change roles, policies and settings",
				Advice:  "connect the application as a role made by posture.RoleSQL: NOSUPERUSER NOBYPASSRLS NOCREATEROLE, not owning the tables"})
		case bypass:
			r.add(Finding{Kind: RoleBypassRLS, Severity: Critical, Object: r.Role,
				Message: "role " + strconv.Quote(r.Role) + " has BYPASSRLS", Why: bypasses,
				Advice: "ALTER ROLE " + Ident(Postgres, r.Role) + " NOBYPASSRLS (as a superuser)"})
		}
		if createrole && !super {
			r.add(Finding{Kind: RoleCreateRole, Severity: High, Object: r.Role,
				Message: "role " + strconv.Quote(r.Role) + " has CREATEROLE",
				Why:     "it can grant itself membership in other roles, including the owner of the tenant tables",
				Advice:  "ALTER ROLE " + Ident(Postgres, r.Role) + " NOCREATEROLE"})
		}
		return nil
	})
	if err != nil || super {
		return super, err
	}
	return false, queryRows(ctx, db, `SELECT r.rolname::text FROM pg_roles r
WHERE r.rolname <> current_user AND pg_has_role(current_user, r.oid, 'MEMBER') AND (r.rolsuper OR r.rolbypassrls)`, func(rows *sql.Rows) error {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		r.add(Finding{Kind: RoleBypassRLS, Severity: Critical, Object: name,
			Message: fmt.Sprintf("role %q is a member of %q, which bypasses row-level security", r.Role, name),
			Why:     "after SET ROLE " + name + ", which any statement can run, " + bypasses,
			Advice:  "REVOKE " + Ident(Postgres, name) + " FROM " + Ident(Postgres, r.Role)})
		return nil
	})
}

func pgRelations(ctx context.Context, db Querier, r *Report) (*pgState, error) {
	st := &pgState{rels: map[int64]*pgRel{}, byName: map[string][]*pgRel{}, tenants: map[int64]*pgRel{}}
	schemas := pgExplicitSchemas(r.Tables)
	q := `SELECT c.oid::bigint, n.nspname::text, c.relname::text, c.relkind::text, c.relrowsecurity, c.relforcerowsecurity,
  pg_get_userbyid(c.relowner)::text, pg_has_role(current_user, c.relowner, 'MEMBER'),
  has_table_privilege(c.oid, 'TRUNCATE'), coalesce(array_position(current_schemas(false), n.nspname), 0)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND (n.nspname = ANY (current_schemas(false))` + schemas + `)`
	err := queryRows(ctx, db, q, func(rows *sql.Rows) error {
		rel := &pgRel{cols: map[string]pgCol{}}
		if err := rows.Scan(&rel.oid, &rel.schema, &rel.name, &rel.kind, &rel.rls, &rel.force, &rel.owner, &rel.owned, &rel.truncate, &rel.searchPos); err != nil {
			return err
		}
		st.rels[rel.oid] = rel
		k := strings.ToLower(rel.name)
		st.byName[k] = append(st.byName[k], rel)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range r.Tables {
		rel := st.resolve(t.Name)
		if rel == nil {
			r.add(missingTable(t, "the database (or not on the search path)", "create the table, correct the registered name, or qualify it with its schema"))
			continue
		}
		rel.registered, rel.table = true, t
		st.tenants[rel.oid] = rel
	}
	return st, nil
}

// pgExplicitSchemas returns the SQL that adds the schemas of qualified
// registered names to the schemas on the search path.
func pgExplicitSchemas(tables []Table) string {
	var lits []string
	for _, t := range tables {
		if i := strings.LastIndexByte(t.Name, '.'); i > 0 {
			lits = append(lits, stringLit(Postgres, t.Name[:i]))
		}
	}
	if len(lits) == 0 {
		return ""
	}
	return " OR n.nspname IN (" + strings.Join(lits, ", ") + ")"
}

// resolve finds a registered name: qualified exactly, otherwise the first
// schema of the search path that has it.
func (st *pgState) resolve(name string) *pgRel {
	schema, rel := "", name
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		schema, rel = name[:i], name[i+1:]
	}
	var best *pgRel
	for _, cand := range st.byName[strings.ToLower(rel)] {
		if !strings.EqualFold(cand.name, rel) {
			continue
		}
		if schema != "" {
			if strings.EqualFold(cand.schema, schema) {
				return cand
			}
			continue
		}
		if cand.searchPos > 0 && (best == nil || cand.searchPos < best.searchPos) {
			best = cand
		}
	}
	return best
}

// oidList is the OIDs of rels as a sorted SQL list (constants: the catalog
// queries take no arguments, so they run through any Querier).
func oidList(rels map[int64]*pgRel) string {
	var ids []string
	for oid := range rels {
		ids = append(ids, strconv.FormatInt(oid, 10))
	}
	slices.Sort(ids)
	return strings.Join(ids, ", ")
}

func pgColumns(ctx context.Context, db Querier, st *pgState, r *Report) error {
	oids := oidList(st.rels)
	if oids == "" {
		return nil
	}
	return queryRows(ctx, db, `SELECT a.attrelid::bigint, a.attname::text, format_type(a.atttypid, a.atttypmod), t.typname::text,
  coalesce(co.collname::text, ''), coalesce(co.collisdeterministic, true), a.attnotnull
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attrelid IN (`+oids+`)`, func(rows *sql.Rows) error {
		var oid int64
		var name string
		var c pgCol
		if err := rows.Scan(&oid, &name, &c.typ, &c.typname, &c.collation, &c.deterministic, &c.notNull); err != nil {
			return err
		}
		if rel := st.rels[oid]; rel != nil {
			rel.cols[strings.ToLower(name)] = c
		}
		return nil
	})
}

// pgTableFindings reports, per tenant table, what its own rows and columns
// show: the tenant column, its collation, RLS flags, ownership, TRUNCATE;
// and the unregistered relations that carry a tenant column.
func pgTableFindings(c *config, st *pgState, r *Report) {
	tenantCols := map[string]bool{}
	for _, rel := range st.tenants {
		tenantCols[strings.ToLower(rel.table.Column)] = true
		t := rel.table
		col, ok := rel.cols[strings.ToLower(t.Column)]
		if !ok {
			r.add(missingColumn(t))
			continue
		}
		pgCollation(c, t, col, r)
		if rel.kind == "v" || rel.kind == "m" {
			continue
		}
		if rel.owned && !st.super {
			r.add(Finding{Kind: RoleOwner, Severity: High, Table: t.Name, Object: rel.owner,
				Message: fmt.Sprintf("the application role %q owns %s (or is a member of its owner %q)", r.Role, t.Name, rel.owner),
				Why:     "the owner can ALTER TABLE ... NO FORCE / DISABLE ROW LEVEL SECURITY and drop the policy from inside a tenant scope",
				Advice:  "make another role the owner (ALTER TABLE " + Ident(Postgres, t.Name) + " OWNER TO <owner role>); posture.RoleSQL sets both roles up"})
		}
		if rel.truncate && !st.super {
			r.add(Finding{Kind: RoleTruncate, Severity: High, Table: t.Name, Object: r.Role,
				Message: fmt.Sprintf("role %q may TRUNCATE %s", r.Role, t.Name),
				Why:     "TRUNCATE ignores row-level security: one statement empties every tenant's rows",
				Advice:  "REVOKE TRUNCATE ON " + Ident(Postgres, t.Name) + " FROM " + Ident(Postgres, r.Role) + " (and from PUBLIC)"})
		}
		if !c.rls {
			continue
		}
		if !rel.rls {
			steps := stepsOf(phaseRLS, RLSSQL(t.Name, t.Column, c.setting)...)
			r.add(Finding{Kind: RLSDisabled, Severity: High, Table: t.Name,
				Message: "row-level security is not enabled on " + t.Name,
				Why:     "the database's own backstop is off: a statement the guard misses (or a bypass) reaches every tenant's rows"}, steps...)
		} else if !rel.force {
			r.add(Finding{Kind: RLSNotForced, Severity: Medium, Table: t.Name,
				Message: "row-level security on " + t.Name + " is not forced",
				Why:     "the table's owner, and every SECURITY DEFINER function or view it owns, bypass the policies"},
				step{phaseRLS, "ALTER TABLE " + Ident(Postgres, t.Name) + " FORCE ROW LEVEL SECURITY"})
		}
	}
	for _, rel := range st.rels {
		if rel.registered || rel.kind == "v" || rel.kind == "m" || c.shared[strings.ToLower(rel.name)] || c.shared[strings.ToLower(rel.schema+"."+rel.name)] {
			continue
		}
		for name := range rel.cols {
			if tenantCols[name] {
				r.add(unregisteredCopy(rel.schema+"."+rel.name, name, true))
				break
			}
		}
	}
}

func pgCollation(c *config, t Table, col pgCol, r *Report) {
	var what string
	switch {
	case !col.deterministic:
		what = fmt.Sprintf("has the nondeterministic collation %q", col.collation)
	case col.typname == "citext":
		what = "is citext, which compares case-insensitively"
	case col.typname == "bpchar":
		what = "is " + col.typ + ", which ignores trailing spaces in comparisons"
	default:
		return
	}
	r.add(Finding{Kind: CollationFolding, Severity: c.collationSeverity(), Table: t.Name, Object: t.Column,
		Message: fmt.Sprintf("tenant column %s.%s %s", t.Name, t.Column, what),
		Why:     "two tenant ids that differ in case, accents or trailing spaces compare equal: one tenant reaches the other's rows unless only canonical ids are ever bound"},
		step{phaseColumn, ExactColumnSQL(Postgres, t.Name, t.Column, col.typ, col.notNull, false)})
}

func stepsOf(p phase, sqls ...string) []step {
	out := make([]step, len(sqls))
	for i, s := range sqls {
		out[i] = step{p, s}
	}
	return out
}

// jsonNames decodes a JSON array of names (NULL entries become "").
func jsonNames(s sql.NullString) ([]string, error) {
	if !s.Valid || s.String == "" {
		return nil, nil
	}
	var raw []*string
	if err := json.Unmarshal([]byte(s.String), &raw); err != nil {
		return nil, err
	}
	out := make([]string, len(raw))
	for i, p := range raw {
		if p != nil {
			out[i] = *p
		}
	}
	return out, nil
}
