// Command dbtiers tells, before `make test` runs, which database tiers of the
// test suite will run and which will be skipped: SQLite always runs;
// PostgreSQL (TS_PG_DSN) and MariaDB (TS_MYSQL_DSN) run when their server
// answers, and are skipped otherwise, or fail when TS_REQUIRE_DBS is set
// (as in CI). It connects with a short timeout and runs `SELECT 1`; it
// never changes a database.
//
// Usage:
//
//	go run ./internal/cmd/dbtiers
//
// It exits 0 whatever it finds: the tests decide.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/uptrace/bun/driver/pgdriver"
)

func main() {
	report(os.Stdout, os.Getenv, probe)
}

// tier is one database tier of the suite.
type tier struct {
	name, env string
}

var tiers = []tier{{"PostgreSQL", "TS_PG_DSN"}, {"MariaDB", "TS_MYSQL_DSN"}}

// probe connects to the tier's server and runs SELECT 1.
func probe(ctx context.Context, t tier, dsn string) error {
	var db *sql.DB
	switch t.env {
	case "TS_PG_DSN":
		db = sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn), pgdriver.WithDialTimeout(3*time.Second)))
	default:
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return err
		}
		cfg.Timeout = 3 * time.Second
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return err
		}
		db = sql.OpenDB(c)
	}
	defer db.Close()
	var one int
	return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// report writes one line per tier.
func report(w io.Writer, getenv func(string) string, probe func(context.Context, tier, string) error) {
	required := getenv("TS_REQUIRE_DBS") != ""
	fmt.Fprintln(w, "database tiers of the test suite:")
	fmt.Fprintln(w, "  SQLite      runs (embedded)")
	for _, t := range tiers {
		dsn := getenv(t.env)
		var verdict string
		switch {
		case dsn == "" && required:
			verdict = "FAILS: " + t.env + " is not set and TS_REQUIRE_DBS is"
		case dsn == "":
			verdict = "SKIPPED: " + t.env + " is not set"
		default:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := probe(ctx, t, dsn)
			cancel()
			switch {
			case err == nil:
				verdict = "runs (" + redact(dsn) + ")"
			case required:
				verdict = fmt.Sprintf("FAILS: %s is unreachable and TS_REQUIRE_DBS is set: %v", redact(dsn), err)
			default:
				verdict = fmt.Sprintf("SKIPPED: %s is unreachable (%v); set TS_REQUIRE_DBS=1 to fail instead", redact(dsn), err)
			}
		}
		fmt.Fprintf(w, "  %-11s %s\n", t.name, verdict)
	}
	fmt.Fprintln(w, "  (use a database dedicated to the tests: each test creates and drops its own schema or database in it)")
}

// redact hides a password in a DSN.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	if cfg, err := mysql.ParseDSN(dsn); err == nil {
		if cfg.Passwd != "" {
			cfg.Passwd = "xxxxx"
		}
		return cfg.FormatDSN()
	}
	return "(unparsable DSN)"
}
