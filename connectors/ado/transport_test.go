package ado

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

type fixedResponse struct {
	status int
	header http.Header
	body   string
}

func (f fixedResponse) RoundTrip(req *http.Request) (*http.Response, error) {
	h := f.header
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: f.status, Header: h, Body: io.NopCloser(strings.NewReader(f.body)), Request: req}, nil
}

func TestThePacerHoldsTheTargetBackWhenTheServiceAsks(t *testing.T) {
	pacerNow := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		status   int
		header   http.Header
		min, max time.Duration
	}{
		{"a plain success does not pause", 200, nil, 0, 0},
		{"a 429 waits its Retry-After", 429, http.Header{"Retry-After": {"2"}}, 2 * time.Second, 2 * time.Second},
		{"a 429 with Retry-After as an HTTP date waits until then", 429, http.Header{"Retry-After": {pacerNow.Add(3 * time.Second).Format(http.TimeFormat)}}, 3 * time.Second, 3 * time.Second},
		{"a 429 without Retry-After waits a second", 429, nil, time.Second, time.Second},
		{"X-RateLimit-Delay slows the next requests down by as much", 200, http.Header{"X-Ratelimit-Delay": {"0.800"}}, 800 * time.Millisecond, 800 * time.Millisecond},
		{"an exhausted X-RateLimit-Remaining pauses briefly", 200, http.Header{"X-Ratelimit-Remaining": {"0"}}, minPause, minPause},
		{"a huge Retry-After is capped", 503, http.Header{"Retry-After": {"86400"}}, 5 * time.Second, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A fixed clock: the pause is exact, whatever the machine's load between the call and the check.
			p := &pacer{next: fixedResponse{status: tc.status, header: tc.header}, maxWait: 5 * time.Second, now: func() time.Time { return pacerNow }, Pause: NewPause()}
			req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/x", nil)
			if _, err := p.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
			got := max(p.notBefore.Sub(pacerNow), 0)
			if got < tc.min || got > tc.max {
				t.Fatalf("pause %v, want between %v and %v", got, tc.min, tc.max)
			}
		})
	}
}

func TestTheGuardTurnsSignInPagesIntoErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		ctype  string
		signIn bool
	}{
		{"203 Non-Authoritative is a sign-in page", 203, "application/json", true},
		{"a 200 HTML page is a sign-in page", 200, "text/html; charset=utf-8", true},
		{"JSON is data", 200, "application/json; charset=utf-8", false},
		{"a JSON 401 is left to the caller", 401, "application/json", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := guard{next: fixedResponse{status: tc.status, header: http.Header{"Content-Type": {tc.ctype}}, body: "<html>"}}
			req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/x", nil)
			resp, err := g.RoundTrip(req)
			var si *SignInError
			if got := errors.As(err, &si); got != tc.signIn || (got && resp != nil) {
				t.Fatalf("resp %v err %v, want sign-in error %v", resp, err, tc.signIn)
			}
		})
	}
}
