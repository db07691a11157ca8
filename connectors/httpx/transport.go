package httpx

import (
	"context"
	"io"
	"net/http"
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
}

func (t *entryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.counters.Requests.Add(1)
	st := &reqState{retryable: idempotent(req)}
	return t.next.RoundTrip(req.WithContext(context.WithValue(req.Context(), stateKey{}, st)))
}

// attemptTransport sends one attempt: it waits for the limiter, sets User-Agent, logs, counts and feeds 429s
// back to the limiter.
type attemptTransport struct {
	base          http.RoundTripper
	name          string
	userAgent     string
	limiter       *adaptiveLimiter
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
	if err := t.limiter.wait(req.Context()); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	r := req.Clone(ctx)
	if t.userAgent != "" {
		r.Header.Set("User-Agent", t.userAgent)
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		cancel()
	} else {
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	}
	fields := logrus.Fields{
		"target": t.name, "method": req.Method, "url": t.redact.url(req.URL), "attempt": attempt,
		"duration_ms": time.Since(start).Milliseconds(),
	}
	if err != nil {
		fields["error"] = t.redact.string(err.Error())
		t.log.WithFields(fields).Debug("http request failed")
		return nil, err
	}
	fields["status"] = resp.StatusCode
	t.log.WithFields(fields).Debug("http request")
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		t.counters.TooManyRequests.Add(1)
		t.limiter.tooManyRequests(serverWait(resp, t.retryAfterCap))
	case resp.StatusCode < 500:
		t.limiter.success()
	}
	return resp, nil
}

// cancelOnClose ends an attempt's timeout context once the caller is done with the body, as http.Client
// does for its own Timeout.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
