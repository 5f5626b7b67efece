// Package driverwrap is bunhook's driver layer (layer 3): a
// driver.Connector whose connections, prepared statements and transactions
// ask a [Gate] about every statement before it leaves the process.
//
//   - Connector and Driver (connector.go) wrap the driver's own; the Driver
//     carries the Gate's owner, so that any *sql.DB over the pool leads back
//     to it ([OwnerOf]).
//   - Conn (conn.go) asks the Gate for every statement (Exec, Query,
//     Prepare) and transaction (Begin), and keeps the tenant setting of the
//     session in step (tenant.go): a round trip of set_config before the
//     statement when the tenant changes, or, on a driver marked with
//     [Combining] (combine.go), "SET ...; statement" in the statement's own
//     round trip for a single plain statement without arguments. A combined
//     value is recorded only once the statement has completed without
//     error (PostgreSQL undoes the SET with a failed statement of the same
//     message); until then, and after any failure, it is unknown and the
//     next statement sets it again.
//   - Stmt (stmt.go) asks again at every execution of a prepared statement,
//     with the executing context, which may carry another tenant.
//   - Tx (tx.go) ends the transaction state of its connection.
//   - Refusing (refuse.go) is a connector whose connections always fail,
//     standing in for a pool the Gate does not control.
//
// The package decides nothing itself: the veto, the statement to run
// instead, and the tenant a connection must carry come from the Gate. It
// imports nothing else of this module.
package driverwrap
