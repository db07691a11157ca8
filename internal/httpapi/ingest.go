package httpapi

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/apikey"
	"github.com/covsync/covsync/sync/report"
)

// Ingest takes reports posted by CI with a project-scoped API key: POST /v1/projects/{id}/runs and
// /v1/projects/{id}/coverage.
type Ingest struct {
	// Authenticate checks an X-API-KEY value against the stored keys (apikey.Store.Authenticate).
	Authenticate func(ctx context.Context, key string) (apikey.Info, error)
	// StoreRun stores the CTRF report read from body as one run of project, and enqueues its cycles in the
	// same transaction. It returns ErrNotReady when the daemon cannot take reports yet.
	StoreRun func(ctx context.Context, project string, body io.Reader, q RunQuery) (*postgres.RunIngest, error)
	// StoreCoverage stores the coverage file read from body for project, in the same way.
	StoreCoverage func(ctx context.Context, project string, body io.Reader) (*postgres.CoverageIngest, error)
	// Limits are read per request, so a SIGHUP changes them.
	Limits func() Limits

	mu       sync.Mutex
	limiters map[int64]*rate.Limiter // by key id
}

// RunQuery is the optional query of POST /v1/projects/{id}/runs.
type RunQuery struct {
	Release string // ?release=
	RunURL  string // ?runUrl=
}

// Limits bound what one request may cost.
type Limits struct {
	MaxBodyBytes   int64         // the body, before and after decompression
	RequestTimeout time.Duration // the handling of one request, the transaction included
	KeyRate        rate.Limit    // requests per second per key
	KeyBurst       int
}

// ErrNotReady is a report the daemon cannot take yet (database down, scheduler not started): 503.
var ErrNotReady = errors.New("not ready to take reports")

// errTooLarge is a body past Limits.MaxBodyBytes once decompressed.
var errTooLarge = errors.New("body too large")

func (in *Ingest) routes(mux *http.ServeMux, log logrus.FieldLogger) {
	mux.HandleFunc("POST /v1/projects/{id}/runs", func(w http.ResponseWriter, r *http.Request) {
		in.serve(w, r, log, in.runs)
	})
	mux.HandleFunc("POST /v1/projects/{id}/coverage", func(w http.ResponseWriter, r *http.Request) {
		in.serve(w, r, log, in.coverage)
	})
}

type ingestFunc func(ctx context.Context, w http.ResponseWriter, r *http.Request, project string, body io.Reader) (string, error)

// serve does what both endpoints share: the key, its project, its rate, the body's encoding and limits.
// The X-API-KEY value is never logged; the key's display prefix is.
func (in *Ingest) serve(w http.ResponseWriter, r *http.Request, log logrus.FieldLogger, f ingestFunc) {
	lim := in.Limits()
	ctx, cancel := context.WithTimeout(r.Context(), lim.RequestTimeout)
	defer cancel()
	project := r.PathValue("id")
	key, err := in.Authenticate(ctx, r.Header.Get("X-API-KEY"))
	if errors.Is(err, apikey.ErrUnknown) || errors.Is(err, apikey.ErrRevoked) {
		// One answer for a missing, unknown and revoked key.
		writeError(w, http.StatusUnauthorized, "unauthorized: missing, unknown or revoked X-API-KEY")
		return
	}
	if err != nil {
		log.WithError(err).Error("ingest: cannot check the API key")
		writeError(w, http.StatusServiceUnavailable, "cannot check the API key now; retry later")
		return
	}
	log = log.WithFields(logrus.Fields{"key": key.Prefix, "project": project, "path": r.URL.Path})
	if key.Project != project {
		log.Warn("ingest: refused a key of another project")
		writeError(w, http.StatusForbidden, fmt.Sprintf("this key (%s) is for project %q, not %q", key.Prefix, key.Project, project))
		return
	}
	if wait := in.reserve(key.ID, lim); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many requests with key %s; retry in %s", key.Prefix, wait.Round(time.Millisecond)))
		return
	}
	body, err := decodedBody(w, r, lim.MaxBodyBytes)
	if err != nil {
		in.refuse(w, log, err, lim)
		return
	}
	msg, err := f(ctx, w, r, project, body)
	if err != nil {
		in.refuse(w, log, err, lim)
		return
	}
	log.Info(msg)
}

// reserve takes one request of key's budget; it returns how long to wait when the budget is spent.
func (in *Ingest) reserve(id int64, lim Limits) time.Duration {
	in.mu.Lock()
	l, ok := in.limiters[id]
	if !ok {
		if in.limiters == nil {
			in.limiters = map[int64]*rate.Limiter{}
		}
		l = rate.NewLimiter(lim.KeyRate, lim.KeyBurst)
		in.limiters[id] = l
	}
	in.mu.Unlock()
	now := time.Now()
	if l.Limit() != lim.KeyRate {
		l.SetLimitAt(now, lim.KeyRate)
	}
	if l.Burst() != lim.KeyBurst {
		l.SetBurstAt(now, lim.KeyBurst)
	}
	res := l.ReserveN(now, 1)
	if !res.OK() {
		return time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}

// decodedBody is the request body, gunzipped when Content-Encoding says so, bounded by max bytes both as sent
// and as decompressed (a gzip bomb stops at max).
func decodedBody(w http.ResponseWriter, r *http.Request, max int64) (io.Reader, error) {
	if r.ContentLength > max {
		return nil, &http.MaxBytesError{Limit: max}
	}
	raw := http.MaxBytesReader(w, r.Body, max)
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
		return raw, nil
	case "gzip":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, &postgres.ReadError{Err: fmt.Errorf("gzip: %w", err)}
		}
		return &boundedReader{r: zr, left: max}, nil
	default:
		return nil, &encodingError{enc}
	}
}

type encodingError struct{ enc string }

func (e *encodingError) Error() string {
	return fmt.Sprintf("Content-Encoding %q not supported: send the body as is or gzip-compressed", e.enc)
}

// boundedReader fails with errTooLarge past left bytes.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := b.r.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
		return b.r.Read(p)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// refuse answers a failed ingest with the contract's status and {"error": …}; what the client cannot act on
// (a database error) is logged, not sent.
func (in *Ingest) refuse(w http.ResponseWriter, log logrus.FieldLogger, err error, lim Limits) {
	var ie *postgres.InputError
	var mbe *http.MaxBytesError
	var ee *encodingError
	var re *postgres.ReadError
	switch {
	case errors.As(err, &mbe), errors.Is(err, errTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than http.max_body_bytes (%d bytes, counted after decompression too)", lim.MaxBodyBytes))
	case errors.As(err, &ee):
		writeError(w, http.StatusUnsupportedMediaType, ee.Error())
	case errors.As(err, &ie):
		writeError(w, http.StatusBadRequest, ie.Error())
	case errors.Is(err, errBadQuery):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, postgres.ErrOtherProject):
		writeError(w, http.StatusForbidden, err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, http.ErrHandlerTimeout), isTimeout(err):
		log.WithError(err).Warn("ingest: request timed out; nothing stored")
		writeError(w, http.StatusRequestTimeout, "request not handled within http.request_timeout; nothing stored")
	case errors.As(err, &re):
		writeError(w, http.StatusBadRequest, "request body: "+re.Err.Error())
	case errors.Is(err, ErrNotReady):
		writeError(w, http.StatusServiceUnavailable, "not ready to take reports; retry later")
	default:
		log.WithError(err).Error("ingest failed; nothing stored")
		writeError(w, http.StatusServiceUnavailable, "could not store the report; nothing stored; retry later")
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

var errBadQuery = errors.New("bad query")

func (in *Ingest) runs(ctx context.Context, w http.ResponseWriter, r *http.Request, project string, body io.Reader) (string, error) {
	q := RunQuery{Release: r.URL.Query().Get("release"), RunURL: r.URL.Query().Get("runUrl")}
	if q.RunURL != "" {
		if !report.IsWebURL(q.RunURL) {
			return "", fmt.Errorf("%w: runUrl: want an http(s) URL", errBadQuery)
		}
	}
	res, err := in.StoreRun(ctx, project, body, q)
	if err != nil {
		return "", err
	}
	run := strconv.FormatInt(res.RunID, 10)
	if res.AlreadyIngested {
		writeJSON(w, http.StatusOK, struct {
			Run             string `json:"run"`
			AlreadyIngested bool   `json:"alreadyIngested"`
		}{run, true})
		return fmt.Sprintf("ingest: report already stored as run %s", run), nil
	}
	writeJSON(w, http.StatusCreated, struct {
		Run     string `json:"run"`
		Tests   int    `json:"tests"`
		Stories int    `json:"stories"`
	}{run, res.Tests, res.Tickets})
	return fmt.Sprintf("ingest: stored run %s: %d tests, %d stories", run, res.Tests, res.Tickets), nil
}

func (in *Ingest) coverage(ctx context.Context, w http.ResponseWriter, _ *http.Request, project string, body io.Reader) (string, error) {
	res, err := in.StoreCoverage(ctx, project, body)
	if err != nil {
		return "", err
	}
	stories := res.Inserted + res.Updated + res.Unchanged
	if res.Inserted+res.Updated == 0 {
		writeJSON(w, http.StatusOK, struct {
			Stories         int  `json:"stories"`
			AlreadyIngested bool `json:"alreadyIngested"`
		}{stories, true})
		return "ingest: coverage already stored", nil
	}
	writeJSON(w, http.StatusCreated, struct {
		Stories  int `json:"stories"`
		Inserted int `json:"inserted"`
		Updated  int `json:"updated"`
	}{stories, res.Inserted, res.Updated})
	return fmt.Sprintf("ingest: coverage stored: %d new, %d changed", res.Inserted, res.Updated), nil
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
