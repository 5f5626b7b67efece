package posture

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// Discover returns the tables of db that have a column named column (case
// insensitively): on PostgreSQL the tables of the schemas on the search
// path, on MySQL those of the connection's database, on SQLite those of
// the main database. It is how a check finds the tenant tables when the
// application's registry is not at hand (the tenantshield command); a
// look-alike copy is then found as a tenant table, not as a copy, so pass
// the registered tables to Check where they are known.
func Discover(ctx context.Context, db Querier, d Dialect, column string) ([]Table, error) {
	var names []string
	scan := func(rows *sql.Rows) error {
		var n string
		if err := rows.Scan(&n); err != nil {
			return err
		}
		names = append(names, n)
		return nil
	}
	lit := stringLit(d, strings.ToLower(column))
	var err error
	switch d {
	case Postgres:
		err = queryRows(ctx, db, `SELECT CASE WHEN n.nspname = current_schema() THEN c.relname::text ELSE n.nspname || '.' || c.relname END
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
  AND lower(a.attname) = `+lit+` AND n.nspname = ANY (current_schemas(false))`, scan)
	case MySQL:
		err = queryRows(ctx, db, `SELECT c.TABLE_NAME FROM information_schema.COLUMNS c JOIN information_schema.TABLES t
  ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' AND LOWER(c.COLUMN_NAME) = `+lit, scan)
	case SQLite:
		err = queryRows(ctx, db, `SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND lower(p.name) = `+lit, scan)
	default:
		return nil, fmt.Errorf("posture: unknown dialect %q (want postgres, mysql or sqlite)", d)
	}
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]Table, len(names))
	for i, n := range names {
		out[i] = Table{Name: n, Column: column}
	}
	return out, nil
}
