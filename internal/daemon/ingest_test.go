package daemon

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/internal/apikey"
	"github.com/covsync/covsync/internal/benchload"
	"github.com/covsync/covsync/internal/pgtest"
	"github.com/covsync/covsync/sync/schedule"
)

// writeIngestConfig writes writeConfig's config with the source schema migrated by the daemon, for the
// ingest endpoint's tests; http is the http section's extra keys, ingest the ingest section.
func writeIngestConfig(t *testing.T, dbURL, http, ingest string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "covsync.yaml")
	writeConfig(t, path, dbURL, "", "")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(string(b), "  migrate_source: false\n", "", 1)
	y = strings.Replace(y, "  resync_api_key_sha256: []\n", "  resync_api_key_sha256: []\n"+http+"\ningest:\n"+ingest+"\n", 1)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cycleLog is a runner that records every cycle it runs (project/kind trigger, start time) and fails the
// test when two cycles of one (project, kind) run at once. hold, when set, blocks the cycles it returns
// true for until release is closed.
type cycleLog struct {
	t       *testing.T
	mu      sync.Mutex
	cycles  []string
	starts  []time.Time
	running map[string]bool
	hold    func(c schedule.Cycle, n int) bool
	release chan struct{}
}

func newCycleLog(t *testing.T) *cycleLog {
	return &cycleLog{t: t, running: map[string]bool{}, release: make(chan struct{})}
}

func (l *cycleLog) newRunner(context.Context, RunnerDeps) (schedule.Runner, error) {
	return schedule.RunnerFunc(func(ctx context.Context, c schedule.Cycle) (any, error) {
		key := c.Project + "/" + c.Kind
		l.mu.Lock()
		if l.running[key] {
			l.t.Errorf("two cycles of %s at once", key)
		}
		l.running[key] = true
		l.cycles = append(l.cycles, key+" "+c.Trigger)
		l.starts = append(l.starts, time.Now())
		hold := l.hold != nil && l.hold(c, len(l.cycles))
		l.mu.Unlock()
		if hold {
			select {
			case <-l.release:
			case <-ctx.Done():
			}
		} else {
			time.Sleep(50 * time.Millisecond)
		}
		l.mu.Lock()
		delete(l.running, key)
		l.mu.Unlock()
		return nil, nil
	}), nil
}

func (l *cycleLog) count(entry string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.cycles {
		if c == entry {
			n++
		}
	}
	return n
}

// report is a CTRF report of n tests linked to SHOP stories; id makes it a distinct run.
func report(t testing.TB, n int, id string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := benchload.WriteCTRF(&b, "SHOP", 5, n, id); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

type post struct {
	path, key, encoding string
	body                []byte
}

func (s *serving) post(t testing.TB, p post) (int, http.Header, string) {
	t.Helper()
	scheme := "http://"
	client := s.client
	if client == nil {
		client = http.DefaultClient
	}
	if s.https {
		scheme = "https://"
	}
	req, _ := http.NewRequest("POST", scheme+s.addr+p.path, bytes.NewReader(p.body))
	if p.key != "" {
		req.Header.Set("X-API-KEY", p.key)
	}
	if p.encoding != "" {
		req.Header.Set("Content-Encoding", p.encoding)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func mustKey(t testing.TB, pool *pgxpool.Pool, project string) string {
	t.Helper()
	key, _, err := apikey.NewStore(pool).Create(context.Background(), project, "ci")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func countRows(t testing.TB, pool *pgxpool.Pool, q string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// ingestServing starts a daemon on a fresh database with cycles recorded by log; it returns the serving
// daemon and a pool on the database once the daemon is ready (migrations applied).
func ingestServing(t *testing.T, http, ingest string, log *cycleLog) (*serving, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.Pool(t)
	dbURL := pool.Config().ConnString()
	s := serve(t, writeIngestConfig(t, dbURL, http, ingest), log.newRunner)
	waitFor(t, 30*time.Second, "ready", func() bool { c, _ := get(t, s, "/readyz"); return c == 200 })
	return s, pool
}

func TestIngestAnswersEveryStatusOfTheContract(t *testing.T) {
	log := newCycleLog(t)
	s, pool := ingestServing(t, "  max_body_bytes: 200000\n  key_burst: 100", "  sync_delay: 1h", log)
	shop, bank := mustKey(t, pool, "shop"), mustKey(t, pool, "bank")
	revoked := mustKey(t, pool, "shop")
	if _, err := apikey.NewStore(pool).Revoke(context.Background(), apikey.DisplayPrefix(revoked)); err != nil {
		t.Fatal(err)
	}
	// Same display prefix as shop's key, another secret: the hash decides, not the prefix.
	forged := shop[:apikey.PrefixLen] + strings.Repeat("a", len(shop)-apikey.PrefixLen)
	good := report(t, 10, "r1")
	bad := bytes.Replace(report(t, 3, "r2"), []byte(`"status":"passed"`), []byte(`"status":"green"`), 1)
	bomb := gzipped(t, bytes.Repeat([]byte(" "), 10<<20)) // 10 MiB of spaces in ~10 KB
	big := report(t, 3000, "big")                         // ~300 KB: past the limit

	var run1 string
	for _, tc := range []struct {
		name     string
		p        post
		code     int
		body     string
		stored   int // runs of shop after the request
		coverage int // coverage rows after the request
	}{
		{"no key is 401", post{path: "/v1/projects/shop/runs", body: good}, 401, `"error"`, 0, 0},
		{"an unknown key is 401", post{path: "/v1/projects/shop/runs", key: "csk_" + strings.Repeat("b", 52), body: good}, 401, `"error"`, 0, 0},
		{"a key with a known prefix and another secret is 401", post{path: "/v1/projects/shop/runs", key: forged, body: good}, 401, `"error"`, 0, 0},
		{"a revoked key is 401", post{path: "/v1/projects/shop/runs", key: revoked, body: good}, 401, `"error"`, 0, 0},
		{"a key of another project is 403", post{path: "/v1/projects/shop/runs", key: bank, body: good}, 403, `not \"shop\"`, 0, 0},
		{"a refused report is 400 naming the path, nothing stored", post{path: "/v1/projects/shop/runs", key: shop, body: bad}, 400, `results.tests[0].status`, 0, 0},
		{"trailing data after the JSON is 400", post{path: "/v1/projects/shop/runs", key: shop, body: append(report(t, 2, "tr"), []byte(`{"x":1}`)...)}, 400, `"error"`, 0, 0},
		{"a body past max_body_bytes is 413", post{path: "/v1/projects/shop/runs", key: shop, body: big}, 413, `max_body_bytes`, 0, 0},
		{"a gzip bomb is 413", post{path: "/v1/projects/shop/runs", key: shop, body: bomb, encoding: "gzip"}, 413, `max_body_bytes`, 0, 0},
		{"a broken gzip body is 400", post{path: "/v1/projects/shop/runs", key: shop, body: []byte("not gzip"), encoding: "gzip"}, 400, `gzip`, 0, 0},
		{"an unknown encoding is 415", post{path: "/v1/projects/shop/runs", key: shop, body: good, encoding: "br"}, 415, `Content-Encoding`, 0, 0},
		{"a runUrl that is not http(s) is 400", post{path: "/v1/projects/shop/runs?runUrl=javascript:alert(1)", key: shop, body: good}, 400, `runUrl`, 0, 0},
		{"a report is 201", post{path: "/v1/projects/shop/runs?release=2.4.0&runUrl=https://ci.example/1", key: shop, body: good}, 201, `"tests":10,"stories":5`, 1, 0},
		{"the same report again is 200 alreadyIngested", post{path: "/v1/projects/shop/runs", key: shop, body: good}, 200, `"alreadyIngested":true`, 1, 0},
		{"a gzipped report is 201", post{path: "/v1/projects/shop/runs", key: shop, body: gzipped(t, report(t, 4, "gz")), encoding: "gzip"}, 201, `"tests":4`, 2, 0},
		{"coverage is 201", post{path: "/v1/projects/shop/coverage", key: shop, body: []byte(`{"project":"shop","measuredAt":"2026-11-20T08:00:00Z","stories":[{"ticket":"SHOP-1","coveredMethods":3,"totalMethods":4}]}`)}, 201, `"inserted":1`, 2, 1},
		{"the same coverage again is 200", post{path: "/v1/projects/shop/coverage", key: shop, body: []byte(`{"project":"shop","measuredAt":"2026-11-20T08:00:00Z","stories":[{"ticket":"SHOP-1","coveredMethods":3,"totalMethods":4}]}`)}, 200, `"alreadyIngested":true`, 2, 1},
		{"coverage of another project with this project's key is 403", post{path: "/v1/projects/shop/coverage", key: shop, body: []byte(`{"project":"bank","measuredAt":"2026-11-20T08:00:00Z","stories":[{"ticket":"BANK-1","coveredMethods":3,"totalMethods":4}]}`)}, 403, `"error"`, 2, 1},
		{"coverage with a bank key on shop is 403", post{path: "/v1/projects/shop/coverage", key: bank, body: []byte(`{"project":"shop","measuredAt":"2026-11-21T08:00:00Z","stories":[{"ticket":"SHOP-1","coveredMethods":3,"totalMethods":4}]}`)}, 403, `"error"`, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := s.post(t, tc.p)
			if code != tc.code || !strings.Contains(body, tc.body) {
				t.Errorf("got %d %s, want %d with %s", code, body, tc.code, tc.body)
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Errorf("body %q is not JSON: %v", body, err)
			}
			if code >= 400 && v["error"] == nil {
				t.Errorf("refusal %s without \"error\"", body)
			}
			if code == 201 && strings.HasSuffix(tc.p.path, "1") {
				run1, _ = v["run"].(string)
			}
			if code == 200 && v["run"] != nil && v["run"] != run1 {
				t.Errorf("alreadyIngested names run %v, the stored run is %s", v["run"], run1)
			}
			if n := countRows(t, pool, "SELECT count(*) FROM covsync_source.runs WHERE project_id = 'shop'"); n != tc.stored {
				t.Errorf("%d runs of shop stored, want %d", n, tc.stored)
			}
			if n := countRows(t, pool, "SELECT count(*) FROM covsync_source.story_coverage"); n != tc.coverage {
				t.Errorf("%d coverage rows stored, want %d", n, tc.coverage)
			}
		})
	}
	if n := countRows(t, pool, "SELECT count(*) FROM covsync_source.runs WHERE project_id <> 'shop'"); n != 0 {
		t.Errorf("%d runs stored outside shop: a key wrote another project", n)
	}
	var url, release string
	if err := pool.QueryRow(context.Background(), `SELECT r.url, rel.name FROM covsync_source.runs r
		JOIN covsync_source.releases rel ON rel.id = r.release_id WHERE r.id = $1::bigint`, run1).Scan(&url, &release); err != nil {
		t.Fatal(err)
	}
	if url != "https://ci.example/1" || release != "2.4.0" {
		t.Errorf("run stored with url %q release %q, want the query's", url, release)
	}
}

func TestIngestRateLimitsEachKeyWith429AndRetryAfter(t *testing.T) {
	log := newCycleLog(t)
	s, pool := ingestServing(t, "  key_requests_per_second: 0.2\n  key_burst: 3", "  sync_delay: 1h", log)
	busy, calm := mustKey(t, pool, "shop"), mustKey(t, pool, "shop")
	for i := range 3 {
		if code, _, body := s.post(t, post{path: "/v1/projects/shop/runs", key: busy, body: report(t, 1, fmt.Sprint(i))}); code != 201 {
			t.Fatalf("request %d within the burst: %d %s", i, code, body)
		}
	}
	code, h, body := s.post(t, post{path: "/v1/projects/shop/runs", key: busy, body: report(t, 1, "x")})
	if code != 429 || h.Get("Retry-After") == "" || !strings.Contains(body, `"error"`) {
		t.Fatalf("past the burst: %d Retry-After=%q %s, want 429 with Retry-After", code, h.Get("Retry-After"), body)
	}
	if ra := h.Get("Retry-After"); ra != "5" && ra != "4" {
		t.Errorf("Retry-After %s, want about 5 (one request per 5 s)", ra)
	}
	if code, _, body := s.post(t, post{path: "/v1/projects/shop/runs", key: calm, body: report(t, 1, "calm")}); code != 201 {
		t.Errorf("another key of the same project: %d %s, want 201 (the limit is per key)", code, body)
	}
}

func TestABurstOfReportsCostsOneCyclePerTargetAfterSyncDelay(t *testing.T) {
	log := newCycleLog(t)
	const delay = 5 * time.Second
	s, pool := ingestServing(t, "", "  sync_delay: 5s", log)
	key := mustKey(t, pool, "shop")
	// Let the start-up cycles (serve runs every cycle once at start) pass first.
	time.Sleep(500 * time.Millisecond)
	// A CI matrix: six jobs post at once.
	posted := time.Now()
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _, body := s.post(t, post{path: "/v1/projects/shop/runs", key: key, body: report(t, 5, fmt.Sprint(i))}); code != 201 {
				t.Errorf("report %d: %d %s", i, code, body)
			}
		}()
	}
	wg.Wait()
	if took := time.Since(posted); took >= delay {
		t.Fatalf("posting the burst took %v, longer than sync_delay: the machine is too busy for this test to mean anything", took)
	}
	waitFor(t, 30*time.Second, "one ingest cycle per target", func() bool {
		return log.count("shop/jira ingest") == 1 && log.count("shop/confluence ingest") == 1
	})
	log.mu.Lock()
	for i, c := range log.cycles {
		if strings.HasSuffix(c, " ingest") && log.starts[i].Sub(posted) < delay {
			t.Errorf("%s started %v after the first POST, before sync_delay (%v)", c, log.starts[i].Sub(posted), delay)
		}
	}
	log.mu.Unlock()
	time.Sleep(2 * time.Second)
	for _, c := range []string{"shop/jira ingest", "shop/confluence ingest"} {
		if n := log.count(c); n != 1 {
			t.Errorf("%d cycles %q for a burst of 6 reports, want 1", n, c)
		}
	}
	if n := log.count("bank/ado ingest"); n != 0 {
		t.Errorf("%d ingest cycles of bank, which got no report", n)
	}
}

func TestAReportStoredWhileItsCycleRunsGetsOneMoreCycle(t *testing.T) {
	log := newCycleLog(t)
	log.hold = func(c schedule.Cycle, _ int) bool { return c.Trigger == schedule.TriggerIngest && c.Kind == "jira" }
	s, pool := ingestServing(t, "", "  sync_delay: 200ms", log)
	key := mustKey(t, pool, "shop")
	if code, _, body := s.post(t, post{path: "/v1/projects/shop/runs", key: key, body: report(t, 5, "a")}); code != 201 {
		t.Fatalf("%d %s", code, body)
	}
	waitFor(t, 10*time.Second, "the first ingest cycle running", func() bool { return log.count("shop/jira ingest") == 1 })
	if code, _, body := s.post(t, post{path: "/v1/projects/shop/runs", key: key, body: report(t, 5, "b")}); code != 201 {
		t.Fatalf("%d %s", code, body)
	}
	time.Sleep(time.Second) // the second cycle is due, but must wait for the first
	if n := log.count("shop/jira ingest"); n != 1 {
		t.Fatalf("%d jira ingest cycles while the first holds, want 1 (never two at once)", n)
	}
	log.hold = nil
	close(log.release)
	waitFor(t, 15*time.Second, "one more cycle after the running one", func() bool { return log.count("shop/jira ingest") == 2 })
	time.Sleep(time.Second)
	if n := log.count("shop/jira ingest"); n != 2 {
		t.Errorf("%d jira ingest cycles, want 2", n)
	}
}
