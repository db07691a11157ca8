package daemon

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/internal/pgserver"
	"github.com/covsync/covsync/sync/schedule"
)

// TestReadyzFollowsTheDatabaseGoingDownAndComingBack stops PostgreSQL under a running daemon (a server of
// its own, so other tests keep theirs): the daemon stays up, /readyz answers 503 while the database is down
// and 200 once it is back, and the cycles go on.
func TestReadyzFollowsTheDatabaseGoingDownAndComingBack(t *testing.T) {
	ctx := context.Background()
	srv, err := pgserver.Start(ctx, pgserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	dbURL := srv.URL("postgres")
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	cfg := filepath.Join(t.TempDir(), "covsync.yaml")
	writeConfig(t, cfg, dbURL, "  jira: \"@every 1s\"", "")
	cycles := make(chan struct{}, 100)
	counting := func(context.Context, RunnerDeps) (schedule.Runner, error) {
		return schedule.RunnerFunc(func(context.Context, schedule.Cycle) (any, error) {
			cycles <- struct{}{}
			return nil, nil
		}), nil
	}
	s := serve(t, cfg, counting)
	waitFor(t, 20*time.Second, "ready", func() bool { c, _ := get(t, s, "/readyz"); return c == 200 })

	restarted := make(chan error, 1)
	go func() { restarted <- srv.Restart(ctx, 4*time.Second) }()
	waitFor(t, 15*time.Second, "readyz 503 while the database is down", func() bool {
		c, body := get(t, s, "/readyz")
		return c == 503 && strings.Contains(body, "database unreachable")
	})
	if c, _ := get(t, s, "/healthz"); c != 200 {
		t.Errorf("healthz while the database is down: %d, want 200 (alive, not ready)", c)
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "readyz 200 once the database is back", func() bool { c, _ := get(t, s, "/readyz"); return c == 200 })
	for len(cycles) > 0 {
		<-cycles
	}
	select {
	case <-cycles:
	case <-time.After(30 * time.Second):
		t.Fatalf("no cycle ran after the database came back; log: %v", lastErrors(s))
	}
}
