package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/internal/benchload"
	"github.com/covsync/covsync/sync/schedule"
)

// strandResync leaves a resync job of project/kind as a `covsync resync` killed mid-cycle leaves it: running,
// attempted by client.
func strandResync(t *testing.T, db, project, kind, client string) int64 {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ins, err := schedule.New(pool, schedule.RunnerFunc(func(context.Context, schedule.Cycle) (any, error) { return nil, nil }), schedule.Options{})
	if err != nil {
		t.Fatal(err)
	}
	enq, err := ins.Enqueue(ctx, []schedule.Request{{Project: project, Kind: kind}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE covsync.river_job SET state = 'running', attempt = 1,
		attempted_by = ARRAY[$2::text], attempted_at = now() - interval '1 minute' WHERE id = $1`, enq[0].JobID, client); err != nil {
		t.Fatal(err)
	}
	return enq[0].JobID
}

// TestAResyncKilledMidCycleBlocksNothing: the job a killed resync left running is reclaimed by the next
// resync, which says so and syncs (exit 0); a job whose process is alive is waited for, named, and given up
// on with exit 3 past cycle_timeout + shutdown_timeout + the stop margin.
func TestAResyncKilledMidCycleBlocksNothing(t *testing.T) {
	w := benchload.Workload{Project: "shop", Prefix: "SHOP", Sizes: benchload.Sizes{Stories: 3, Releases: 1, Runs: 1, Results: 6}}
	db := migratedWith(t, w)
	site := newSimSite("acme", w, "tok-acme")
	srv := site.sim.Start()
	t.Cleanup(srv.Close)
	site.url = srv.URL
	cfg := jiraOnlyConfig(t, db, []*simSite{site}, []string{"tok-acme"}, nil)
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append(text, []byte("workers: {cycle_timeout: 2s, shutdown_timeout: 1s}\n")...), 0o600); err != nil {
		t.Fatal(err)
	}

	strandResync(t, db, "shop", "jira", "covsync-killed-99-0bad")
	code, out, errOut := execute(t, "resync", "--config", cfg, "--target", "jira", "--output", "json")
	logs := errOut
	if code != exitOK {
		t.Fatalf("resync behind a killed resync's job: exit %d: %s\n%s", code, out, logs)
	}
	if !strings.Contains(out, `"pushed": 3,`) {
		t.Errorf("the resync did not sync: %s", out)
	}

	// A live process's job (its client holds its lock) is waited for and given up on.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtextextended('covsync river client ' || $1::text, 0))", "covsync-alive-7-feed"); err != nil {
		t.Fatal(err)
	}
	strandResync(t, db, "shop", "jira", "covsync-alive-7-feed")
	var stderr string
	stderr = captureStderr(t, func() {
		code, out, errOut = execute(t, "resync", "--config", cfg, "--target", "jira", "--output", "json")
	})
	stderr += errOut
	if code != exitDependency {
		t.Fatalf("resync behind a live cycle: exit %d, want %d: %s\n%s", code, exitDependency, out, stderr)
	}
	if !strings.Contains(out, "gave up waiting") {
		t.Errorf("the JSON errors do not say it gave up waiting: %s", out)
	}
	if !strings.Contains(stderr, "waiting for another cycle") || !strings.Contains(stderr, "covsync-alive-7-feed") {
		t.Errorf("the log does not say what the resync waits for:\n%s", stderr)
	}
}
