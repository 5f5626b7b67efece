package sqlguard

// The functions a statement may call under a closed world (see
// [ClosedWorld]): built-ins that compute a value from their arguments (or
// the clock, or randomness) and read no relation, listed per dialect with
// only the names that dialect provides itself, so that a user's function
// of a name the dialect lacks is not taken for a built-in. Words that the
// grammar spells like a call (EXISTS (...), OVER (...), CAST(...)) are
// here too, since the guard reads them as calls. Anything else,
// user-defined functions, catalog and statistics functions, functions that
// read other sessions, server files or large objects, is refused unless
// the application names it with [WithFunctions].

// commonFunctions are built-ins of PostgreSQL, MySQL/MariaDB and SQLite.
var commonFunctions = []string{
	"exists", "cast", "coalesce", "nullif", "format", "replace",
	"count", "sum", "avg", "min", "max", "row_number", "rank", "dense_rank", "percent_rank",
	"cume_dist", "ntile", "lag", "lead", "first_value", "last_value", "nth_value",
	"lower", "upper", "length", "substr", "substring", "trim", "ltrim", "rtrim", "concat", "concat_ws",
	"abs", "round", "ceil", "ceiling", "floor", "sqrt", "exp", "ln", "log", "log10", "power", "sign",
	"pi", "degrees", "radians", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "mod",
}

var pgFunctions = []string{
	"any", "some", "extract", "position", "overlay", "greatest", "least", "array",
	"grouping", "normalize", "trunc", "random", "now", "date", "time", "timestamp",
	"array_agg", "string_agg", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg",
	"bool_and", "bool_or", "every", "bit_and", "bit_or", "stddev", "stddev_pop", "stddev_samp",
	"variance", "var_pop", "var_samp", "percentile_cont", "percentile_disc", "mode", "corr",
	"covar_pop", "covar_samp",
	"char_length", "character_length", "octet_length", "bit_length", "left", "right", "lpad",
	"rpad", "repeat", "reverse", "ascii", "btrim", "split_part", "strpos", "starts_with",
	"initcap", "md5", "sha224", "sha256", "sha384", "sha512", "encode", "decode", "quote_ident",
	"quote_literal", "quote_nullable", "regexp_replace", "regexp_like", "regexp_instr",
	"regexp_substr", "regexp_count", "regexp_match", "regexp_matches", "regexp_split_to_array",
	"regexp_split_to_table", "translate", "chr", "to_hex", "string_to_array", "array_to_string",
	"string_to_table",
	"cbrt", "div", "width_bucket", "gcd", "lcm", "scale",
	"clock_timestamp", "statement_timestamp", "transaction_timestamp", "date_trunc", "date_part",
	"date_bin", "age", "make_date", "make_time", "make_timestamp", "make_timestamptz",
	"make_interval", "to_timestamp", "to_date", "to_char", "to_number", "timezone", "isfinite",
	"justify_days", "justify_hours", "justify_interval",
	"json_object", "to_json", "to_jsonb", "json_build_object", "jsonb_build_object", "json_build_array",
	"jsonb_build_array", "row_to_json", "array_to_json", "json_extract_path", "jsonb_extract_path",
	"json_extract_path_text", "jsonb_extract_path_text", "jsonb_set", "jsonb_insert",
	"jsonb_strip_nulls", "json_strip_nulls", "jsonb_pretty", "json_typeof", "jsonb_typeof",
	"json_array_length", "jsonb_array_length", "json_each", "jsonb_each", "json_each_text",
	"jsonb_each_text", "json_array_elements", "jsonb_array_elements", "json_array_elements_text",
	"jsonb_array_elements_text", "json_object_keys", "jsonb_object_keys", "json_populate_record",
	"jsonb_populate_record", "json_to_record", "jsonb_to_record", "json_to_recordset",
	"jsonb_to_recordset", "jsonb_path_query", "jsonb_path_exists", "jsonb_path_match",
	"jsonb_path_query_array", "jsonb_path_query_first", "jsonb_object",
	"array_length", "array_lower", "array_upper", "array_position", "array_positions",
	"array_append", "array_prepend", "array_cat", "array_remove", "array_replace", "cardinality",
	"array_dims", "array_ndims", "unnest", "generate_series", "generate_subscripts",
	"to_tsvector", "to_tsquery", "plainto_tsquery", "phraseto_tsquery", "websearch_to_tsquery",
	"ts_rank", "ts_rank_cd", "ts_headline", "setweight",
	"isempty", "lower_inc", "upper_inc", "range_merge", "int4range", "int8range", "numrange",
	"tsrange", "tstzrange", "daterange",
	"gen_random_uuid", "nextval", "currval", "pg_typeof", "num_nulls", "num_nonnulls",
	// the session's own settings (app.tenant_id for RLS); set_config is refused
	"current_setting",
	// types spelled like calls (numeric(10, 2) after a comma, e.g.)
	"numeric", "decimal", "int", "integer", "bigint", "smallint", "int2", "int4", "int8",
	"float4", "float8", "bool", "timestamptz", "interval", "bpchar", "character", "bit", "varbit",
	"text", "varchar",
}

// mysqlGrammar are MySQL's reserved words of the grammar that the guard
// reads as calls: a space may stand before their '(' (for the built-ins
// that are not grammar, MariaDB calls a stored function then).
var mysqlGrammar = []string{"exists", "any", "some", "match"}

var mysqlFunctions = []string{
	"convert", "extract", "position", "interval",
	"greatest", "least", "ifnull", "if", "isnull", "left", "right", "insert", "default", "char",
	"group_concat", "json_arrayagg", "json_objectagg", "bit_and", "bit_or", "bit_xor", "std",
	"stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp",
	"char_length", "character_length", "octet_length", "bit_length", "lpad", "rpad", "repeat",
	"reverse", "ascii", "instr", "hex", "quote", "mid", "lcase", "ucase", "locate", "strcmp",
	"field", "find_in_set", "unhex", "md5", "sha1", "sha", "sha2", "crc32", "to_base64",
	"from_base64", "space", "ord", "elt", "soundex", "regexp_replace", "regexp_instr",
	"regexp_substr",
	"truncate", "pow", "log2", "conv", "rand",
	"now", "date", "time", "timestamp", "current_timestamp", "current_date", "current_time",
	"curdate", "curtime", "utc_timestamp", "utc_date", "utc_time", "sysdate", "localtime",
	"localtimestamp", "year", "month", "day", "dayofmonth", "dayofweek", "dayofyear", "hour",
	"minute", "second", "microsecond", "week", "weekday", "weekofyear", "yearweek", "quarter",
	"date_add", "date_sub", "adddate", "subdate", "addtime", "subtime", "datediff", "timediff",
	"timestampdiff", "timestampadd", "date_format", "time_format", "str_to_date", "from_unixtime",
	"unix_timestamp", "last_day", "makedate", "maketime", "monthname", "dayname", "to_days",
	"from_days", "convert_tz", "period_add", "period_diff",
	"json_object", "json_array", "json_extract", "json_set", "json_insert", "json_replace",
	"json_remove", "json_type", "json_valid", "json_quote", "json_unquote", "json_contains",
	"json_contains_path", "json_keys", "json_length", "json_merge_patch", "json_merge_preserve",
	"json_merge", "json_search", "json_value", "json_array_append", "json_array_insert",
	"json_depth",
	"uuid", "last_insert_id", "row_count", "found_rows",
	// types spelled like calls (CONVERT(x, DECIMAL(10, 2)))
	"decimal", "signed", "unsigned", "binary", "datetime", "nchar",
}

var sqliteFunctions = []string{
	"char", "hex", "instr", "printf", "quote", "random", "trunc", "log2", "date", "time",
	"total", "group_concat", "string_agg", "json_group_array", "json_group_object",
	"ifnull", "iif", "unhex", "unicode", "randomblob", "typeof", "octet_length",
	"zeroblob", "like", "glob", "likelihood", "likely", "unlikely", "changes", "total_changes",
	"last_insert_rowid", "datetime", "julianday", "strftime", "unixepoch", "timediff",
	"json", "jsonb", "json_object", "json_array", "json_extract", "json_set", "json_insert",
	"json_replace", "json_remove", "json_type", "json_valid", "json_quote", "json_array_length",
	"json_patch", "json_each", "json_tree", "json_error_position",
	"jsonb_object", "jsonb_array", "jsonb_extract", "jsonb_set", "jsonb_insert", "jsonb_replace",
	"jsonb_remove", "jsonb_patch", "jsonb_group_array", "jsonb_group_object",
	"generate_series",
}

// tableFunctions are built-ins that may stand only as a FROM item (MySQL's
// JSON_TABLE: in an expression the name calls a stored function).
var tableFunctions = map[Dialect][]string{MySQL: {"json_table"}}

// dialectFunctions returns the built-in functions allowed on dialect d
// besides commonFunctions, and the words of its grammar read as calls.
func dialectFunctions(d Dialect) (fns, grammar []string) {
	switch d {
	case Postgres:
		return pgFunctions, nil
	case MySQL:
		return mysqlFunctions, mysqlGrammar
	case SQLite:
		return sqliteFunctions, nil
	}
	return nil, nil
}
