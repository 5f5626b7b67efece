package driverwrap

import (
	"database/sql/driver"
	"io"
	"strings"
)

// Combine says which statements a driver's connections can run in the same
// round trip as a change of the tenant setting: the statement's text is sent
// as "SET [LOCAL] <setting> TO '<tenant>'; <statement>". Only a driver whose
// behaviour with such a text is known may be marked (see [Combining]); the
// statements combined are those without arguments whose text is a single
// plain query or DML (no ';' at all).
//
// PostgreSQL runs the statements of one simple-protocol Query message as
// one implicit transaction (or inside the open one): the statement runs
// with the new value, and if it fails the SET is undone with it. So the
// value is recorded only once the statement is known to have completed
// without error; until then, and after any failure, it is unknown and the
// next statement sets it again.
type Combine uint8

const (
	// CombineExec says that ExecContext without arguments sends the text
	// as one simple-protocol Query message and returns the last
	// statement's command tag (RowsAffected) and the first error.
	CombineExec Combine = 1 << iota
	// CombineQuery says that QueryContext without arguments sends the text
	// as one simple-protocol Query message and returns the rows of the
	// first statement that has a row description (a SET has none), or the
	// first error. Its rows implement only driver.Rows; Next returns
	// io.EOF, and Close nil, only when the whole message completed without
	// error.
	CombineQuery
)

// Combining marks inner as a connector whose connections run the
// statements how names in the setting's round trip; [New] unwraps it.
func Combining(inner driver.Connector, how Combine) driver.Connector {
	return combining{Connector: inner, how: how}
}

type combining struct {
	driver.Connector
	how Combine
}

// combined is a change of the setting sent in front of a statement (none
// when c is nil). It is recorded when the statement completes without
// error, unless the connection has been used since (gen) or entered or left
// a transaction.
type combined struct {
	c      *Conn
	gen    uint64
	tenant string
	local  bool
}

// done records the value if ok and nothing happened on the connection
// since the combined statement was sent. Otherwise the value stays unknown.
func (p *combined) done(ok bool) {
	c := p.c
	if ok && c != nil && c.gen == p.gen && c.inTx == p.local {
		c.record(p.tenant, p.local)
	}
}

// combine returns the text that sets the setting to want and runs run in
// the same message, and what to record once it has completed, when the
// statement may be combined (how is enabled for the driver, no arguments,
// a single plain statement); otherwise "" and none. The value is unknown
// from now until the statement completes.
func (c *Conn) combine(run, want string, local bool, how Combine, nargs int) (string, combined) {
	if c.cfg.Combine&how == 0 || nargs != 0 || c.cfg.setIdent == "" ||
		strings.IndexByte(run, ';') >= 0 || classify(run) != plainStatement {
		return "", combined{}
	}
	c.record(unknownTenant, local)
	var sb strings.Builder
	sb.Grow(24 + len(c.cfg.setIdent) + len(want) + len(run))
	sb.WriteString("SET ")
	if local {
		sb.WriteString("LOCAL ")
	}
	sb.WriteString(c.cfg.setIdent)
	sb.WriteString(" TO ")
	writeLiteral(&sb, want)
	sb.WriteString("; ")
	sb.WriteString(run)
	return sb.String(), combined{c: c, gen: c.gen, tenant: want, local: local}
}

// quoteSetting returns the setting's name as a SET statement names it
// (each dot-separated part a quoted identifier), or "" when a part is
// empty.
func quoteSetting(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		if p == "" {
			return ""
		}
		parts[i] = `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
	}
	return strings.Join(parts, ".")
}

// settlingRows are the rows of a combined query: they record the setting
// when the message completed without error (Next returns io.EOF or Close
// returns nil first), and leave it unknown after an error.
type settlingRows struct {
	driver.Rows
	p combined // none once settled
}

func (r *settlingRows) Next(dest []driver.Value) error {
	err := r.Rows.Next(dest)
	if err != nil {
		// Exactly io.EOF, as database/sql tests it: an error that wraps
		// io.EOF (a lost connection) is a failure.
		r.p.done(err == io.EOF) //nolint:errorlint // see above
		r.p = combined{}
	}
	return err
}

func (r *settlingRows) Close() error {
	err := r.Rows.Close()
	r.p.done(err == nil)
	r.p = combined{}
	return err
}
