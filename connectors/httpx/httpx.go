package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	retryablehttp "github.com/hashicorp/go-retryablehttp"
	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
)

// Defaults for zero Options fields.
const (
	DefaultMaxRetries    = 4
	DefaultRetryAfterCap = 60 * time.Second
	DefaultBackoffBase   = 500 * time.Millisecond
	DefaultBackoffMax    = 30 * time.Second
	// MinTooManyRequestsWait is the least a 429 waits when the server gave no usable Retry-After.
	MinTooManyRequestsWait = time.Second
	// TooManyRequestsBackoff is where the backoff of a 429 without Retry-After starts (2 s, 4 s, 8 s, …,
	// each drawn with full jitter).
	TooManyRequestsBackoff = 2 * time.Second
)

// Options configure one client, normally one per configured target (jira[].name, ado[].name, …).
type Options struct {
	// Name identifies the target in log lines ("jira:acme").
	Name string
	// RequestsPerSecond is the steady rate of the token bucket (default 10).
	RequestsPerSecond float64
	// Timeout bounds every attempt, body included (default 30 s).
	Timeout time.Duration
	// CAFile is a PEM file of extra CA certificates, added to the system pool.
	CAFile string
	// UserAgent is sent on every request ("covsync/1.2.0").
	UserAgent string
	// MaxRetries is the number of retries after the first attempt (default 4; negative means none).
	MaxRetries int
	// RetryAfterCap caps any wait the server asks for (default 60 s).
	RetryAfterCap time.Duration
	// BackoffBase and BackoffMax shape the exponential backoff (defaults 500 ms and 30 s).
	BackoffBase, BackoffMax time.Duration
	// Logger receives debug lines; nil logs nothing.
	Logger *logrus.Logger
	// Secrets are literal values masked in every log line this package writes (tokens, passwords).
	Secrets []string
	// Counters, when set, is incremented by the client (the daemon exports it on /metrics).
	Counters *Counters
	// MaxInFlight bounds the adaptive in-flight limit (default DefaultMaxInFlight; workers.per_target).
	MaxInFlight int
	// Budget, when set, is a request budget shared beyond this client: every attempt draws one token from
	// it after the client's own bucket (internal/budget: one budget per site for every replica).
	Budget Budget
	// Transport replaces the base transport (tests); nil builds one with TLS and proxy settings.
	Transport http.RoundTripper

	// jitter draws the backoff in [0, n]; nil draws uniformly (math/rand/v2). Tests fix it so that a backoff
	// is the same every run.
	jitter func(n int64) int64
}

// Budget is a request budget shared beyond one client. Wait blocks until one request may go out, or ctx
// ends; it returns ErrNotPaced when it let the request go without pacing it, and the client then paces it
// with its own bucket.
type Budget interface {
	Wait(ctx context.Context) error
}

// ForConn is the options of the client of one configured site or organization of kind ("jira", "ado",
// "confluence"): its name ("jira:acme"), requests_per_second, timeout and ca_file, and its token among the
// secrets. The caller adds what is not the config's (UserAgent, Logger, Counters, test timings).
func ForConn(kind string, c config.Conn) Options {
	return Options{Name: kind + ":" + c.Name, RequestsPerSecond: c.RequestsPerSecond, Timeout: c.Timeout,
		CAFile: c.CAFile, Secrets: []string{c.Auth.Token.Reveal()}}
}

// Counters are the client's running totals and gauges. The zero value is ready; read them with Load.
type Counters struct {
	Requests        atomic.Int64 // requests made by callers
	Attempts        atomic.Int64 // attempts sent on the wire (requests + retries)
	Retries         atomic.Int64 // attempts after the first
	TooManyRequests atomic.Int64 // 429 answers seen
	NearLimit       atomic.Int64 // answers that warned the budget is nearly spent
	InFlight        atomic.Int64 // attempts in flight now
	InFlightLimit   atomic.Int64 // the adaptive in-flight limit now
	BudgetWaits     atomic.Int64 // attempts that waited for the shared budget
	BudgetWaitNanos atomic.Int64 // total time attempts waited for the shared budget

	mu      sync.Mutex
	reasons map[string]int64 // 429s by reason
}

// ReasonUnspecified is the reason of a 429 that named none.
const ReasonUnspecified = "unspecified"

func (c *Counters) tooManyRequests(reason string) {
	c.TooManyRequests.Add(1)
	if reason == "" {
		reason = ReasonUnspecified
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reasons == nil {
		c.reasons = map[string]int64{}
	}
	c.reasons[reason]++
}

// TooManyRequestsByReason returns the 429s seen by reason (RateLimit-Reason, X-RateLimit-Resource, or
// ReasonUnspecified).
func (c *Counters) TooManyRequestsByReason() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.reasons))
	for k, v := range c.reasons {
		out[k] = v
	}
	return out
}

type ctxKey int

const allowRetryKey ctxKey = iota

// AllowRetry marks requests made with the returned context as safe to retry even when their method is not
// idempotent (a POST that the API makes idempotent, e.g. by a client-chosen id).
func AllowRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, allowRetryKey, true)
}

// New builds the client. The error names the option at fault (an unreadable or empty ca_file).
func New(o Options) (*http.Client, error) {
	o = o.withDefaults()
	base := o.Transport
	if base == nil {
		t, err := baseTransport(o.CAFile)
		if err != nil {
			return nil, err
		}
		base = t
	}
	log := o.Logger
	if log == nil {
		log = logrus.New()
		log.SetOutput(io.Discard)
	}
	if o.Counters == nil {
		o.Counters = &Counters{}
	}
	red := newRedactor(o.Secrets)
	lim := newAdaptiveLimiter(o.RequestsPerSecond)
	counters := o.Counters
	fl := newInflight(o.MaxInFlight, lim.limit, func(n, limit int) {
		counters.InFlight.Store(int64(n))
		counters.InFlightLimit.Store(int64(limit))
	})
	lim.changed = fl.rateChanged
	inner := &attemptTransport{
		base: base, name: o.Name, userAgent: o.UserAgent, limiter: lim, inflight: fl, budget: o.Budget,
		counters: o.Counters, log: log, redact: red, retryAfterCap: o.RetryAfterCap, timeout: o.Timeout,
	}
	policy := &retryPolicy{
		name: o.Name, log: log, redact: red, retryAfterCap: o.RetryAfterCap,
		base: o.BackoffBase, max: o.BackoffMax, jitter: o.jitter,
	}
	rc := &retryablehttp.Client{
		HTTPClient: &http.Client{
			// No Timeout here: attemptTransport times each attempt from after its wait for the limiter, so a
			// long Retry-After pause is not mistaken for a slow server.
			Transport: inner,
			// The outer client follows redirects, so each hop goes through the retry rules again.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Logger:       nil, // this package logs itself, redacted
		RetryWaitMin: o.BackoffBase,
		RetryWaitMax: o.BackoffMax,
		RetryMax:     o.MaxRetries,
		CheckRetry:   policy.check,
		Backoff:      policy.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return &http.Client{Transport: &entryTransport{next: &retryablehttp.RoundTripper{Client: rc}, counters: o.Counters, limiter: lim, inflight: fl}}, nil
}

func (o Options) withDefaults() Options {
	if o.RequestsPerSecond <= 0 {
		o.RequestsPerSecond = config.DefaultRequestsPerSecond
	}
	if o.Timeout <= 0 {
		o.Timeout = config.DefaultTimeout
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	} else if o.MaxRetries < 0 {
		o.MaxRetries = 0
	}
	if o.RetryAfterCap <= 0 {
		o.RetryAfterCap = DefaultRetryAfterCap
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = DefaultBackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.jitter == nil {
		o.jitter = func(n int64) int64 { return rand.Int64N(n + 1) }
	}
	return o
}

// baseTransport is http.DefaultTransport's settings (proxy from the environment included) with covsync's TLS
// rules: verification on, TLS 1.2 or newer, ca_file appended to the system roots.
func baseTransport(caFile string) (*http.Transport, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate found", caFile)
		}
	}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}, nil
}

// ErrNotPaced is what a Budget's Wait returns when it let a request go without pacing it (its shared state
// could not be asked): the caller then paces the request itself, with its own bucket.
var ErrNotPaced = errors.New("httpx: the shared budget did not pace this request")
