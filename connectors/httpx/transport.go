package httpx

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// reqState follows one caller request through its attempts. It travels in the request's context because
// go-retryablehttp's CheckRetry sees only the context, the response and the error, not the request.
type reqState struct {
	retryable bool // the method is idempotent or the caller opted in
	attempts  atomic.Int32
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// idempotent reports whether req may be replayed safely (RFC 9110 §9.2.2), or the caller said so.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if v, _ := req.Context().Value(allowRetryKey).(bool); v {
		return true
	}
	return req.Header.Get("Idempotency-Key") != ""
}

// entryTransport is the client's outer transport: it counts the caller's request and attaches its state
// before go-retryablehttp takes over.
type entryTransport struct {
	next     http.RoundTripper
	counters *Counters
	limiter  *adaptiveLimiter
	inflight *inflight
}

func (t *entryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.counters.Requests.Add(1)
	st := &reqState{retryable: idempotent(req)}
	return t.next.RoundTrip(req.WithContext(context.WithValue(req.Context(), stateKey{}, st)))
}

// attemptTransport sends one attempt: it waits for a place in flight, the limiter and the shared budget,
// sets User-Agent, logs, counts, feeds the latency to the in-flight limit and the rate-limit answers
// (429s, Retry-After on any status, near-limit warnings) back to the limiter.
type attemptTransport struct {
	base          http.RoundTripper
	name          string
	userAgent     string
	limiter       *adaptiveLimiter
	inflight      *inflight
	budget        Budget
	counters      *Counters
	log           *logrus.Logger
	redact        *redactor
	retryAfterCap time.Duration
	timeout       time.Duration
}

func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	attempt := 1
	if st := stateFrom(req.Context()); st != nil {
		attempt = int(st.attempts.Add(1))
	}
	t.counters.Attempts.Add(1)
	if attempt > 1 {
		t.counters.Retries.Add(1)
	}
	// The pauses first, then a place in flight, then the token: a request its issue's pause holds back
	// does not take a place from the rest of the site meanwhile, and the token is taken just before sending.
	issue := issueOf(req.URL.Path)
	if err := t.limiter.paused(req.Context(), issue); err != nil {
		return nil, err
	}
	if err := t.inflight.acquire(req.Context()); err != nil {
		return nil, err
	}
	release := sync.OnceFunc(t.inflight.release)
	if err := t.wait(req.Context(), issue); err != nil {
		release()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	r := req.Clone(ctx)
	if t.userAgent != "" {
		r.Header.Set("User-Agent", t.userAgent)
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(r)
	latency := time.Since(start)
	if err != nil {
		cancel()
		release()
	} else {
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: func() { cancel(); release() }}
	}
	fields := logrus.Fields{
		"target": t.name, "method": req.Method, "url": t.redact.url(req.URL), "attempt": attempt,
		"duration_ms": latency.Milliseconds(),
	}
	if err != nil {
		fields["error"] = t.redact.string(err.Error())
		t.log.WithFields(fields).Debug("http request failed")
		return nil, err
	}
	fields["status"] = resp.StatusCode
	for _, h := range observedHeaders {
		if v := resp.Header.Get(h); v != "" {
			fields[h] = v // observed, never obeyed (Beta-*), or worth seeing when debugging pacing
		}
	}
	t.log.WithFields(fields).Debug("http request")
	t.answered(req, resp, latency)
	return resp, nil
}

// wait holds an attempt until the limiter (the client's pause, the issue's pause, its token bucket) and
// the shared budget let it go. A budget that could not pace (ErrNotPaced: its database cannot be asked)
// leaves the request to the own bucket, which the limiter skipped for it: never does a request go out
// paced by neither.
func (t *attemptTransport) wait(ctx context.Context, issue string) error {
	paced, err := t.limiter.wait(ctx, issue, t.budget != nil)
	if err != nil {
		return err
	}
	if t.budget == nil {
		return nil
	}
	t0 := time.Now()
	err = t.budget.Wait(ctx)
	if d := time.Since(t0); d > time.Millisecond {
		t.counters.BudgetWaits.Add(1)
		t.counters.BudgetWaitNanos.Add(int64(d))
	}
	if errors.Is(err, ErrNotPaced) {
		if paced {
			return nil
		}
		return t.limiter.take(ctx)
	}
	return err
}

// Rate-limit answers as Atlassian documents them for Jira Cloud
// (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/ and "Build an app that respects rate
// limits"): the reason of a 429 is in RateLimit-Reason; jira-per-issue-on-write means one issue is written
// too often (space out writes to that issue, not the site); X-RateLimit-NearLimit: true says less than 20 %
// of a budget remains; Beta-Retry-After and Beta-RateLimit-* are announced, not in force. Azure DevOps names
// the resource of a limit in X-RateLimit-Resource and may delay a request and send Retry-After on an answer
// that is not a 429 (https://learn.microsoft.com/en-us/azure/devops/integrate/concepts/rate-limits).
const (
	ReasonPerIssueOnWrite = "jira-per-issue-on-write"
	headerReason          = "RateLimit-Reason"
	headerNearLimit       = "X-RateLimit-NearLimit"
	headerResource        = "X-RateLimit-Resource"
)

// observedHeaders are logged at debug level with each attempt and otherwise ignored.
var observedHeaders = []string{"Beta-Retry-After", "Beta-RateLimit-Policy", "Beta-RateLimit", headerReason, headerNearLimit}

// answered feeds one answer back: its latency to the in-flight limit, and the rate-limit signals to the
// limiter.
func (t *attemptTransport) answered(req *http.Request, resp *http.Response, latency time.Duration) {
	ra, _ := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	ra = min(ra, t.retryAfterCap)
	near := strings.EqualFold(strings.TrimSpace(resp.Header.Get(headerNearLimit)), "true")
	if near {
		t.counters.NearLimit.Add(1)
		t.limiter.nearLimit()
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		reason := rateLimitReason(resp.Header)
		t.counters.tooManyRequests(reason)
		if issue := issueOf(req.URL.Path); reason == ReasonPerIssueOnWrite && issue != "" {
			// One issue written too often: hold that issue back, the site goes on.
			t.limiter.pauseIssue(issue, cmp.Or(ra, TooManyRequestsBackoff))
			return
		}
		t.limiter.tooManyRequests(max(ra, MinTooManyRequestsWait))
		return
	}
	t.inflight.observe(latency)
	if ra > 0 {
		// Retry-After on any other answer (a 503, or a 200 that Azure DevOps delayed): the site asks every
		// request to wait.
		t.limiter.pause(ra)
	}
	if resp.StatusCode < 500 && !near && ra == 0 {
		t.limiter.success()
	}
}

// rateLimitReason is the reason a site gives for limiting: RateLimit-Reason (Jira Cloud), else
// X-RateLimit-Resource (Azure DevOps), reduced to a short label-safe token.
func rateLimitReason(h http.Header) string {
	r := h.Get(headerReason)
	if r == "" {
		r = h.Get(headerResource)
	}
	r = strings.ToLower(strings.TrimSpace(r))
	if len(r) > 48 {
		r = r[:48]
	}
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			return c
		}
		return '_'
	}, r)
}

// issueOf is the issue a request path is about ("/rest/api/2/issue/SHOP-1/properties/x" → "SHOP-1"), or ""
// for a path about no single issue.
func issueOf(path string) string {
	_, rest, ok := strings.Cut(path, "/issue/")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(rest, "/")
	return key
}

// cancelOnClose ends an attempt's timeout context (and its place in flight) once the caller is done with
// the body, as http.Client does for its own Timeout.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
	once   sync.Once
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.cancel)
	return err
}
