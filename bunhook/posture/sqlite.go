package posture

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

type liteTable struct {
	name, kind, sql string // kind: table or view
	cols            []liteCol
	rowidKey        string // the INTEGER PRIMARY KEY column that aliases the rowid
	registered      bool
	table           Table
}

type liteCol struct {
	name, typ string
	pk        int
}

func (t *liteTable) col(name string) (liteCol, bool) {
	for _, c := range t.cols {
		if strings.EqualFold(c.name, name) {
			return c, true
		}
	}
	return liteCol{}, false
}

// SQLite has no roles and no row-level security, and cannot alter keys or
// columns in place: its findings carry DDL where an index fixes them and
// advice (rebuild the table) where only a new table does.
func checkSQLite(ctx context.Context, db Querier, c *config, r *Report) error {
	r.Database = "main"
	tables := map[string]*liteTable{}
	var order []string
	err := queryRows(ctx, db, `SELECT name, type, COALESCE(sql, '') FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`, func(rows *sql.Rows) error {
		t := &liteTable{}
		if err := rows.Scan(&t.name, &t.kind, &t.sql); err != nil {
			return err
		}
		tables[strings.ToLower(t.name)] = t
		order = append(order, strings.ToLower(t.name))
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(order)
	for _, k := range order {
		t := tables[k]
		err := queryRows(ctx, db, "SELECT name, type, pk FROM pragma_table_info("+stringLit(SQLite, t.name)+")", func(rows *sql.Rows) error {
			var col liteCol
			if err := rows.Scan(&col.name, &col.typ, &col.pk); err != nil {
				return err
			}
			t.cols = append(t.cols, col)
			return nil
		})
		if err != nil {
			return err
		}
		t.rowidKey = liteRowidKey(t)
	}
	tenants := map[string]*liteTable{}
	for _, reg := range r.Tables {
		t := tables[strings.ToLower(reg.Name)]
		if t == nil {
			r.add(missingTable(reg, "the database", "create the table or correct the registered name"))
			continue
		}
		t.registered, t.table = true, reg
		tenants[strings.ToLower(reg.Name)] = t
	}
	for _, k := range order {
		if t := tenants[k]; t != nil {
			if err := liteTableFindings(ctx, db, c, t, tenants, r); err != nil {
				return err
			}
		}
	}
	liteRelations(c, tables, order, tenants, r)
	return nil
}

// liteRowidKey returns the column that aliases the rowid: the only primary
// key column, declared exactly INTEGER, of a table with a rowid.
func liteRowidKey(t *liteTable) string {
	var pk []liteCol
	for _, c := range t.cols {
		if c.pk > 0 {
			pk = append(pk, c)
		}
	}
	if len(pk) != 1 || !strings.EqualFold(pk[0].typ, "INTEGER") || t.kind != "table" {
		return ""
	}
	toks := liteTokens(t.sql)
	if n := len(toks); n >= 2 && strings.EqualFold(toks[n-2].text, "WITHOUT") && strings.EqualFold(toks[n-1].text, "ROWID") {
		return ""
	}
	return pk[0].name
}

func liteTableFindings(ctx context.Context, db Querier, c *config, t *liteTable, tenants map[string]*liteTable, r *Report) error {
	reg := t.table
	if _, ok := t.col(reg.Column); !ok {
		r.add(missingColumn(reg))
		return nil
	}
	if coll := liteCollation(t.sql, reg.Column); coll == "NOCASE" || coll == "RTRIM" {
		what := map[string]string{"NOCASE": "case", "RTRIM": "trailing spaces"}[coll]
		r.add(Finding{Kind: CollationFolding, Severity: c.collationSeverity(), Table: reg.Name, Object: reg.Column,
			Message: fmt.Sprintf("tenant column %s.%s is declared COLLATE %s, which ignores %s", reg.Name, reg.Column, coll, what),
			Why:     "two tenant ids that differ only in " + what + " compare equal: one tenant reaches the other's rows unless only canonical ids are ever bound",
			Advice:  "rebuild the table with the column COLLATE BINARY, the default (SQLite cannot change a column's collation in place)"})
	}
	if t.kind != "table" {
		return nil
	}
	const rebuild = "rebuild the table (SQLite cannot change keys in place: CREATE TABLE new, INSERT INTO new SELECT * FROM old, DROP TABLE old, ALTER TABLE new RENAME TO old)"
	if t.rowidKey != "" {
		r.add(Finding{Kind: KeyPrimary, Severity: High, Table: reg.Name, Object: t.rowidKey,
			Message: fmt.Sprintf("primary key %s of %s is the rowid, shared by every tenant", t.rowidKey, reg.Name),
			Why:     whyOracle + " (here: an insert with an explicit id)",
			Advice:  "never accept client-chosen ids on inserts; or " + rebuild + " WITHOUT ROWID, with PRIMARY KEY (" + reg.Column + ", " + t.rowidKey + ") and ids made by the application (such as UUIDv7)"})
	}
	leading := false
	err := liteIndexes(ctx, db, t, func(name, origin string, unique bool, cols []string) {
		if len(cols) > 0 && strings.EqualFold(cols[0], reg.Column) {
			leading = true
		}
		if !unique || hasColumn(cols, reg.Column) {
			return
		}
		f := Finding{Kind: KeyUnique, Severity: High, Table: reg.Name, Object: name, Why: whyOracle,
			Message: fmt.Sprintf("unique index %s (%s) of %s does not include the tenant column", name, strings.Join(cols, ", "), reg.Name)}
		switch origin {
		case "pk":
			f.Kind, f.Advice = KeyPrimary, rebuild+" with the tenant column first in the primary key"
			r.add(f)
		case "u":
			f.Advice = rebuild + " with the tenant column in the UNIQUE constraint"
			r.add(f)
		default:
			r.add(f, stepsOf(phaseKey, UniqueSQL(SQLite, reg.Name, name, append([]string{reg.Column}, cols...), false)...)...)
		}
	})
	if err != nil {
		return err
	}
	if !leading {
		r.add(Finding{Kind: IndexTenant, Severity: Medium, Table: reg.Name, Object: reg.Column,
			Message: "no index of " + reg.Name + " starts with the tenant column " + reg.Column,
			Why:     "every scoped statement scans all tenants' rows: its cost grows with the other tenants' data"},
			step{phaseIndex, IndexSQL(SQLite, reg.Name, reg.Name+"_"+reg.Column+"_idx", []string{reg.Column})})
	}
	return liteForeignKeys(ctx, db, t, tenants, rebuild, r)
}

// liteIndexes calls fn for every index of t with its key columns ("" for
// an expression).
func liteIndexes(ctx context.Context, db Querier, t *liteTable, fn func(name, origin string, unique bool, cols []string)) error {
	type index struct {
		name, origin string
		unique       bool
	}
	var list []index
	err := queryRows(ctx, db, `SELECT name, "unique", origin FROM pragma_index_list(`+stringLit(SQLite, t.name)+`)`, func(rows *sql.Rows) error {
		var ix index
		if err := rows.Scan(&ix.name, &ix.unique, &ix.origin); err != nil {
			return err
		}
		list = append(list, ix)
		return nil
	})
	if err != nil {
		return err
	}
	for _, ix := range list {
		var cols []string
		err := queryRows(ctx, db, "SELECT COALESCE(name, '') FROM pragma_index_info("+stringLit(SQLite, ix.name)+") ORDER BY seqno", func(rows *sql.Rows) error {
			var c string
			if err := rows.Scan(&c); err != nil {
				return err
			}
			cols = append(cols, c)
			return nil
		})
		if err != nil {
			return err
		}
		fn(ix.name, ix.origin, ix.unique, cols)
	}
	return nil
}

func liteForeignKeys(ctx context.Context, db Querier, t *liteTable, tenants map[string]*liteTable, rebuild string, r *Report) error {
	type fk struct {
		parent, onDelete string
		cols, pcols      []string
	}
	byID := map[int]*fk{}
	var ids []int
	err := queryRows(ctx, db, `SELECT id, "table", "from", COALESCE("to", ''), on_delete FROM pragma_foreign_key_list(`+stringLit(SQLite, t.name)+`) ORDER BY id, seq`, func(rows *sql.Rows) error {
		var id int
		var parent, from, to, del string
		if err := rows.Scan(&id, &parent, &from, &to, &del); err != nil {
			return err
		}
		k := byID[id]
		if k == nil {
			k = &fk{parent: parent, onDelete: del}
			byID[id] = k
			ids = append(ids, id)
		}
		k.cols = append(k.cols, from)
		k.pcols = append(k.pcols, to)
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		k := byID[id]
		p := tenants[strings.ToLower(k.parent)]
		if p == nil {
			continue
		}
		for i, pc := range k.pcols {
			if pc == "" && p.rowidKey != "" && len(k.pcols) == 1 {
				k.pcols[i] = p.rowidKey // "REFERENCES parent" names the parent's primary key
			}
		}
		paired := false
		for i := range k.cols {
			if strings.EqualFold(k.cols[i], t.table.Column) && strings.EqualFold(k.pcols[i], p.table.Column) {
				paired = true
			}
		}
		if paired {
			continue
		}
		why := "a row of one tenant can reference another tenant's row (the key accepts the other tenant's id, which reveals it exists)"
		if a := strings.ToUpper(k.onDelete); a != "NO ACTION" && a != "RESTRICT" {
			why += ", and ON DELETE " + a + " lets a correctly scoped delete of one tenant change or delete the other tenant's rows"
		}
		r.add(Finding{Kind: KeyForeign, Severity: Critical, Table: t.table.Name, Object: fmt.Sprintf("%s(%s)", k.parent, strings.Join(k.cols, ", ")),
			Message: fmt.Sprintf("foreign key %s (%s) -> %s (%s) does not pair the tenant columns", t.table.Name, strings.Join(k.cols, ", "), k.parent, strings.Join(k.pcols, ", ")),
			Why:     why,
			Advice:  rebuild + " with FOREIGN KEY (" + t.table.Column + ", " + strings.Join(k.cols, ", ") + ") REFERENCES " + k.parent + " (" + p.table.Column + ", " + strings.Join(k.pcols, ", ") + ")"})
	}
	return nil
}

// liteRelations reports views over tenant tables and unregistered tables
// with a tenant column.
func liteRelations(c *config, tables map[string]*liteTable, order []string, tenants map[string]*liteTable, r *Report) {
	tenantCols := map[string]bool{}
	for _, t := range tenants {
		tenantCols[strings.ToLower(t.table.Column)] = true
	}
	for _, k := range order {
		t := tables[k]
		if t.registered || c.shared[k] {
			continue
		}
		if t.kind == "view" {
			for _, tok := range liteTokens(t.sql) {
				if p := tenants[strings.ToLower(tok.text)]; p != nil && tok.ident {
					r.add(Finding{Kind: RelationView, Severity: High, Table: p.table.Name, Object: t.name,
						Message: fmt.Sprintf("view %s reads tenant table %s but is not registered", t.name, p.table.Name),
						Why:     "the guard does not know the view holds tenant rows, and SQLite has nothing else to filter it",
						Advice:  fmt.Sprintf("register it (bunhook.WithTenantTable(%q, %q)) if it exposes the tenant column, or drop it", t.name, p.table.Column)})
					break
				}
			}
			continue
		}
		for _, col := range t.cols {
			if tenantCols[strings.ToLower(col.name)] {
				r.add(unregisteredCopy(t.name, col.name, false))
				break
			}
		}
	}
}

// liteCollation returns the upper-cased collation declared for column in a
// CREATE TABLE statement ("" if none).
func liteCollation(createSQL, column string) string {
	toks := liteTokens(createSQL)
	start := -1
	for i, t := range toks {
		if t.text == "(" {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return ""
	}
	depth, segStart := 0, start
	for i := start; i < len(toks); i++ {
		switch toks[i].text {
		case "(":
			depth++
			continue
		case ")":
			if depth > 0 {
				depth--
				continue
			}
		case ",":
			if depth > 0 {
				continue
			}
		default:
			continue
		}
		seg := toks[segStart:i]
		segStart = i + 1
		if len(seg) > 0 && seg[0].ident && strings.EqualFold(seg[0].text, column) {
			for j := 1; j+1 < len(seg); j++ {
				if !seg[j].quoted && strings.EqualFold(seg[j].text, "COLLATE") {
					return strings.ToUpper(seg[j+1].text)
				}
			}
			return ""
		}
		if toks[i].text == ")" {
			break
		}
	}
	return ""
}

type liteToken struct {
	text          string
	ident, quoted bool
}

// liteTokens splits SQL into identifiers (bare or quoted with "", “ or
// []), string literals, and single punctuation characters; comments and
// spaces are dropped.
func liteTokens(s string) []liteToken {
	var out []liteToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && strings.HasPrefix(s[i:], "--"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += end + 4
		case c == '"' || c == '`' || c == '[' || c == '\'':
			closer := c
			if c == '[' {
				closer = ']'
			}
			var b strings.Builder
			j := i + 1
			for j < len(s) {
				if s[j] == closer {
					if closer != ']' && j+1 < len(s) && s[j+1] == closer {
						b.WriteByte(closer)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, liteToken{text: b.String(), ident: c != '\'', quoted: true})
			i = j + 1
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80:
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] >= 0x80) {
				j++
			}
			out = append(out, liteToken{text: s[i:j], ident: true})
			i = j
		default:
			out = append(out, liteToken{text: string(c)})
			i++
		}
	}
	return out
}
