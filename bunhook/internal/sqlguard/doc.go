// Package sqlguard verifies, from the final SQL text that bun hands to its
// query hooks (all values interpolated as literals), that a statement only
// reads and writes rows of one tenant.
//
// A Guard is built once per dialect with the tenant-owned tables and their
// tenant column; Check(sql, tenant) then returns a Verdict whose Finding is
// nil only when every occurrence of every tenant table is provably
// restricted to the bound tenant and no write can put another value into
// the tenant column. Check is conservative: anything it cannot prove safe is
// a finding (the caller blocks it). Mentions is a cheap pre-check: when it
// returns false, Check would verify the statement, so it can be skipped.
// The verified path does not allocate.
//
// # Lexical rules
//
// SplitAssignments reads a SET list with the same lexer, for the callers
// that check what a builder assigns before bun renders the statement.
//
// The tokenizer follows each dialect exactly where it matters for security:
//
//   - Comments: "/* */" (nested on PostgreSQL, not elsewhere), "--" to end
//     of line (PostgreSQL also ends it at "\r"; on MySQL "--" is a comment
//     only when followed by whitespace or end of text), and "#" on MySQL.
//     MySQL executable comments ("/*!", "/*M!") are refused.
//   - Strings: '...' with doubled quotes as escapes. MySQL also honours backslash
//     escapes, and "..." is a string there; a backslash escaping the closing
//     quote (\') is refused as ambiguous, because a server running with
//     NO_BACKSLASH_ESCAPES would end the literal there (bun's mysqldialect
//     never renders it: it doubles quotes and backslashes). PostgreSQL E'..',
//     U&'..' and dollar-quoted $tag$..$tag$ strings are recognised.
//   - Quoted identifiers: "x" (PostgreSQL, SQLite), `x` (MySQL, SQLite),
//     [x] (SQLite). PostgreSQL U&"..." identifiers are refused.
//   - Unterminated quotes and comments, unbalanced parentheses, NUL and
//     other control characters are a ParseError when the text mentions a
//     tenant table (anywhere, strings and comments included), else OK.
//   - Table names are matched ASCII case-insensitively, quoted or not, and
//     schema qualifiers are ignored ("public"."invoices" is invoices).
//     PostgreSQL truncates identifiers to 63 bytes; so does the guard. On
//     MySQL, which compares identifiers with Unicode, accent-insensitive
//     folding, a non-ASCII identifier that may fold to a tenant table or
//     tenant column name ("İNVOICES", "tenant_ıd") is refused.
//
// # Query blocks and the tenant predicate
//
// Every SELECT, UPDATE and DELETE block is checked on its own: the top
// level, each arm of UNION/INTERSECT/EXCEPT, every parenthesised subquery
// (WHERE ... IN/EXISTS, scalar subqueries in any clause, derived tables,
// LATERAL), every CTE body, including data-modifying CTEs (a SELECT whose
// WITH clause writes reports the write as its Kind and Operation).
//
// A table reference is a FROM item (comma lists included), a JOIN target,
// the UPDATE target(s) and UPDATE ... FROM items, the DELETE target and its
// USING items. Its qualifier is its alias, or its (unqualified) name when it
// has none. Each tenant table reference must be restricted by
//
//	<qualifier>.<tenant column> = '<tenant>'   (or the operands swapped)
//
// as a top-level conjunct of its block's WHERE or, for the target of an
// INNER/LEFT/CROSS JOIN, of that join's ON. The ON of a RIGHT/FULL join
// does not restrict the joined table (its rows are preserved). A reference
// is also restricted by an equality of its tenant column with the tenant
// column of a restricted reference of the same block
// (<q>.<col> = <p>.<col'>), as a top-level conjunct of the WHERE or of its
// own INNER/LEFT/CROSS ON, or by an INNER/LEFT JOIN ... USING (<tenant
// column>) whose left side holds only tenant tables, one of them
// restricted; the restriction does not flow into nested blocks (a
// correlated subquery needs its own predicate). An
// unqualified "<tenant column> = '<tenant>'" counts only when the block has
// exactly one table reference. A top-level conjunct is reached from the
// clause root through AND and fully parenthesised groups only: any OR
// (XOR; "||" on MySQL) at depth 0 of the clause or of an unwrapped group
// disqualifies everything in it (OrEscape when the predicate was there),
// NOT or any other operator around the predicate disqualifies it, and ANDs
// inside BETWEEN ... AND ... and CASE ... END do not split conjuncts. The
// predicate must be exactly those tokens: the literal must be a plain
// '...' string whose value equals the tenant byte for byte (no casts, no
// COLLATE, no E/N/U& prefixes or charset introducers, no concatenation); on
// MySQL a literal containing a backslash never matches. An empty tenant
// never matches.
//
// Identifiers equal under the dialect's rules: PostgreSQL folds unquoted
// names to lower case, SQLite compares ASCII case-insensitively, MySQL
// aliases are compared exactly (they are case-sensitive on Linux). Two
// references of one block whose qualifiers may be equal are refused.
//
// A tenant table name anywhere else than a table position, a column
// qualifier ("invoices.x"), a qualified member ("x.invoices") or an alias
// definition ("AS invoices") makes the statement Unverifiable.
//
// # Writes
//
//   - UPDATE: the targets are checked like a block. SET may give the tenant
//     column only the bound tenant literal, the column itself (t.tenant_id or
//     tenant_id), or <cte>.<col> where <cte> is a CTE of this statement whose
//     body is VALUES (or bun's MySQL shape SELECT * FROM (VALUES ...) AS t
//     (cols)) with the bound tenant literal in that column of every row
//     (PostgreSQL casts ::varchar/::text are accepted) — this is bun's
//     Bulk(). Anything else is TenantAssigned, with Attempted set when the
//     value is a string literal. Tuple assignments to the tenant column are
//     TenantAssigned.
//   - INSERT/REPLACE: the column list must contain the tenant column
//     (TenantColumnMissing otherwise, also for DEFAULT VALUES and a missing
//     column list) and every VALUES row must hold exactly the tenant literal
//     there (DEFAULT, NULL and expressions are TenantAssigned). INSERT ...
//     SELECT into a tenant table is InsertSelect. ON CONFLICT DO NOTHING is
//     fine; DO UPDATE follows the SET rules (EXCLUDED.<tenant column> is
//     allowed) and needs a DO UPDATE WHERE with the predicate on the target
//     alias or name (MissingPredicate otherwise). MySQL ON DUPLICATE KEY
//     UPDATE on a tenant table is DuplicateKeyUpdate. REPLACE, SQLite INSERT
//     OR REPLACE and UPDATE OR REPLACE on a tenant table are Unverifiable
//     (they delete conflicting rows, possibly another tenant's). MySQL
//     INSERT ... SET is Unverifiable.
//   - DELETE: like a block. MySQL multi-table DELETE is Unverifiable.
//
// # What is refused
//
// On a tenant table (named anywhere in the text, including strings and
// comments): MERGE, TRUNCATE, DDL (CREATE, ALTER, DROP, RENAME, COMMENT,
// GRANT, REVOKE), COPY, CALL, EXECUTE, PREPARE, DO, LOCK, EXPLAIN, SHOW,
// PRAGMA, HANDLER and other statements, transaction statements that name one
// (MySQL SET can run a subquery), text with several statements, SELECT ...
// INTO, the TABLE statement, parenthesised joins, column alias lists on a
// tenant table, and any syntax the parser does not understand. Calls of
// dangerous functions are refused whatever the text mentions: on
// PostgreSQL those that read tables not named in the text (query_to_xml,
// table_to_xml, database_to_xml, cursor_to_xml, dblink, ts_stat, ...),
// read or write server files and large objects (pg_read_file,
// pg_read_binary_file, pg_ls_dir, lo_import, lo_get, ...) or change
// settings (set_config); on MySQL load_file; on SQLite load_extension and
// the file functions.
//
// Statements that name no tenant table are not checked by Check. Under a
// tenant scope the caller asks [Guard.Admit] instead, which admits only
// queries (SELECT, VALUES, WITH; not SELECT ... INTO), INSERT, REPLACE,
// UPDATE, DELETE and transaction control, and refuses every other kind
// (NotAllowed): dynamic SQL, DDL, privileges, SET/RESET/PRAGMA, COPY, LOAD
// DATA, LOCK, EXPLAIN, SHOW, several statements in one text.
//
// # The closed world
//
// A guard built with [ClosedWorld] also refuses (Unregistered), in Check
// under a tenant and in Admit, every relation that is not a tenant table, a
// shared table ([WithShared]; unqualified, or qualified by a schema that is
// not a system schema), a CTE visible where it is named (a WITH's names are
// visible in its later CTEs and its body, a RECURSIVE one in its own body
// too, never outside the query expression that holds it) or a derived table,
// and every function call that is not a built-in on the dialect's
// allow-list (functions.go) or named with [WithFunctions]: views,
// partitions, inheritance children, copies, catalogs, statistics, table
// functions, user-defined and stored functions. Qualified calls are allowed
// only as pg_catalog.<built-in> on PostgreSQL; quoted names only on SQLite
// (PostgreSQL and MySQL resolve them to users' functions); on MySQL a space
// before '(' calls a stored function unless the word is reserved grammar
// (EXISTS, ANY, SOME, MATCH). A keyword followed by '(' is a call too,
// unless every dialect reserves it (IN, NOT, AND, VALUES, ...) or it starts
// a clause after a complete operand (... FROM (SELECT ...)); FILTER and
// OVER are grammar only right after a ')', MySQL's AGAINST after a ')' and
// COLUMNS after a string, and JSON_TABLE only as a FROM item. The
// allow-list of each dialect holds only that dialect's own built-ins (for
// MySQL, those of both MySQL 8 and MariaDB). On
// PostgreSQL every operator must be a built-in spelling (users define
// operators). A CTE never names the target of an INSERT, UPDATE or DELETE
// on PostgreSQL and SQLite (they write the table of that name). In a closed
// world, a statement the parser cannot read is Unverifiable even when it
// names no tenant table.
//
// # Limits
//
// The guard only sees SQL text. It cannot see into views, functions,
// procedures, triggers, rules or row security policies: register a view
// over a tenant table as a tenant table itself, and do not let user-defined
// functions read tenant tables. Stored procedures and prepared statements
// (CALL p(), EXECUTE s) are refused by Admit under a tenant scope, and in a
// closed world every relation and function the guard does not know. The
// function allow-list is by name: a user-defined overload of a built-in's
// name (PostgreSQL resolves lower(integer) to public.lower(integer) when
// one exists) is called as the built-in; such functions are created by DDL,
// which never runs under a tenant scope.
//
// Equality is decided by the database: the tenant column must compare
// exactly. With a case- or accent-insensitive collation (MySQL's default
// *_ci collations, SQLite NOCASE, PostgreSQL citext) or PAD SPACE
// semantics, "tenant_id = 'A'" also matches 'a' or 'A ': tenant ids must be
// unique under the column's collation. Numeric tenant literals are not
// accepted (MySQL compares strings to numbers loosely).
//
// Assumptions about server settings: PostgreSQL standard_conforming_strings
// is on (the default since 9.1). MySQL's ANSI_QUOTES and
// NO_BACKSLASH_ESCAPES may be either: "..." is read as a string, so it
// never qualifies a column or names a SET target, and a string literal that
// spells a tenant table name in a table position is refused (which also
// covers SQLite reading 'invoices' as an identifier).
//
// Work is linear in the length of the text. The lexer reads it once (and
// refuses parentheses nested more than 256 deep); the parser's loops visit
// each token, table reference and candidate predicate a bounded number of
// times (the references of one block, at most 512, are also compared with
// each other). The checker counts its work in steps, one per token and one
// per iteration of a parser loop, and gives a statement a budget of 1024
// steps plus 32 per token, over four times what bun's statements and the
// tests' hand-written ones take (at most 7 per token). A statement over the
// budget is Unverifiable ("statement needs too much work to verify"): a
// shape that would make a parser path quadratic, such as hundreds of
// assignments to the tenant column, each checked against every row of a
// long VALUES CTE, fails closed in time linear in its length instead of
// running long. The lexer's searches for closing quotes, backslashes and
// dollar tags never look past what they consume.
//
// Verified statements are cached (cache.go). bun writes argument values
// into the text, so the statements of one call site differ only in their
// literals, and no rule of the guard reads the value of an integer literal.
// Check keeps the verdict of a verified statement under the bound tenant
// and the text with every standalone integer literal masked; a statement
// with the same key gets the same verdict without a parse (Cached answers
// from the cache alone, Admit caches under a key of its own). Everything
// else in the text, string literals included, is part of the key; text
// whose literals the key's scan could not delimit exactly (comments,
// backslashes, control bytes, dollar quotes, brackets, non-ASCII outside
// quotes) and statements over 4 KiB are never cached, nor are refused
// ones. The cache is a direct-mapped table of 4096 entries per Guard.
//
// Deliberately conservative choices that may refuse correct SQL: the
// predicate must be spelled exactly as above (no IN ('A'), no row values, no
// parentheses around the operands), SQL keywords used as column names
// where a clause could start, aliases differing only in case, MySQL
// multi-table DELETE, and INSERT ... SELECT into tenant tables.
//
// # Files
//
// Check runs these steps in this order (their files in parentheses):
//
//  1. Lex (lexer.go, token.go): the text becomes tokens, dispatched on the
//     class of their first byte, which comes from the dialect tables
//     (dialect.go); a word's meaning comes from the hash of keywords,
//     tenant tables and dangerous functions (words.go).
//  2. Classify the statement (statement.go, checker.go): its Kind and
//     Operation, its end, and what is refused whatever it says (several
//     statements, dangerous functions, disguised names).
//  3. Parse blocks and FROM (statement.go, from.go, expr.go): query
//     expressions, SELECT blocks, set operations and WITH; FROM lists,
//     JOINs, aliases and derived tables; the expression regions between
//     clauses, whose nested queries are blocks of their own.
//  4. Verify predicates (predicate.go): each block, as it is closed, must
//     restrict each of its tenant table references by the tenant predicate.
//  5. DML rules (dml.go, assign.go): INSERT, UPDATE, DELETE and upserts, and
//     what they write into the tenant column (SET, VALUES, bun's VALUES CTEs).
//  6. Verdict (checker.go): the findings settle into the Verdict. The public
//     types, New and Mentions are in guard.go.
package sqlguard
