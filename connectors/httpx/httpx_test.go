package httpx

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// fastOptions keep backoffs in milliseconds so retry tests take no real time.
func fastOptions() Options {
	return Options{Name: "test", RequestsPerSecond: 1000, BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond,
		Counters: &Counters{}}
}

// script serves the statuses in order, then 200 for every later request; it counts hits.
func script(t *testing.T, statuses ...int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(hits.Add(1))
		_, _ = io.Copy(io.Discard, r.Body)
		if n <= len(statuses) {
			w.WriteHeader(statuses[n-1])
			fmt.Fprintf(w, "attempt %d", n)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		header     string // Idempotency-Key value, if any
		optIn      bool
		statuses   []int
		wantStatus int
		wantHits   int32
	}{
		{name: "a GET answered 503 twice is retried until it succeeds", method: "GET", statuses: []int{503, 503}, wantStatus: 200, wantHits: 3},
		{name: "a PUT answered 502 is retried (PUT is idempotent)", method: "PUT", statuses: []int{502}, wantStatus: 200, wantHits: 2},
		{name: "a DELETE answered 500 is retried", method: "DELETE", statuses: []int{500}, wantStatus: 200, wantHits: 2},
		{name: "a 400 is never retried", method: "GET", statuses: []int{400}, wantStatus: 400, wantHits: 1},
		{name: "a 404 is never retried", method: "PUT", statuses: []int{404}, wantStatus: 404, wantHits: 1},
		{name: "a 501 is not retried: the server will never implement it", method: "GET", statuses: []int{501}, wantStatus: 501, wantHits: 1},
		{name: "a POST answered 503 is not retried", method: "POST", statuses: []int{503}, wantStatus: 503, wantHits: 1},
		{name: "a PATCH answered 500 is not retried", method: "PATCH", statuses: []int{500}, wantStatus: 500, wantHits: 1},
		{name: "a POST that opts in through the context is retried", method: "POST", optIn: true, statuses: []int{503}, wantStatus: 200, wantHits: 2},
		{name: "a POST with an Idempotency-Key is retried", method: "POST", header: "k-1", statuses: []int{503}, wantStatus: 200, wantHits: 2},
		{name: "retries run out and the caller gets the last real response", method: "GET", statuses: []int{503, 503, 503, 503, 503, 503}, wantStatus: 503, wantHits: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, hits := script(t, tt.statuses...)
			o := fastOptions()
			c, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tt.optIn {
				ctx = AllowRetry(ctx)
			}
			req, _ := http.NewRequestWithContext(ctx, tt.method, srv.URL+"/x", strings.NewReader(`{"a":1}`))
			if tt.header != "" {
				req.Header.Set("Idempotency-Key", tt.header)
			}
			resp, body := do(t, c, req)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := hits.Load(); got != tt.wantHits {
				t.Errorf("server saw %d requests, want %d", got, tt.wantHits)
			}
			if resp.StatusCode != 200 && !strings.HasPrefix(body, "attempt") {
				t.Errorf("body = %q, want the server's own body", body)
			}
			if got := o.Counters.Retries.Load(); got != int64(tt.wantHits-1) {
				t.Errorf("Retries counter = %d, want %d", got, tt.wantHits-1)
			}
		})
	}
}

func TestRetriesResendTheBody(t *testing.T) {
	var bodies []string
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if n.Add(1) == 1 {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	c, _ := New(fastOptions())
	req, _ := http.NewRequest("PUT", srv.URL, strings.NewReader(`{"fields":{}}`))
	resp, _ := do(t, c, req)
	if resp.StatusCode != 200 || len(bodies) != 2 || bodies[0] != bodies[1] || bodies[1] != `{"fields":{}}` {
		t.Fatalf("status %d, bodies %q: want the same body twice", resp.StatusCode, bodies)
	}
}

func TestADroppedConnectionIsRetriedForAGet(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	c, _ := New(fastOptions())
	req, _ := http.NewRequest("GET", srv.URL, nil)
	resp, body := do(t, c, req)
	if resp.StatusCode != 200 || body != "ok" || n.Load() != 2 {
		t.Fatalf("status %d body %q after %d requests; want 200 ok after 2", resp.StatusCode, body, n.Load())
	}
}

func TestADroppedConnectionFailsAPostAtOnce(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	c, _ := New(fastOptions())
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("x"))
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("want an error")
	}
	if n.Load() != 1 {
		t.Fatalf("server saw %d requests, want 1", n.Load())
	}
}

func TestASlowAttemptTimesOutAndIsRetried(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	o := fastOptions()
	o.Timeout = 100 * time.Millisecond
	// The short timeout is the fault under test, and only the first attempt should meet it: later
	// attempts lose its deadline, so the retry that must succeed is not racing 100 ms on a busy -race run.
	var sent atomic.Int32
	o.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if sent.Add(1) > 1 {
			r = r.WithContext(context.WithoutCancel(r.Context()))
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	c, _ := New(o)
	req, _ := http.NewRequest("GET", srv.URL, nil)
	resp, body := do(t, c, req)
	if resp.StatusCode != 200 || body != "ok" || n.Load() != 2 {
		t.Fatalf("status %d body %q after %d requests; want ok after 2", resp.StatusCode, body, n.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRetryAfterIsHonouredAndCapped(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		header   func() string
		cap      time.Duration
		min, max time.Duration
	}{
		{name: "429 with Retry-After in seconds waits that long", status: 429, header: func() string { return "1" },
			min: 900 * time.Millisecond, max: 3 * time.Second},
		{name: "429 with Retry-After as an HTTP date waits until then", status: 429,
			header: func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) },
			min:    900 * time.Millisecond, max: 5 * time.Second},
		{name: "429 with Retry-After 0 still waits a second", status: 429, header: func() string { return "0" },
			min: 900 * time.Millisecond, max: 3 * time.Second},
		{name: "429 without Retry-After waits a second", status: 429, header: func() string { return "" },
			min: 900 * time.Millisecond, max: 3 * time.Second},
		{name: "an hour-long Retry-After is cut to the cap", status: 429, header: func() string { return "3600" },
			cap: 200 * time.Millisecond, min: 150 * time.Millisecond, max: 20 * time.Second},
		{name: "503 with Retry-After waits that long", status: 503, header: func() string { return "1" },
			min: 900 * time.Millisecond, max: 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					if h := tt.header(); h != "" {
						w.Header().Set("Retry-After", h)
					}
					w.WriteHeader(tt.status)
				}
			}))
			defer srv.Close()
			o := fastOptions()
			o.RetryAfterCap = tt.cap
			c, _ := New(o)
			req, _ := http.NewRequest("GET", srv.URL, nil)
			start := time.Now()
			resp, _ := do(t, c, req)
			took := time.Since(start)
			if resp.StatusCode != 200 || n.Load() != 2 {
				t.Fatalf("status %d after %d requests, want 200 after 2", resp.StatusCode, n.Load())
			}
			if took < tt.min || took > tt.max {
				t.Errorf("took %v, want between %v and %v", took, tt.min, tt.max)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"120", 2 * time.Minute, true},
		{" 3 ", 3 * time.Second, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
		{"Mon, 23 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Mon, 23 Nov 2026 11:00:00 GMT", 0, true}, // in the past
		{"99999999999999999999", 0, false},         // overflows int64: not a number we trust
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestA429HalvesTheRateAndCountsIt(t *testing.T) {
	srv, _ := script(t, 429)
	o := fastOptions()
	o.RequestsPerSecond = 8
	o.RetryAfterCap = time.Millisecond // keep the test fast; the pause rule is tested above
	c, _ := New(o)
	req, _ := http.NewRequest("GET", srv.URL, nil)
	do(t, c, req)
	if r, _ := Rate(c); r != 4 {
		t.Errorf("rate after one 429 = %v, want 4", r)
	}
	if got := o.Counters.TooManyRequests.Load(); got != 1 {
		t.Errorf("TooManyRequests = %d, want 1", got)
	}
}

func TestTheLimiterHalvesOncePerBurstAndRecoversSlowly(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newAdaptiveLimiter(10)
	l.now = func() time.Time { return now }
	l.tooManyRequests(time.Second)
	l.tooManyRequests(time.Second) // same instant: the same burst
	if got := l.limit(); got != 5 {
		t.Fatalf("after a burst of 429s rate = %v, want 5", got)
	}
	now = now.Add(time.Second)
	l.tooManyRequests(time.Second)
	if got := l.limit(); got != 2.5 {
		t.Fatalf("after a second 429 a second later rate = %v, want 2.5", got)
	}
	l.success() // too soon after the change
	if got := l.limit(); got != 2.5 {
		t.Fatalf("a success right after a 429 changed the rate to %v", got)
	}
	for i := 0; i < 20; i++ {
		now = now.Add(recoverEvery)
		l.success()
	}
	if got := l.limit(); got != 10 {
		t.Fatalf("after long success rate = %v, want back to 10", got)
	}
	for i := 0; i < 20; i++ {
		now = now.Add(halveEvery)
		l.tooManyRequests(0)
	}
	if got := l.limit(); got != 10.0/32 {
		t.Fatalf("rate floor = %v, want %v", got, 10.0/32)
	}
}

func TestTheLimiterPacesRequests(t *testing.T) {
	srv, hits := script(t)
	o := fastOptions()
	o.RequestsPerSecond = 20
	c, _ := New(o)
	start := time.Now()
	for i := 0; i < 6; i++ {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		do(t, c, req)
	}
	// Burst one: the first is free, the next five wait 50 ms each.
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("6 requests at 20/s took %v, want at least 250ms", took)
	}
	if hits.Load() != 6 {
		t.Errorf("hits = %d", hits.Load())
	}
}

func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("a server signed by an unknown CA is refused, without retries", func(t *testing.T) {
		o := fastOptions()
		c, _ := New(o)
		req, _ := http.NewRequest("GET", srv.URL, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatal("want a certificate error")
		}
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("error %q does not say it is about the certificate", err)
		}
		if got := o.Counters.Attempts.Load(); got != 1 {
			t.Errorf("attempts = %d, want 1", got)
		}
	})
	t.Run("the same server is accepted with its CA in ca_file", func(t *testing.T) {
		o := fastOptions()
		o.CAFile = caFile
		c, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if _, body := do(t, c, req); body != "ok" {
			t.Errorf("body = %q", body)
		}
	})
	t.Run("a ca_file without certificates is a clear error", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.pem")
		os.WriteFile(bad, []byte("not pem"), 0o600)
		_, err := New(Options{CAFile: bad})
		if err == nil || !strings.Contains(err.Error(), "ca_file") || !strings.Contains(err.Error(), bad) {
			t.Errorf("err = %v, want one naming ca_file and %s", err, bad)
		}
	})
	t.Run("a missing ca_file is a clear error", func(t *testing.T) {
		_, err := New(Options{CAFile: "/nonexistent/ca.pem"})
		if err == nil || !strings.Contains(err.Error(), "ca_file") {
			t.Errorf("err = %v, want one naming ca_file", err)
		}
	})
}

func TestUserAgentIsSentOnEveryAttempt(t *testing.T) {
	var agents []string
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agents = append(agents, r.UserAgent())
		if n.Add(1) == 1 {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	o := fastOptions()
	o.UserAgent = "covsync/1.2.3"
	c, _ := New(o)
	req, _ := http.NewRequest("GET", srv.URL, nil)
	do(t, c, req)
	if len(agents) != 2 || agents[0] != "covsync/1.2.3" || agents[1] != "covsync/1.2.3" {
		t.Fatalf("User-Agents = %q", agents)
	}
}

func TestTheTokenNeverReachesALogLine(t *testing.T) {
	const token = "s3cr3t-T0KEN/+="
	srv, _ := script(t, 503, 429)
	var buf bytes.Buffer
	log := logrus.New()
	log.SetOutput(&buf)
	log.SetLevel(logrus.DebugLevel)
	o := fastOptions()
	o.Logger = log
	o.Secrets = []string{token}
	o.RetryAfterCap = time.Millisecond
	c, _ := New(o)
	req, _ := http.NewRequest("GET", srv.URL+"/rest/api/2/issue/SHOP-1?api_token="+token+"&expand=names&note="+token, nil)
	req.SetBasicAuth("qa-bot@acme.example", token)
	req.Header.Set("X-Extra", "Bearer "+token)
	do(t, c, req)
	out := buf.String()
	if strings.Contains(out, "s3cr3t") || strings.Contains(out, "T0KEN") {
		t.Fatalf("token in logs:\n%s", out)
	}
	for _, want := range []string{"http request", "retrying", "api_token=******", "expand=names", "/rest/api/2/issue/SHOP-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Authorization") || strings.Contains(out, "Basic ") {
		t.Errorf("logs mention the Authorization header:\n%s", out)
	}
}

func TestCancellingTheContextStopsRetries(t *testing.T) {
	srv, hits := script(t, 503, 503, 503, 503)
	o := fastOptions()
	// Every backoff is a full minute (the jitter draws the maximum), so the only way the call can end
	// within the assertion's bound is by noticing the cancelled context during the first wait.
	o.BackoffBase, o.BackoffMax = time.Minute, time.Minute
	o.jitter = func(n int64) int64 { return n }
	c, _ := New(o)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	start := time.Now()
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("want a context error")
	}
	if took := time.Since(start); took > 30*time.Second || hits.Load() != 1 {
		t.Errorf("kept going after cancel: %v, %d hits; want 1 hit and an end well before the minute's backoff", took, hits.Load())
	}
}
