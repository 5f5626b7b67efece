package driverwrap

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
)

// unknownTenant marks a transaction-local setting that must be set again.
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
	want := c.cfg.Gate.Tenant(ctx)
	if c.inTx {
		if c.txTenant == want {
			return nil
		}
		if err := c.setTenant(ctx, want, true); err != nil {
			return err
		}
		c.txTenant = want
		return nil
	}
	if c.sessionTenant == want {
		return nil
	}
	return c.setTenant(ctx, want, false)
}

// setTenant runs set_config on the inner connection. Tenants are validated
// before they are bound, and quoted here all the same.
func (c *Conn) setTenant(ctx context.Context, tenant string, local bool) error {
	q := "SELECT set_config(" + quoteLiteral(c.cfg.Setting) + ", " + quoteLiteral(tenant) + ", " + boolSQL(local) + ")"
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
		return errors.Join(errors.New("bunhook: setting "+c.cfg.Setting+" failed"), err)
	}
	if !local {
		c.sessionTenant = tenant
	}
	return nil
}

// rollsBackToSavepoint reports whether query is ROLLBACK TO [SAVEPOINT] ...
// (ASCII case-insensitive, after leading white space).
func rollsBackToSavepoint(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n")
	if len(q) < len("ROLLBACK TO") || !strings.EqualFold(q[:len("ROLLBACK")], "ROLLBACK") {
		return false
	}
	rest := q[len("ROLLBACK"):]
	if len(rest) == 0 || isWordByte(rest[0]) {
		return false
	}
	rest = strings.TrimLeft(rest, " \t\r\n")
	return len(rest) >= 2 && strings.EqualFold(rest[:2], "TO") && (len(rest) == 2 || !isWordByte(rest[2]))
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

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
