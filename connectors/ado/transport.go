package ado

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/covsync/covsync/connectors/httpx"
)

// SignInError is what an answer that is a sign-in page becomes: a 203 Non-Authoritative Information or an
// HTML body where JSON was asked for. Azure DevOps answers that way to an expired or wrong PAT when the
// client does not suppress the redirect (X-TFS-FedAuthRedirect: Suppress), and some proxies do so regardless.
// It is never parsed as data.
type SignInError struct {
	Status int
}

func (e *SignInError) Error() string {
	return fmt.Sprintf("got a sign-in page (HTTP %d, HTML) instead of data", e.Status)
}

// guard turns sign-in pages into a *SignInError before any JSON decoder (ours or the Go client's) sees them.
type guard struct{ next http.RoundTripper }

func (g guard) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := g.next.RoundTrip(req)
	if err != nil || resp == nil {
		return resp, err
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode == http.StatusNonAuthoritativeInfo || mt == "text/html" {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, &SignInError{Status: resp.StatusCode}
	}
	return resp, nil
}

// pacer holds back every request of one target after the service asked for a pause: Retry-After on a 429 or
// 503, X-RateLimit-Delay, or X-RateLimit-Remaining: 0 (Azure DevOps sends these headers when it is delaying
// or about to block a caller, https://learn.microsoft.com/en-us/azure/devops/integrate/concepts/rate-limits).
// The pause is shared by all workers of the target, so a 429 slows the whole target, not one request, and by
// every target given the same *Pause (Options.Pause), so it slows the whole organization.
type pacer struct {
	next    http.RoundTripper
	maxWait time.Duration
	now     func() time.Time // nil is time.Now; tests fix it to measure pauses exactly
	*Pause
}

// Pause is the pause the service asked an organization's callers for. The service limits a caller across
// the organization, not per project, so every target of one organization should share one (Options.Pause).
type Pause struct {
	mu        sync.Mutex
	notBefore time.Time
}

// NewPause returns a pause not in force.
func NewPause() *Pause { return &Pause{} }

// minPause is how long to hold back when the service says the budget is spent but names no delay.
const minPause = 250 * time.Millisecond

func (p *pacer) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := p.wait(req.Context()); err != nil {
		return nil, err
	}
	resp, err := p.next.RoundTrip(req)
	if resp != nil {
		p.observe(resp)
	}
	return resp, err
}

// wait blocks until the pause is over or ctx ends. Target.paced calls it before each call, outside the
// HTTP client, so a pause is not counted against the client's Timeout; RoundTrip calls it again for the
// requests the Go client makes on its own (route discovery).
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	d := p.notBefore.Sub(p.clock())
	p.mu.Unlock()
	if d <= 0 {
		return nil
	}
	return httpx.Sleep(ctx, d)
}

func (p *pacer) clock() time.Time {
	if p.now == nil {
		return time.Now()
	}
	return p.now()
}

func (p *pacer) observe(resp *http.Response) {
	var pause time.Duration
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		pause, _ = httpx.ParseRetryAfter(resp.Header.Get("Retry-After"), p.clock())
		if resp.StatusCode == http.StatusTooManyRequests {
			pause = max(pause, httpx.MinTooManyRequestsWait) // the same floor httpx keeps
		}
	}
	if d, err := strconv.ParseFloat(resp.Header.Get("X-RateLimit-Delay"), 64); err == nil && d > 0 {
		pause = max(pause, time.Duration(d*float64(time.Second)))
	}
	if strings.TrimSpace(resp.Header.Get("X-RateLimit-Remaining")) == "0" {
		pause = max(pause, minPause)
	}
	if pause <= 0 {
		return
	}
	if p.maxWait > 0 && pause > p.maxWait {
		pause = p.maxWait
	}
	p.mu.Lock()
	if nb := p.clock().Add(pause); nb.After(p.notBefore) {
		p.notBefore = nb
	}
	p.mu.Unlock()
}
