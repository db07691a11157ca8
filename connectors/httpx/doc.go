// Package httpx is the one HTTP client factory every covsync connector uses (docs/reliability.md).
//
// New returns a plain *http.Client, so vendor clients that take one (go-jira, the Azure DevOps client) run
// through it unchanged. Its transport applies these rules to every request:
//
//   - Retries (hashicorp/go-retryablehttp underneath): connection errors, 429 and 5xx (except 501) are
//     retried up to MaxRetries times, but only for idempotent methods (GET, HEAD, OPTIONS, TRACE, PUT,
//     DELETE). POST and PATCH are never retried unless the request opts in with AllowRetry(ctx) or carries an
//     Idempotency-Key header: replaying a write the server may already have applied could apply it twice.
//     Other 4xx answers are never retried, nor TLS verification failures. After the last attempt the caller
//     gets the real response (PassthroughErrorHandler), not a synthetic error, so it can read the vendor's
//     error body.
//   - Backoff: exponential with full jitter (a random wait in [0, min(BackoffMax, BackoffBase·2^attempt)]),
//     unless the server said how long to wait: Retry-After (delta-seconds or an HTTP date, RFC 9110 §10.2.3)
//     on 429 and 503. A 429 without a usable Retry-After backs off with full jitter from 2 s and never less
//     than one second ([1 s, 2 s], [1 s, 4 s], …). Every server-given wait is capped at RetryAfterCap, so a
//     hostile or broken header cannot stall a cycle for an hour.
//   - Pacing (docs/architecture.md, "Pace to the site"): a token bucket (golang.org/x/time/rate) per client,
//     i.e. per site, at RequestsPerSecond with a burst of one. A 429 halves the rate (at most once a second,
//     never below 1/32 of the configured rate) and pauses every request of the client for its Retry-After;
//     a 429 with RateLimit-Reason: jira-per-issue-on-write holds back that issue only; X-RateLimit-NearLimit:
//     true eases the rate by a fifth; Retry-After on any other answer (a 200 included) pauses the client.
//     Each success two seconds or more after the last change adds back a tenth of the configured rate.
//     Beta-Retry-After and Beta-RateLimit-* are logged, never obeyed. Requests in flight are held to
//     rate × latency (Little's law), bounded by MaxInFlight. Options.Budget, when set, is a budget shared
//     by every replica (internal/budget) that each attempt draws from; it stands in for the client's own
//     bucket while the client runs at the configured rate.
//   - Timeout: every attempt has Timeout (default 30 s) from dialling to the end of the body.
//   - TLS: verification is always on (there is no option to turn it off); CAFile adds PEM certificates to
//     the system pool rather than replacing it. The proxy comes from HTTPS_PROXY/HTTP_PROXY/NO_PROXY.
//   - Identity: every request carries User-Agent (e.g. "covsync/1.2.0").
//   - Logs: at debug level, one line per attempt (method, redacted URL, status, duration, attempt) and one per
//     retry decision. Headers are never logged; URLs lose user info and credential-named query values, and
//     internal/redact masks every string in Options.Secrets (in any spelling) and credential-shaped text.
//   - Counters: Options.Counters, when set, counts requests, attempts, retries, 429s by reason and
//     near-limit warnings, and shows requests in flight, the in-flight limit and budget waits, for /metrics.
package httpx
