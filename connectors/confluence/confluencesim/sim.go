package confluencesim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/covsync/covsync/internal/simkit"
)

// DefaultMaxBodyBytes is the request body limit the simulator enforces (413 above it). Atlassian does not
// publish one number for the v1 content API; 5 MiB is a conservative stand-in that a page far larger than
// covsync's own cap (confluence.MaxBodyBytes) still fits under, so a test that hits it means a runaway body.
const DefaultMaxBodyBytes = 5 << 20

// Options configures a Server.
type Options struct {
	// Email and Token are the accepted basic-auth credentials (Cloud: email + API token).
	Email string
	Token string
	// Bearer is an accepted personal access token (Data Center: "Authorization: Bearer <PAT>").
	Bearer string
	// AccountID and DisplayName name the user the credentials belong to; versions it writes carry them.
	AccountID   string
	DisplayName string
	// RequestsPerSecond and Burst shape the token bucket behind 429 responses; 0 disables rate limiting.
	RequestsPerSecond float64
	Burst             int
	// MaxBodyBytes limits request bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
}

// Request is one recorded request. Its Path is the API path below the base path ("/content/123"), the same
// for Cloud and Data Center.
type Request struct {
	simkit.Request
	// User is the account the request authenticated as, empty when authentication failed.
	User string
}

// IsWrite reports whether the request asked to change something.
func (r Request) IsWrite() bool { return r.Method != http.MethodGet && r.Method != http.MethodHead }

// Edit is a change a person makes to a page (seeded, or injected between a client's read and write).
type Edit struct {
	By    string // display name, also used as the account id
	Body  string // new storage body; empty keeps the body
	Title string // new title; empty keeps the title
}

// Server is the simulator. Create it with New; it is safe for concurrent use.
type Server struct {
	opts     Options
	bucket   simkit.Bucket
	mux      *http.ServeMux
	now      func() time.Time
	requests simkit.Log[Request]
	latency  simkit.Latency
	failNext simkit.Faults // answers of the next authenticated requests
	// failWrites are the answers of the next authenticated writes, taken before failNext.
	failWrites simkit.Faults

	mu            sync.Mutex
	spaces        map[string]*space
	pages         map[string]*page
	nextID        int
	editsPending  map[string]Edit
	unconvertible map[string]bool // titles whose body Confluence Cloud cannot convert (RefuseConversion)
	propertyRaces map[string]int  // page id → property writes to answer 409 before accepting one
}

type user struct{ accountID, displayName string }

type space struct {
	key, name string
	homeID    string
}

type page struct {
	id, title, spaceKey string
	ancestors           []string // root first, parent last
	body                string
	version             int
	by                  user
	when                time.Time
	message             string
	labels              []string
	properties          map[string]*property
	history             []string // bodies of earlier versions, oldest first
	restricted          bool     // invisible to the API user (AddRestrictedPage)
}

type property struct {
	id      string
	key     string
	value   json.RawMessage
	version int
}

// New returns a simulator with no spaces. Seed it with AddSpace and AddPage.
func New(o Options) *Server {
	if o.AccountID == "" {
		o.AccountID = "covsync-bot"
	}
	if o.DisplayName == "" {
		o.DisplayName = o.AccountID
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	s := &Server{
		opts: o, now: time.Now, nextID: 100000,
		spaces: map[string]*space{}, pages: map[string]*page{},
		editsPending: map[string]Edit{}, unconvertible: map[string]bool{}, propertyRaces: map[string]int{},
	}
	burst := o.Burst
	if burst <= 0 {
		burst = int(math.Ceil(o.RequestsPerSecond))
	}
	s.bucket.Set(o.RequestsPerSecond, burst)
	s.mux = http.NewServeMux()
	s.routes()
	return s
}

// Base paths: Cloud serves the API under /wiki/rest/api, Data Center under <context path>/rest/api (the
// simulator uses an empty context path). https://docs.atlassian.com/atlassian-confluence/REST/5.9.7/
var basePaths = []string{"/wiki/rest/api", "/rest/api"}

// ServeHTTP answers one request: record, latency, auth, rate limit, injected failure, body limit, route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	apiPath := ""
	for _, b := range basePaths {
		if p, ok := strings.CutPrefix(r.URL.Path, b); ok && (p == "" || p[0] == '/') {
			apiPath = p
			break
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	body, err := readAll(r)
	rec := Request{Request: simkit.Request{Method: r.Method, Path: apiPath, Query: r.URL.Query(), Body: body}}
	rw := simkit.NewStatusWriter(w)
	defer func() {
		rec.Status = rw.Status()
		s.requests.Add(rec)
	}()

	if !s.latency.Wait(r.Context()) {
		return // the client went away: nothing is answered or applied
	}
	u, ok := s.authenticate(r)
	if !ok {
		// Cloud answers a bad API token with 401 and no session; the client must not retry.
		rw.Header().Set("WWW-Authenticate", `Basic realm="Confluence"`)
		writeError(rw, http.StatusUnauthorized, "Client must be authenticated to access this resource.")
		return
	}
	rec.User = u.accountID
	if take := s.bucket.Take(time.Now()); !take.OK {
		// Rate limiting answers 429 with Retry-After in seconds.
		// https://developer.atlassian.com/cloud/confluence/rate-limiting/
		rw.Header().Set("Retry-After", fmt.Sprint(simkit.RetryAfterSeconds(take.Wait)))
		writeError(rw, http.StatusTooManyRequests, "Rate limit exceeded.")
		return
	}
	if st := s.takeFailure(r.Method != http.MethodGet); st != 0 {
		// Some transient 5xx answers carry Retry-After too (rate-limiting page, "Some transient 5XX errors").
		rw.Header().Set("Retry-After", "1")
		writeError(rw, st, "Service temporarily unavailable (injected).")
		return
	}
	if err != nil {
		writeError(rw, http.StatusRequestEntityTooLarge, fmt.Sprintf("Request body exceeds %d bytes.", s.opts.MaxBodyBytes))
		return
	}
	if apiPath == "" && r.URL.Path != "/wiki/rest/api" && r.URL.Path != "/rest/api" {
		writeError(rw, http.StatusNotFound, "Not found: "+r.URL.Path)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = apiPath
	r2 = r2.WithContext(withUser(r.Context(), u))
	r2.Body = nil
	s.mux.ServeHTTP(rw, withBody(r2, body))
}

func (s *Server) authenticate(r *http.Request) (user, bool) {
	me := user{accountID: s.opts.AccountID, displayName: s.opts.DisplayName}
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		return me, s.opts.Bearer != "" && tok == s.opts.Bearer
	}
	if e, t, ok := r.BasicAuth(); ok {
		return me, s.opts.Token != "" && e == s.opts.Email && t == s.opts.Token
	}
	return user{}, false
}

func (s *Server) takeFailure(write bool) int {
	if write {
		if f, ok := s.failWrites.Next(); ok {
			return f.Status
		}
	}
	f, _ := s.failNext.Next()
	return f.Status
}

// SetLatency delays every later response by d.
func (s *Server) SetLatency(d time.Duration) { s.latency.Set(d) }

// FailNext answers the next n authenticated requests with status (503 when status is 0).
func (s *Server) FailNext(n, status int) { s.failNext.Set(n, failure(status)) }

// FailNextWrites answers the next n authenticated write requests (anything but GET) with status (503 when
// status is 0): a write that may or may not have been applied, as far as the client can tell.
func (s *Server) FailNextWrites(n, status int) { s.failWrites.Set(n, failure(status)) }

func failure(status int) simkit.Fault {
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	return simkit.Fault{Status: status}
}

// EditBeforeNextWrite makes a person edit page id just before the next PUT /content/{id} is processed: the
// client read the page, someone saved a new version, and the client's write now carries a stale version.
func (s *Server) EditBeforeNextWrite(id string, e Edit) {
	s.mu.Lock()
	s.editsPending[id] = e
	s.mu.Unlock()
}

// ConflictNextPropertyWrites answers the next n writes of any property of page id with 409, as if another
// client had updated the property between the caller's read and write.
func (s *Server) ConflictNextPropertyWrites(id string, n int) {
	s.mu.Lock()
	s.propertyRaces[id] = n
	s.mu.Unlock()
}

// Requests returns a copy of every recorded request, oldest first.
func (s *Server) Requests() []Request { return s.requests.All() }

// Writes returns the recorded requests that asked to change something.
func (s *Server) Writes() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.IsWrite() {
			out = append(out, r)
		}
	}
	return out
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() { s.requests.Reset() }

// writeError writes the v1 error shape, as Confluence answers it, e.g.
// {"statusCode":400,"data":{"authorized":false,"valid":true,"errors":[],"successful":false},
// "message":"A page with this title already exists: ...","reason":"Bad Request"}
// (seen in client reports such as https://github.com/docToolchain/docToolchain/issues/435).
// ConversionRefusal is Confluence Cloud's 400 for a storage body its new editor cannot take. No Atlassian
// page or public report in the project's reference corpus quotes it; the wording is the one the project's
// field reports give.
const ConversionRefusal = "Content body cannot be converted to new editor format"

// RefuseConversion makes every create or update of a page with this title answer 400 ConversionRefusal,
// whatever its body, as Confluence Cloud answers a body its editor cannot convert.
func (s *Server) RefuseConversion(title string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unconvertible[title] = true
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{
		"statusCode": status,
		"data":       map[string]any{"authorized": status != http.StatusUnauthorized, "valid": true, "errors": []any{}, "successful": false},
		"message":    msg,
		"reason":     http.StatusText(status),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
