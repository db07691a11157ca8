// Package pgtest gives tests a real, throwaway PostgreSQL: one server per test binary (initdb + pg_ctl in a
// temp dir on a free loopback port), one fresh database per test. With COVSYNC_TEST_DATABASE_URL set it uses
// that server instead and still creates a database per test.
//
// A package that uses it calls Main from TestMain so the server is stopped when the tests end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/internal/pgserver"
)

// EnvURL names the environment variable that points tests at an existing server.
const EnvURL = "COVSYNC_TEST_DATABASE_URL"

var (
	mainCalled atomic.Bool
	once       sync.Once
	srv        *pgserver.Server
	baseURL    string
	startErr   error
	dbSeq      atomic.Int64
)

// Main runs the tests and stops the server afterwards.
func Main(m *testing.M) {
	mainCalled.Store(true)
	code := m.Run()
	if srv != nil {
		_ = srv.Stop()
	}
	os.Exit(code)
}

func server() (string, error) {
	once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			baseURL = u
			return
		}
		srv, startErr = pgserver.Start(context.Background(), pgserver.Options{})
		if startErr == nil {
			baseURL = srv.URL("postgres")
		}
	})
	return baseURL, startErr
}

// URL creates a fresh, empty database for the test and returns its connection URL. The database is dropped
// when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatal("pgtest: call pgtest.Main(m) from TestMain so the test server is stopped")
	}
	base, err := server()
	if err != nil {
		t.Fatalf("pgtest: start PostgreSQL: %v", err)
	}
	name := fmt.Sprintf("covsync_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: parse base URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Pool returns a pgx pool on a fresh database, closed when the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), URL(t))
	if err != nil {
		t.Fatalf("pgtest: pool: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}
