package driverwrap

import "database/sql/driver"

// Tx is a transaction of a [Conn]. A transaction-local tenant setting ends
// with it.
type Tx struct {
	inner driver.Tx
	c     *Conn
}

// Commit commits the transaction.
func (t *Tx) Commit() error {
	t.c.inTx = false
	t.c.gen++
	return t.inner.Commit()
}

// Rollback rolls the transaction back.
func (t *Tx) Rollback() error {
	t.c.inTx = false
	t.c.gen++
	return t.inner.Rollback()
}
