package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// retryPolicy is go-retryablehttp's CheckRetry and Backoff for one client.
type retryPolicy struct {
	name          string
	log           *logrus.Logger
	redact        *redactor
	retryAfterCap time.Duration
	base, max     time.Duration
	jitter        func(n int64) int64 // draws in [0, n]
}

// check decides whether an attempt is retried. It returns a nil error for a retryable status, so that when
// retries run out the passthrough error handler hands the caller the last real response, not an error.
func (p *retryPolicy) check(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	var reason string
	switch {
	case err != nil:
		if !transient(err) {
			return false, err
		}
		reason = "connection error"
	case resp.StatusCode == http.StatusTooManyRequests:
		reason = "429 too many requests"
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		reason = resp.Status
	default:
		return false, nil
	}
	st := stateFrom(ctx)
	if st != nil && !st.retryable {
		p.log.WithFields(logrus.Fields{"target": p.name, "reason": reason}).
			Debug("http request not retried: method is not idempotent")
		return false, nil
	}
	return true, nil
}

// transient reports whether a transport error may go away on its own. Certificate and scheme errors will not.
func transient(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
	)
	if errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr) {
		return false
	}
	return !strings.Contains(err.Error(), "unsupported protocol scheme")
}

// backoff is the wait before retry number attempt+1: what the server asked for (Retry-After on a 429 or
// 503), otherwise exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
// Jitter"). A 429 that names no wait backs off from TooManyRequestsBackoff and never less than
// MinTooManyRequestsWait: Jira Cloud may answer 429 without Retry-After, and Atlassian asks for jittered
// exponential backoff then (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/, "Response
// handling pseudo code"), so the retries are not all spent within a second.
func (p *retryPolicy) backoff(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
	wait, fromServer := serverWait(resp, p.retryAfterCap), true
	if wait == 0 {
		fromServer = false
		wait = p.jittered(attempt, resp != nil && resp.StatusCode == http.StatusTooManyRequests)
	}
	fields := logrus.Fields{"target": p.name, "wait_ms": wait.Milliseconds(), "retry": attempt + 1, "retry_after": fromServer}
	if resp != nil {
		fields["status"] = resp.StatusCode
		if r := rateLimitReason(resp.Header); r != "" {
			fields["ratelimit_reason"] = r
		}
		if resp.Request != nil {
			fields["method"] = resp.Request.Method
			fields["url"] = p.redact.url(resp.Request.URL)
		}
	}
	p.log.WithFields(fields).Debug("http request retrying")
	return wait
}

// jittered is the full-jitter wait before retry attempt+1: uniform in [0, min(max, base·2^attempt)], or
// for a 429 without Retry-After uniform in [MinTooManyRequestsWait, min(max, TooManyRequestsBackoff·2^attempt)].
func (p *retryPolicy) jittered(attempt int, tooMany bool) time.Duration {
	base, floor, ceiling := p.base, time.Duration(0), p.max
	if tooMany {
		base, floor = TooManyRequestsBackoff, MinTooManyRequestsWait
		ceiling = max(ceiling, floor)
	}
	upper := base << min(attempt, 30)
	if upper <= 0 || upper > ceiling {
		upper = ceiling
	}
	return floor + time.Duration(p.jitter(int64(upper-floor)))
}

// serverWait is the wait the server asked for on a 429 or 503, capped: Retry-After when present and
// positive. Zero means "the server did not say" (Beta-Retry-After is observed, never obeyed).
func serverWait(resp *http.Response, limit time.Duration) time.Duration {
	if resp == nil {
		return 0
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		wait, _ := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return min(wait, limit)
	}
	return 0
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), the date
// measured from now. A date in the past is a zero wait; false means the value is absent or unreadable.
// Connectors that pace themselves on Retry-After (ado's pacer) use it so that both read the header alike.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second) // avoid overflow; any cap is far below
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
