package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/connectors/jira/jirasim"
	"github.com/covsync/covsync/internal/apikey"
	"github.com/covsync/covsync/internal/benchload"
	"github.com/covsync/covsync/internal/pgtest"
)

// BenchmarkIngestOverHTTP runs `covsync serve` as its own process (built from this package) with a Jira
// target on a simulator answering in 100 ms, and posts CTRF reports of 100, 10,000 and 100,000 tests to
// POST /v1/projects/shop/runs with a key from the key store. Per size it reports the ingest throughput
// (tests/s, the POST until its 201), the daemon's peak RSS during that POST (VmHWM of the serve process,
// reset before each), and the time from the POST to the first write Jira acknowledged with the target idle
// (ingest.sync_delay is the default 5 s; the bar is sync_delay + 2 s).
//
//	go test -run XXX -bench IngestOverHTTP -benchtime 1x ./cmd/covsync/
func BenchmarkIngestOverHTTP(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "covsync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	sim := jirasim.New(jirasim.Options{Email: "qa-bot@acme.example", Token: "bench-token", RequestsPerSecond: 100})
	sim.SetLatency(100 * time.Millisecond)
	sim.AddCovsyncFields()
	sim.AddProject("SHOP", "Shop")
	sim.AddIssues("SHOP", 50)
	var mu sync.Mutex
	var firstWrite time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		sim.ServeHTTP(rec, r)
		if r.Method == "PUT" && rec.status < 300 {
			mu.Lock()
			if firstWrite.IsZero() {
				firstWrite = time.Now()
			}
			mu.Unlock()
		}
	}))
	defer srv.Close()
	sim.SetBaseURL(srv.URL)

	dbURL := pgtest.URL(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "covsync.yaml")
	write(b, filepath.Join(dir, "jira_token"), "bench-token")
	write(b, cfg, fmt.Sprintf(`database: {url: %q, auto_migrate: true}
http: {listen: %s, max_body_bytes: 104857600, request_timeout: 5m, key_burst: 1000}
log: {level: warn}
jira:
  - name: acme
    url: %s
    auth: {type: basic, email: qa-bot@acme.example, token_file: jira_token}
    requests_per_second: 100
    fields: {coverage_percent: Test Coverage, coverage_summary: Test Coverage Summary, test_status: Test Status, last_run_url: Last Test Run}
projects:
  - id: shop
    jira: {target: acme, project_key: SHOP}
`, dbURL, addr, srv.URL))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serve := exec.CommandContext(ctx, bin, "serve", "--config", cfg)
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); _ = serve.Wait() }()
	waitHTTP(b, "http://"+addr+"/readyz", 60*time.Second)
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	key, _, err := apikey.NewStore(pool).Create(ctx, "shop", "bench")
	if err != nil {
		b.Fatal(err)
	}
	idle := func() { // the start-up cycle and any earlier one have finished writing
		for n, last := -1, time.Now(); ; time.Sleep(500 * time.Millisecond) {
			if c := len(sim.Requests()); c != n {
				n, last = c, time.Now()
			} else if time.Since(last) > 3*time.Second {
				return
			}
		}
	}

	for i, n := range []int{100, 10_000, 100_000} {
		b.Run(fmt.Sprintf("tests=%d", n), func(b *testing.B) {
			var body bytes.Buffer
			if err := benchload.WriteCTRF(&body, "SHOP", 50, n, strconv.Itoa(i)); err != nil {
				b.Fatal(err)
			}
			idle()
			mu.Lock()
			firstWrite = time.Time{}
			mu.Unlock()
			resetPeak(b, serve.Process.Pid)
			b.ResetTimer()
			began := time.Now()
			req, _ := http.NewRequest("POST", "http://"+addr+"/v1/projects/shop/runs", &body)
			req.Header.Set("X-API-KEY", key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			stored := time.Since(began)
			b.StopTimer()
			if resp.StatusCode != 201 {
				b.Fatalf("POST: %d %s", resp.StatusCode, out)
			}
			peak := peakMB(b, serve.Process.Pid)
			deadline := time.Now().Add(60 * time.Second)
			for {
				mu.Lock()
				fw := firstWrite
				mu.Unlock()
				if !fw.IsZero() {
					b.ReportMetric(fw.Sub(began).Seconds(), "s-POST-to-first-write")
					b.ReportMetric(fw.Sub(began.Add(stored)).Seconds(), "s-201-to-first-write")
					break
				}
				if time.Now().After(deadline) {
					b.Fatal("no Jira write within 60 s of the POST")
				}
				time.Sleep(20 * time.Millisecond)
			}
			b.ReportMetric(float64(n)/stored.Seconds(), "tests/s")
			b.ReportMetric(peak, "daemon-peak-RSS-MB")
			b.ReportMetric(float64(body.Cap())/(1<<20), "body-MB")
		})
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }
func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.ResponseWriter.Write(p)
}

func waitHTTP(b *testing.B, url string, within time.Duration) {
	deadline := time.Now().Add(within)
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s not 200 within %v", url, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// resetPeak starts a new VmHWM for pid ("5" to clear_refs, Linux ≥ 4.0).
func resetPeak(b *testing.B, pid int) {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS (%v): the figure is the peak since the daemon started", err)
	}
}

func peakMB(b *testing.B, pid int) float64 {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM")
	return 0
}
