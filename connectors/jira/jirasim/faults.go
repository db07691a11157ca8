package jirasim

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/covsync/covsync/internal/simkit"
)

// faults are injected misbehaviours, consumed request by request: a dropped connection before a failed
// answer, a failed answer before the rate limit.
type faults struct {
	drop          simkit.Faults                                               // close the connection without answering
	fail          simkit.Faults                                               // 5xx bursts, or a proxy's page
	onPropertyGet func(projectKey, propertyKey string, current []byte) []byte // concurrent writer, fires once (under mu)
}

// SetLatency delays every answer by d.
func (s *Sim) SetLatency(d time.Duration) { s.latency.Set(d) }

// FailNext answers the next n requests with status (a 5xx burst), before authentication.
func (s *Sim) FailNext(n, status int) { s.faults.fail.Set(n, simkit.Fault{Status: status}) }

// FailNextWith answers the next n requests with status and body of contentType, before authentication: what
// a proxy or single sign-on gateway in front of Jira answers (an HTML page, not Jira's JSON).
func (s *Sim) FailNextWith(n, status int, contentType, body string) {
	s.faults.fail.Set(n, simkit.Fault{Status: status, ContentType: contentType, Body: body})
}

// DropNext closes the connection of the next n requests without an answer.
func (s *Sim) DropNext(n int) { s.faults.drop.Set(n, simkit.Fault{Drop: true}) }

// WriteBetweenGetAndPut installs a concurrent writer: right after the next GET of a project property has
// been answered, the property is replaced by write(current) as if another tool had written it, so a
// client's following PUT races with it. It fires once. Jira has no etag on entity properties, so a client
// can only notice by reading again.
func (s *Sim) WriteBetweenGetAndPut(write func(projectKey, propertyKey string, current []byte) []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.onPropertyGet = write
}

// ServeHTTP records the request, applies faults, the rate limit and authentication, then routes it.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := simkit.NewStatusWriter(w)
	idx := s.requests.Add(Request{Request: simkit.Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body}, At: time.Now()})

	_, drop := s.faults.drop.Next()
	var fail simkit.Fault
	if !drop {
		fail, _ = s.faults.fail.Next()
	}
	take := simkit.Take{OK: true}
	if !drop && fail.Status == 0 {
		take = s.bucket.Take(time.Now())
	}
	reason := "jira-burst-based"
	if take.OK && !drop && fail.Status == 0 {
		if it := s.issueWrite(r); !it.OK {
			take, reason = it, "jira-per-issue-on-write"
		}
	}
	// X-RateLimit-NearLimit: true when less than 20 % of a budget remains
	// (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/).
	nearLimit := take.OK && take.Limited && float64(take.Remaining) < 0.2*float64(take.Burst)
	defer func() {
		status := rec.Answered()
		if drop {
			status = 0
		}
		s.requests.Update(idx, func(q *Request) { q.Status = status })
	}()

	// A server does the work even when the client has gone, so the wait does not end early.
	time.Sleep(s.latency.Get())
	switch {
	case drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case fail.Status != 0 && fail.ContentType != "":
		rec.Header().Set("Content-Type", fail.ContentType)
		rec.WriteHeader(fail.Status)
		_, _ = io.WriteString(rec, fail.Body)
		return
	case fail.Status != 0:
		writeError(rec, fail.Status, []string{"Internal server error"}, nil)
		return
	case !take.OK:
		// Jira Cloud answers 429 with the limit that was hit in RateLimit-Reason (jira-burst-based,
		// jira-per-issue-on-write, …) and, not always since 2026, Retry-After in seconds
		// (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/ and "Build an app that respects
		// rate limits").
		if !s.opts.OmitRetryAfter {
			rec.Header().Set("Retry-After", strconv.Itoa(simkit.RetryAfterSeconds(take.Wait)))
		}
		rec.Header().Set("RateLimit-Reason", reason)
		writeError(rec, http.StatusTooManyRequests, []string{"Rate limit exceeded."}, nil)
		return
	case nearLimit:
		rec.Header().Set("X-RateLimit-NearLimit", "true")
	}
	if !s.authenticated(r) {
		// Jira answers a bad or missing credential with 401 and no detail of what was wrong
		// (https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/).
		rec.Header().Set("WWW-Authenticate", `Basic realm="protected-area"`)
		rec.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// authenticated accepts basic auth with the configured email and API token, or a bearer PAT.
func (s *Sim) authenticated(r *http.Request) bool {
	s.mu.Lock()
	email, token, pat := s.opts.Email, s.opts.Token, s.opts.PAT // SetCredentials may change them mid-run
	s.mu.Unlock()
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil || token == "" {
			return false
		}
		return subtle.ConstantTimeCompare(raw, []byte(email+":"+token)) == 1
	case "bearer":
		return pat != "" && subtle.ConstantTimeCompare([]byte(cred), []byte(pat)) == 1
	}
	return false
}

// issueWrite takes a token of the issue's own write limit (Options.IssueWritesPerSecond) when r edits one
// issue (PUT /rest/api/2/issue/{key}); any other request passes.
func (s *Sim) issueWrite(r *http.Request) simkit.Take {
	key, ok := strings.CutPrefix(r.URL.Path, "/rest/api/2/issue/")
	if s.opts.IssueWritesPerSecond <= 0 || r.Method != http.MethodPut || !ok || key == "" || strings.Contains(key, "/") {
		return simkit.Take{OK: true}
	}
	s.mu.Lock()
	b := s.perIssue[key]
	if b == nil {
		b = &simkit.Bucket{}
		b.Set(s.opts.IssueWritesPerSecond, 1)
		if s.perIssue == nil {
			s.perIssue = map[string]*simkit.Bucket{}
		}
		s.perIssue[key] = b
	}
	s.mu.Unlock()
	return b.Take(time.Now())
}
