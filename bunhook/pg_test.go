package bunhook_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tenantshield/tenantshield-go/bunhook"
	"github.com/tenantshield/tenantshield-go/scope"
)

type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func currentSetting(ctx context.Context, t *testing.T, db rowQuerier) string {
	t.Helper()
	var v sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT current_setting('"+bunhook.RLSSetting+"', true)").Scan(&v); err != nil {
		t.Fatalf("current_setting: %v", err)
	}
	return v.String
}

// TestPostgresTenantSettingNeverLeaks alternates tenants on a pool of one
// connection: every statement sees exactly the tenant of its own context
// (none when none is bound), inside and outside transactions.
func TestPostgresTenantSettingNeverLeaks(t *testing.T) {
	eachPostgres(t, func(t *testing.T, td *testDB) {
		td.db.SetMaxOpenConns(1)
		td.db.SetMaxIdleConns(1)
		bg := context.Background()
		for i := 0; i < 6; i++ {
			tenant := []string{"A", "B", "C"}[i%3]
			ctx := tenantCtx(t, tenant)
			if got := currentSetting(ctx, t, td.db); got != tenant {
				t.Fatalf("autocommit under %s sees %q", tenant, got)
			}
			if got := currentSetting(bg, t, td.db); got != "" {
				t.Fatalf("no tenant bound, after %s, sees %q", tenant, got)
			}
			err := td.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				if got := currentSetting(ctx, t, tx); got != tenant {
					return fmt.Errorf("in tx under %s sees %q", tenant, got)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// The raw *sql.DB shares the pool and the connector.
			if got := currentSetting(bg, t, td.db.DB); got != "" {
				t.Fatalf("raw *sql.DB after a tx of %s sees %q", tenant, got)
			}
			// A bun.Conn keeps its connection; the setting follows each
			// statement's context.
			conn, err := td.db.Conn(bg)
			if err != nil {
				t.Fatal(err)
			}
			if got := currentSetting(ctx, t, conn); got != tenant {
				t.Fatalf("conn under %s sees %q", tenant, got)
			}
			_ = conn.Close()
		}
	})
}

// TestPostgresRLSBackstop runs the application as a non-owner role under
// row-level security: even a statement the guard would refuse is limited by
// the database to the tenant the connector set (report-only mode lets it
// through to prove it).
func TestPostgresRLSBackstop(t *testing.T) {
	eachPostgres(t, func(t *testing.T, td *testDB) {
		td.seed(t)
		app := openAsAppRole(t, td)
		app.SetMaxOpenConns(1)

		var invs []Invoice
		// Unscoped in report mode: the guard reports, RLS still limits.
		if err := app.NewRaw("SELECT * FROM invoices").Scan(tenantCtx(t, "A"), &invs); err != nil {
			t.Fatal(err)
		}
		if len(invs) != 3 {
			t.Fatalf("RLS let %d rows through, want A's 3", len(invs))
		}
		onlyTenant(t, invs, "A")
		var n int
		if err := app.QueryRowContext(context.Background(), "SELECT count(*) FROM invoices").Scan(&n); err != nil || n != 0 {
			t.Fatalf("no tenant bound: RLS count %d, %v; want 0", n, err)
		}
		// Moving a row to another tenant is refused by WITH CHECK.
		_, err := app.NewRaw("UPDATE invoices SET tenant_id = 'B' WHERE tenant_id = 'A'").Exec(tenantCtx(t, "A"))
		if err == nil {
			t.Fatal("RLS allowed moving rows to tenant B")
		}
		if got := td.tenantsOf(t, "invoices"); got[1] != "A" {
			t.Fatalf("invoice 1 now belongs to %q", got[1])
		}
	})
}

// openAsAppRole enables RLS on td's tables and returns td's schema opened,
// in report-only mode, as a new role that does not own the tables (so the
// policies apply to it); the role is dropped at cleanup.
func openAsAppRole(t *testing.T, td *testDB) *bun.DB {
	t.Helper()
	return openAsRole(t, td, createAppRole(t, td), bunhook.WithMode(bunhook.ModeReport))
}

// createAppRole enables RLS on td's tables and creates a login role that
// is neither superuser nor BYPASSRLS nor a table owner, with SELECT,
// INSERT, UPDATE and DELETE on td's tables and USAGE on its sequences (no
// TRUNCATE). The role is dropped at cleanup; its name is returned.
func createAppRole(t *testing.T, td *testDB) string {
	t.Helper()
	ctx := bypassCtx(t)
	e, _ := bunhook.EnforcerOf(td.db)
	if err := bunhook.EnableRLS(ctx, td.db, e); err != nil {
		t.Fatal(err)
	}
	role := randName("ts_app_")
	schema := td.rawString(t, "SELECT current_schema()")
	t.Cleanup(func() {
		_, _ = td.raw.ExecContext(context.Background(), "DROP OWNED BY "+role)
		_, _ = td.raw.ExecContext(context.Background(), "DROP ROLE "+role)
	})
	td.rawExec(t,
		"CREATE ROLE "+role+" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB",
		"GRANT USAGE ON SCHEMA "+schema+" TO "+role,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+schema+" TO "+role,
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA "+schema+" TO "+role)
	return role
}

// openAsRole opens td's schema as role, with td's models, audit bus and
// observer and the extra options (ModeEnforce unless they say otherwise).
func openAsRole(t *testing.T, td *testDB, role string, extra ...bunhook.Option) *bun.DB {
	t.Helper()
	schema := td.rawString(t, "SELECT current_schema()")
	dsn := withQuery(withUser(env(t, "TS_PG_DSN"), role), "search_path", schema)
	opts := append([]bunhook.Option{bunhook.WithModels(allModels...), bunhook.WithAuditBus(td.bus),
		bunhook.WithObserver(td.obs)}, extra...)
	app, err := pgOpen(td.kind)(dsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Close() })
	return app
}

func pgOpen(kind string) func(string, ...bunhook.Option) (*bun.DB, error) {
	if kind == "pgx" {
		return pgdbOpenPgx
	}
	return pgdbOpen
}

// TestPostgresConcurrentTenants shares one pool among 16 goroutines of
// different tenants: no query result and no app.tenant_id value ever belongs
// to another tenant.
func TestPostgresConcurrentTenants(t *testing.T) {
	eachPostgres(t, func(t *testing.T, td *testDB) {
		td.db.SetMaxOpenConns(4)
		const workers, iters = 16, 40
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			tenant := fmt.Sprintf("T%02d", w)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := scope.NewContext(context.Background(), scope.MustParse(tenant))
				for i := 0; i < iters; i++ {
					if _, err := td.db.NewInsert().Model(&Invoice{Number: fmt.Sprintf("%s-%d", tenant, i)}).Exec(ctx); err != nil {
						errs <- err
						return
					}
					var invs []Invoice
					if err := td.db.NewSelect().Model(&invs).Scan(ctx); err != nil {
						errs <- err
						return
					}
					if len(invs) != i+1 {
						errs <- fmt.Errorf("%s sees %d invoices after %d inserts", tenant, len(invs), i+1)
						return
					}
					for _, in := range invs {
						if in.TenantID != tenant {
							errs <- fmt.Errorf("%s read a row of %s", tenant, in.TenantID)
							return
						}
					}
					err := td.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
						var v sql.NullString
						if err := tx.QueryRowContext(ctx, "SELECT current_setting('app.tenant_id', true)").Scan(&v); err != nil {
							return err
						}
						if v.String != tenant {
							return fmt.Errorf("%s's transaction sees app.tenant_id %q", tenant, v.String)
						}
						n, err := tx.NewSelect().Model((*Invoice)(nil)).Count(ctx)
						if err == nil && n != int64(i+1) {
							err = fmt.Errorf("%s counts %d", tenant, n)
						}
						return err
					})
					if err != nil {
						errs <- err
						return
					}
					var v sql.NullString
					if err := td.db.QueryRowContext(ctx, "SELECT current_setting('app.tenant_id', true)").Scan(&v); err != nil || v.String != tenant {
						errs <- fmt.Errorf("%s autocommit sees app.tenant_id %q: %w", tenant, v.String, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := len(td.tenantsOf(t, "invoices")); got != workers*iters {
			t.Fatalf("%d invoices, want %d", got, workers*iters)
		}
	})
}
