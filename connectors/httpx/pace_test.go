package httpx

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/connectors/jira/jirasim"
)

// TestTheInFlightLimitFollowsLittlesLaw feeds latencies and checks the limit is rate × latency × headroom
// plus one, within the bound.
func TestTheInFlightLimitFollowsLittlesLaw(t *testing.T) {
	tests := []struct {
		rate    float64
		latency time.Duration
		max     int
		want    int
	}{
		{rate: 100, latency: 25 * time.Millisecond, max: 64, want: 6},   // ceil(3.75)+2
		{rate: 100, latency: 100 * time.Millisecond, max: 64, want: 17}, // ceil(15)+2
		{rate: 100, latency: 300 * time.Millisecond, max: 64, want: 47}, // ceil(45)+2
		{rate: 100, latency: 2 * time.Second, max: 64, want: 64},        // the bound
		{rate: 100, latency: 300 * time.Millisecond, max: 16, want: 16},
		{rate: 1, latency: time.Millisecond, max: 64, want: 3},
	}
	for _, tt := range tests {
		f := newInflight(tt.max, func() float64 { return tt.rate }, nil)
		for range 50 {
			f.observe(tt.latency)
		}
		if _, got := f.state(); got != tt.want {
			t.Errorf("rate %v, latency %v, max %d: limit %d, want %d", tt.rate, tt.latency, tt.max, got, tt.want)
		}
	}
}

// TestTheInFlightLimitBacksOffWhenLatencyClimbs: a site that slows down under load gets no more requests in
// flight while its latency climbs (so fewer a second), and the limit follows a latency that stays.
func TestTheInFlightLimitBacksOffWhenLatencyClimbs(t *testing.T) {
	f := newInflight(64, func() float64 { return 100 }, nil)
	for range 200 {
		f.observe(50 * time.Millisecond)
	}
	_, before := f.state()
	if before != 10 { // ceil(7.5)+2
		t.Fatalf("limit at 50 ms = %d, want 10", before)
	}
	for i := range 20 {
		f.observe(400 * time.Millisecond)
		// limit ÷ latency is the most requests a second the site can get: it must fall, not hold at 100.
		if _, l := f.state(); float64(l)/0.4 > 50 {
			t.Fatalf("after %d answers at 400 ms the limit is %d (was %d), %.0f requests/s: a slowing site is hammered as hard", i+1, l, before, float64(l)/0.4)
		}
	}
	for range 300 {
		f.observe(400 * time.Millisecond)
	}
	if _, l := f.state(); l != 62 { // ceil(60)+2
		t.Fatalf("limit after the latency settled at 400 ms = %d, want 62", l)
	}
}

// TestTheInFlightLimitFollowsTheRate: a 429 halves the rate, and the in-flight limit with it.
func TestTheInFlightLimitFollowsTheRate(t *testing.T) {
	srv, _ := script(t, 429)
	o := fastOptions()
	o.RequestsPerSecond = 100
	o.MaxRetries = -1
	c, _ := New(o)
	tr := c.Transport.(*entryTransport)
	for range 50 {
		tr.inflight.observe(300 * time.Millisecond)
	}
	if _, l, _ := InFlight(c); l != 47 {
		t.Fatalf("limit = %d, want 47", l)
	}
	req, _ := http.NewRequest("GET", srv.URL, nil)
	do(t, c, req)
	if _, l, _ := InFlight(c); l != 25 { // ceil(50 × 0.3 × 1.5)+2
		t.Fatalf("limit after a 429 = %d, want 25", l)
	}
	if got := o.Counters.InFlightLimit.Load(); got != 25 {
		t.Fatalf("InFlightLimit gauge = %d, want 25", got)
	}
}

// latencyServer is the Jira simulator answering after d, behind a counter of the most requests it had in
// flight at once.
func latencyServer(t *testing.T, d time.Duration) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	sim := jirasim.New(jirasim.Options{Email: "bot@example.com", Token: "tok"})
	sim.AddProject("SHOP", "Shop")
	sim.SetLatency(d)
	var cur, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		defer cur.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		r.SetBasicAuth("bot@example.com", "tok")
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &peak
}

// TestLittlesLawAgainstASlowAndAFastSite sends the same load to the Jira simulator answering in 2 ms and
// answering in 250 ms. Each client's limit is what Little's law makes of the latency it observed (a loaded
// machine only adds to it, so nothing here depends on how fast the machine is): the slow site is given at
// least 100/s × 250 ms × 1.5 + 2 = 40 requests in flight, never more than the bound, and neither site ever
// sees more at once than the limits its client set.
func TestLittlesLawAgainstASlowAndAFastSite(t *testing.T) {
	type outcome struct {
		limit, want int
		observed    time.Duration
		peak        int32
	}
	run := func(d time.Duration) outcome {
		srv, pk := latencyServer(t, d)
		o := fastOptions()
		o.RequestsPerSecond = 100
		o.MaxInFlight = 64
		c, _ := New(o)
		var wg sync.WaitGroup
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("GET", srv.URL+"/rest/api/2/project/SHOP", nil)
				do(t, c, req)
			}()
		}
		wg.Wait()
		n, l, _ := InFlight(c)
		if n != 0 {
			t.Errorf("%d requests still counted in flight after every answer", n)
		}
		f := c.Transport.(*entryTransport).inflight
		f.mu.Lock()
		lat := f.fast
		if f.fast > climbing*f.slow {
			lat = f.slow
		}
		want := f.size(lat)
		f.mu.Unlock()
		return outcome{limit: l, want: want, observed: time.Duration(f.fast * float64(time.Second)), peak: pk.Load()}
	}
	fast, slow := run(2*time.Millisecond), run(250*time.Millisecond)
	for name, o := range map[string]outcome{"2 ms": fast, "250 ms": slow} {
		if o.limit != o.want {
			t.Errorf("%s site: limit %d, but Little's law on the observed %v gives %d", name, o.limit, o.observed, o.want)
		}
		if o.peak > 64 {
			t.Errorf("%s site saw %d requests at once, above the bound 64", name, o.peak)
		}
	}
	if slow.observed < 250*time.Millisecond || slow.limit < 40 {
		t.Errorf("250 ms site: observed %v, limit %d; want at least 250ms and 40", slow.observed, slow.limit)
	}
	if slow.peak <= 4 {
		t.Errorf("the slow site saw at most %d requests at once: the old fixed pool, not Little's law", slow.peak)
	}
	if fast.observed < slow.observed && fast.limit > slow.limit {
		t.Errorf("the faster-answering site got the higher limit (%d > %d)", fast.limit, slow.limit)
	}
}

// headerServer answers the first request with status and headers, the rest 200.
func headerServer(t *testing.T, status int, headers map[string]string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			for k, v := range headers {
				w.Header().Set(k, v)
			}
			w.WriteHeader(status)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func pauseOf(c *http.Client) time.Time {
	l := c.Transport.(*entryTransport).limiter
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pauseUntil
}

func TestA429WithoutRetryAfterBacksOffWithFullJitterFromTwoSeconds(t *testing.T) {
	p := &retryPolicy{base: time.Millisecond, max: 30 * time.Second, retryAfterCap: time.Minute, log: quietLog(), redact: newRedactor(nil)}
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Beta-Retry-After": {"100"}, "Ratelimit-Reason": {"jira-burst-based"}}}
	for _, tt := range []struct {
		attempt int
		draw    string // lowest or highest
		want    time.Duration
	}{
		{0, "lowest", time.Second}, {0, "highest", 2 * time.Second},
		{1, "highest", 4 * time.Second}, {2, "highest", 8 * time.Second},
		{5, "highest", 30 * time.Second}, {5, "lowest", time.Second},
	} {
		p.jitter = func(n int64) int64 {
			if tt.draw == "lowest" {
				return 0
			}
			return n
		}
		if got := p.backoff(0, 0, tt.attempt, resp); got != tt.want {
			t.Errorf("retry %d, %s draw: wait %v, want %v (Beta-Retry-After is never obeyed)", tt.attempt+1, tt.draw, got, tt.want)
		}
	}
	// A Retry-After, when there is one, is obeyed as given.
	resp.Header.Set("Retry-After", "7")
	if got := p.backoff(0, 0, 0, resp); got != 7*time.Second {
		t.Errorf("with Retry-After 7: wait %v, want 7s", got)
	}
}

func TestA429WithoutRetryAfterPausesTheSiteAndCountsItsReason(t *testing.T) {
	srv, _ := headerServer(t, 429, map[string]string{"RateLimit-Reason": "jira-burst-based", "Beta-Retry-After": "100"})
	o := fastOptions()
	o.MaxRetries = -1
	c, _ := New(o)
	req, _ := http.NewRequest("GET", srv.URL+"/rest/api/2/issue/A-1", nil)
	before := time.Now()
	do(t, c, req)
	if p := pauseOf(c); p.Before(before.Add(MinTooManyRequestsWait)) || p.After(time.Now().Add(2*time.Second)) {
		t.Errorf("site paused until %v, want about a second from %v (not Beta-Retry-After's 100 s)", p, before)
	}
	if r, _ := Rate(c); r != 500 {
		t.Errorf("rate = %v, want halved to 500", r)
	}
	if got := o.Counters.TooManyRequestsByReason(); got["jira-burst-based"] != 1 || len(got) != 1 {
		t.Errorf("429s by reason = %v, want jira-burst-based: 1", got)
	}
}

func TestAPerIssueWriteLimitSlowsThatIssueOnly(t *testing.T) {
	srv, hits := headerServer(t, 429, map[string]string{"RateLimit-Reason": "jira-per-issue-on-write"})
	o := fastOptions()
	o.MaxRetries = -1
	c, _ := New(o)
	req, _ := http.NewRequest("PUT", srv.URL+"/rest/api/2/issue/SHOP-7", strings.NewReader("{}"))
	resp, _ := do(t, c, req)
	if resp.StatusCode != 429 || hits.Load() != 1 {
		t.Fatalf("status %d after %d requests", resp.StatusCode, hits.Load())
	}
	if r, _ := Rate(c); r != 1000 {
		t.Errorf("rate = %v, want the site's 1000 untouched", r)
	}
	if p := pauseOf(c); !p.IsZero() {
		t.Errorf("the whole site is paused until %v", p)
	}
	l := c.Transport.(*entryTransport).limiter
	l.mu.Lock()
	until, ok := l.issues["SHOP-7"]
	l.mu.Unlock()
	if !ok || until.Before(time.Now().Add(TooManyRequestsBackoff-500*time.Millisecond)) {
		t.Errorf("SHOP-7 held back until %v (%v), want about 2 s from now", until, ok)
	}
	// Another issue goes at once: the limiter lets it through without waiting for SHOP-7's pause.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.wait(ctx, "SHOP-8", false); err != nil {
		t.Errorf("SHOP-8 waited for SHOP-7's pause: %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := l.wait(ctx2, "SHOP-7", false); err == nil {
		t.Errorf("SHOP-7 went again at once, want it held back")
	}
	if got := o.Counters.TooManyRequestsByReason(); got[ReasonPerIssueOnWrite] != 1 {
		t.Errorf("429s by reason = %v", got)
	}
}

func TestNearLimitSlowsTheSiteBeforeAny429(t *testing.T) {
	srv, hits := headerServer(t, 200, map[string]string{"X-RateLimit-NearLimit": "true"})
	o := fastOptions()
	o.RequestsPerSecond = 100
	c, _ := New(o)
	req, _ := http.NewRequest("GET", srv.URL, nil)
	do(t, c, req)
	if r, _ := Rate(c); r != 80 {
		t.Errorf("rate after a near-limit warning = %v, want 80", r)
	}
	if hits.Load() != 1 || o.Counters.TooManyRequests.Load() != 0 || o.Counters.NearLimit.Load() != 1 {
		t.Errorf("hits %d, 429s %d, near-limit %d; want 1, 0, 1", hits.Load(), o.Counters.TooManyRequests.Load(), o.Counters.NearLimit.Load())
	}
	// A second warning within the second is the same signal.
	do(t, c, req)
	if r, _ := Rate(c); r != 80 {
		t.Errorf("rate after a second answer = %v, want still 80", r)
	}
}

func TestRetryAfterOnA200PausesTheSite(t *testing.T) {
	srv, hits := headerServer(t, 200, map[string]string{"Retry-After": "5", "X-RateLimit-Delay": "0.5"})
	o := fastOptions()
	c, _ := New(o)
	req, _ := http.NewRequest("GET", srv.URL, nil)
	resp, _ := do(t, c, req)
	if resp.StatusCode != 200 || hits.Load() != 1 {
		t.Fatalf("status %d after %d requests: a 200 is never retried", resp.StatusCode, hits.Load())
	}
	if p := pauseOf(c); p.Before(time.Now().Add(4 * time.Second)) {
		t.Errorf("site paused until %v, want 5 s from the answer", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req2, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	if resp, err := c.Do(req2); err == nil {
		resp.Body.Close()
		t.Errorf("a request right after Retry-After: 5 on a 200 went out (status %d)", resp.StatusCode)
	}
	if hits.Load() != 1 {
		t.Errorf("the site saw %d requests during the pause", hits.Load())
	}
}

// countingBudget counts draws.
type countingBudget struct{ n atomic.Int32 }

func (b *countingBudget) Wait(context.Context) error { b.n.Add(1); return nil }

func TestEveryAttemptDrawsFromTheSharedBudget(t *testing.T) {
	srv, hits := script(t, 503, 503)
	o := fastOptions()
	b := &countingBudget{}
	o.Budget = b
	c, _ := New(o)
	req, _ := http.NewRequest("GET", srv.URL, nil)
	do(t, c, req)
	if b.n.Load() != hits.Load() || hits.Load() != 3 {
		t.Errorf("budget drawn %d times for %d attempts, want 3 and 3", b.n.Load(), hits.Load())
	}
}

func quietLog() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// TestWithASharedBudgetTheOwnBucketStepsAside: the shared budget paces the site at the configured rate, so
// the client's own bucket of the same rate is not a second gate (it would lose tokens whenever the first was
// late). Configured at one request per 1,000 s, three requests go out at once when the budget lets them.
func TestWithASharedBudgetTheOwnBucketStepsAside(t *testing.T) {
	srv, hits := script(t)
	o := fastOptions()
	o.RequestsPerSecond = 0.001
	b := &countingBudget{}
	o.Budget = b
	c, _ := New(o)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 3 {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		do(t, c, req)
	}
	if hits.Load() != 3 || b.n.Load() != 3 {
		t.Fatalf("%d requests reached the site, %d budget draws; want 3 and 3", hits.Load(), b.n.Load())
	}
}

// notPacingBudget is a shared budget that could not pace (its database is unreachable): every draw says so.
type notPacingBudget struct{ n atomic.Int32 }

func (b *notPacingBudget) Wait(context.Context) error { b.n.Add(1); return ErrNotPaced }

// TestWhenTheSharedBudgetCannotPaceTheOwnBucketDoes: a budget that reports it did not pace (its lease
// failed) leaves the client to its own bucket. At one request per 1,000 s the bucket holds one token: the
// first request takes it, the second cannot go out within the test's deadline.
func TestWhenTheSharedBudgetCannotPaceTheOwnBucketDoes(t *testing.T) {
	srv, hits := script(t)
	o := fastOptions()
	o.RequestsPerSecond = 0.001
	b := &notPacingBudget{}
	o.Budget = b
	c, _ := New(o)
	req, _ := http.NewRequest("GET", srv.URL, nil)
	do(t, c, req)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req2, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	if resp, err := c.Do(req2); err == nil {
		resp.Body.Close()
		t.Errorf("a second request went out with the budget down and the own bucket empty (status %d)", resp.StatusCode)
	}
	if hits.Load() != 1 {
		t.Errorf("the site saw %d requests, want 1 (the own bucket's single token)", hits.Load())
	}
	if b.n.Load() < 1 {
		t.Errorf("the budget was never asked")
	}
}

// A request held back by its issue's pause does not take a place in flight meanwhile: with one place, a
// request to another issue is sent first. Before, the held request took the only place and waited out the
// pause (2 s) in it, and the whole site waited with it.
func TestAPausedIssueHoldsNoPlaceInFlight(t *testing.T) {
	var mu sync.Mutex
	var order []string
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		order = append(order, r.URL.Path)
		mu.Unlock()
		if hits.Add(1) == 1 {
			w.Header().Set("RateLimit-Reason", "jira-per-issue-on-write")
			w.WriteHeader(429)
		}
	}))
	t.Cleanup(srv.Close)
	o := fastOptions()
	o.MaxRetries = -1
	o.MaxInFlight = 1
	c, _ := New(o)
	put := func(issue string) *http.Request {
		req, _ := http.NewRequest("PUT", srv.URL+"/rest/api/2/issue/"+issue, strings.NewReader("{}"))
		return req
	}
	if resp, _ := do(t, c, put("SHOP-7")); resp.StatusCode != 429 {
		t.Fatalf("first answer %d, want the 429 of Jira's per-issue write limit", resp.StatusCode)
	}
	held := make(chan int, 1)
	go func() {
		resp, err := c.Do(put("SHOP-7"))
		if err != nil {
			held <- 0
			return
		}
		resp.Body.Close()
		held <- resp.StatusCode
	}()
	for o.Counters.Attempts.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // time for the held request to take the place, were it to
	if resp, _ := do(t, c, put("SHOP-8")); resp.StatusCode != 200 {
		t.Fatalf("SHOP-8: %d", resp.StatusCode)
	}
	if code := <-held; code != 200 {
		t.Fatalf("SHOP-7 after its pause: %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"/rest/api/2/issue/SHOP-7", "/rest/api/2/issue/SHOP-8", "/rest/api/2/issue/SHOP-7"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("requests in the order %v, want %v: SHOP-8 waited for SHOP-7's pause", order, want)
	}
	l := c.Transport.(*entryTransport).limiter
	l.pauseIssue("SHOP-9", time.Minute) // adding a pause forgets the ones that are over
	l.mu.Lock()
	_, kept := l.issues["SHOP-7"]
	l.mu.Unlock()
	if kept {
		t.Errorf("SHOP-7's pause, long over, is still kept")
	}
}
