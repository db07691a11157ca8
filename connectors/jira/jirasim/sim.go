package jirasim

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/covsync/covsync/internal/simkit"
)

// Field kinds the simulator can seed, with the schema Jira reports for each in GET /rest/api/2/field
// (https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-fields/#api-rest-api-2-field-get).
const (
	KindNumber      = "number"      // {"type":"number","custom":"…:float"}
	KindTextField   = "textfield"   // {"type":"string","custom":"…:textfield"}: at most 255 characters
	KindTextArea    = "textarea"    // {"type":"string","custom":"…:textarea"}
	KindURL         = "url"         // {"type":"string","custom":"…:url"}
	KindSelect      = "select"      // {"type":"option","custom":"…:select"}
	KindDate        = "date"        // {"type":"date","custom":"…:datepicker"}
	KindMultiSelect = "multiselect" // {"type":"array","items":"option","custom":"…:multiselect"}
)

const customPrefix = "com.atlassian.jira.plugin.system.customfieldtypes:"

// kindSchemas are the schemas of the field kinds (Custom without customPrefix).
var kindSchemas = map[string]Schema{
	KindNumber:      {Type: "number", Custom: "float"},
	KindTextField:   {Type: "string", Custom: "textfield"},
	KindTextArea:    {Type: "string", Custom: "textarea"},
	KindURL:         {Type: "string", Custom: "url"},
	KindSelect:      {Type: "option", Custom: "select"},
	KindDate:        {Type: "date", Custom: "datepicker"},
	KindMultiSelect: {Type: "array", Items: "option", Custom: "multiselect"},
}

// Schema is a field's schema as GET /rest/api/2/field returns it.
type Schema struct {
	Type     string `json:"type"`
	Items    string `json:"items,omitempty"`
	System   string `json:"system,omitempty"`
	Custom   string `json:"custom,omitempty"`
	CustomID int64  `json:"customId,omitempty"`
}

// Field is one field of the site.
type Field struct {
	ID      string   `json:"id"`
	Key     string   `json:"key"`
	Name    string   `json:"name"`
	Custom  bool     `json:"custom"`
	Schema  Schema   `json:"schema"`
	Options []string `json:"-"` // allowed values of a select field
	kind    string
}

// Version is a project version (a release), as GET /rest/api/2/project/{key}/versions returns it.
type Version struct {
	Self      string `json:"self"`
	ID        string `json:"id"`
	Name      string `json:"name"`
	Archived  bool   `json:"archived"`
	Released  bool   `json:"released"`
	ProjectID int    `json:"projectId"`
}

type project struct {
	id         int
	key, name  string
	versions   []Version
	properties map[string]json.RawMessage
}

type issue struct {
	id        int
	key       string
	project   string
	fields    map[string]any
	offScreen map[string]bool // field ids not on the edit screen
	updates   int
	notified  int // updates that sent notifications to watchers
}

// Request is one recorded request: method, path, query, body and status, and when it arrived.
type Request struct {
	simkit.Request
	At time.Time
}

// Options configure a simulator.
type Options struct {
	// Email and Token are accepted as basic auth (Jira Cloud: email + API token).
	Email, Token string
	// PAT is accepted as "Authorization: Bearer <PAT>" (Data Center personal access token).
	PAT string
	// RequestsPerSecond enables the rate limit (0: unlimited); Burst defaults to 1 s worth of requests.
	RequestsPerSecond float64
	Burst             int
	// OmitRetryAfter answers 429s without Retry-After, as Jira Cloud may since its 2026 rate limits.
	OmitRetryAfter bool
	// IssueWritesPerSecond limits the writes to any one issue (0: unlimited), answered 429 with
	// RateLimit-Reason: jira-per-issue-on-write.
	IssueWritesPerSecond float64
	// BaseURL is used in "self" links; set it to the test server's URL (optional).
	BaseURL string
	// Deployment is DeploymentCloud (default) or DeploymentDataCenter: which search endpoints answer and
	// what GET /rest/api/2/serverInfo says.
	Deployment string
}

// Sim is the simulator. The zero value is not usable: call New.
type Sim struct {
	mu       sync.Mutex
	opts     Options
	fields   []*Field
	projects map[string]*project
	issues   map[string]*issue
	nextID   int
	requests simkit.Log[Request]
	bucket   simkit.Bucket
	perIssue map[string]*simkit.Bucket // issue key → its write limit (IssueWritesPerSecond)
	latency  simkit.Latency
	perms    map[string]bool                // permission → denied
	contexts map[string]map[string][]string // field id → project key → options of that project's field context
	faults   faults
	mux      *http.ServeMux
}

// Permissions the simulator can deny.
const (
	PermEditIssues        = "EDIT_ISSUES"
	PermAdministerProject = "ADMINISTER_PROJECTS"
	PermBrowseProjects    = "BROWSE_PROJECTS"
)

// New returns a simulator with no projects, issues or custom fields (the system fields summary and
// fixVersions exist, as on every site).
func New(o Options) *Sim {
	s := &Sim{opts: o, projects: map[string]*project{}, issues: map[string]*issue{}, nextID: 10000, perms: map[string]bool{},
		contexts: map[string]map[string][]string{}}
	s.fields = []*Field{
		{ID: "summary", Key: "summary", Name: "Summary", Schema: Schema{Type: "string", System: "summary"}},
		{ID: "fixVersions", Key: "fixVersions", Name: "Fix versions", Schema: Schema{Type: "array", Items: "version", System: "fixVersions"}},
	}
	s.SetRate(o.RequestsPerSecond, o.Burst)
	s.routes()
	return s
}

func (s *Sim) id() int { s.nextID++; return s.nextID }

// SetRate changes the rate limit (0 disables it); burst 0 is 1 s worth of requests.
func (s *Sim) SetRate(rps float64, burst int) {
	if burst <= 0 {
		burst = max(1, int(rps))
	}
	s.bucket.Set(rps, burst)
}

// SetBaseURL sets the host part of "self" links (the httptest server URL, known only after it starts).
func (s *Sim) SetBaseURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.BaseURL = u
}

// SetCredentials rotates the accepted basic-auth credential at run time: from the next request on, only
// email and token are accepted and the previous token gets 401, as on Jira Cloud once an API token is revoked
// and a new one created (https://support.atlassian.com/atlassian-account/docs/manage-api-tokens-for-your-atlassian-account/).
// It is safe to call while requests are being served.
func (s *Sim) SetCredentials(email, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Email, s.opts.Token = email, token
}

// Deny makes the user lack a permission (PermEditIssues, PermAdministerProject, PermBrowseProjects).
func (s *Sim) Deny(perm string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perms[perm] = true
}

// SetProjectOptions gives a select field a context of its own in one project, with these options: Jira
// Cloud's select options belong to a field context, and a context applies to a set of projects
// (https://support.atlassian.com/jira-cloud-administration/docs/configure-custom-field-context/), so a value
// valid in one project may be refused in another ("Option value '…' is not valid").
func (s *Sim) SetProjectOptions(projectKey, fieldID string, options ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.contexts[fieldID] == nil {
		s.contexts[fieldID] = map[string][]string{}
	}
	s.contexts[fieldID][projectKey] = append([]string(nil), options...)
}

// AddField adds a custom field of a kind (KindNumber, …) and returns its id (customfield_NNNNN). options are
// the allowed values of a select field.
func (s *Sim) AddField(name, kind string, options ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int64(10000 + len(s.fields))
	id := "customfield_" + strconv.FormatInt(n, 10)
	f := &Field{ID: id, Key: id, Name: name, Custom: true, Options: options, kind: kind,
		Schema: Schema{CustomID: n}}
	schema, ok := kindSchemas[kind]
	if !ok {
		panic(fmt.Sprintf("jirasim: unknown field kind %q", kind))
	}
	f.Schema.Type, f.Schema.Items, f.Schema.Custom = schema.Type, schema.Items, customPrefix+schema.Custom
	s.fields = append(s.fields, f)
	return id
}

// AddProject adds a project.
func (s *Sim) AddProject(key, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects[key] = &project{id: s.id(), key: key, name: name, properties: map[string]json.RawMessage{}}
}

// AddVersion adds a version to a project and returns its id.
func (s *Sim) AddVersion(projectKey, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(projectKey)
	v := Version{ID: strconv.Itoa(s.id()), Name: name, ProjectID: p.id}
	v.Self = s.opts.BaseURL + "/rest/api/2/version/" + v.ID
	p.versions = append(p.versions, v)
	return v.ID
}

// AddIssue adds an issue (key such as "SHOP-7") to its project.
func (s *Sim) AddIssue(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pk, _, _ := cutLast(key, "-")
	s.mustProject(pk)
	s.issues[key] = &issue{id: s.id(), key: key, project: pk, fields: map[string]any{"summary": "Story " + key}, offScreen: map[string]bool{}}
}

// AddIssues adds PROJECT-1 … PROJECT-n.
func (s *Sim) AddIssues(projectKey string, n int) {
	for i := 1; i <= n; i++ {
		s.AddIssue(projectKey + "-" + strconv.Itoa(i))
	}
}

// RemoveIssue deletes an issue (it then answers 404).
func (s *Sim) RemoveIssue(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.issues, key)
}

// HideField takes a field off the edit screen of an issue, so setting it answers 400.
func (s *Sim) HideField(issueKey, fieldID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issues[issueKey].offScreen[fieldID] = true
}

// IssueFields returns a copy of an issue's field values (nil for an unknown issue).
func (s *Sim) IssueFields(key string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issues[key]
	if is == nil {
		return nil
	}
	return maps.Clone(is.fields)
}

// Notifications returns how many updates of an issue notified its watchers.
func (s *Sim) Notifications(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if is := s.issues[key]; is != nil {
		return is.notified
	}
	return 0
}

// Property returns a project property's value, or nil when it is not set.
func (s *Sim) Property(projectKey, propertyKey string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustProject(projectKey).properties[propertyKey]
}

// SetProperty stores a project property as someone else would; a nil value deletes it.
func (s *Sim) SetProperty(projectKey, propertyKey string, value json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if value == nil {
		delete(s.mustProject(projectKey).properties, propertyKey)
		return
	}
	s.mustProject(projectKey).properties[propertyKey] = value
}

// Requests returns the recorded requests in arrival order.
func (s *Sim) Requests() []Request { return s.requests.All() }

// ResetRequests forgets the recorded requests.
func (s *Sim) ResetRequests() { s.requests.Reset() }

// Count returns how many recorded requests had this method and a path starting with prefix.
func (s *Sim) Count(method, prefix string) int {
	return s.requests.Count(func(r Request) bool { return r.Method == method && strings.HasPrefix(r.Path, prefix) })
}

// CountStatus returns how many recorded requests were answered with status.
func (s *Sim) CountStatus(status int) int {
	return s.requests.Count(func(r Request) bool { return r.Status == status })
}

func (s *Sim) mustProject(key string) *project {
	p := s.projects[key]
	if p == nil {
		panic(fmt.Sprintf("jirasim: no project %q: AddProject first", key))
	}
	return p
}

func (s *Sim) fieldByID(id string) *Field {
	for _, f := range s.fields {
		if f.ID == id {
			return f
		}
	}
	return nil
}

func (s *Sim) sortedVersions(p *project) []Version {
	vs := append([]Version(nil), p.versions...)
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].ID < vs[j].ID })
	return vs
}

func cutLast(s, sep string) (before, after string, found bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// Start serves the simulator on a new 127.0.0.1 listener (httptest) and points its "self" links there. The
// caller closes the server.
func (s *Sim) Start() *httptest.Server {
	srv := httptest.NewServer(s)
	s.SetBaseURL(srv.URL)
	return srv
}

// CovsyncFields are the ids of the four fields AddCovsyncFields creates.
type CovsyncFields struct {
	Percent, Summary, Status, LastRun string
}

// AddCovsyncFields adds the custom fields of covsync's example config: "Test Coverage" (number), "Test
// Coverage Summary" (single-line text), "Test Status" (select of the story statuses) and "Last Test Run"
// (url). Tests and `covsync demo` seed a site with it.
func (s *Sim) AddCovsyncFields() CovsyncFields {
	return CovsyncFields{
		Percent: s.AddField("Test Coverage", KindNumber),
		Summary: s.AddField("Test Coverage Summary", KindTextField),
		Status:  s.AddField("Test Status", KindSelect, "passed", "failed", "skipped", "no tests"),
		LastRun: s.AddField("Last Test Run", KindURL),
	}
}
