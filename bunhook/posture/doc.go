// Package posture inspects a live database for the defences that the SQL
// guard cannot provide, because they are the database's own: roles that do
// not bypass row-level security, forced RLS policies keyed on the tenant
// setting, unique and foreign keys that include the tenant column, indexes
// that lead with it, exact collations, and no unregistered copies of tenant
// tables (partitions, inheritance children, views, look-alike tables).
//
// [Check] returns a [Report] whose every [Finding] says what is wrong, why it
// matters and, where DDL can fix it, the statements that do. [Report.FixSQL]
// orders the fixes of a whole report so that they can run as one migration
// (foreign keys are dropped before the keys they depend on change, and added
// again afterwards); the builders in ddl.go ([PrimaryKeySQL],
// [ForeignKeySQL], [IndexSQL], [RLSSQL], [RoleSQL], ...) are the same code
// for hand-written migrations.
//
// The package reads only catalogs (pg_catalog, information_schema, SQLite
// pragmas) and never a tenant table's rows. It imports nothing of this
// module: bunhook.Posture and the bunhook.WithPostureCheck option of
// bunhook.Open pass it the registered tenant tables, and the tenantshield
// command's "posture" subcommand discovers them by their tenant column.
//
// Run it as the role the application uses: the role findings are about the
// connection's own user.
package posture
