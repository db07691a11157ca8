package ado

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
	"github.com/covsync/covsync/templates"
)

// Field keys of the config's ado[].fields map (docs/architecture.md, Contracts): which story value goes to
// which work-item field.
const (
	FieldCoveragePercent = "coverage_percent"
	FieldCoverageSummary = "coverage_summary"
	FieldTestStatus      = "test_status"
	FieldLastRunURL      = "last_run_url"
)

// Options configure one ADO target: one config ado[] entry applied to one project mapping.
type Options struct {
	// Name is the config entry's name ("acme-ado"); the target is named "ado:<Name>/<Project>".
	Name            string
	OrganizationURL string // https://dev.azure.com/acme, or a Server collection URL
	PAT             config.Secret
	// Project is the Azure DevOps project (name or id) the source project maps to.
	Project string
	// Owner is the covsync project the target writes for (projects[].id). Targets sharing a Cache refuse
	// to write one Azure DevOps project (resolved to its id) for two owners; empty: not checked.
	Owner     string
	Extension config.ADOExtension
	// Fields maps FieldCoveragePercent etc. to work-item field reference names; empty: documents only.
	Fields map[string]string
	// MatchField finds a story's work item by a field holding the ticket key (WIQL); empty: the ticket key is
	// the work item id ("AB#123" or "123").
	MatchField string

	// HTTP sends every request (the Go client's calls included) and retries 429s, 5xx and transport
	// errors: the connector does not retry them itself. Nil: an httpx client with httpx's defaults. Its
	// Transport is wrapped, never modified: the copy adds the sign-in guard and the pacer. Writes (and the
	// WIQL query, a read sent as POST) carry httpx.AllowRetry: each write is guarded by __etag or a rev
	// test, so a replay is harmless.
	HTTP      *http.Client
	Log       logrus.FieldLogger
	UserAgent string
	Templates templates.Set // for the coverage_summary field (jira/summary.tmpl)

	// MaxConflicts bounds read-merge-write rounds of one document or work item (default 5).
	MaxConflicts int
	// MaxPause caps how long one Retry-After or X-RateLimit-Delay holds the target back (default 60 s).
	MaxPause time.Duration
	// Pause is the service-asked pause shared with the other targets of the organization; nil: this target's
	// own.
	Pause *Pause
	// Cache keeps the resource areas and the key → work item mapping between cycles, shared with the other
	// targets of the organization (cache.go); nil: this target's own, so every new target queries again.
	Cache *Cache
	// RefreshEvery is how old the cached mapping may get before Plan queries every key again, to notice a
	// key moved to another work item (default DefaultRefreshEvery, an hour).
	RefreshEvery time.Duration
	// Now is the clock the refresh is timed by (nil: time.Now); tests set it.
	Now func() time.Time
}

// Target is the ADO target. It implements the engine's Target interface.
type Target struct {
	o            Options
	http         *http.Client
	log          logrus.FieldLogger
	maxConflicts int
	summary      *summaryRenderer
	pacer        *pacer
	cred         *httpx.Credential

	cache        *Cache
	refreshEvery time.Duration
	now          func() time.Time

	mu      sync.Mutex
	sess    *session
	mapping Mapping
}

// New checks o and returns the target. It does no I/O: the connection is made by the first Plan, Push or
// probe.
func New(o Options) (*Target, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	where := "ado " + o.Name
	u, err := url.Parse(o.OrganizationURL)
	switch {
	case o.OrganizationURL == "" || err != nil || u.Host == "":
		bad("%s: organization_url %q is not a URL", where, o.OrganizationURL)
	case u.Scheme == "http" && !config.IsLoopbackHost(u.Hostname()):
		bad("%s: organization_url %q: http:// is allowed only for loopback hosts; use https://", where, o.OrganizationURL)
	case u.Scheme != "http" && u.Scheme != "https":
		bad("%s: organization_url %q: scheme must be https", where, o.OrganizationURL)
	}
	if o.PAT.IsZero() {
		bad("%s: auth: no personal access token (set token_env or token_file)", where)
	}
	if o.Project == "" {
		bad("%s: no project", where)
	}
	if o.Extension.Publisher == "" || o.Extension.ID == "" || o.Extension.Collection == "" {
		bad("%s: extension: publisher, id and collection are all required", where)
	}
	keys := make([]string, 0, len(o.Fields))
	for k := range o.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case FieldCoveragePercent, FieldCoverageSummary, FieldTestStatus, FieldLastRunURL:
		default:
			bad("%s: fields.%s: unknown (want coverage_percent, coverage_summary, test_status or last_run_url)", where, k)
		}
		if !config.IsFieldRefName(o.Fields[k]) {
			bad("%s: fields.%s: %q is not a field reference name such as Custom.TestCoverage", where, k, o.Fields[k])
		}
	}
	if o.MatchField != "" && !config.IsFieldRefName(o.MatchField) {
		bad("match_field %q is not a field reference name such as Custom.JiraKey", o.MatchField)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	t := &Target{o: o, log: o.Log, maxConflicts: o.MaxConflicts, cache: o.Cache, refreshEvery: o.RefreshEvery, now: o.Now}
	if t.cache == nil {
		t.cache = NewCache()
	}
	if t.refreshEvery <= 0 {
		t.refreshEvery = DefaultRefreshEvery
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		t.log = l
	}
	if t.maxConflicts <= 0 {
		t.maxConflicts = 5
	}
	maxPause := o.MaxPause
	if maxPause <= 0 {
		maxPause = time.Minute
	}
	base := o.HTTP
	if base == nil {
		if base, err = httpx.New(httpx.Options{Name: "ado:" + o.Name, UserAgent: o.UserAgent, Secrets: []string{o.PAT.Reveal()}}); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	// The PAT goes to the organization's origin and the areas it names (session.go), never to a host a
	// redirect names: httpx.Authorize attaches it (and strips the Go client's own header elsewhere).
	if t.cred, err = httpx.BasicCredential(o.OrganizationURL, "", o.PAT.Reveal()); err != nil {
		return nil, fmt.Errorf("%s: organization_url: %w", where, err)
	}
	hc := *httpx.Authorize(base, t.cred)
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	pause := o.Pause
	if pause == nil {
		pause = NewPause()
	}
	t.pacer = &pacer{next: rt, maxWait: maxPause, Pause: pause}
	hc.Transport = guard{next: t.pacer}
	t.http = &hc
	if _, ok := o.Fields[FieldCoverageSummary]; ok {
		if t.summary, err = newSummaryRenderer(o.Templates); err != nil {
			return nil, fmt.Errorf("%s: fields.coverage_summary: %w", where, err)
		}
	}
	return t, nil
}

// Name is "ado:<config name>/<project>".
func (t *Target) Name() string { return "ado:" + t.o.Name + "/" + t.o.Project }

// String is the target's name: printing a Target (%v, %+v, %#v) never shows its fields, which hold the PAT
// (config.Secret cannot mask itself inside an unexported field: fmt cannot call its methods there).
func (t *Target) String() string { return t.Name() }

// GoString is String, for %#v.
func (t *Target) GoString() string { return t.Name() }

// Kind is "ado".
func (t *Target) Kind() string { return push.TargetADO }

// Mapping says how the last Plan mapped stories to work items.
type Mapping struct {
	Rule   string // the rule in words
	Mapped int    // stories that map to a work item
	Misses []Miss // stories that do not, and why
}

// Miss is a story that maps to no work item.
type Miss struct {
	Story  string
	Reason string
}

// LastMapping returns the mapping report of the last Plan.
func (t *Target) LastMapping() Mapping {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.mapping
	m.Misses = append([]Miss(nil), m.Misses...)
	return m
}

// payload is an item's desired state. Exported fields are hashed (push.HashJSON); the unexported ones are
// what Plan read from the work item, for Push to start from.
type payload struct {
	WorkItemID int            `json:"workItemId"`
	Document   map[string]any `json:"document"`
	Fields     map[string]any `json:"fields,omitempty"` // reference name → value; nil clears the field

	snap    *snapshot // the work item as Plan read it; nil: Push reads it
	missing error     // the work item does not exist (or is in another project): the item fails alone
	listing *listing  // the cycle's shared, lazily read collection (listing.go)
	verify  *verifier // set when the mapping came from the Cache: Push checks the work item still exists
}

// Plan maps the report's stories to work items and returns one item per mapped story (keyed by the story's
// ticket key). Stories that map to nothing are reported in LastMapping and the log, not failed: a Jira-style
// key under the id rule is simply not an Azure Boards story.
func (t *Target) Plan(ctx context.Context, p *report.Project) ([]push.Item, error) {
	s, err := t.session(ctx)
	if err != nil {
		return nil, t.planError(err)
	}
	types, err := t.fieldTypes(ctx, s)
	if err != nil {
		return nil, t.planError(err)
	}
	cands, snaps, m, err := t.mapCached(ctx, s, p)
	if err != nil {
		return nil, t.planError(err)
	}
	items := make([]push.Item, 0, len(cands))
	ls, vr := &listing{}, &verifier{}
	for _, c := range cands {
		if c.cached {
			vr.ids = append(vr.ids, c.id)
		}
	}
	for _, c := range cands {
		pl := &payload{WorkItemID: c.id, Document: documentFor(p, c.story), snap: snaps[c.id], listing: ls}
		if c.cached {
			pl.verify = vr
		}
		if len(t.o.Fields) > 0 {
			if pl.Fields, err = t.fieldsFor(p, c.story, types); err != nil {
				return nil, fmt.Errorf("%s: story %s: %w", t.Name(), c.story.Key, err)
			}
		}
		if pl.snap == nil && pl.verify == nil {
			pl.missing = fmt.Errorf("%s: story %s: work item %d does not exist in project %s (or the PAT cannot read it)", t.Name(), c.story.Key, c.id, t.o.Project)
		}
		h, err := push.HashJSON(pl)
		if err != nil {
			return nil, fmt.Errorf("%s: story %s: %w", t.Name(), c.story.Key, err)
		}
		items = append(items, push.Item{Key: c.story.Key, Hash: h, Payload: pl, Summary: summaryLine(c.id, c.story)})
	}
	t.mu.Lock()
	t.mapping = m
	t.mu.Unlock()
	t.logMapping(m)
	return items, nil
}

func (t *Target) planError(err error) error {
	if isAuth(err) {
		return push.Fatal(t.authError(err))
	}
	return err
}

func (t *Target) logMapping(m Mapping) {
	f := t.log.WithFields(logrus.Fields{"target": t.Name(), "rule": m.Rule, "mapped": m.Mapped, "unmapped": len(m.Misses)})
	if len(m.Misses) == 0 {
		f.Info("stories mapped to work items")
		return
	}
	var b strings.Builder
	for i, miss := range m.Misses {
		if i == 20 {
			fmt.Fprintf(&b, "; … and %d more", len(m.Misses)-20)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(miss.Story + ": " + miss.Reason)
	}
	f.WithField("misses", b.String()).Info("some stories map to no work item")
}

func summaryLine(id int, s report.Story) string {
	cov := "no coverage"
	if s.CoveragePercent != nil {
		cov = fmt.Sprintf("coverage %.1f%%", *s.CoveragePercent)
	}
	return fmt.Sprintf("work item %d: %s, %s", id, cov, s.Status)
}

// Push makes the work item's document (and fields) hold the item's values. Idempotent: what is already there
// is not written again (push.Result.NoChange).
func (t *Target) Push(ctx context.Context, it push.Item) (push.Result, error) {
	pl, ok := it.Payload.(*payload)
	if !ok {
		return push.Result{}, push.Permanentf("%s: item %s: payload %T was not planned by this target", t.Name(), it.Key, it.Payload)
	}
	if pl.missing != nil {
		return push.Result{}, push.Permanent(pl.missing)
	}
	s, err := t.session(ctx)
	if err != nil {
		return push.Result{}, t.classify(err)
	}
	if pl.verify != nil && pl.snap == nil {
		sn, err := pl.verify.snapshot(ctx, t, s, pl.WorkItemID)
		if err != nil {
			return push.Result{}, t.classify(err)
		}
		if sn == nil {
			t.forget(it.Key)
			return push.Result{}, push.Permanentf("%s: story %s: work item %d no longer exists in project %s (or the PAT cannot read it)", t.Name(), it.Key, pl.WorkItemID, t.o.Project)
		}
		pl.snap = sn // the work item as read now: pushFields starts from it
	}
	docChanged, err := t.pushDocument(ctx, s, it.Key, pl)
	if err != nil {
		return push.Result{}, err
	}
	fieldsChanged := false
	if len(pl.Fields) > 0 {
		if fieldsChanged, err = t.pushFields(ctx, s, it.Key, pl); err != nil {
			if push.KindOf(err) == push.KindPermanent {
				t.forget(it.Key) // gone or moved since it was mapped: the next Plan queries the key again
			}
			return push.Result{}, err
		}
	}
	return push.Result{NoChange: !docChanged && !fieldsChanged}, nil
}
