package posture

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

type myTable struct {
	name, kind string // kind: BASE TABLE or VIEW
	cols       map[string]myCol
	indexes    map[string]*myIndex
	registered bool
	table      Table
}

type myCol struct {
	name, typ, dataType, collation string
	notNull, autoIncrement         bool
}

type myIndex struct {
	name   string
	unique bool
	cols   []string
}

type myForeign struct {
	name, child, parent string
	cols, pcols         []string
	onDelete, onUpdate  string
}

func checkMySQL(ctx context.Context, db Querier, c *config, r *Report) error {
	var version string
	var fkChecks int
	err := queryRows(ctx, db, "SELECT CURRENT_USER(), COALESCE(DATABASE(), ''), VERSION(), @@foreign_key_checks", func(rows *sql.Rows) error {
		return rows.Scan(&r.Role, &r.Database, &version, &fkChecks)
	})
	if err != nil {
		return err
	}
	if r.Database == "" {
		return fmt.Errorf("posture: the MySQL connection has no default database: name it in the DSN")
	}
	if err := myPrivileges(ctx, db, r); err != nil {
		return err
	}
	tables, err := myTables(ctx, db)
	if err != nil {
		return err
	}
	tenants := map[string]*myTable{}
	for _, t := range r.Tables {
		mt := tables[strings.ToLower(t.Name)]
		if mt == nil {
			r.add(missingTable(t, fmt.Sprintf("database %q", r.Database), "create the table or correct the registered name"))
			continue
		}
		mt.registered, mt.table = true, t
		tenants[strings.ToLower(t.Name)] = mt
	}
	mysql8 := !strings.Contains(strings.ToLower(version), "mariadb")
	for _, mt := range tenants {
		myTableFindings(c, mt, mysql8, r)
	}
	foreign, err := myForeignKeys(ctx, db)
	if err != nil {
		return err
	}
	for _, fk := range foreign {
		child, parent := tenants[strings.ToLower(fk.child)], tenants[strings.ToLower(fk.parent)]
		if child != nil && parent != nil {
			_, named := child.indexes[fk.name]
			addForeignFinding(MySQL, r, fk.name, child.table, parent.table, fk.cols, fk.pcols, fk.onDelete, fk.onUpdate, named)
		}
	}
	if fkChecks == 0 {
		r.TenantForeignKeys = nil
		r.add(Finding{Kind: KeyUnchecked, Severity: Critical, Object: "foreign_key_checks",
			Message: "foreign_key_checks is off for this connection (the server's default): no foreign key is enforced",
			Why:     "composite foreign keys are what keeps a row from referencing, and a cascade from reaching, another tenant's rows",
			Advice:  "SET GLOBAL foreign_key_checks = 1, and remove foreign_key_checks=0 from the DSN or the server configuration"})
	}
	return myRelations(ctx, db, c, tables, tenants, r)
}

// myGrantee is the GRANTEE spelling of the current user in
// information_schema ('user'@'host').
const myGrantee = `CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')`

var myDDL = []string{"ALTER", "DROP", "CREATE", "INDEX", "TRIGGER", "CREATE VIEW", "CREATE ROUTINE", "ALTER ROUTINE"}

func myPrivileges(ctx context.Context, db Querier, r *Report) error {
	privs := map[string]bool{}
	grantable := false
	err := queryRows(ctx, db, `SELECT PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = `+myGrantee+`
UNION ALL SELECT PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = `+myGrantee+` AND TABLE_SCHEMA = DATABASE()`,
		func(rows *sql.Rows) error {
			var p, g string
			if err := rows.Scan(&p, &g); err != nil {
				return err
			}
			privs[strings.ToUpper(p)] = true
			grantable = grantable || strings.EqualFold(g, "YES")
			return nil
		})
	if err != nil {
		return err
	}
	advice := "connect the application as a user made by posture.RoleSQL: SELECT, INSERT, UPDATE, DELETE on its database only"
	if privs["FILE"] {
		r.add(Finding{Kind: RoleFile, Severity: Critical, Object: r.Role,
			Message: fmt.Sprintf("user %s has the FILE privilege", r.Role),
			Why:     "LOAD_FILE and SELECT ... INTO OUTFILE read and write files of the server, including the table files that hold every tenant's rows",
			Advice:  advice})
	}
	if privs["SUPER"] {
		r.add(Finding{Kind: RoleSuper, Severity: High, Object: r.Role,
			Message: fmt.Sprintf("user %s has the SUPER privilege", r.Role),
			Why:     "it can change server settings, create definer views and routines that run as any user, and kill other sessions",
			Advice:  advice})
	}
	if grantable {
		r.add(Finding{Kind: RoleGrantOption, Severity: High, Object: r.Role,
			Message: fmt.Sprintf("user %s holds privileges WITH GRANT OPTION", r.Role),
			Why:     "it can hand its access to any other account, beyond the application's control",
			Advice:  advice})
	}
	var ddl []string
	for _, p := range myDDL {
		if privs[p] {
			ddl = append(ddl, p)
		}
	}
	if len(ddl) > 0 {
		r.add(Finding{Kind: RoleDDL, Severity: Medium, Object: r.Role,
			Message: fmt.Sprintf("user %s may change the schema (%s)", r.Role, strings.Join(ddl, ", ")),
			Why:     "from inside a tenant scope it can drop the keys and indexes that keep tenants apart, or create views and triggers that read across them",
			Advice:  "run migrations as a separate owner user; " + advice})
	}
	return nil
}

func myTables(ctx context.Context, db Querier) (map[string]*myTable, error) {
	tables := map[string]*myTable{}
	err := queryRows(ctx, db, `SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()`, func(rows *sql.Rows) error {
		t := &myTable{cols: map[string]myCol{}, indexes: map[string]*myIndex{}}
		if err := rows.Scan(&t.name, &t.kind); err != nil {
			return err
		}
		tables[strings.ToLower(t.name)] = t
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = queryRows(ctx, db, `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, COALESCE(COLLATION_NAME, ''), IS_NULLABLE, EXTRA
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()`, func(rows *sql.Rows) error {
		var table, nullable, extra string
		var c myCol
		if err := rows.Scan(&table, &c.name, &c.typ, &c.dataType, &c.collation, &nullable, &extra); err != nil {
			return err
		}
		c.notNull = strings.EqualFold(nullable, "NO")
		c.autoIncrement = strings.Contains(strings.ToLower(extra), "auto_increment")
		if t := tables[strings.ToLower(table)]; t != nil {
			t.cols[strings.ToLower(c.name)] = c
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = queryRows(ctx, db, `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COALESCE(COLUMN_NAME, '')
FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`, func(rows *sql.Rows) error {
		var table, name, col string
		var nonUnique int
		if err := rows.Scan(&table, &name, &nonUnique, &col); err != nil {
			return err
		}
		t := tables[strings.ToLower(table)]
		if t == nil {
			return nil
		}
		ix := t.indexes[name]
		if ix == nil {
			ix = &myIndex{name: name, unique: nonUnique == 0}
			t.indexes[name] = ix
		}
		ix.cols = append(ix.cols, col)
		return nil
	})
	return tables, err
}

// myTableFindings reports a tenant table's tenant column, collation, keys
// and tenant-leading index.
func myTableFindings(c *config, mt *myTable, mysql8 bool, r *Report) {
	t := mt.table
	col, ok := mt.cols[strings.ToLower(t.Column)]
	if !ok {
		r.add(missingColumn(t))
		return
	}
	if what := myFolds(col); what != "" {
		r.add(Finding{Kind: CollationFolding, Severity: c.collationSeverity(), Table: t.Name, Object: t.Column,
			Message: fmt.Sprintf("tenant column %s.%s (%s %s) ignores %s when comparing", t.Name, t.Column, col.typ, col.collation, what),
			Why:     "two tenant ids that differ only in " + what + " compare equal: one tenant reaches the other's rows unless only canonical ids are ever bound"},
			step{phaseColumn, ExactColumnSQL(MySQL, t.Name, t.Column, col.typ, col.notNull, mysql8)})
	}
	if mt.kind != "BASE TABLE" {
		return
	}
	leading := false
	names := make([]string, 0, len(mt.indexes))
	for n := range mt.indexes {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		ix := mt.indexes[n]
		if len(ix.cols) > 0 && strings.EqualFold(ix.cols[0], t.Column) {
			leading = true
		}
		if !ix.unique || hasColumn(ix.cols, t.Column) {
			continue
		}
		keyCols := append([]string{t.Column}, ix.cols...)
		f := Finding{Kind: KeyUnique, Severity: High, Table: t.Name, Object: ix.name, Why: whyOracle}
		if ix.name == "PRIMARY" {
			f.Kind = KeyPrimary
			f.Message = fmt.Sprintf("primary key (%s) of %s does not include the tenant column", strings.Join(ix.cols, ", "), t.Name)
			r.add(f, step{phaseKey, PrimaryKeySQL(MySQL, t.Name, "PRIMARY", keyCols, myAutoIncrementAlone(mt, ix))})
			continue
		}
		f.Message = fmt.Sprintf("unique key %s (%s) of %s does not include the tenant column", ix.name, strings.Join(ix.cols, ", "), t.Name)
		r.add(f, stepsOf(phaseKey, UniqueSQL(MySQL, t.Name, ix.name, keyCols, true)...)...)
	}
	if !leading {
		r.add(Finding{Kind: IndexTenant, Severity: Medium, Table: t.Name, Object: t.Column,
			Message: "no index of " + t.Name + " starts with the tenant column " + t.Column,
			Why:     "InnoDB locks the index ranges a statement scans: a scoped UPDATE or SELECT ... FOR UPDATE of one tenant locks other tenants' rows and makes them wait (and learn that they are being written)"},
			step{phaseIndex, IndexSQL(MySQL, t.Name, t.Name+"_"+t.Column+"_idx", []string{t.Column})})
	}
}

// myAutoIncrementAlone returns the AUTO_INCREMENT column of the primary
// key pk when no other index leads with it (InnoDB needs one once the
// primary key starts with the tenant column), and "" otherwise.
func myAutoIncrementAlone(mt *myTable, pk *myIndex) string {
	for _, c := range pk.cols {
		if col := mt.cols[strings.ToLower(c)]; col.autoIncrement {
			for _, ix := range mt.indexes {
				if ix != pk && len(ix.cols) > 0 && strings.EqualFold(ix.cols[0], c) {
					return ""
				}
			}
			return col.name
		}
	}
	return ""
}

// myFolds says what a column's comparison ignores: "" when it compares
// byte for byte (integers, binary strings, *_nopad_bin, utf8mb4_0900_bin).
func myFolds(c myCol) string {
	coll := strings.ToLower(c.collation)
	if coll == "" || coll == "binary" {
		return ""
	}
	var what []string
	nopad := strings.Contains(coll, "_nopad_") || strings.Contains(coll, "_0900_")
	switch {
	case strings.HasSuffix(coll, "_bin"):
	case strings.HasSuffix(coll, "_ci") || strings.Contains(coll, "_ai_ci"):
		what = append(what, "case")
		if !strings.Contains(coll, "_as_") {
			what = append(what, "accents")
		}
	case strings.HasSuffix(coll, "_cs") && strings.Contains(coll, "_ai_"):
		what = append(what, "accents")
	}
	if !nopad || strings.EqualFold(c.dataType, "char") {
		what = append(what, "trailing spaces")
	}
	return strings.Join(what, ", ")
}

func myForeignKeys(ctx context.Context, db Querier) ([]*myForeign, error) {
	var out []*myForeign
	byKey := map[string]*myForeign{}
	err := queryRows(ctx, db, `SELECT k.CONSTRAINT_NAME, k.TABLE_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, rc.DELETE_RULE, rc.UPDATE_RULE
FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS rc
  ON rc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND rc.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND rc.TABLE_NAME = k.TABLE_NAME
WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`, func(rows *sql.Rows) error {
		var name, child, col, parent, pcol, del, upd string
		if err := rows.Scan(&name, &child, &col, &parent, &pcol, &del, &upd); err != nil {
			return err
		}
		key := child + "\x00" + name
		fk := byKey[key]
		if fk == nil {
			fk = &myForeign{name: name, child: child, parent: parent, onDelete: myAction(del), onUpdate: myAction(upd)}
			byKey[key] = fk
			out = append(out, fk)
		}
		fk.cols = append(fk.cols, col)
		fk.pcols = append(fk.pcols, pcol)
		return nil
	})
	return out, err
}

func myAction(rule string) string {
	if strings.EqualFold(rule, "NO ACTION") {
		return ""
	}
	return strings.ToUpper(rule)
}

// myRelations reports views over tenant tables and unregistered tables
// that carry a tenant column.
func myRelations(ctx context.Context, db Querier, c *config, tables, tenants map[string]*myTable, r *Report) error {
	tenantCols := map[string]string{}
	for _, mt := range tenants {
		tenantCols[strings.ToLower(mt.table.Column)] = mt.table.Name
	}
	for _, mt := range tables {
		if mt.registered || c.shared[strings.ToLower(mt.name)] || mt.kind == "VIEW" {
			continue
		}
		for name := range mt.cols {
			if _, ok := tenantCols[name]; ok {
				r.add(unregisteredCopy(mt.name, name, false))
				break
			}
		}
	}
	return queryRows(ctx, db, `SELECT TABLE_NAME, VIEW_DEFINITION, SECURITY_TYPE FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()`, func(rows *sql.Rows) error {
		var name, def, security string
		if err := rows.Scan(&name, &def, &security); err != nil {
			return err
		}
		if mt := tables[strings.ToLower(name)]; mt != nil && mt.registered {
			return nil
		}
		view := tables[strings.ToLower(name)]
		names := make([]string, 0, len(tenants))
		for n := range tenants {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if mt := tenants[n]; myMentions(def, mt.name) {
				r.add(Finding{Kind: RelationView, Severity: High, Table: mt.table.Name, Object: name,
					Message: fmt.Sprintf("view %s (SQL SECURITY %s) reads tenant table %s but is not registered", name, security, mt.table.Name),
					Why:     "the guard does not know the view holds tenant rows, and MySQL has no row-level security to filter it",
					Advice:  fmt.Sprintf("register it (bunhook.WithTenantTable(%q, %q)) if it exposes the tenant column, or drop it", name, mt.table.Column)})
				return nil
			}
		}
		// Without SHOW VIEW the definition reads as empty: then a view that
		// exposes a tenant column counts as one over tenant rows.
		for col := range tenantCols {
			if _, ok := view.cols[col]; def == "" && view != nil && ok {
				r.add(Finding{Kind: RelationView, Severity: High, Table: name, Object: name,
					Message: fmt.Sprintf("view %s (SQL SECURITY %s) exposes the tenant column %s but is not registered (its definition is hidden from this user)", name, security, col),
					Why:     "the guard does not know the view holds tenant rows, and MySQL has no row-level security to filter it",
					Advice:  fmt.Sprintf("register it (bunhook.WithTenantTable(%q, %q)), or drop it", name, col)})
				return nil
			}
		}
		return nil
	})
}

// myMentions reports whether a view definition (as information_schema
// prints it, names in backquotes) names table as a relation: `table` not
// followed by a dot (which would make it a qualifier of a column).
func myMentions(def, table string) bool {
	re := regexp.MustCompile("(?i)`" + regexp.QuoteMeta(strings.ReplaceAll(table, "`", "``")) + "`(?:[^.]|$)")
	return re.MatchString(def)
}
