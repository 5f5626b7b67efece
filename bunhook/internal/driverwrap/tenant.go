package driverwrap

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
)

// unknownTenant marks a setting whose value is not known and must be set
// again.
// It is never a tenant (tenants are validated, NUL is refused).
const unknownTenant = "\x00"

// syncTenant makes the tenant setting of this connection equal to the
// tenant of ctx before a statement runs: transaction-locally inside a
// transaction, otherwise at session level, where it stays until a statement
// of another tenant, or of none, changes it. It sends nothing when the
// setting already holds that tenant, and does nothing when the Config names
// no setting.
func (c *Conn) syncTenant(ctx context.Context) error {
	if c.cfg.Setting == "" {
		return nil
	}
	want, local, change := c.wantTenant(ctx)
	if !change {
		return nil
	}
	return c.setTenant(ctx, want, local)
}

// wantTenant returns the tenant of ctx, whether the setting that must hold
// it is the transaction-local one, and whether that setting must change.
func (c *Conn) wantTenant(ctx context.Context) (want string, local, change bool) {
	want = c.cfg.Gate.Tenant(ctx)
	if c.inTx {
		return want, true, c.txTenant != want
	}
	return want, false, c.sessionTenant != want
}

// setTenant runs set_config on the inner connection and records the value.
// Tenants are validated before they are bound, and quoted here all the
// same. When the round trip fails the value is unknown (the server may or
// may not have applied it): the next statement sets it again.
func (c *Conn) setTenant(ctx context.Context, tenant string, local bool) error {
	var sb strings.Builder
	sb.Grow(40 + len(c.cfg.Setting) + len(tenant))
	sb.WriteString("SELECT set_config(")
	writeLiteral(&sb, c.cfg.Setting)
	sb.WriteString(", ")
	writeLiteral(&sb, tenant)
	sb.WriteString(", " + boolSQL(local) + ")")
	q := sb.String()
	var err error
	switch ic := c.inner.(type) {
	case driver.ExecerContext:
		_, err = ic.ExecContext(ctx, q, nil)
	default:
		var st driver.Stmt
		st, err = c.inner.Prepare(q)
		if err == nil {
			_, err = st.Exec(nil) //nolint:staticcheck // fallback for drivers without ExecerContext
			_ = st.Close()
		}
	}
	if err != nil {
		c.record(unknownTenant, local)
		return errors.Join(errors.New("bunhook: setting "+c.cfg.Setting+" failed"), err)
	}
	c.record(tenant, local)
	return nil
}

// record notes the value the setting holds: the transaction-local one or
// the session one.
func (c *Conn) record(tenant string, local bool) {
	if local {
		c.txTenant = tenant
	} else {
		c.sessionTenant = tenant
	}
}

// afterStatement forgets what the connection knows of the setting when
// query, about to run, may change it behind the connection's back, so that
// the next statement sets it again: transaction control sent as text
// (BEGIN on a sql.Conn, then ROLLBACK, restores an earlier value; COMMIT
// sent as text inside a driver transaction ends the transaction-local
// value; ROLLBACK TO SAVEPOINT restores the savepoint's), SET, RESET,
// DISCARD and anything else that is not a plain query or DML, and any text
// that calls set_config. A COMMIT, END, ABORT, ROLLBACK or PREPARE
// TRANSACTION sent as text also ends the connection's transaction: later
// statements are set at session level.
func (c *Conn) afterStatement(query string) {
	switch classify(query) {
	case plainStatement:
		return
	case endsTransaction:
		c.inTx = false
	}
	c.sessionTenant, c.txTenant = unknownTenant, unknownTenant
}

type statementClass uint8

const (
	plainStatement  statementClass = iota // a query or DML that cannot change the setting
	otherStatement                        // may change the setting
	endsTransaction                       // ends the current transaction
)

// classify reads the first word of query (after white space, comments and
// opening parentheses).
func classify(query string) statementClass {
	w, rest := firstWord(query)
	switch strings.ToUpper(w) {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES", "TABLE":
		if containsFold(query, "set_config") {
			return otherStatement
		}
		return plainStatement
	case "COMMIT", "END", "ABORT":
		return endsTransaction
	case "PREPARE":
		if next, _ := firstWord(rest); strings.EqualFold(next, "TRANSACTION") {
			return endsTransaction
		}
	case "ROLLBACK":
		next, after := firstWord(rest)
		if strings.EqualFold(next, "WORK") || strings.EqualFold(next, "TRANSACTION") {
			next, _ = firstWord(after)
		}
		if !strings.EqualFold(next, "TO") {
			return endsTransaction
		}
	}
	return otherStatement
}

// rollsBack reports whether query is a ROLLBACK (of the transaction, to a
// savepoint, or of a prepared transaction) or ABORT, alone: a text that
// goes on after a ';' (possible under a bypass) may read rows after it.
func rollsBack(query string) bool {
	w, rest := firstWord(query)
	if !strings.EqualFold(w, "ROLLBACK") && !strings.EqualFold(w, "ABORT") {
		return false
	}
	return !strings.Contains(strings.TrimRight(rest, "; \t\r\n"), ";")
}

// firstWord returns the first word of s after white space, comments
// (-- to end of line, /* */ nested as PostgreSQL nests them) and opening
// parentheses, and the text after it.
func firstWord(s string) (word, rest string) {
	i := 0
	for i < len(s) {
		switch {
		case s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '(':
			i++
		case strings.HasPrefix(s[i:], "--"):
			j := strings.IndexAny(s[i:], "\n\r")
			if j < 0 {
				return "", ""
			}
			i += j
		case strings.HasPrefix(s[i:], "/*"):
			depth := 0
			for i < len(s) {
				if strings.HasPrefix(s[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(s[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
		default:
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			return s[i:j], s[j:]
		}
	}
	return "", ""
}

// containsFold reports whether s contains the lower-case ASCII word w, in
// any case.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i]|0x20 == w[0] && strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b|0x20 >= 'a' && b|0x20 <= 'z'
}

func boolSQL(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// writeLiteral writes s quoted as a string literal that means s whatever
// standard_conforming_strings says: with a backslash in s, as an escape
// string (E'...') with the backslashes doubled too.
func writeLiteral(sb *strings.Builder, s string) {
	if strings.IndexByte(s, '\\') >= 0 {
		sb.WriteByte('E')
	}
	sb.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			sb.WriteByte(s[i])
		}
		sb.WriteByte(s[i])
	}
	sb.WriteByte('\'')
}
