package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/internal/benchload"
	"github.com/covsync/covsync/internal/daemon"
	"github.com/covsync/covsync/internal/syncbuf"
	"github.com/covsync/covsync/internal/testwait"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/schedule"
)

// cycleRow is one finished row of covsync.cycles.
type cycleRow struct {
	id             int64
	target         string
	pushed, failed int
	err            *string
}

// TestReliabilityACredentialRotatedViaSIGHUPMidRunLandsEverything runs the daemon as `covsync serve` does
// (daemon.Run with serve's runner, the redacting logger and a real SIGHUP) against the Jira simulator. The
// site rotates its API token while the daemon runs: the next cycle of each Jira target fails as a whole on the
// 401 and records nothing as pushed; once the token file holds the new token and the process gets SIGHUP,
// the next cycles land everything.
func TestReliabilityACredentialRotatedViaSIGHUPMidRunLandsEverything(t *testing.T) {
	const (
		tokenA   = "bench-jira-token"         // what the bench's token file holds
		tokenB   = "rotated-jira-secret-b7d1" // shares no text with A, so masking one cannot hide the other
		apiKey   = "rotation-scenario-api-key"
		deadline = 120 * time.Second // generous: CI is a slow, shared 2-core machine
	)
	s := newScenario(t, false, nil)
	ctx := context.Background()
	kinds := []string{push.TargetJira, push.TargetLinkedRuns}
	jiraTarget, linkedTarget := "jira:bench-jira/"+s.env.workload.Prefix, "linked-runs:bench-jira/"+s.env.workload.Prefix

	// The daemon's config is the scenario's (token files beside it, 0600) plus schedules and the endpoint.
	raw, err := os.ReadFile(s.env.configPath)
	if err != nil {
		t.Fatal(err)
	}
	port := testwait.ClosedPort(t)
	keyHash := sha256.Sum256([]byte(apiKey))
	cfgPath := filepath.Join(s.env.dir, "serve.yaml")
	serveCfg := string(raw) + fmt.Sprintf(`schedules: {jira: "@every 1h", linked_runs: "@every 1h"}
http: {listen: "127.0.0.1:%d", resync_api_key_sha256: [%q]}
`, port, hex.EncodeToString(keyHash[:]))
	if err := os.WriteFile(cfgPath, []byte(serveCfg), 0o600); err != nil {
		t.Fatal(err)
	}

	// A real SIGHUP, delivered to this process, reaches the daemon as serve's own signal.Notify would.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	daemonLog := &syncbuf.Buffer{}
	dctx, cancel := context.WithCancel(ctx)
	exited := make(chan error, 1)
	go func() {
		exited <- daemon.Run(dctx, daemon.Options{
			ConfigPath: cfgPath,
			NewLogger:  func(c *config.Config) *logrus.Logger { return app.NewLogger(daemonLog, c) },
			Reload:     hup,
			Scheduler:  schedule.Options{TestOnly: true, FetchPollInterval: 100 * time.Millisecond},
		})
	}()
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			cancel()
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("daemon: %v", err)
				}
			case <-time.After(deadline):
				t.Errorf("daemon did not stop within %v", deadline)
			}
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", daemonLog.String())
		}
	})
	t.Cleanup(stop) // before the scenario's simulators and database go (cleanups run last first)

	lastID := func() int64 {
		var id int64
		if err := s.env.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM covsync.cycles`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	// finished waits until each of the two Jira targets has a cycle after id that has finished, and returns
	// the first such cycle of each.
	finished := func(after int64, what string) map[string]cycleRow {
		t.Helper()
		got := map[string]cycleRow{}
		testwait.Until(t, deadline, what, func() bool {
			rows, err := s.env.pool.Query(ctx, `SELECT id, target, pushed, failed, error FROM covsync.cycles
				WHERE id > $1 AND finished_at IS NOT NULL ORDER BY id`, after)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var c cycleRow
				if err := rows.Scan(&c.id, &c.target, &c.pushed, &c.failed, &c.err); err != nil {
					t.Fatal(err)
				}
				if _, seen := got[c.target]; !seen {
					got[c.target] = c
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return len(got) == 2
		})
		return got
	}
	resync := func() {
		t.Helper()
		// A cycle's row is finished just before River marks its job done; until then a resync would be a
		// duplicate of that job and run nothing new.
		testwait.Until(t, deadline, "the previous cycles' jobs to finalize", func() bool {
			var open int
			if err := s.env.pool.QueryRow(ctx, `SELECT count(*) FROM covsync.river_job
				WHERE state IN ('available', 'pending', 'running', 'scheduled')`).Scan(&open); err != nil {
				t.Fatal(err)
			}
			return open == 0
		})
		body := fmt.Sprintf(`{"projects": [%q], "targets": ["jira", "linked-runs"]}`, s.env.workload.Project)
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/v1/resync", port), strings.NewReader(body))
		req.Header.Set("X-API-KEY", apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Jobs []schedule.Enqueued `json:"jobs"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted || len(out.Jobs) != 2 {
			t.Fatalf("resync API: %d, %+v, %v; want 202 and two jobs", resp.StatusCode, out, err)
		}
		for _, j := range out.Jobs {
			if j.Duplicate {
				t.Fatalf("resync API: %+v is a duplicate of a job still open; want a new cycle", j)
			}
		}
	}

	// 1. Token A: the start-up cycles (RunOnStart) land everything.
	for target, c := range finished(0, "the start-up cycles of both Jira targets") {
		if c.err != nil || c.failed != 0 || c.pushed == 0 {
			t.Fatalf("start-up cycle of %s: pushed %d, failed %d, error %v; want a clean cycle that pushed", target, c.pushed, c.failed, deref(c.err))
		}
	}

	// 2. Stories change, and the site rotates its token: A now gets 401.
	for story := 1; story <= 3; story++ {
		if err := benchload.ChangeStory(ctx, s.env.pool, "covsync_source", s.env.workload, story); err != nil {
			t.Fatal(err)
		}
	}
	var rotatedAt time.Time
	if err := s.env.pool.QueryRow(ctx, `SELECT now()`).Scan(&rotatedAt); err != nil {
		t.Fatal(err)
	}
	s.env.jira.SetCredentials(benchEmail, tokenB)
	seen := len(s.env.jira.Requests())
	before := lastID()
	resync()
	for target, c := range finished(before, "the cycles after the rotation") {
		if c.err == nil || !strings.Contains(*c.err, "401") || c.pushed != 0 {
			t.Errorf("cycle of %s after the rotation: pushed %d, error %v; want a cycle failed on the 401 that pushed nothing", target, c.pushed, deref(c.err))
		}
	}
	after := s.env.jira.Requests()[seen:]
	if len(after) == 0 {
		t.Fatal("no request reached the site after the rotation: the 401 proves nothing")
	}
	for _, r := range after {
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s %s after the rotation answered %d, want 401 (the site accepted the revoked token)", r.Method, r.Path, r.Status)
		}
	}
	var pushedSince int
	if err := s.env.pool.QueryRow(ctx, `SELECT count(*) FROM covsync.ledger WHERE target = ANY($1) AND pushed_at >= $2`,
		[]string{jiraTarget, linkedTarget}, rotatedAt).Scan(&pushedSince); err != nil {
		t.Fatal(err)
	}
	if pushedSince != 0 {
		t.Errorf("the ledger records %d items pushed after the rotation; the site acknowledged none", pushedSince)
	}
	s.checkAckedWereWritten()

	// 3. The operator writes token B into the token file and sends SIGHUP: the next cycles land everything.
	reloads := strings.Count(daemonLog.String(), "config reloaded")
	if err := os.WriteFile(filepath.Join(s.env.dir, "jira_token"), []byte(tokenB), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, deadline, "the daemon to reload on SIGHUP", func() bool {
		return strings.Count(daemonLog.String(), "config reloaded") > reloads
	})
	before = lastID()
	resync()
	reloaded := finished(before, "the cycles after the reload")
	for target, c := range reloaded {
		if c.err != nil || c.failed != 0 {
			t.Errorf("cycle of %s after the reload: pushed %d, failed %d, error %v; want a clean cycle", target, c.pushed, c.failed, deref(c.err))
		}
	}
	if c := reloaded[jiraTarget]; c.pushed < 3 {
		t.Errorf("the Jira cycle after the reload pushed %d items, want at least the 3 changed stories", c.pushed)
	}
	stop()

	// Target state = desired state, and the ledger is true (a dry run with token B finds nothing to push).
	if err := s.b.loadRunner(); err != nil {
		t.Fatal(err)
	}
	s.verify(kinds...)
	s.checkAckedWereWritten()

	// Neither token in any log line; the log shows the failure and the reload, so the check is not vacuous.
	out := daemonLog.String() + s.log.String()
	if !strings.Contains(out, "401") || !strings.Contains(out, "config reloaded") {
		t.Fatalf("the daemon's log shows neither the 401 nor the reload: the secret check would prove nothing\n%.3000s", out)
	}
	for _, secret := range []string{tokenA, tokenB} {
		if i := strings.Index(out, secret); i >= 0 {
			t.Errorf("token %q in the log: …%s…", secret, out[max(0, i-200):min(len(out), i+100)])
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
