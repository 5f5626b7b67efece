package posture

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

type pgPolicy struct {
	name, cmd           string
	permissive, applies bool
	using, check        string
}

// pgPolicies reports tenant tables under RLS whose policies, for some
// command, let the application see or write rows of other tenants, or
// give it no policy at all.
func pgPolicies(ctx context.Context, db Querier, c *config, st *pgState, oids string, r *Report) error {
	if !c.rls {
		return nil
	}
	byRel := map[int64][]pgPolicy{}
	err := queryRows(ctx, db, `SELECT p.polrelid::bigint, p.polname::text, p.polcmd::text, p.polpermissive,
  (0::oid = ANY (p.polroles) OR EXISTS (SELECT 1 FROM unnest(p.polroles) ro WHERE ro <> 0 AND pg_has_role(current_user, ro, 'MEMBER'))),
  coalesce(pg_get_expr(p.polqual, p.polrelid), ''), coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
FROM pg_policy p WHERE p.polrelid IN (`+oids+`)`, func(rows *sql.Rows) error {
		var oid int64
		var p pgPolicy
		if err := rows.Scan(&oid, &p.name, &p.cmd, &p.permissive, &p.applies, &p.using, &p.check); err != nil {
			return err
		}
		byRel[oid] = append(byRel[oid], p)
		return nil
	})
	if err != nil {
		return err
	}
	for oid, rel := range st.tenants {
		if !rel.rls || rel.kind == "v" || rel.kind == "m" {
			continue // rls.disabled covers it
		}
		pgJudgePolicies(c, rel.table, byRel[oid], r)
	}
	return nil
}

// policyCommands are the commands a policy can be for, with the
// expressions that decide them: USING for reads and the rows an UPDATE or
// DELETE may touch, WITH CHECK for the rows an INSERT or UPDATE writes.
var policyCommands = []struct {
	cmd, name    string
	using, check bool
}{{"r", "SELECT", true, false}, {"a", "INSERT", false, true}, {"w", "UPDATE", true, true}, {"d", "DELETE", true, false}}

func pgJudgePolicies(c *config, t Table, policies []pgPolicy, r *Report) {
	restricts := func(p pgPolicy, using, check bool) bool {
		if using && !restrictsToSetting(p.using, t.Column, c.setting) {
			return false
		}
		if check {
			expr := p.check
			if expr == "" && p.cmd != "a" {
				expr = p.using // an ALL or UPDATE policy checks new rows with USING
			}
			if !restrictsToSetting(expr, t.Column, c.setting) {
				return false
			}
		}
		return true
	}
	bad := map[string]bool{}
	var missing []string
	for _, pc := range policyCommands {
		var permissive []pgPolicy
		restricted := false
		for _, p := range policies {
			if !p.applies || (p.cmd != "*" && p.cmd != pc.cmd) {
				continue
			}
			if !p.permissive {
				restricted = restricted || restricts(p, pc.using, pc.check)
				continue
			}
			permissive = append(permissive, p)
		}
		if len(permissive) == 0 {
			missing = append(missing, pc.name)
			continue
		}
		if restricted {
			continue
		}
		for _, p := range permissive {
			if !restricts(p, pc.using, pc.check) {
				bad[p.name] = true
			}
		}
	}
	want := fmt.Sprintf("%s = current_setting('%s', true)", t.Column, c.setting)
	names := make([]string, 0, len(bad))
	for n := range bad {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		steps := []step{{phaseRLS, "DROP POLICY " + Ident(Postgres, name) + " ON " + Ident(Postgres, t.Name)}}
		r.add(Finding{Kind: RLSPolicy, Severity: High, Table: t.Name, Object: name,
			Message: fmt.Sprintf("policy %s on %s does not restrict rows to %s", name, t.Name, want),
			Why:     "permissive policies are OR'ed: one that is not keyed on the tenant setting shows or accepts other tenants' rows"},
			append(steps, stepsOf(phaseRLS, RLSSQL(t.Name, t.Column, c.setting)...)...)...)
	}
	if len(missing) > 0 && len(bad) == 0 {
		r.add(Finding{Kind: RLSNoPolicy, Severity: Medium, Table: t.Name,
			Message: fmt.Sprintf("row-level security on %s has no policy for the application role for %s", t.Name, strings.Join(missing, ", ")),
			Why:     "those statements see and change no row at all: the application fails instead of being scoped, which invites a bypass"},
			stepsOf(phaseRLS, RLSSQL(t.Name, t.Column, c.setting)...)...)
	}
}

var (
	pgCast      = regexp.MustCompile(`::[a-z_ ]+(\(\d+(,\d+)?\))?(\[\])?$`)
	pgSetting   = regexp.MustCompile(`^(?:select\s+)?current_setting\('((?:[^']|'')*)'(?:::text)?(?:,\s*(?:true|false))?\)(?:\s+as\s+"?current_setting"?)?$`)
	pgColumnRef = regexp.MustCompile(`^(?:"?[a-z_][a-z0-9_$]*"?\.)?"?([a-z_][a-z0-9_$]*)"?$`)
)

// restrictsToSetting reports whether a policy expression, as
// pg_get_expr prints it, requires column = current_setting(setting): the
// comparison itself, a conjunction with it among its terms, or a
// disjunction all of whose terms do. Casts and the (SELECT
// current_setting(...)) form are accepted.
func restrictsToSetting(expr, column, setting string) bool {
	s := stripParens(strings.ToLower(strings.TrimSpace(expr)))
	if ors := splitTopLevel(s, " or "); len(ors) > 1 {
		for _, o := range ors {
			if !restrictsToSetting(o, column, setting) {
				return false
			}
		}
		return true
	}
	if ands := splitTopLevel(s, " and "); len(ands) > 1 {
		for _, a := range ands {
			if restrictsToSetting(a, column, setting) {
				return true
			}
		}
		return false
	}
	l, rhs, ok := cutTopLevel(s, "=")
	if !ok {
		return false
	}
	l, rhs = stripOperand(l), stripOperand(rhs)
	return isColumn(l, column) && isSetting(rhs, setting) || isColumn(rhs, column) && isSetting(l, setting)
}

func stripOperand(s string) string {
	for {
		s = stripParens(strings.TrimSpace(s))
		t := pgCast.ReplaceAllString(s, "")
		if t == s {
			return s
		}
		s = t
	}
}

func isColumn(s, column string) bool {
	m := pgColumnRef.FindStringSubmatch(s)
	return m != nil && strings.EqualFold(m[1], column)
}

func isSetting(s, setting string) bool {
	m := pgSetting.FindStringSubmatch(s)
	return m != nil && strings.EqualFold(strings.ReplaceAll(m[1], "''", "'"), setting)
}

// stripParens removes parentheses that enclose all of s.
func stripParens(s string) string {
	for len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' && closes(s) == len(s)-1 {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// closes returns the index of the parenthesis that closes s[0], or -1.
func closes(s string) int {
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitTopLevel splits s at sep where it is outside parentheses and quotes.
func splitTopLevel(s, sep string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && strings.HasPrefix(s[i:], sep):
			out = append(out, s[start:i])
			start = i + len(sep)
			i += len(sep) - 1
		}
	}
	return append(out, s[start:])
}

// cutTopLevel cuts s around the first top-level sep.
func cutTopLevel(s, sep string) (string, string, bool) {
	parts := splitTopLevel(s, sep)
	if len(parts) != 2 {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// pgChildren reports partitions and inheritance children of tenant tables
// that are not registered: a statement naming the child directly is not
// filtered by the parent's policies.
func pgChildren(ctx context.Context, db Querier, c *config, st *pgState, oids string, r *Report) error {
	return queryRows(ctx, db, `SELECT inh.inhparent::bigint, n.nspname::text, c.relname::text, c.relispartition
FROM pg_inherits inh JOIN pg_class c ON c.oid = inh.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE inh.inhparent IN (`+oids+`)`, func(rows *sql.Rows) error {
		var parent int64
		var schema, name string
		var partition bool
		if err := rows.Scan(&parent, &schema, &name, &partition); err != nil {
			return err
		}
		for _, rel := range st.tenants {
			if strings.EqualFold(rel.schema, schema) && strings.EqualFold(rel.name, name) {
				return nil
			}
		}
		p := st.tenants[parent].table
		kind, what := RelationInherits, "inheritance child"
		if partition {
			kind, what = RelationPartition, "partition"
		}
		child := schema + "." + name
		r.add(Finding{Kind: kind, Severity: High, Table: p.Name, Object: child,
			Message: fmt.Sprintf("%s %s of tenant table %s is not registered", what, child, p.Name),
			Why:     "a statement that names the " + what + " directly is not filtered by the parent's policies, and the guard does not know it holds tenant rows",
			Advice:  fmt.Sprintf("register it (bunhook.WithTenantTable(%q, %q)) so that the guard scopes it and RLS is checked on it", child, p.Column)},
			stepsOf(phaseRLS, RLSSQL(child, p.Column, c.setting)...)...)
		return nil
	})
}

// pgSetters reports functions (trigger functions included) whose source
// sets the tenant setting, or calls set_config with a name that is not a
// literal: the driver layer cannot see a change made inside the server, so
// the same tenant's next statements on that connection would run under the
// value the function left.
func pgSetters(ctx context.Context, db Querier, c *config, _ *pgState, _ string, r *Report) error {
	if !c.rls {
		return nil
	}
	lit := regexp.QuoteMeta(strings.ReplaceAll(c.setting, "'", "''"))
	name := `"?` + regexp.QuoteMeta(c.setting) + `"?`
	sets := regexp.MustCompile(`(?is)set_config\s*\(\s*(?:'` + lit + `'|[^'\s])|\bset\s+(?:session\s+|local\s+)?` + name + `\s*(?:=|\bto\b)`)
	return queryRows(ctx, db, `SELECT p.oid::regprocedure::text, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = ANY (current_schemas(false)) AND (p.prosrc ILIKE '%set\_config%' OR p.prosrc ILIKE '%set%' || `+stringLit(Postgres, c.setting)+` || '%')`,
		func(rows *sql.Rows) error {
			var fn, src string
			if err := rows.Scan(&fn, &src); err != nil {
				return err
			}
			if !sets.MatchString(src) {
				return nil
			}
			r.add(Finding{Kind: FunctionSetsSetting, Severity: High, Object: fn,
				Message: fmt.Sprintf("function %s sets %s (or calls set_config with a computed name)", fn, c.setting),
				Why:     "the setting is what row-level security filters by; a change made inside the server is invisible to the driver layer, so later statements of the same tenant on that connection run under the value the function left",
				Advice:  "remove the set_config/SET of " + c.setting + " from the function (the application sets it for every statement)"})
			return nil
		})
}

// pgViews reports views and materialized views that read tenant tables.
func pgViews(ctx context.Context, db Querier, _ *config, st *pgState, oids string, r *Report) error {
	return queryRows(ctx, db, `SELECT DISTINCT vn.nspname::text, v.relname::text, v.relkind::text, d.refobjid::bigint,
  coalesce(array_to_string(v.reloptions, ','), ''), pg_get_userbyid(v.relowner)::text, ow.rolsuper OR ow.rolbypassrls
FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid JOIN pg_class v ON v.oid = rw.ev_class
JOIN pg_namespace vn ON vn.oid = v.relnamespace JOIN pg_roles ow ON ow.oid = v.relowner
WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid IN (`+oids+`) AND v.oid <> d.refobjid`,
		func(rows *sql.Rows) error {
			var schema, name, kind, options, owner string
			var src int64
			var ownerBypasses bool
			if err := rows.Scan(&schema, &name, &kind, &src, &options, &owner, &ownerBypasses); err != nil {
				return err
			}
			t := st.tenants[src].table
			view := schema + "." + name
			registered := false
			for _, rel := range st.tenants {
				if strings.EqualFold(rel.schema, schema) && strings.EqualFold(rel.name, name) {
					registered = true
				}
			}
			f := Finding{Kind: RelationView, Severity: High, Table: t.Name, Object: view}
			if kind == "m" {
				f.Message = fmt.Sprintf("materialized view %s copies rows of tenant table %s", view, t.Name)
				f.Why = "a materialized view has no row-level security: whoever may read it reads every tenant's rows"
				f.Advice = "drop it, or REVOKE SELECT on it from the application role and serve it per tenant another way"
				r.add(f)
				return nil
			}
			invoker := strings.Contains(strings.ReplaceAll(options, " ", ""), "security_invoker=true") ||
				strings.Contains(options, "security_invoker=on")
			if invoker && registered {
				return nil
			}
			f.Message = fmt.Sprintf("view %s reads tenant table %s", view, t.Name)
			var steps []step
			if !invoker {
				f.Message += " with its owner's rights (no security_invoker)"
				f.Why = fmt.Sprintf("the policies are applied as the view's owner %q", owner)
				if ownerBypasses {
					f.Why += ", who bypasses row-level security: the view shows every tenant's rows"
				} else {
					f.Why += ", not as the application"
				}
				steps = append(steps, step{phaseOther, "ALTER VIEW " + Ident(Postgres, view) + " SET (security_invoker = true)"})
			} else {
				f.Why = "the guard does not know the view holds tenant rows"
			}
			if !registered {
				f.Advice = fmt.Sprintf("register it (bunhook.WithTenantTable(%q, %q)) if it exposes the tenant column, or drop it", view, t.Column)
			}
			r.add(f, steps...)
			return nil
		})
}

// pgDefiners reports SECURITY DEFINER functions the application may call
// that run as a role bypassing row-level security.
func pgDefiners(ctx context.Context, db Querier, c *config, _ *pgState, _ string, r *Report) error {
	if !c.rls {
		return nil
	}
	return queryRows(ctx, db, `SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner)::text
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles ow ON ow.oid = p.proowner
WHERE p.prosecdef AND (ow.rolsuper OR ow.rolbypassrls) AND n.nspname = ANY (current_schemas(false))
  AND has_function_privilege(p.oid, 'EXECUTE')`, func(rows *sql.Rows) error {
		var fn, owner string
		if err := rows.Scan(&fn, &owner); err != nil {
			return err
		}
		r.add(Finding{Kind: FunctionDefiner, Severity: High, Object: fn,
			Message: fmt.Sprintf("SECURITY DEFINER function %s runs as %q, which bypasses row-level security", fn, owner),
			Why:     "whatever the function reads or writes is not filtered by tenant, whoever calls it",
			Advice:  "ALTER FUNCTION " + fn + " OWNER TO <the tables' owner role> (FORCE ROW LEVEL SECURITY then applies to its body), or make it SECURITY INVOKER"})
		return nil
	})
}
