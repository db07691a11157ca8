package jira

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// issueKeyRE is a Jira issue key.
var issueKeyRE = regexp.MustCompile(`^[A-Z][A-Z0-9]+-[0-9]+$`)

// IssueTarget writes the configured custom fields of each story of one Jira project (kind "jira").
type IssueTarget struct {
	site       *Site
	projectKey string
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
			v.runURL = st.LastRun.URL
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

// Push sends PUT /rest/api/2/issue/{key}?notifyUsers=false. go-jira's UpdateIssue cannot add the query, so
// the request is built by hand. A 400 or 404 fails this story only, with Jira's field messages.
func (t *IssueTarget) Push(ctx context.Context, it push.Item) (push.Result, error) {
	pl, ok := it.Payload.(issuePayload)
	if !ok {
		return push.Result{}, push.Permanentf("jira %s: item %s: payload %T is not an issue edit", t.site.cfg.Name, it.Key, it.Payload)
	}
	path := "rest/api/2/issue/" + url.PathEscape(pl.Key) + "?notifyUsers=false"
	_, err := t.site.call(ctx, "PUT", path, map[string]any{"fields": pl.Fields}, nil, "PUT issue "+pl.Key, "Edit Issues")
	if err != nil {
		return push.Result{}, nameFields(err, pl.names)
	}
	return push.Result{}, nil
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
	e := &renamed{msg: msg, err: err}
	switch push.KindOf(err) {
	case push.KindFatal:
		return push.Fatal(e)
	case push.KindPermanent:
		return push.Permanent(e)
	}
	return push.Retryable(e)
}

type renamed struct {
	msg string
	err error
}

func (r *renamed) Error() string { return r.msg }
func (r *renamed) Unwrap() error { return r.err }
