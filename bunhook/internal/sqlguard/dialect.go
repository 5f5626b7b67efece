package sqlguard

// The dialect tables: what differs between PostgreSQL, SQLite and MySQL
// below the parser. The lexer reads a byte's class from lexClasses, so it
// tests the dialect only where a rule needs more than one byte.

// pgMaxIdent is PostgreSQL's identifier length limit (NAMEDATALEN-1):
// longer identifiers are truncated.
const pgMaxIdent = 63

// Byte classes for the lexer's dispatch.
const (
	bcOp uint8 = iota // operator or other punctuation
	bcSpace
	bcCtrl
	bcIdent    // letters, '_', bytes >= 0x80; '$' outside PostgreSQL
	bcPGPrefix // e, E, u, U on PostgreSQL: maybe E'..', U&'..', U&".."
	bcDigit
	bcQuote    // '
	bcDQuote   // " quoting an identifier (PostgreSQL, SQLite)
	bcDQString // " quoting a string (MySQL)
	bcBacktick // ` quoting an identifier (SQLite, MySQL)
	bcLBracket // [ quoting an identifier (SQLite)
	bcDollar   // $ on PostgreSQL: $1 or a dollar quote
	bcMinus
	bcSlash
	bcHash      // # comment (MySQL)
	bcBackslash // \ outside a string: refused (not MySQL)
	bcLParen
	bcRParen
	bcComma
	bcSemi
	bcDot
)

// lexClasses[d][b] is the class of byte b in dialect d. A byte that has
// no meaning of its own in a dialect (a backtick on PostgreSQL, '#'
// outside MySQL, ...) is an operator there.
var lexClasses [MySQL + 1][256]uint8

func init() {
	var common [256]uint8
	for i := range common {
		b := byte(i)
		switch {
		case b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v':
			common[i] = bcSpace
		case b < 0x20 || b == 0x7f:
			common[i] = bcCtrl
		case b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_' || b >= 0x80:
			common[i] = bcIdent
		case b >= '0' && b <= '9':
			common[i] = bcDigit
		}
	}
	for b, cl := range map[byte]uint8{
		'\'': bcQuote, '-': bcMinus, '/': bcSlash, '(': bcLParen, ')': bcRParen,
		',': bcComma, ';': bcSemi, '.': bcDot,
	} {
		common[b] = cl
	}
	dialectBytes := map[Dialect]map[byte]uint8{
		Postgres: {'"': bcDQuote, '$': bcDollar, '\\': bcBackslash,
			'e': bcPGPrefix, 'E': bcPGPrefix, 'u': bcPGPrefix, 'U': bcPGPrefix},
		SQLite: {'"': bcDQuote, '$': bcIdent, '`': bcBacktick, '[': bcLBracket, '\\': bcBackslash},
		MySQL:  {'"': bcDQString, '$': bcIdent, '`': bcBacktick, '#': bcHash},
	}
	for d, bytes := range dialectBytes {
		lexClasses[d] = common
		for b, cl := range bytes {
			lexClasses[d][b] = cl
		}
	}
}

// dangerousPGFunctions execute SQL given as text or export whole tables,
// read or write server files and large objects, change settings (such as
// the app.tenant_id that row-level security reads), read other sessions'
// changes or act on the server and other sessions: whatever else the text
// names, a statement that calls one (quoted or not) is never verified.
var dangerousPGFunctions = []string{
	"query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema",
	"table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema",
	"schema_to_xml", "schema_to_xmlschema", "schema_to_xml_and_xmlschema",
	"database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",
	"cursor_to_xml", "cursor_to_xmlschema",
	"dblink", "dblink_exec", "dblink_open", "dblink_fetch", "dblink_send_query",
	"dblink_get_result", "ts_stat",
	"set_config", "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file",
	"pg_ls_logdir", "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir",
	"lo_import", "lo_export", "lo_get", "lo_put", "lo_open", "lo_from_bytea", "lo_unlink",
	"loread", "lowrite", "pg_file_write",
	"ts_rewrite", "pg_logical_slot_get_changes", "pg_logical_slot_peek_changes",
	"pg_logical_slot_get_binary_changes", "pg_logical_slot_peek_binary_changes",
	"pg_terminate_backend", "pg_cancel_backend", "pg_notify", "pg_reload_conf", "pg_rotate_logfile",
	"pg_promote", "pg_switch_wal", "pg_create_restore_point",
}

// dangerousMySQLFunctions read server files.
var dangerousMySQLFunctions = []string{"load_file"}

// dangerousSQLiteFunctions load native code or touch files.
var dangerousSQLiteFunctions = []string{"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}

// systemCatalogs are names that a write under a tenant scope may not name:
// catalogs whose rows are server settings, roles and privileges
// (UPDATE pg_settings is SET, UPDATE mysql.user is GRANT).
var systemCatalogs = []string{
	"pg_catalog", "pg_settings", "pg_authid", "pg_auth_members", "pg_db_role_setting", "pg_class",
	"pg_proc", "pg_namespace", "pg_attribute", "pg_database", "information_schema",
	"mysql", "performance_schema", "sys",
	"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_sequence",
}

// dangerousFunctions returns the dangerous functions of dialect d.
func dangerousFunctions(d Dialect) []string {
	switch d {
	case Postgres:
		return dangerousPGFunctions
	case MySQL:
		return dangerousMySQLFunctions
	case SQLite:
		return dangerousSQLiteFunctions
	}
	return nil
}

// mayNameTable reports the index of a tenant table that the identifier w,
// which contains non-ASCII characters, may name, or -1. Only MySQL needs
// this: it compares identifiers with Unicode-aware, accent-insensitive
// folding ("İNVOICES", "ınvoices" or "invöices" may name invoices).
// PostgreSQL and SQLite fold ASCII letters only, so a non-ASCII identifier
// never names an ASCII table there.
func (g *Guard) mayNameTable(w string) int {
	if g.dialect != MySQL {
		return -1
	}
	for ti, t := range g.tables {
		if mayFoldTo(w, t.name) {
			return ti
		}
	}
	return -1
}

// mayNameColumn is mayNameTable for tenant columns.
func (g *Guard) mayNameColumn(w string) bool {
	if g.dialect != MySQL {
		return false
	}
	for _, t := range g.tables {
		if mayFoldTo(w, t.column) {
			return true
		}
	}
	return false
}

const (
	foldOther     = iota // never compares equal to ASCII
	foldIgnorable        // may be ignored by the comparison
	foldLatin            // may fold to one or two ASCII characters
)

// foldClass classifies a non-ASCII character for mayFoldTo.
func foldClass(r rune) int {
	switch {
	case r >= 0x0300 && r <= 0x036F, r >= 0x1AB0 && r <= 0x1AFF, r >= 0x1DC0 && r <= 0x1DFF,
		r >= 0x20D0 && r <= 0x20FF, r >= 0xFE20 && r <= 0xFE2F, // combining marks
		r == 0x00AD, r == 0x034F, r == 0x061C, r >= 0x180B && r <= 0x180F,
		r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2060 && r <= 0x206F,
		r >= 0xFE00 && r <= 0xFE0F, r == 0xFEFF, r >= 0xE0000 && r <= 0xE0FFF: // format, variation selectors
		return foldIgnorable
	case r >= 0x00A0 && r <= 0x02AF, // Latin-1 supplement, Latin extended A/B, IPA
		r >= 0x1D00 && r <= 0x1DBF, r >= 0x1E00 && r <= 0x1EFF, // phonetic, Latin extended additional
		r >= 0x2100 && r <= 0x214F, r >= 0x2460 && r <= 0x24FF, // letterlike (Kelvin sign), enclosed
		r >= 0xFB00 && r <= 0xFB06,   // ligatures
		r >= 0xFF00 && r <= 0xFFEF,   // fullwidth forms
		r >= 0x1D400 && r <= 0x1D7FF: // mathematical alphanumerics
		return foldLatin
	}
	return foldOther
}

// mayFoldTo reports whether w may compare equal to the ASCII name under a
// Unicode-aware, accent-insensitive identifier comparison: ASCII compares
// case-insensitively, Latin-like characters may stand for one or two
// characters of name, ignorable characters for none. MySQL rejects
// identifiers longer than 64 characters, so longer w never match.
func mayFoldTo(w, name string) bool {
	if len(name) >= 64 {
		return false
	}
	full := uint64(1)<<uint(len(name)+1) - 1
	reach := uint64(1) // bit j set: name[:j] can be matched so far
	n := 0
	for _, r := range w {
		n++
		if n > 64 {
			return false
		}
		var next uint64
		switch {
		case r < 0x80:
			lr := lowerByte(byte(r))
			for j := 0; j < len(name); j++ {
				if reach&(1<<uint(j)) != 0 && lowerByte(name[j]) == lr {
					next |= 1 << uint(j+1)
				}
			}
		default:
			switch foldClass(r) {
			case foldIgnorable:
				next = reach
			case foldLatin:
				next = (reach<<1 | reach<<2) & full
			default:
				return false
			}
		}
		if next == 0 {
			return false
		}
		reach = next
	}
	return reach&(1<<uint(len(name))) != 0
}
