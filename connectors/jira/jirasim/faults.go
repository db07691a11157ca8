package jirasim

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// faults are injected misbehaviours, consumed request by request.
type faults struct {
	latency       time.Duration
	failNext      int // answer this many requests with failStatus
	failStatus    int
	failType      string // with failBody: the answer of a failed request instead of Jira's error collection
	failBody      string
	dropNext      int                                                         // close this many connections without answering
	onPropertyGet func(projectKey, propertyKey string, current []byte) []byte // concurrent writer, fires once
}

// SetLatency delays every answer by d.
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.latency = d
}

// FailNext answers the next n requests with status (a 5xx burst), before authentication.
func (s *Sim) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.failNext, s.faults.failStatus = n, status
	s.faults.failType, s.faults.failBody = "", ""
}

// FailNextWith answers the next n requests with status and body of contentType, before authentication: what
// a proxy or single sign-on gateway in front of Jira answers (an HTML page, not Jira's JSON).
func (s *Sim) FailNextWith(n, status int, contentType, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.failNext, s.faults.failStatus = n, status
	s.faults.failType, s.faults.failBody = contentType, body
}

// DropNext closes the connection of the next n requests without an answer.
func (s *Sim) DropNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.dropNext = n
}

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
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}

	s.mu.Lock()
	idx := len(s.requests)
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body, At: time.Now()})
	latency := s.faults.latency
	drop := s.faults.dropNext > 0
	if drop {
		s.faults.dropNext--
	}
	fail := 0
	failType, failBody := "", ""
	if !drop && s.faults.failNext > 0 {
		s.faults.failNext--
		fail = s.faults.failStatus
		failType, failBody = s.faults.failType, s.faults.failBody
	}
	var retryAfter time.Duration
	reason, nearLimit := "", false
	if !drop && fail == 0 && s.limiter != nil {
		res := s.limiter.Reserve()
		if d := res.Delay(); d > 0 {
			res.Cancel()
			retryAfter, reason = d, "jira-burst-based"
		} else {
			nearLimit = s.limiter.Tokens() < 0.2*float64(s.limiter.Burst())
		}
	}
	if retryAfter == 0 && !drop && fail == 0 && s.opts.IssueWritesPerSecond > 0 && r.Method == http.MethodPut {
		// Only an issue's edit (PUT /rest/api/2/issue/{key}) counts as a write to it here.
		if key, ok := strings.CutPrefix(r.URL.Path, "/rest/api/2/issue/"); ok && key != "" && !strings.Contains(key, "/") {
			if s.perIssue == nil {
				s.perIssue = map[string]*rate.Limiter{}
			}
			l := s.perIssue[key]
			if l == nil {
				l = rate.NewLimiter(rate.Limit(s.opts.IssueWritesPerSecond), 1)
				s.perIssue[key] = l
			}
			res := l.Reserve()
			if d := res.Delay(); d > 0 {
				res.Cancel()
				retryAfter, reason = d, "jira-per-issue-on-write"
			}
		}
	}
	omitRetryAfter := s.opts.OmitRetryAfter
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.requests[idx].Status = rec.status
		s.mu.Unlock()
	}()

	if latency > 0 {
		time.Sleep(latency)
	}
	switch {
	case drop:
		rec.status = 0
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case fail != 0 && failType != "":
		rec.Header().Set("Content-Type", failType)
		rec.WriteHeader(fail)
		_, _ = io.WriteString(rec, failBody)
		return
	case fail != 0:
		writeError(rec, fail, []string{"Internal server error"}, nil)
		return
	case retryAfter > 0:
		// Jira Cloud answers 429 with the limit that was hit in RateLimit-Reason (jira-burst-based,
		// jira-per-issue-on-write, …) and, not always since 2026, Retry-After in seconds
		// (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/ and "Build an app that respects
		// rate limits").
		if !omitRetryAfter {
			rec.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
		}
		rec.Header().Set("RateLimit-Reason", reason)
		writeError(rec, http.StatusTooManyRequests, []string{"Rate limit exceeded."}, nil)
		return
	case nearLimit:
		// X-RateLimit-NearLimit: true when less than 20 % of a budget remains (same pages).
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

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
