package pgtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// execSQL runs statements on dsn.
func execSQL(t *testing.T, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// queryString runs a one-value query on dsn.
func queryString(t *testing.T, dsn, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestStartGivesEachTestItsOwnDatabase(t *testing.T) {
	var first, second string
	t.Run("one", func(t *testing.T) {
		first = queryString(t, Start(t), "select current_database()")
	})
	t.Run("two", func(t *testing.T) {
		dsn := Start(t)
		second = queryString(t, dsn, "select current_database()")
		// The database is usable for writes.
		execSQL(t, dsn, "create table x (a text); insert into x values ('v')")
	})
	if first == "" || first == second {
		t.Fatalf("databases %q and %q: want two distinct databases", first, second)
	}
}

func TestServerStopRestart(t *testing.T) {
	s := NewServer(t)
	dsn := s.DSN("postgres")
	execSQL(t, dsn, "create table kept (v text); insert into kept values ('still here')")
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, dsn); err == nil {
		conn.Close(ctx)
		t.Fatal("connect to a stopped server: want an error")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, dsn, "select v from kept"); got != "still here" {
		t.Fatalf("after restart: got %q, want the data written before the stop", got)
	}
}

func TestStartUsesHappnerTestPG(t *testing.T) {
	srv := NewServer(t)
	t.Setenv(EnvDSN, srv.DSN("postgres"))
	var dsn string
	t.Run("inner", func(t *testing.T) {
		dsn = Start(t)
		if cfg, err := pgx.ParseConfig(dsn); err != nil || cfg.Port != uint16(srv.Port()) {
			t.Fatalf("Start with %s set: DSN %s is not on that server (%v)", EnvDSN, dsn, err)
		}
		queryString(t, dsn, "select current_database()")
	})
	// The database was dropped when the inner test ended.
	n := queryString(t, srv.DSN("postgres"), "select count(*)::text from pg_database where datname like 't\\_%'")
	if n != "0" {
		t.Fatalf("%s test databases left after the test, want 0", n)
	}
}
