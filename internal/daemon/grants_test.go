package daemon

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/pgtest"
	"github.com/covsync/covsync/sync/schedule"
)

// asRole returns dbURL with the user replaced.
func asRole(t *testing.T, dbURL, role string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return u.String()
}

func exec(t *testing.T, dbURL, sql string) {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", strings.SplitN(sql, "\n", 2)[0], err)
	}
}

// createRoles makes the roles grants.sql names (covsync_owner and covsync_daemon, which log in, and the
// covsync_ingest group), and the extra login roles. Roles are cluster-wide: each is made once, whichever test
// runs first.
func createRoles(t *testing.T, admin string, logins ...string) {
	t.Helper()
	roles := []string{"covsync_owner LOGIN", "covsync_daemon LOGIN", "covsync_ingest NOLOGIN"}
	for _, n := range logins {
		roles = append(roles, n+" LOGIN")
	}
	var b strings.Builder
	b.WriteString("DO $$ BEGIN\n")
	for _, r := range roles {
		name, _, _ := strings.Cut(r, " ")
		fmt.Fprintf(&b, "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN CREATE ROLE %s; END IF;\n", name, r)
	}
	b.WriteString("END $$")
	exec(t, admin, b.String())
}

// TestTheDaemonRunsWithOnlyTheGrantsOfGrantsSQL migrates as the owner, applies deploy/sql/grants.sql, then runs
// the daemon as covsync_daemon: River's leader election, periodic and unique jobs, the readiness checks and a
// cycle that reads the source and writes the ledger must all work with those grants and nothing more.
func TestTheDaemonRunsWithOnlyTheGrantsOfGrantsSQL(t *testing.T) {
	admin := pgtest.URL(t)
	dbName := strings.TrimPrefix(mustParse(t, admin).Path, "/")
	createRoles(t, admin)
	exec(t, admin, "GRANT covsync_ingest TO covsync_daemon")
	exec(t, admin, "GRANT CREATE ON DATABASE "+pgx.Identifier{dbName}.Sanitize()+" TO covsync_owner")
	exec(t, admin, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")

	owner := asRole(t, admin, "covsync_owner")
	ownerPool, err := pgxpool.New(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	defer ownerPool.Close()
	if err := Migrate(context.Background(), ownerPool, &config.Config{}); err != nil {
		t.Fatalf("migrate as owner: %v", err)
	}
	exec(t, owner, `INSERT INTO covsync_source.projects VALUES ('shop', 'Shop')`)
	grants, err := os.ReadFile(filepath.Join("..", "..", "deploy", "sql", "grants.sql")) // tests run in their package dir
	if err != nil {
		t.Fatal(err)
	}
	exec(t, owner, string(grants))
	exec(t, owner, string(grants)) // running it twice is harmless

	daemonURL := asRole(t, admin, "covsync_daemon")
	cfg := filepath.Join(t.TempDir(), "covsync.yaml")
	writeConfig(t, cfg, daemonURL, "  jira: \"@every 1s\"", "")
	// auto_migrate stays on in writeConfig; the daemon role cannot create, so turn it off as grants.sql says.
	// The source schema is covsync's own here (the owner migrated it), so the daemon checks its migrations
	// too (migrate_source: true, the default), which it must be able to read.
	b, _ := os.ReadFile(cfg)
	yml := strings.Replace(string(b), "auto_migrate: true", "auto_migrate: false", 1)
	yml = strings.Replace(yml, "migrate_source: false", "migrate_source: true", 1)
	if err := os.WriteFile(cfg, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}

	cycles := make(chan string, 16)
	ledgerWriter := func(_ context.Context, d RunnerDeps) (schedule.Runner, error) {
		pool := d.Pool
		return schedule.RunnerFunc(func(ctx context.Context, c schedule.Cycle) (any, error) {
			var name string
			if err := pool.QueryRow(ctx, "SELECT name FROM covsync_source.projects WHERE id = $1", c.Project).Scan(&name); err != nil {
				return nil, err
			}
			var id int64
			if err := pool.QueryRow(ctx, `INSERT INTO covsync.cycles (target, kind, project, started_at) VALUES ($1, $2, $3, now()) RETURNING id`,
				"jira:acme/SHOP", c.Kind, c.Project).Scan(&id); err != nil {
				return nil, err
			}
			if _, err := pool.Exec(ctx, `INSERT INTO covsync.ledger (target, item_key, hash, pushed_at) VALUES ('jira:acme/SHOP', 'SHOP-1', '\x00', now())
				ON CONFLICT (target, item_key) DO UPDATE SET pushed_at = now()`); err != nil {
				return nil, err
			}
			if _, err := pool.Exec(ctx, "UPDATE covsync.cycles SET finished_at = now(), pushed = 1 WHERE id = $1", id); err != nil {
				return nil, err
			}
			cycles <- name
			return nil, nil
		}), nil
	}
	s := serve(t, cfg, ledgerWriter)
	for i := 0; i < 2; i++ {
		select {
		case name := <-cycles:
			if name != "Shop" {
				t.Fatalf("cycle read project name %q", name)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("cycle %d did not run as covsync_daemon; log: %v", i+1, lastErrors(s))
		}
	}
	waitFor(t, 10*time.Second, "readyz as covsync_daemon", func() bool { c, _ := get(t, s, "/readyz"); return c == 200 })
	// A report posted over HTTPS is stored and its cycles enqueued, as covsync_daemon; keys are the owner's.
	key := mustKey(t, ownerPool, "shop")
	if code, _, body := s.post(t, post{path: "/v1/projects/shop/runs", key: key, body: report(t, 20, "grants")}); code != 201 {
		t.Fatalf("ingest as covsync_daemon: %d %s; log: %v", code, body, lastErrors(s))
	}
	cov := `{"project":"shop","measuredAt":"2026-11-20T08:00:00Z","stories":[{"ticket":"SHOP-1","coveredMethods":%d,"totalMethods":4}]}`
	for _, n := range []int{1, 2} { // the second re-sends a measurement with other figures: an UPDATE
		if code, _, body := s.post(t, post{path: "/v1/projects/shop/coverage", key: key, body: fmt.Appendf(nil, cov, n)}); code != 201 {
			t.Fatalf("coverage as covsync_daemon: %d %s; log: %v", code, body, lastErrors(s))
		}
	}
	s.stop(t, 20*time.Second)

	// And nothing more: no writes to the source, no DDL in covsync's schema.
	c, err := pgx.Connect(context.Background(), daemonURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for _, sql := range []string{
		// The source: reports are added, never rewritten or erased.
		"DELETE FROM covsync_source.runs",
		"UPDATE covsync_source.runs SET tests = 0",
		"UPDATE covsync_source.projects SET name = 'Evil'",
		"TRUNCATE covsync_source.test_results",
		"DELETE FROM covsync_source.story_coverage",
		// Keys: minted and revoked by the owner only.
		"INSERT INTO covsync.api_keys (prefix, hash, project_id) VALUES ('csk_aaaaaaaa', sha256('x'), 'shop')",
		"UPDATE covsync.api_keys SET revoked_at = NULL",
		"UPDATE covsync.api_keys SET project_id = 'bank'",
		"DELETE FROM covsync.api_keys",
		"CREATE TABLE covsync.extra (x int)",
		"DROP TABLE covsync.ledger",
		"CREATE TABLE public.extra (x int)",
		// The migration bookkeeping is read only: a daemon that could write it could make /readyz report
		// migrations as current that never ran.
		"UPDATE covsync.river_migration SET version = version",
		"DELETE FROM covsync.schema_version",
		"INSERT INTO covsync.schema_version SELECT * FROM covsync.schema_version",
		// Sequences: nextval only; setval (UPDATE) would let it rewind the ids of jobs and cycles.
		"SELECT setval(pg_get_serial_sequence('covsync.cycles', 'id'), 1)",
	} {
		if _, err := c.Exec(context.Background(), sql); err == nil || !strings.Contains(err.Error(), "permission denied") && !strings.Contains(err.Error(), "must be owner") {
			t.Errorf("%s as covsync_daemon: %v, want permission denied", sql, err)
		}
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func lastErrors(s *serving) []string {
	var out []string
	for _, e := range s.logs.AllEntries() {
		if e.Level <= 3 { // warn and worse
			line, _ := e.String()
			out = append(out, line)
		}
	}
	return out
}

// TestIngestRunsWithOnlyTheIngestGrants migrates as the owner, applies deploy/sql/grants.sql, then ingests a
// report (twice: the de-duplication path) and a coverage file (twice, the second restating a measurement) as
// covsync_ingest; that role can do nothing else, and covsync_daemon cannot read test messages.
func TestIngestRunsWithOnlyTheIngestGrants(t *testing.T) {
	ctx := context.Background()
	admin := pgtest.URL(t)
	dbName := strings.TrimPrefix(mustParse(t, admin).Path, "/")
	createRoles(t, admin, "covsync_ci")
	exec(t, admin, "GRANT CREATE ON DATABASE "+pgx.Identifier{dbName}.Sanitize()+" TO covsync_owner")
	exec(t, admin, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
	owner := asRole(t, admin, "covsync_owner")
	ownerPool, err := pgxpool.New(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	defer ownerPool.Close()
	if err := Migrate(ctx, ownerPool, &config.Config{Database: config.Database{SourceSchema: "covsync_source"}}); err != nil {
		t.Fatalf("migrate as owner: %v", err)
	}
	grants, err := os.ReadFile(filepath.Join("..", "..", "deploy", "sql", "grants.sql"))
	if err != nil {
		t.Fatal(err)
	}
	exec(t, owner, string(grants))
	exec(t, admin, "GRANT covsync_ingest TO covsync_ci") // CI's login role, as grants.sql says

	ingestPool, err := pgxpool.New(ctx, asRole(t, admin, "covsync_ci"))
	if err != nil {
		t.Fatal(err)
	}
	defer ingestPool.Close()
	in := postgres.NewIngester(ingestPool, "covsync_source")
	report := []byte(`{"results":{"tool":{"name":"jest"},
		"summary":{"tests":1,"passed":0,"failed":1,"skipped":0,"pending":0,"other":0,"start":1763625600000},
		"tests":[{"name":"SHOP-1 pays","status":"failed","duration":1,"message":"secret stack"}]}}`)
	for i := 0; i < 2; i++ {
		res, err := in.IngestCTRF(ctx, report, postgres.CTRFOptions{Project: "shop", Release: "1.0"})
		if err != nil {
			t.Fatalf("ingest %d as covsync_ingest: %v", i+1, err)
		}
		if res.AlreadyIngested != (i == 1) {
			t.Errorf("ingest %d: already ingested %v", i+1, res.AlreadyIngested)
		}
	}
	for _, cov := range []string{`1,"totalMethods":2`, `2,"totalMethods":2`} {
		data := []byte(`{"project":"shop","measuredAt":"2025-11-20T09:00:00Z","stories":[{"ticket":"SHOP-1","coveredMethods":` + cov + `}]}`)
		if _, err := in.IngestCoverage(ctx, data, "cov.json"); err != nil {
			t.Fatalf("coverage as covsync_ingest: %v", err)
		}
	}
	deny := func(role string, sqls ...string) {
		t.Helper()
		c, err := pgx.Connect(ctx, asRole(t, admin, role))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		for _, sql := range sqls {
			if _, err := c.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "permission denied") && !strings.Contains(err.Error(), "must be owner") {
				t.Errorf("%s as %s: %v, want permission denied", sql, role, err)
			}
		}
	}
	deny("covsync_ci",
		"DELETE FROM covsync_source.runs", "UPDATE covsync_source.runs SET name = 'x'", "TRUNCATE covsync_source.test_results",
		"DROP TABLE covsync_source.runs", "CREATE TABLE covsync_source.extra (x int)", "SELECT * FROM covsync.ledger",
		"SELECT setval('covsync_source.runs_id_seq', 1)", "SET CONSTRAINTS ALL DEFERRED; DELETE FROM covsync_source.runs",
		"INSERT INTO covsync.ledger (target, item_key, hash, pushed_at) VALUES ('t', 'k', '\\x00', now())")
	// The daemon's own grants on test_results are the flaky-list columns only (as a member of covsync_ingest,
	// for reports over HTTPS, it reads what that role reads: the other test here makes it one).
	var relACL, msgACL, nameACL string
	if err := ownerPool.QueryRow(ctx, `SELECT coalesce(c.relacl::text, ''),
			coalesce((SELECT attacl::text FROM pg_attribute WHERE attrelid = c.oid AND attname = 'message'), ''),
			coalesce((SELECT attacl::text FROM pg_attribute WHERE attrelid = c.oid AND attname = 'name'), '')
		FROM pg_class c WHERE c.oid = 'covsync_source.test_results'::regclass`).Scan(&relACL, &msgACL, &nameACL); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(relACL, "covsync_daemon=") || strings.Contains(msgACL, "covsync_daemon=") || !strings.Contains(nameACL, "covsync_daemon=r") {
		t.Errorf("test_results grants to covsync_daemon: table %s, message %s, name %s; want SELECT on name only", relACL, msgACL, nameACL)
	}
	// What the daemon's reader does read, it can.
	c, err := pgx.Connect(ctx, asRole(t, admin, "covsync_daemon"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM covsync_source.test_results t JOIN covsync_source.test_tickets k USING (run_id, ordinal)
		WHERE t.status = 'failed' AND NOT t.flaky AND t.retries = 0 AND t.name <> '' AND t.suite = ''`).Scan(&n); err != nil || n != 1 {
		t.Errorf("the flaky-list columns as covsync_daemon: %d, %v", n, err)
	}
}
