// Package bunhooktest is the adopter test kit: it proves, from the
// application's own tests, that its own tenant-owned models are isolated by
// the *bun.DB the application opens with bunhook, on its own database.
//
// [Run] seeds two tenants in the tables of the models given to it, through
// the application's handle under each tenant's scope (with a factory per
// model, or by reflection), then runs each leak class ([Classes]) against
// each model as the first tenant: no tenant bound, no WHERE, OR, joins,
// Count/Exists, bulk writes, upserts, raw SQL, relations, subqueries and
// cross-tenant writes. Each class is a subtest named by the class. A read
// passes when it returns only the bound tenant's rows or fails; a write
// passes when it changes, creates, deletes and moves no row of another
// tenant, or fails. The truth comes from a separate raw handle: the kit
// reads every table through it before and after each operation. A failure
// names the class, the model, the operation, what leaked and the SQL bun
// sent (captured by a query hook on a clone of the handle).
//
//	func TestIsolation(t *testing.T) {
//		db := openApplicationDB(t)  // bunhook.Open / sqlitedb.Open / pgdb.Open, tables created
//		raw := bunhooktest.OpenRaw(t, sqliteshim.ShimName, dsn, sqlitedialect.New())
//		bunhooktest.Run(t, db, raw, []bunhooktest.Model{
//			bunhooktest.For[Customer](nil),
//			bunhooktest.For[Invoice](nil), // after Customer: its customer_id refers to one
//		})
//	}
//
// The kit is a package of its own under bunhook, as net/http/httptest is
// under net/http: it is about bunhook's handles (it reads the enforcer's
// registry for tenant columns), it imports the testing package, which the
// library must not pull into applications, and its directory name ends in
// "test", which the module's dependency rules reserve for test helpers.
// [PostgresSchema] and [MySQLDatabase] give each test a schema or database
// of its own on a shared server.
package bunhooktest
