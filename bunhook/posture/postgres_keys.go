package posture

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

const whyOracle = "an insert or update of one tenant fails (or ON CONFLICT does nothing) when another tenant has the same value: the error reveals that the other tenant's row exists"

// pgKeys reports unique keys without the tenant column and tables without
// an index that leads with it.
func pgKeys(ctx context.Context, db Querier, c *config, st *pgState, oids string, r *Report) error {
	leading := map[int64]bool{}
	err := queryRows(ctx, db, `SELECT i.indrelid::bigint, ic.relname::text, i.indisunique, i.indisprimary, coalesce(con.conname::text, ''),
  pg_get_indexdef(i.indexrelid),
  (SELECT json_agg(a.attname ORDER BY k.n) FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n)
     LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE k.n <= i.indnkeyatts)::text
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u')
WHERE i.indrelid IN (`+oids+`)`, func(rows *sql.Rows) error {
		var oid int64
		var name, constraint, def string
		var unique, primary bool
		var colsJSON sql.NullString
		if err := rows.Scan(&oid, &name, &unique, &primary, &constraint, &def, &colsJSON); err != nil {
			return err
		}
		cols, err := jsonNames(colsJSON)
		if err != nil {
			return err
		}
		rel := st.tenants[oid]
		if rel == nil {
			return nil
		}
		t := rel.table
		if len(cols) > 0 && strings.EqualFold(cols[0], t.Column) {
			leading[oid] = true
		}
		if !unique || hasColumn(cols, t.Column) {
			return nil
		}
		keyCols := append([]string{t.Column}, cols...)
		f := Finding{Kind: KeyUnique, Severity: High, Table: t.Name, Object: name, Why: whyOracle}
		switch {
		case primary:
			f.Kind = KeyPrimary
			f.Message = fmt.Sprintf("primary key %s (%s) of %s does not include the tenant column", name, strings.Join(cols, ", "), t.Name)
			r.add(f, step{phaseKey, PrimaryKeySQL(Postgres, t.Name, constraint, keyCols, "")})
		case constraint != "":
			f.Object = constraint
			f.Message = fmt.Sprintf("unique constraint %s (%s) of %s does not include the tenant column", constraint, strings.Join(cols, ", "), t.Name)
			r.add(f, stepsOf(phaseKey, UniqueSQL(Postgres, t.Name, constraint, keyCols, true)...)...)
		default:
			f.Message = fmt.Sprintf("unique index %s of %s does not include the tenant column: %s", name, t.Name, def)
			r.add(f, step{phaseKey, "DROP INDEX " + Ident(Postgres, rel.schema+"."+name)}, step{phaseKey, pgWithTenantFirst(def, t.Column)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for oid, rel := range st.tenants {
		if leading[oid] || rel.kind == "v" || rel.kind == "m" || rel.kind == "f" {
			continue
		}
		if _, ok := rel.cols[strings.ToLower(rel.table.Column)]; !ok {
			continue
		}
		t := rel.table
		r.add(Finding{Kind: IndexTenant, Severity: Medium, Table: t.Name, Object: t.Column,
			Message: "no index of " + t.Name + " starts with the tenant column " + t.Column,
			Why:     "every scoped statement (and every RLS check) scans all tenants' rows: cost grows with other tenants' data, and under SERIALIZABLE the scan's predicate locks cover other tenants' rows"},
			step{phaseIndex, IndexSQL(Postgres, t.Name, bare(t.Name)+"_"+t.Column+"_idx", []string{t.Column})})
	}
	return nil
}

// pgWithTenantFirst rewrites an index definition from pg_get_indexdef so
// that its first key is the tenant column.
func pgWithTenantFirst(def, column string) string {
	i := strings.Index(def, " USING ")
	if i < 0 {
		return def
	}
	j := strings.IndexByte(def[i:], '(')
	if j < 0 {
		return def
	}
	j += i + 1
	return def[:j] + Ident(Postgres, column) + ", " + def[j:]
}

var pgActions = map[string]string{"a": "", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

// pgForeignKeys reports foreign keys between tenant tables whose column
// pairs do not include the two tenant columns.
func pgForeignKeys(ctx context.Context, db Querier, _ *config, st *pgState, oids string, r *Report) error {
	return queryRows(ctx, db, `SELECT con.conname::text, con.conrelid::bigint, con.confrelid::bigint, con.confdeltype::text, con.confupdtype::text,
  (SELECT json_agg(a.attname ORDER BY k.n) FROM unnest(con.conkey) WITH ORDINALITY k(attnum, n)
     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum)::text,
  (SELECT json_agg(a.attname ORDER BY k.n) FROM unnest(con.confkey) WITH ORDINALITY k(attnum, n)
     JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum)::text
FROM pg_constraint con WHERE con.contype = 'f' AND con.conrelid IN (`+oids+`)`, func(rows *sql.Rows) error {
		var name, del, upd string
		var child, parent int64
		var colsJSON, parentJSON sql.NullString
		if err := rows.Scan(&name, &child, &parent, &del, &upd, &colsJSON, &parentJSON); err != nil {
			return err
		}
		c, p := st.tenants[child], st.tenants[parent]
		if c == nil || p == nil {
			return nil
		}
		cols, err := jsonNames(colsJSON)
		if err != nil {
			return err
		}
		pcols, err := jsonNames(parentJSON)
		if err != nil {
			return err
		}
		addForeignFinding(Postgres, r, name, c.table, p.table, cols, pcols, pgActions[del], pgActions[upd], false)
		return nil
	})
}

// addForeignFinding reports the foreign key name of child (cols) to parent
// (pcols) unless some position pairs the two tenant columns. dropIndex
// drops the index of the same name with the key (MySQL keeps the index it
// made for a foreign key, which would clash with the new key's).
func addForeignFinding(d Dialect, r *Report, name string, child, parent Table, cols, pcols []string, onDelete, onUpdate string, dropIndex bool) {
	for i := range cols {
		if i < len(pcols) && strings.EqualFold(cols[i], child.Column) && strings.EqualFold(pcols[i], parent.Column) {
			if d != SQLite {
				r.TenantForeignKeys = append(r.TenantForeignKeys, ForeignKey{Table: child.Name, Name: name,
					Columns: cols, Parent: parent.Name, ParentColumns: pcols, OnDelete: onDelete, OnUpdate: onUpdate})
			}
			return
		}
	}
	fk := ForeignKey{Table: child.Name, Name: name,
		Columns: append([]string{child.Column}, cols...), Parent: parent.Name,
		ParentColumns: append([]string{parent.Column}, pcols...), OnDelete: onDelete, OnUpdate: onUpdate}
	why := "a row of one tenant can reference another tenant's row (the key accepts the other tenant's id, which reveals it exists)"
	if onDelete == "CASCADE" || onDelete == "SET NULL" || onDelete == "SET DEFAULT" || onUpdate != "" {
		why += ", and ON DELETE/UPDATE " + strings.TrimSpace(onDelete+" "+onUpdate) + " lets a correctly scoped statement of one tenant change or delete the other tenant's rows"
	}
	f := Finding{Kind: KeyForeign, Severity: Critical, Table: child.Name, Object: name,
		Message: fmt.Sprintf("foreign key %s %s (%s) -> %s (%s) does not pair the tenant columns", name, child.Name,
			strings.Join(cols, ", "), parent.Name, strings.Join(pcols, ", ")),
		Why: why}
	if d == MySQL && onDelete == "SET NULL" {
		f.Advice = "MySQL's SET NULL would null the tenant column too: use RESTRICT or CASCADE on the composite key"
		fk.OnDelete = "RESTRICT"
	}
	drop := DropForeignKeySQL(d, child.Name, name)
	if dropIndex {
		drop += ", DROP INDEX " + Ident(d, name)
	}
	r.add(f, step{phaseDropForeign, drop}, step{phaseForeign, ForeignKeySQL(d, fk)})
}
