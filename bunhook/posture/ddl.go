package posture

import (
	"fmt"
	"strings"
)

// The builders below return the DDL of the safe shapes. Check uses them for
// the fixes of its findings; migrations may call them directly. Names are
// quoted for the dialect; a PostgreSQL table name may be schema-qualified
// ("billing.invoices").

// Ident quotes a name for d: "name" on PostgreSQL and SQLite, `name` on
// MySQL and MariaDB. A dotted name is quoted part by part.
func Ident(d Dialect, name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		if d == MySQL {
			parts[i] = "`" + strings.ReplaceAll(p, "`", "``") + "`"
		} else {
			parts[i] = `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
		}
	}
	return strings.Join(parts, ".")
}

func idents(d Dialect, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = Ident(d, n)
	}
	return strings.Join(q, ", ")
}

// stringLit quotes s as an SQL string literal (PostgreSQL with standard
// conforming strings, SQLite; MySQL also escapes backslashes).
func stringLit(d Dialect, s string) string {
	s = strings.ReplaceAll(s, "'", "''")
	if d == MySQL {
		s = strings.ReplaceAll(s, `\`, `\\`)
	}
	return "'" + s + "'"
}

// bare strips a schema qualification.
func bare(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// PrimaryKeySQL makes columns (the tenant column first) the primary key of
// table, replacing the key named current ("" when the table has none). On
// MySQL a key is added first for autoIncrement (the AUTO_INCREMENT column,
// "" if none), which InnoDB requires to lead some index.
func PrimaryKeySQL(d Dialect, table, current string, columns []string, autoIncrement string) string {
	t := Ident(d, table)
	switch d {
	case MySQL:
		var b strings.Builder
		b.WriteString("ALTER TABLE " + t)
		if autoIncrement != "" {
			b.WriteString(" ADD KEY " + Ident(d, bare(table)+"_"+autoIncrement+"_key") + " (" + Ident(d, autoIncrement) + "),")
		}
		if current != "" {
			b.WriteString(" DROP PRIMARY KEY,")
		}
		b.WriteString(" ADD PRIMARY KEY (" + idents(d, columns) + ")")
		return b.String()
	default:
		name := current
		if name == "" {
			name = bare(table) + "_pkey"
		}
		s := "ALTER TABLE " + t
		if current != "" {
			s += " DROP CONSTRAINT " + Ident(d, current) + ","
		}
		return s + " ADD CONSTRAINT " + Ident(d, name) + " PRIMARY KEY (" + idents(d, columns) + ")"
	}
}

// UniqueSQL replaces the unique key name of table by one over columns (the
// tenant column first). constraint says whether name is a constraint
// (PostgreSQL: ALTER TABLE ... DROP CONSTRAINT) or a bare unique index.
func UniqueSQL(d Dialect, table, name string, columns []string, constraint bool) []string {
	t, n := Ident(d, table), Ident(d, name)
	switch {
	case d == MySQL:
		return []string{"ALTER TABLE " + t + " DROP INDEX " + n + ", ADD UNIQUE KEY " + n + " (" + idents(d, columns) + ")"}
	case d == Postgres && constraint:
		return []string{"ALTER TABLE " + t + " DROP CONSTRAINT " + n + ", ADD CONSTRAINT " + n + " UNIQUE (" + idents(d, columns) + ")"}
	default:
		return []string{"DROP INDEX " + qualifiedIndex(d, table, name), "CREATE UNIQUE INDEX " + n + " ON " + t + " (" + idents(d, columns) + ")"}
	}
}

// qualifiedIndex names an index in the schema of its table (PostgreSQL
// indexes live in their table's schema).
func qualifiedIndex(d Dialect, table, index string) string {
	if i := strings.LastIndexByte(table, '.'); i >= 0 && d == Postgres {
		return Ident(d, table[:i]+"."+index)
	}
	return Ident(d, index)
}

// IndexSQL creates a plain index name on table over columns.
func IndexSQL(d Dialect, table, name string, columns []string) string {
	return "CREATE INDEX " + Ident(d, name) + " ON " + Ident(d, table) + " (" + idents(d, columns) + ")"
}

// DropForeignKeySQL drops the foreign key name of table.
func DropForeignKeySQL(d Dialect, table, name string) string {
	if d == MySQL {
		return "ALTER TABLE " + Ident(d, table) + " DROP FOREIGN KEY " + Ident(d, name)
	}
	return "ALTER TABLE " + Ident(d, table) + " DROP CONSTRAINT " + Ident(d, name)
}

// ForeignKey is a foreign key in the safe shape: Columns and ParentColumns
// both start with the tenant column of their tables, so a row can only
// reference, and a cascade can only reach, rows of its own tenant.
type ForeignKey struct {
	Table, Name        string
	Columns            []string
	Parent             string
	ParentColumns      []string
	OnDelete, OnUpdate string // e.g. "CASCADE"; "" for the default (NO ACTION)
}

// ForeignKeySQL adds fk (ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY).
// The parent needs a primary or unique key over exactly ParentColumns.
func ForeignKeySQL(d Dialect, fk ForeignKey) string {
	s := "ALTER TABLE " + Ident(d, fk.Table) + " ADD CONSTRAINT " + Ident(d, fk.Name) +
		" FOREIGN KEY (" + idents(d, fk.Columns) + ") REFERENCES " + Ident(d, fk.Parent) + " (" + idents(d, fk.ParentColumns) + ")"
	if a := referentialAction(fk.OnDelete); a != "" {
		s += " ON DELETE " + a
		if d == Postgres && (a == "SET NULL" || a == "SET DEFAULT") && len(fk.Columns) > 1 {
			// PostgreSQL 15: leave the tenant column (Columns[0]) alone.
			s += " (" + idents(d, fk.Columns[1:]) + ")"
		}
	}
	if a := referentialAction(fk.OnUpdate); a != "" {
		s += " ON UPDATE " + a
	}
	return s
}

func referentialAction(a string) string {
	switch a = strings.ToUpper(strings.TrimSpace(a)); a {
	case "CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT":
		return a
	}
	return "" // NO ACTION, the default
}

// RLSSQL returns the PostgreSQL statements that put table under row-level
// security forced on its owner too, with one policy (named
// tenantshield_<table>) that shows and accepts only the rows whose column
// equals the setting: with the setting unset no row is visible.
func RLSSQL(table, column, setting string) []string {
	t := Ident(Postgres, table)
	policy := Ident(Postgres, "tenantshield_"+bare(table))
	cond := fmt.Sprintf("%s = current_setting(%s, true)", Ident(Postgres, column), stringLit(Postgres, setting))
	return []string{
		"ALTER TABLE " + t + " ENABLE ROW LEVEL SECURITY",
		"ALTER TABLE " + t + " FORCE ROW LEVEL SECURITY",
		"DROP POLICY IF EXISTS " + policy + " ON " + t,
		"CREATE POLICY " + policy + " ON " + t + " USING (" + cond + ") WITH CHECK (" + cond + ")",
	}
}

// ExactColumnSQL changes a tenant column to a type and collation that
// compare byte for byte and keep trailing spaces significant: on MariaDB
// utf8mb4_nopad_bin (utf8mb4_0900_bin on MySQL 8, mysql8 true), on
// PostgreSQL text with the "C" collation. columnType is the column's
// current type (e.g. varchar(64)); notNull keeps NOT NULL on MySQL, where
// MODIFY restates the whole column.
func ExactColumnSQL(d Dialect, table, column, columnType string, notNull, mysql8 bool) string {
	switch d {
	case MySQL:
		coll := "utf8mb4_nopad_bin"
		if mysql8 {
			coll = "utf8mb4_0900_bin"
		}
		typ := columnType
		if strings.HasPrefix(strings.ToLower(typ), "char(") {
			typ = "var" + typ // CHAR pads; VARCHAR keeps what was written
		}
		s := "ALTER TABLE " + Ident(d, table) + " MODIFY " + Ident(d, column) + " " + typ + " CHARACTER SET utf8mb4 COLLATE " + coll
		if notNull {
			s += " NOT NULL"
		}
		return s
	default:
		return "ALTER TABLE " + Ident(d, table) + " ALTER COLUMN " + Ident(d, column) + ` TYPE text COLLATE "C"`
	}
}

// RoleSetup names the two roles of the safe setup: Owner owns the tables
// and runs migrations; App is what the application logs in as. Schema
// (PostgreSQL) or Database (MySQL) is where the tables live; Host is the
// MySQL account host (default "%").
type RoleSetup struct {
	Owner, App       string
	Schema, Database string
	Host             string
	Tables           []string
}

// RoleSQL returns the statements that create the owner and application
// roles of the safe setup. On PostgreSQL the application role is neither a
// superuser nor BYPASSRLS nor CREATEROLE, does not own the tables (the
// owner does, and FORCE ROW LEVEL SECURITY subjects the owner too) and has
// no TRUNCATE (which ignores RLS); default privileges give it the same
// rights on tables the owner creates later. On MySQL the application user
// gets data privileges on the database only: no SUPER, no FILE, no GRANT
// OPTION, no DDL. Passwords are left out: set them with ALTER ROLE/USER
// from a secret store.
func RoleSQL(d Dialect, r RoleSetup) []string {
	switch d {
	case Postgres:
		o, a, s := Ident(d, r.Owner), Ident(d, r.App), Ident(d, r.Schema)
		out := []string{
			"CREATE ROLE " + o + " NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE",
			"CREATE ROLE " + a + " LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB",
			"GRANT USAGE, CREATE ON SCHEMA " + s + " TO " + o,
			"GRANT USAGE ON SCHEMA " + s + " TO " + a,
		}
		for _, t := range r.Tables {
			out = append(out, "ALTER TABLE "+Ident(d, t)+" OWNER TO "+o)
		}
		return append(out,
			"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+s+" TO "+a,
			"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "+s+" TO "+a,
			"ALTER DEFAULT PRIVILEGES FOR ROLE "+o+" IN SCHEMA "+s+" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "+a,
			"ALTER DEFAULT PRIVILEGES FOR ROLE "+o+" IN SCHEMA "+s+" GRANT USAGE, SELECT ON SEQUENCES TO "+a,
		)
	case MySQL:
		host := r.Host
		if host == "" {
			host = "%"
		}
		acct := func(u string) string { return stringLit(d, u) + "@" + stringLit(d, host) }
		db := Ident(d, r.Database)
		return []string{
			"CREATE USER IF NOT EXISTS " + acct(r.Owner),
			"CREATE USER IF NOT EXISTS " + acct(r.App),
			"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP, INDEX, REFERENCES, CREATE VIEW, SHOW VIEW, TRIGGER ON " + db + ".* TO " + acct(r.Owner),
			"GRANT SELECT, INSERT, UPDATE, DELETE ON " + db + ".* TO " + acct(r.App),
		}
	}
	return nil
}
