package jira

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// issueKeyRE is a Jira issue key.
var issueKeyRE = regexp.MustCompile(`^[A-Z][A-Z0-9]+-[0-9]+$`)

// IssueTarget writes the configured custom fields of each story of one Jira project (kind "jira").
type IssueTarget struct {
	site       *Site
	projectKey string

	mu     sync.Mutex
	fields []field     // resolved by the last Plan
	same   sameFailure // the field errors of the pushes since the last Plan
	// canEdit is true once Jira said, since the last Plan, that the account has Edit Issues here: a cycle
	// whose every push fails with "cannot be set" asks once, not once a push.
	canEdit bool
}

// sameErrorStop is how many pushes in a row, with none succeeding, must fail with the same field error
// before the target stops with one configuration error (fewer when fewer items were planned).
const sameErrorStop = 5

// sameFailure follows the field errors of one cycle's pushes: while nothing has succeeded and every push
// failed with the same field errors, that error is the configuration's, not the items'.
type sameFailure struct {
	planned, ok, count int
	key                string // the field errors of the pushes so far; "" before the first failure
	mixed              bool
}

// IssueTarget returns the "jira" target of a Jira project.
func (s *Site) IssueTarget(projectKey string) *IssueTarget {
	return &IssueTarget{site: s, projectKey: projectKey}
}

// Name is "jira:<site>/<PROJECTKEY>".
func (t *IssueTarget) Name() string { return "jira:" + t.site.cfg.Name + "/" + t.projectKey }

// Kind is "jira".
func (t *IssueTarget) Kind() string { return push.TargetJira }

// issuePayload is one story's edit: field id → value (nil clears). Field ids are part of it, so a field
// configured anew (another id) changes the hash and is written.
type issuePayload struct {
	Key    string         `json:"key"`
	Fields map[string]any `json:"fields"`
	names  map[string]string
}

// Plan resolves the configured fields (one GET /rest/api/2/field per cycle) and builds one item per story
// whose key is an issue of this project. Keys of other projects or of Azure Boards ("AB#12") are not this
// target's to write.
func (t *IssueTarget) Plan(ctx context.Context, p *report.Project) ([]push.Item, error) {
	fields, err := t.site.resolveFields(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.fields, t.same, t.canEdit = fields, sameFailure{}, false
	t.mu.Unlock()
	if len(fields) == 0 {
		return nil, nil
	}
	names := map[string]string{}
	for _, f := range fields {
		names[f.ID] = fmt.Sprintf("%s %q", f.Role, f.Name)
	}
	var items []push.Item
	var others []string
	for _, st := range p.Stories {
		if !issueKeyRE.MatchString(st.Key) || !strings.HasPrefix(st.Key, t.projectKey+"-") {
			others = append(others, st.Key)
			continue
		}
		summary, err := renderSummary(t.site.summary, p, st)
		if err != nil {
			return nil, fmt.Errorf("jira %s: %w", t.site.cfg.Name, err)
		}
		v := values{percent: st.CoveragePercent, summary: summary, status: st.Status}
		if st.LastRun != nil {
			v.runURL = report.WebURL(st.LastRun.URL) // a URL from data reaches Jira only when it is http(s)
		}
		pl := issuePayload{Key: st.Key, Fields: map[string]any{}, names: names}
		for _, f := range fields {
			pl.Fields[f.ID] = f.shape(v)
		}
		h, err := push.HashJSON(pl)
		if err != nil {
			return nil, fmt.Errorf("jira %s: story %s: %w", t.site.cfg.Name, st.Key, err)
		}
		items = append(items, push.Item{Key: st.Key, Hash: h, Payload: pl, Summary: storySummary(st)})
	}
	if err := t.checkOptions(ctx, items, fields); err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.same.planned = len(items)
	t.mu.Unlock()
	if len(others) > 0 {
		t.site.log.WithFields(map[string]any{"target": t.Name(), "count": len(others), "first": others[0]}).
			Debug("stories that are not issues of this Jira project are left to other targets")
	}
	return items, nil
}

func storySummary(st report.Story) string {
	cov := "no coverage"
	if st.CoveragePercent != nil {
		cov = fmt.Sprintf("coverage %.1f%%", *st.CoveragePercent)
	}
	return cov + ", " + st.Status
}

// Push sends PUT /rest/api/2/issue/{key}, with notifyUsers=false unless notify_users is set. go-jira's
// UpdateIssue cannot add the query, so the request is built by hand. A 400 or 404 fails this story only,
// with Jira's field messages; a refusal that is the configuration's (notifyUsers=false without Administer
// Projects, no Edit Issues, the same field error on every item) stops the target with one error instead.
func (t *IssueTarget) Push(ctx context.Context, it push.Item) (push.Result, error) {
	pl, ok := it.Payload.(issuePayload)
	if !ok {
		return push.Result{}, push.Permanentf("jira %s: item %s: payload %T is not an issue edit", t.site.cfg.Name, it.Key, it.Payload)
	}
	path := "rest/api/2/issue/" + url.PathEscape(pl.Key)
	if !t.site.cfg.NotifyUsers {
		path += "?notifyUsers=false"
	}
	resp, err := t.site.call(ctx, "PUT", path, map[string]any{"fields": pl.Fields}, nil, "PUT issue "+pl.Key, "Edit Issues")
	if err != nil {
		return push.Result{}, t.refused(ctx, pl, resp, err)
	}
	t.mu.Lock()
	t.same.ok++
	t.mu.Unlock()
	return push.Result{}, nil
}

// refused turns a failed edit into the error the engine acts on.
func (t *IssueTarget) refused(ctx context.Context, pl issuePayload, resp *gojira.Response, err error) error {
	if resp != nil && resp.StatusCode == http.StatusForbidden && strings.Contains(err.Error(), notifyRefusal) {
		return push.Config(fmt.Errorf("PUT issue %s: %w", pl.Key, t.site.noNotifyDiscard(t.projectKey, jiraAnswer(err))))
	}
	var r *refusal
	if !errors.As(err, &r) || r.Status != http.StatusBadRequest || len(r.Fields) == 0 {
		return nameFields(err, pl.names)
	}
	if everyFieldCannotBeSet(r.Fields, pl.Fields) {
		// Jira answers an account without Edit Issues as it answers a field off the screen: ask which.
		t.mu.Lock()
		known := t.canEdit
		t.mu.Unlock()
		if !known {
			have, perr := t.site.myPermissions(ctx, t.projectKey, permEditIssues)
			if perr == nil && !have[permEditIssues] {
				return push.Fatal(t.site.noEditIssues(t.projectKey))
			}
			if perr == nil {
				t.mu.Lock()
				t.canEdit = true
				t.mu.Unlock()
			}
		}
	}
	if stop := t.sameError(r.Fields); stop > 0 {
		return push.Config(t.fieldConfigError(r.Fields, stop))
	}
	return nameFields(err, pl.names)
}

// jiraAnswer is the part of a classified error after the status: Jira's own message.
func jiraAnswer(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, notifyRefusal); i >= 0 {
		return msg[i:]
	}
	return msg
}

// everyFieldCannotBeSet reports whether Jira refused every field sent as one it may not set.
func everyFieldCannotBeSet(errs map[string]string, sent map[string]any) bool {
	for id := range sent {
		if !strings.Contains(errs[id], "cannot be set") {
			return false
		}
	}
	return len(sent) > 0
}

// sameError records one push's field errors; it returns how many pushes failed with them when that is
// enough to blame the configuration (every push of the cycle so far, none succeeding), else 0.
func (t *IssueTarget) sameError(errs map[string]string) int {
	var b strings.Builder
	for _, k := range sortedKeys(errs) {
		// The message names the field, never the item, for the errors a configuration causes.
		b.WriteString(k + ": " + errs[k] + "\n")
	}
	key := b.String()
	t.mu.Lock()
	defer t.mu.Unlock()
	f := &t.same
	switch {
	case f.ok > 0 || f.mixed:
		return 0
	case f.key == "":
		f.key, f.count = key, 1
	case f.key == key:
		f.count++
	default:
		f.mixed = true
		return 0
	}
	if f.count >= max(1, min(sameErrorStop, f.planned)) {
		return f.count
	}
	return 0
}

// fieldConfigError names the configured field(s) behind the same error on n pushes.
func (t *IssueTarget) fieldConfigError(errs map[string]string, n int) error {
	t.mu.Lock()
	fields := t.fields
	t.mu.Unlock()
	var parts []string
	for _, id := range sortedKeys(errs) {
		name := id
		if i := slices.IndexFunc(fields, func(f field) bool { return f.ID == id }); i >= 0 {
			name = fmt.Sprintf("fields.%s (field %q, %s)", fields[i].Role, fields[i].Name, id)
		}
		parts = append(parts, name+": "+errs[id])
	}
	return fmt.Errorf("jira %s: project %s: the first %d issues all failed with the same field error, so the target stops: %s; put the field on the edit screen of %s's issue types, or change the field in the config",
		t.site.cfg.Name, t.projectKey, n, strings.Join(parts, "; "), t.projectKey)
}

// checkOptions checks the values planned for select fields against the options of the field context of this
// project, read from the edit metadata of one of its issues (GET /rest/api/2/issue/{key}/editmeta,
// https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issues/#api-rest-api-2-issue-issueidorkey-editmeta-get;
// go-jira v1.17.0 has no call for it). Select options belong to a context per project, so a value valid in
// one project may be refused in another. Where Jira exposes no allowedValues (the field not on the screen,
// no Edit Issues), the pushes find out.
// editmetaTries is how many planned issues checkOptions tries for edit metadata before it skips the check.
const editmetaTries = 3

func (t *IssueTarget) checkOptions(ctx context.Context, items []push.Item, fields []field) error {
	var selects []field
	for _, f := range fields {
		if f.Kind == kindOption {
			selects = append(selects, f)
		}
	}
	if len(selects) == 0 || len(items) == 0 {
		return nil
	}
	var meta struct {
		Fields map[string]struct {
			AllowedValues []struct {
				Value string `json:"value"`
			} `json:"allowedValues"`
		} `json:"fields"`
	}
	// Any issue of the project shows its context's options. One that is gone or not browsable (404, or 400
	// as Jira answers some keys it cannot resolve) does not fail the plan: the next is read, up to
	// editmetaTries of them; when none can be, the check is skipped and the pushes find out (the missing
	// issues fail alone there).
	read := false
	for i := 0; i < len(items) && i < editmetaTries; i++ {
		key := items[i].Key
		resp, err := t.site.call(ctx, "GET", "rest/api/2/issue/"+url.PathEscape(key)+"/editmeta", nil, &meta, "GET editmeta of "+key, "Browse Projects")
		if err == nil {
			read = true
			break
		}
		if resp == nil || (resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusBadRequest) || push.KindOf(err) != push.KindPermanent {
			return err
		}
	}
	if !read {
		return nil
	}
	for _, f := range selects {
		m, ok := meta.Fields[f.ID]
		if !ok || m.AllowedValues == nil {
			continue
		}
		var options []string
		for _, v := range m.AllowedValues {
			options = append(options, v.Value)
		}
		for _, it := range items {
			v, _ := it.Payload.(issuePayload).Fields[f.ID].(map[string]any)
			if s, _ := v["value"].(string); v != nil && !slices.Contains(options, s) {
				return push.Configf("jira %s: fields.%s: field %q (%s) has no option %q in project %s (its options there: %q): add the option to the field context that applies to %s",
					t.site.cfg.Name, f.Role, f.Name, f.ID, s, t.projectKey, options, t.projectKey)
			}
		}
	}
	return nil
}

// nameFields adds each field's role and name after its id in Jira's message, so "customfield_10031: …"
// reads "customfield_10031 (coverage_summary "Test Coverage Summary"): …".
func nameFields(err error, names map[string]string) error {
	msg := err.Error()
	changed := msg
	for id, n := range names {
		changed = strings.ReplaceAll(changed, id+":", id+" ("+n+"):")
	}
	if changed == msg {
		return err
	}
	return wrapKind(err, changed)
}

// wrapKind rewrites an error's message and keeps its kind.
func wrapKind(err error, msg string) error {
	return push.WithKindOf(err, &renamed{msg: msg, err: err})
}

type renamed struct {
	msg string
	err error
}

func (r *renamed) Error() string { return r.msg }
func (r *renamed) Unwrap() error { return r.err }
