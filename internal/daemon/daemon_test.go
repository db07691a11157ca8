package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/internal/metrics"
	"github.com/covsync/covsync/internal/pgtest"
	"github.com/covsync/covsync/sync/schedule"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func keyHash(k string) string { s := sha256.Sum256([]byte(k)); return hex.EncodeToString(s[:]) }

// writeConfig writes a config for two projects on dbURL; extra is appended YAML (schedules, http keys …).
func writeConfig(t *testing.T, path, dbURL, schedules, keyHashes string) {
	t.Helper()
	t.Setenv("COVSYNC_TEST_TOKEN", "t0ken-never-logged")
	y := fmt.Sprintf(`database:
  url: %q
  auto_migrate: true
  migrate_source: false
http:
  listen: 127.0.0.1:0
  resync_api_key_sha256: [%s]
log: {level: debug}
schedules:
%s
workers:
  queues: {jira: 2}
  shutdown_timeout: 1s
jira:
  - name: acme
    url: http://127.0.0.1:1
    auth: {type: bearer, token_env: COVSYNC_TEST_TOKEN}
    fields: {coverage_percent: Test Coverage}
ado:
  - name: acme-ado
    organization_url: http://127.0.0.1:1/acme
    auth: {type: pat, token_env: COVSYNC_TEST_TOKEN}
    extension: {publisher: acme, id: story-coverage, collection: coverage}
confluence:
  - name: wiki
    url: http://127.0.0.1:1/wiki
    auth: {type: bearer, token_env: COVSYNC_TEST_TOKEN}
projects:
  - id: shop
    jira: {target: acme, project_key: SHOP}
    confluence: {target: wiki, space: QA, parent_page_id: "1"}
  - id: bank
    ado: {target: acme-ado, project: Bank}
`, dbURL, keyHashes, schedules)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fakeTarget stands in for the engine until its cycle runner lands: each cycle "pushes" items one by one,
// each push taking a while, and records every acknowledged push in a table, skipping items a previous cycle
// already recorded (the ledger's rule). It fails the test if an item is pushed while it is in flight.
type fakeTarget struct {
	t     *testing.T
	pool  *pgxpool.Pool
	items int
	push  time.Duration

	mu       sync.Mutex
	inFlight map[string]bool
	cycles   []string
}

func newFakeTarget(t *testing.T, pool *pgxpool.Pool, items int, push time.Duration) *fakeTarget {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `CREATE TABLE IF NOT EXISTS public.pushed (
		item text NOT NULL, cycle text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`); err != nil {
		t.Fatal(err)
	}
	return &fakeTarget{t: t, pool: pool, items: items, push: push, inFlight: map[string]bool{}}
}

func (f *fakeTarget) newRunner(_ context.Context, d RunnerDeps) (schedule.Runner, error) {
	m := d.Metrics
	return schedule.RunnerFunc(func(ctx context.Context, c schedule.Cycle) (any, error) {
		key := c.Project + "/" + c.Kind
		f.mu.Lock()
		f.cycles = append(f.cycles, key+" "+c.Trigger)
		f.mu.Unlock()
		pushed := 0
		for i := 0; i < f.items; i++ {
			item := fmt.Sprintf("%s#%d", key, i)
			var done bool
			if err := f.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM public.pushed WHERE item = $1)", item).Scan(&done); err != nil {
				return nil, err
			}
			if done && !c.Force {
				m.ItemDone(key, metrics.OutcomeUnchanged, 0)
				continue
			}
			f.mu.Lock()
			if f.inFlight[item] {
				f.t.Errorf("%s pushed twice at once", item)
			}
			f.inFlight[item] = true
			f.mu.Unlock()
			began := time.Now()
			select {
			case <-time.After(f.push):
			case <-ctx.Done():
				f.mu.Lock()
				delete(f.inFlight, item)
				f.mu.Unlock()
				return map[string]int{"pushed": pushed}, ctx.Err()
			}
			_, err := f.pool.Exec(context.WithoutCancel(ctx), "INSERT INTO public.pushed (item, cycle) VALUES ($1, $2)", item, c.Trigger)
			f.mu.Lock()
			delete(f.inFlight, item)
			f.mu.Unlock()
			if err != nil {
				return nil, err
			}
			pushed++
			m.ItemDone(key, metrics.OutcomePushed, time.Since(began))
		}
		return map[string]int{"pushed": pushed}, nil
	}), nil
}

type serving struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
	hup    chan os.Signal
	logs   *logtest.Hook
	client *http.Client // nil: http.DefaultClient
	https  bool
}

func serve(t *testing.T, cfgPath string, newRunner NewRunnerFunc) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{cancel: cancel, done: make(chan error, 1), hup: make(chan os.Signal, 1)}
	addr := make(chan string, 1)
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	s.logs = hook
	go func() {
		s.done <- Run(ctx, Options{
			ConfigPath: cfgPath,
			NewLogger:  func(*config.Config) *logrus.Logger { return logger },
			NewRunner:  newRunner,
			Reload:     s.hup,
			OnListen:   func(a string) { addr <- a },
			Scheduler:  schedule.Options{TestOnly: true, FetchPollInterval: 100 * time.Millisecond, RetryBackoff: 100 * time.Millisecond},
			DBRetryMin: 100 * time.Millisecond, DBRetryMax: 300 * time.Millisecond,
		})
	}()
	select {
	case s.addr = <-addr:
	case err := <-s.done:
		t.Fatalf("serve ended at start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not listen")
	}
	t.Cleanup(func() { s.stop(t, 30*time.Second) })
	return s
}

// stop cancels (SIGTERM) and returns how long Run took to return; it fails unless Run returned nil.
func (s *serving) stop(t *testing.T, within time.Duration) time.Duration {
	t.Helper()
	if s.done == nil {
		return 0
	}
	began := time.Now()
	s.cancel()
	select {
	case err := <-s.done:
		s.done = nil
		if err != nil {
			t.Errorf("serve returned %v after stop, want nil (exit 0)", err)
		}
	case <-time.After(within):
		t.Fatalf("serve did not stop within %v", within)
	}
	return time.Since(began)
}

func get(t *testing.T, s *serving, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func postResync(t *testing.T, s *serving, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+s.addr+"/v1/resync", strings.NewReader(body))
	if key != "" {
		req.Header.Set("X-API-KEY", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countPushed(t *testing.T, pool *pgxpool.Pool, where string) (rows, distinct int) {
	t.Helper()
	if err := pool.QueryRow(context.Background(), "SELECT count(*), count(DISTINCT item) FROM public.pushed WHERE "+where).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

func TestNotReadyUntilTheDatabaseExistsThenMigratesAndServes(t *testing.T) {
	base := pgtest.URL(t)
	u, _ := url.Parse(base)
	late := strings.TrimPrefix(u.Path, "/") + "_late"
	u.Path = "/" + late
	cfg := filepath.Join(t.TempDir(), "covsync.yaml")
	writeConfig(t, cfg, u.String(), `  jira: "@every 1h"`, "")
	admin, err := pgx.Connect(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{late}.Sanitize()+" WITH (FORCE)")
	})

	idle := func(context.Context, RunnerDeps) (schedule.Runner, error) {
		return schedule.RunnerFunc(func(context.Context, schedule.Cycle) (any, error) { return nil, nil }), nil
	}
	s := serve(t, cfg, idle)
	waitFor(t, 10*time.Second, "readyz saying the database is unreachable", func() bool {
		code, body := get(t, s, "/readyz")
		if code != 503 {
			t.Fatalf("readyz with no database: %d %s", code, body)
		}
		return strings.Contains(body, "database unreachable")
	})
	if code, _ := get(t, s, "/healthz"); code != 200 {
		t.Fatalf("healthz with no database: %d, want 200 (the process is alive)", code)
	}
	if _, err := admin.Exec(context.Background(), "CREATE DATABASE "+pgx.Identifier{late}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "readyz once the database exists", func() bool { c, _ := get(t, s, "/readyz"); return c == 200 })
	if d := s.stop(t, 10*time.Second); d > 5*time.Second {
		t.Errorf("idle stop took %v", d)
	}
}

// migratedDB returns a database URL with covsync's and River's migrations applied, and a pool on it.
func migratedDB(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.Pool(t)
	u := pool.Config().ConnString()
	off := false
	if err := Migrate(context.Background(), pool, &config.Config{Database: config.Database{MigrateSource: &off}}); err != nil {
		t.Fatal(err)
	}
	return u, pool
}

func TestTwoServesOnOneDatabaseRunEachCycleOnceAtATime(t *testing.T) {
	dbURL, pool := migratedDB(t)
	cfg := filepath.Join(t.TempDir(), "covsync.yaml")
	writeConfig(t, cfg, dbURL, "  jira: \"@every 1s\"\n  confluence: \"@every 1s\"\n  ado: \"@every 1s\"", fmt.Sprintf("%q", keyHash("k")))
	// Every cycle outlasts the tick: the next tick must find it running on one replica and be skipped on both.
	f := newFakeTarget(t, pool, 6, 250*time.Millisecond)
	a := serve(t, cfg, f.newRunner)
	b := serve(t, cfg, f.newRunner)
	began := time.Now()
	time.Sleep(6 * time.Second)
	// A loaded machine may start the replicas late: wait for the 6 cycles rather than assume 6 s suffice.
	waitFor(t, time.Minute, "6 cycles", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.cycles) >= 6 })
	elapsed := time.Since(began)
	a.stop(t, 20*time.Second)
	b.stop(t, 20*time.Second)

	var overlaps int
	err := pool.QueryRow(context.Background(), `
		WITH c AS (
			SELECT id, args->>'project' || '/' || (args->>'target') AS key, attempted_at AS s, finalized_at AS e
			FROM covsync.river_job WHERE finalized_at IS NOT NULL)
		SELECT count(*) FROM c x JOIN c y ON x.key = y.key AND x.id < y.id AND x.s < y.e AND y.s < x.e`).Scan(&overlaps)
	if err != nil {
		t.Fatal(err)
	}
	if overlaps != 0 {
		t.Errorf("%d pairs of cycles of one (project, target) overlapped in time", overlaps)
	}
	var clients, jobs int
	if err := pool.QueryRow(context.Background(), `SELECT count(DISTINCT attempted_by[1]), count(*) FROM covsync.river_job`).Scan(&clients, &jobs); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// 3 cycles a second for ~6 s, each 1.5 s long: far fewer ran than were ticked, all of them alone.
	if ticks := 3 * (int(elapsed/time.Second) + 2); len(f.cycles) < 6 || jobs > ticks {
		t.Errorf("%d cycles ran as %d jobs in %v; want at least 6 and at most one per tick (%d)", len(f.cycles), jobs, elapsed, ticks)
	}
	t.Logf("%d jobs on %d replicas", jobs, clients)
}

func TestResyncDuringServeNeverPushesAnItemTwiceAtOnce(t *testing.T) {
	dbURL, pool := migratedDB(t)
	cfg := filepath.Join(t.TempDir(), "covsync.yaml")
	writeConfig(t, cfg, dbURL, "  jira: \"@every 1s\"", fmt.Sprintf("%q", keyHash("s3cret")))
	f := newFakeTarget(t, pool, 5, 200*time.Millisecond)
	s := serve(t, cfg, f.newRunner)
	// The start-up cycle is pushing; a forced resync of the same target arrives now, and again while queued.
	waitFor(t, 10*time.Second, "the first scheduled push", func() bool { r, _ := countPushed(t, pool, "true"); return r > 0 })

	if code, _ := postResync(t, s, "", `{}`); code != 401 {
		t.Errorf("resync without a key: %d", code)
	}
	if code, _ := postResync(t, s, "wrong", `{}`); code != 401 {
		t.Errorf("resync with a wrong key: %d", code)
	}
	code, body := postResync(t, s, "s3cret", `{"projects":["shop"],"targets":["jira"],"force":true}`)
	if code != 202 {
		t.Fatalf("resync: %d %s", code, body)
	}
	var resp struct {
		Jobs []schedule.Enqueued `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || len(resp.Jobs) != 1 || resp.Jobs[0].JobID == 0 {
		t.Fatalf("resync answer %s (%v)", body, err)
	}
	if code, body := postResync(t, s, "s3cret", `{"projects":["nope"]}`); code != 400 || !strings.Contains(body, "nope") {
		t.Errorf("resync of an unknown project: %d %s", code, body)
	}
	// The API's job is the running scheduled cycle (duplicate) or a job of its own; either way it finishes
	// and the forced push reaches every item.
	waitFor(t, 20*time.Second, "the resync job", func() bool {
		var st string
		_ = pool.QueryRow(context.Background(), "SELECT state FROM covsync.river_job WHERE id = $1", resp.Jobs[0].JobID).Scan(&st)
		return st == "completed"
	})
	s.stop(t, 20*time.Second)
	if resp, err := http.Get("http://" + s.addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("endpoint still up after stop: %s", resp.Status)
	}
}

func TestStopMidCycleExitsCleanlyAndTheNextStartLosesNothing(t *testing.T) {
	dbURL, pool := migratedDB(t)
	cfg := filepath.Join(t.TempDir(), "covsync.yaml")
	writeConfig(t, cfg, dbURL, "  ado: \"@every 1h\"", "")
	// 30 items of 200 ms: 6 s of pushing; SIGTERM after ~1 s, with a 1 s shutdown deadline.
	f := newFakeTarget(t, pool, 30, 200*time.Millisecond)
	s := serve(t, cfg, f.newRunner)
	waitFor(t, 10*time.Second, "pushes under way", func() bool { r, _ := countPushed(t, pool, "true"); return r >= 3 })
	took := s.stop(t, 15*time.Second)
	if took > 1*time.Second+3*time.Second {
		t.Errorf("stop took %v with a 1s shutdown deadline", took)
	}
	before, _ := countPushed(t, pool, "true")
	if before >= 30 {
		t.Fatalf("the cycle finished before the stop (%d pushed); the test proves nothing", before)
	}

	s2 := serve(t, cfg, f.newRunner)
	waitFor(t, 30*time.Second, "every item pushed after the restart", func() bool { _, d := countPushed(t, pool, "true"); return d == 30 })
	s2.stop(t, 15*time.Second)
	rows, distinct := countPushed(t, pool, "true")
	if rows != distinct {
		t.Errorf("%d pushes for %d items: some item was pushed twice", rows, distinct)
	}
	t.Logf("%d items pushed before the stop (in %v), the rest after the restart", before, took)
}

// sdSocket listens where systemd would (NOTIFY_SOCKET) and collects what the daemon sends.
type sdSocket struct {
	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T) *sdSocket {
	t.Helper()
	dir, err := os.MkdirTemp("", "sd") // short: a socket path has ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", fmt.Sprint(os.Getpid()))
	s := &sdSocket{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *sdSocket) saw(prefix string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

func logged(h *logtest.Hook, msg string) bool {
	for _, e := range h.AllEntries() {
		if strings.Contains(e.Message, msg) {
			return true
		}
	}
	return false
}

func TestSIGHUPSwapsKeysAndKeepsTheOldConfigWhenTheNewOneIsBroken(t *testing.T) {
	sd := listenNotify(t)
	dbURL, pool := migratedDB(t)
	cfg := filepath.Join(t.TempDir(), "covsync.yaml")
	writeConfig(t, cfg, dbURL, "  confluence: \"@every 1h\"", fmt.Sprintf("%q", keyHash("k3y-first-8f2a")))
	f := newFakeTarget(t, pool, 1, time.Millisecond)
	s := serve(t, cfg, f.newRunner)
	waitFor(t, 10*time.Second, "READY=1", func() bool { return sd.saw("READY=1") })
	waitFor(t, 5*time.Second, "WATCHDOG=1", func() bool { return sd.saw("WATCHDOG=1") })
	if code, body := postResync(t, s, "k3y-first-8f2a", `{"targets":["confluence"]}`); code != 202 {
		t.Fatalf("first key: %d %s", code, body)
	}

	// Rotate the key and add a schedule.
	writeConfig(t, cfg, dbURL, "  confluence: \"@every 1h\"\n  ado: \"@every 1h\"", fmt.Sprintf("%q", keyHash("k3y-second-91bc")))
	s.hup <- os.Interrupt // any value: the channel is SIGHUP's
	waitFor(t, 10*time.Second, "reload", func() bool { return logged(s.logs, "config reloaded") })
	if !sd.saw("RELOADING=1\nMONOTONIC_USEC=") {
		t.Error("no RELOADING=1 with MONOTONIC_USEC sent")
	}
	if code, _ := postResync(t, s, "k3y-first-8f2a", `{}`); code != 401 {
		t.Errorf("the rotated-out key: %d, want 401", code)
	}
	if code, body := postResync(t, s, "k3y-second-91bc", `{"targets":["ado"]}`); code != 202 || !strings.Contains(body, `"bank"`) {
		t.Errorf("the new key and the new schedule's target: %d %s", code, body)
	}

	// A broken config is refused whole: the second key still works.
	if err := os.WriteFile(cfg, []byte("database: {url: x}\nnonsense: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.hup <- os.Interrupt
	waitFor(t, 10*time.Second, "reload refused", func() bool { return logged(s.logs, "reload refused") })
	if code, _ := postResync(t, s, "k3y-second-91bc", `{}`); code != 202 {
		t.Errorf("after a refused reload the running key: %d, want 202", code)
	}
	if code, _ := get(t, s, "/readyz"); code != 200 {
		t.Errorf("readyz after a refused reload: %d", code)
	}
	code, body := get(t, s, "/metrics")
	if code != 200 || !strings.Contains(body, `covsync_items_total{outcome="pushed",target="shop/confluence"}`) {
		t.Errorf("/metrics lacks the cycles' pushes: %d", code)
	}
	s.stop(t, 20*time.Second)
	if !sd.saw("STOPPING=1") {
		t.Error("no STOPPING=1 sent")
	}
	for _, e := range s.logs.AllEntries() {
		if line, _ := e.String(); strings.Contains(line, "k3y-first-8f2a") || strings.Contains(line, "k3y-second-91bc") {
			t.Errorf("a log line holds a resync key: %s", line)
		}
	}
}
