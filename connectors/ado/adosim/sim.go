package adosim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/covsync/covsync/internal/simkit"
)

// Options configure a simulator.
type Options struct {
	// Organization is the first path segment of every URL ("acme" in https://dev.azure.com/acme).
	Organization string
	// PAT is the one personal access token accepted (with any user name, as the service does).
	PAT string
	// Server makes the simulator an Azure DevOps Server on premises ("2019", "2020", "2022", "2022.1"; ""
	// is Azure DevOps Services): GET _apis/ResourceAreas answers an empty list (every area lives on the
	// collection URL), a stale __etag answers 400 InvalidDocumentVersionException instead of 409, and
	// api-versions above the version's ceiling answer 400 VssVersionOutOfRangeException (versions.go).
	Server string
	// Server2022 is Server: "2022".
	Server2022 bool
	// BareListing answers the document listing (GET …/Collections/{c}/Documents) as a bare JSON array
	// instead of {"count","value"} (extdata.go says where each shape comes from).
	BareListing bool
	// MaxDocumentBytes caps the body of an extension-data document write (0: 1 MiB). The reference documents
	// no limit (MicrosoftDocs/azure-devops-docs#3691), but the service passes the content length to its data
	// service, and a client must cope with a refusal, so the simulator enforces one.
	MaxDocumentBytes int
	// RatePerSecond and RateBurst configure the token bucket behind 429s (0: unlimited).
	RatePerSecond float64
	RateBurst     int
	// DelayRetryAfter, when positive, is sent as Retry-After (in seconds) on the answers the service delays
	// (200s with X-RateLimit-Delay), as Azure DevOps may: honoured on any status, it must slow the client.
	DelayRetryAfter int
}

// Sim is the simulator. It is safe for concurrent use; create it with New.
type Sim struct {
	opts Options

	mu         sync.Mutex
	projects   map[string]*project // by lower-case name
	workItems  map[int]*workItem
	nextID     int
	extensions map[string]*extension // by lower-case "publisher/extension"
	areaURLs   map[string]string     // resource area id → base URL; empty map: Server 2022 style
	fields     map[string]*field     // the process's work-item fields, by lower-case reference name

	requests    simkit.Log[Request]
	latency     simkit.Latency
	failNext    simkit.Faults               // statuses the next requests answer with, in order
	concurrent  map[string][]map[string]any // doc key → patches another writer applies after the next read
	patExpired  bool
	signInAlway bool
	bucket      simkit.Bucket
	now         func() time.Time
}

// Request is one request the simulator received.
type Request struct {
	Method string
	Path   string // as received (escaped)
	Query  string
	Header http.Header
	Body   []byte
	Status int // what the simulator answered
}

// IsDocumentWrite reports whether r wrote an extension-data document.
func (r Request) IsDocumentWrite() bool {
	return r.Method != http.MethodGet && r.Method != http.MethodOptions &&
		strings.Contains(strings.ToLower(r.Path), "/_apis/extensionmanagement/installedextensions/")
}

// IsWorkItemWrite reports whether r updated a work item.
func (r Request) IsWorkItemWrite() bool {
	return r.Method == http.MethodPatch && strings.Contains(strings.ToLower(r.Path), "/_apis/wit/workitems/")
}

// New returns a simulator with no projects, work items or extensions.
func New(o Options) *Sim {
	if o.Organization == "" {
		o.Organization = "acme"
	}
	if o.Server2022 && o.Server == "" {
		o.Server = "2022"
	}
	if _, ok := ceilings[o.Server]; !ok {
		panic(fmt.Sprintf("adosim: unknown Server %q: want one of %v or \"\" (Services)", o.Server, ServerVersions))
	}
	if o.MaxDocumentBytes == 0 {
		o.MaxDocumentBytes = 1 << 20
	}
	s := &Sim{
		opts:       o,
		projects:   map[string]*project{},
		workItems:  map[int]*workItem{},
		nextID:     100,
		extensions: map[string]*extension{},
		areaURLs:   map[string]string{},
		fields:     map[string]*field{},
		concurrent: map[string][]map[string]any{},
		now:        time.Now,
	}
	for _, f := range systemFields {
		s.fields[lower(f.Ref)] = &f
	}
	s.bucket.Set(o.RatePerSecond, o.RateBurst) // a burst below 1 is 1
	return s
}

// Servers are a running simulator: the organization URL and, for Azure DevOps Services, a second listener
// for the ExtensionManagement area (as extmgmt.dev.azure.com is a different host from dev.azure.com).
type Servers struct {
	Sim *Sim
	// OrgURL is the organization URL a config's organization_url names ("http://127.0.0.1:PORT/acme").
	OrgURL string
	// ExtMgmtURL is where the ExtensionManagement area lives (OrgURL for a Server).
	ExtMgmtURL string
}

// Start runs s on two loopback listeners (one for a Server) and closes them when the test ends.
func Start(t testing.TB, s *Sim) *Servers {
	t.Helper()
	out, stop, err := Serve(s)
	if err != nil {
		t.Fatalf("adosim: %v", err)
	}
	t.Cleanup(stop)
	return out
}

// Serve runs s on loopback listeners outside tests (`covsync demo`); stop closes them.
func Serve(s *Sim) (out *Servers, stop func(), err error) {
	var stops []func()
	stop = func() {
		for _, st := range stops {
			st()
		}
	}
	listen := func() (string, error) {
		base, stop, err := simkit.Listen(s)
		if err != nil {
			return "", err
		}
		stops = append(stops, stop)
		return base + "/" + s.opts.Organization, nil
	}
	org, err := listen()
	if err != nil {
		return nil, stop, err
	}
	out = &Servers{Sim: s, OrgURL: org, ExtMgmtURL: org}
	if !s.onPrem() {
		if out.ExtMgmtURL, err = listen(); err != nil {
			stop()
			return nil, stop, err
		}
		s.SetAreaURLs(out.OrgURL, out.ExtMgmtURL)
	}
	return out, stop, nil
}

// SetAreaURLs makes GET _apis/ResourceAreas name orgURL for every area but ExtensionManagement, which lives
// at extMgmtURL. Not called (or a Server): the list is empty, which the Go client reads as "everything on
// the base URL".
func (s *Sim) SetAreaURLs(orgURL, extMgmtURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range resourceAreas {
		u := orgURL
		if a.id == areaExtensionManagement {
			u = extMgmtURL
		}
		s.areaURLs[a.id] = strings.TrimRight(u, "/") + "/"
	}
}

// SetLatency delays every answer by d.
func (s *Sim) SetLatency(d time.Duration) { s.latency.Set(d) }

// FailNext makes the next len(statuses) requests (OPTIONS excluded) answer those statuses (500, 503, 429…)
// with a service error body, in order.
func (s *Sim) FailNext(statuses ...int) {
	for _, st := range statuses {
		s.failNext.Add(1, simkit.Fault{Status: st})
	}
}

// ExpirePAT makes the configured PAT fail as an expired one does: 401 to clients that send
// X-TFS-FedAuthRedirect: Suppress, a 203 HTML sign-in page to the others.
func (s *Sim) ExpirePAT() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.patExpired = true
}

// AlwaysSignInPage makes a failed authentication answer the 203 sign-in page even when redirects are
// suppressed (what a proxy or an ADFS front end in the way does).
func (s *Sim) AlwaysSignInPage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signInAlway = true
}

// Requests returns a copy of every request received so far.
func (s *Sim) Requests() []Request { return s.requests.All() }

// ResetRequests forgets the recorded requests.
func (s *Sim) ResetRequests() { s.requests.Reset() }

// ServeHTTP answers one request; a client that gives up during the injected latency is still answered, as
// the service finishes what it started.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	rec := simkit.NewStatusWriter(w)
	s.latency.Wait(r.Context())
	s.serve(rec, r, body)
	s.requests.Add(Request{
		Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(),
		Body: body, Status: rec.Answered(),
	})
}

func (s *Sim) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	// The service echoes the client's session id. (The Go client looks the answer's header up by its
	// non-canonical name, so it never sees it through net/http: tests under -race with concurrent pushes
	// show its package-level SessionId is not written.)
	if sid := r.Header.Get("X-TFS-Session"); sid != "" {
		w.Header().Set("X-TFS-Session", sid)
	}
	segs := splitPath(r.URL.Path)
	if len(segs) == 0 || !strings.EqualFold(segs[0], s.opts.Organization) {
		writeError(w, http.StatusNotFound, "OrganizationNotFoundException", fmt.Sprintf("organization %q not found", first(segs)))
		return
	}
	if !s.authenticate(w, r) {
		return
	}
	if s.rateLimited(w) {
		return
	}
	if r.Method != http.MethodOptions && s.injectedFailure(w) {
		return
	}
	rest := segs[1:]
	switch {
	case r.Method == http.MethodOptions && matchSegs(rest, "_apis"):
		s.serveOptions(w)
	case r.Method != http.MethodOptions && apiVersion(r) == "":
		// Every REST call but the OPTIONS discovery needs an api-version, in the query or the Accept header
		// (https://learn.microsoft.com/en-us/rest/api/azure/devops/#api-and-tfs-version-mapping).
		writeError(w, http.StatusBadRequest, "VssVersionNotSpecifiedException",
			"No api-version was supplied for the "+r.Method+" request. Please specify api-version in the query string or the Accept header.")
	case r.Method != http.MethodOptions && s.versionOutOfRange(w, r):
	case matchSegs(rest, "_apis", "resourceareas"):
		s.serveResourceAreas(w, r)
	case len(rest) == 3 && matchSegs(rest[:2], "_apis", "projects"):
		s.serveProject(w, r, rest[2])
	case len(rest) >= 3 && strings.EqualFold(rest[0], "_apis") && strings.EqualFold(rest[1], "extensionmanagement"):
		s.serveExtensionData(w, r, rest[2:], body)
	default:
		s.serveWorkItemRoutes(w, r, rest, body)
	}
}

// authenticate checks the PAT. Azure DevOps takes a PAT as the password of basic auth with any user name
// (https://learn.microsoft.com/en-us/azure/devops/organizations/accounts/use-personal-access-tokens-to-authenticate#use-a-pat-in-your-code).
// A failed sign-in answers 401 with WWW-Authenticate when the client sent X-TFS-FedAuthRedirect: Suppress
// (the header the Go client sends), and otherwise a 203 Non-Authoritative HTML sign-in page.
func (s *Sim) authenticate(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	expired, always := s.patExpired, s.signInAlway
	s.mu.Unlock()
	ok := false
	if user, pass, has := r.BasicAuth(); has && !expired {
		_ = user
		ok = pass == s.opts.PAT && pass != ""
	}
	if ok {
		return true
	}
	if always || !strings.EqualFold(r.Header.Get("X-TFS-FedAuthRedirect"), "Suppress") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNonAuthoritativeInfo)
		_, _ = io.WriteString(w, signInPage)
		return false
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="https://app.vssps.visualstudio.com/"`)
	w.Header().Add("WWW-Authenticate", "Bearer authorization_uri=https://login.microsoftonline.com/common")
	w.Header().Set("X-VSS-S2STargetService", "00000002-0000-8888-8000-000000000000/visualstudio.com")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusUnauthorized)
	return false
}

const signInPage = `<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head>` +
	`<body><form method="post" action="https://login.microsoftonline.com/">Sign in to your account</form></body></html>`

// rateLimited answers 429 when the token bucket is empty. Azure DevOps blocks with 429 and TF400733, sends
// Retry-After and the X-RateLimit-* headers, and sends those headers (with a delay) on requests it slows
// down (https://learn.microsoft.com/en-us/azure/devops/integrate/concepts/rate-limits).
func (s *Sim) rateLimited(w http.ResponseWriter) bool {
	now := s.now()
	take := s.bucket.Take(now)
	if !take.Limited {
		return false
	}
	h := w.Header()
	if take.OK {
		if take.Remaining*5 < take.Burst { // below a fifth of the budget: tell the client it is being slowed down
			h.Set("X-RateLimit-Resource", "Core")
			h.Set("X-RateLimit-Limit", fmt.Sprint(take.Burst))
			h.Set("X-RateLimit-Remaining", fmt.Sprint(take.Remaining))
			h.Set("X-RateLimit-Delay", "0.050")
			if s.opts.DelayRetryAfter > 0 {
				// A delayed request may carry Retry-After on its 200
				// (https://learn.microsoft.com/en-us/azure/devops/integrate/concepts/rate-limits, "API client
				// experience": Retry-After is sent on delayed and blocked requests alike).
				h.Set("Retry-After", fmt.Sprint(s.opts.DelayRetryAfter))
			}
		}
		return false
	}
	h.Set("Retry-After", fmt.Sprint(simkit.RetryAfterSeconds(take.Wait)))
	h.Set("X-RateLimit-Resource", "Core")
	h.Set("X-RateLimit-Limit", fmt.Sprint(take.Burst))
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", fmt.Sprint(now.Add(take.Wait).Unix()))
	writeError(w, http.StatusTooManyRequests, "RequestBlockedException",
		"TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource 'Core' in namespace 'User'.")
	return true
}

func (s *Sim) injectedFailure(w http.ResponseWriter) bool {
	f, ok := s.failNext.Next()
	if !ok {
		return false
	}
	code := f.Status
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("X-RateLimit-Remaining", "0")
	}
	writeError(w, code, "InjectedFault", fmt.Sprintf("injected fault: HTTP %d", code))
	return true
}

// writeError writes the service's error body, the shape azuredevops.WrappedError decodes.
func writeError(w http.ResponseWriter, status int, typeKey, msg string) {
	writeJSON(w, status, map[string]any{
		"$id": "1", "innerException": nil, "message": msg, "typeName": "Microsoft.VisualStudio.Services." + typeKey,
		"typeKey": typeKey, "errorCode": 0, "eventId": 3000,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// apiVersion returns the api-version of r from the query string or the Accept header
// ("application/json;api-version=7.1-preview.3", as the Go client sends it).
func apiVersion(r *http.Request) string {
	if v := r.URL.Query().Get("api-version"); v != "" {
		return v
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(k, "api-version") {
			return v
		}
	}
	return ""
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// matchSegs compares path segments case-insensitively: Azure DevOps routes ignore case, and the Go client
// lowercases the organization URL.
func matchSegs(segs []string, want ...string) bool {
	if len(segs) != len(want) {
		return false
	}
	for i := range segs {
		if !strings.EqualFold(segs[i], want[i]) {
			return false
		}
	}
	return true
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
