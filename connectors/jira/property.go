package jira

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// PropertyTarget maintains the jira-test-manager.linked-test-runs property of one Jira project (kind
// "linked-runs").
type PropertyTarget struct {
	site       *Site
	projectKey string
}

// PropertyTarget returns the "linked-runs" target of a Jira project.
func (s *Site) PropertyTarget(projectKey string) *PropertyTarget {
	return &PropertyTarget{site: s, projectKey: projectKey}
}

// Name is "linked-runs:<site>/<PROJECTKEY>".
func (t *PropertyTarget) Name() string { return "linked-runs:" + t.site.cfg.Name + "/" + t.projectKey }

// Kind is "linked-runs".
func (t *PropertyTarget) Kind() string { return push.TargetLinkedRuns }

// runEntry is one run as the property holds it (docs/architecture.md, Contracts).
type runEntry struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Tests     int    `json:"tests"`
	Passed    int    `json:"passed"`
	Failed    int    `json:"failed"`
	Skipped   int    `json:"skipped"`
	StartedAt string `json:"startedAt"`
	URL       string `json:"url,omitempty"`
	Source    string `json:"source"`
}

// sourceCovsync marks the run entries covsync owns; every other entry is kept as found.
const sourceCovsync = "covsync"

// desiredRelease is covsync's part of one release.
type desiredRelease struct {
	Name string     `json:"name"`
	Runs []runEntry `json:"runs"` // newest first
}

// propertyPayload is what covsync wants the property to contain. It is a pure function of the report:
// UpdatedAt is the newest linked run's start, so an unchanged report hashes the same.
type propertyPayload struct {
	ProjectKey string                    `json:"project"`
	UpdatedAt  string                    `json:"updatedAt,omitempty"`
	Releases   map[string]desiredRelease `json:"releases"` // Jira version id →
	Unlinked   []string                  `json:"unlinked,omitempty"`
}

// Plan maps each release to its Jira version (Release.JiraVersionID, else the project's version of the same
// name, one GET /rest/api/2/project/{key}/versions) and plans one item: the project's property. A release
// without a Jira version is reported (a warning and the item's note), never invented.
func (t *PropertyTarget) Plan(ctx context.Context, p *report.Project) ([]push.Item, error) {
	var versions []gojira.Version
	if _, err := t.site.call(ctx, "GET", "rest/api/2/project/"+url.PathEscape(t.projectKey)+"/versions", nil, &versions,
		"GET versions of project "+t.projectKey, "Browse Projects"); err != nil {
		return nil, err
	}
	byName := map[string]string{}
	for _, v := range versions {
		byName[v.Name] = v.ID
	}
	pl := propertyPayload{ProjectKey: t.projectKey, Releases: map[string]desiredRelease{}}
	// updatedAt is the newest run start the property links: the time of its data, never the sync time, and
	// not moved by coverage measurements the property does not hold.
	var newest time.Time
	for _, rel := range p.Releases {
		for _, r := range rel.Runs {
			if r.StartedAt.After(newest) {
				newest = r.StartedAt
			}
		}
	}
	if !newest.IsZero() {
		pl.UpdatedAt = newest.UTC().Format(time.RFC3339)
	}
	for _, rel := range p.Releases {
		id := rel.JiraVersionID
		if id == "" {
			id = byName[rel.Name]
		}
		if id == "" {
			pl.Unlinked = append(pl.Unlinked, rel.Name)
			continue
		}
		d := pl.Releases[id]
		d.Name = rel.Name
		for _, r := range rel.Runs {
			d.Runs = append(d.Runs, toEntry(r))
		}
		sortRuns(d.Runs)
		pl.Releases[id] = d
	}
	if len(pl.Unlinked) > 0 {
		t.site.log.WithFields(map[string]any{"target": t.Name(), "releases": strings.Join(pl.Unlinked, ", ")}).
			Warn("releases without a Jira version of the same name are not linked")
	}
	h, err := push.HashJSON(pl)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Name(), err)
	}
	n := 0
	for _, r := range pl.Releases {
		n += len(r.Runs)
	}
	return []push.Item{{Key: "property:" + t.projectKey, Hash: h, Payload: pl,
		Summary: fmt.Sprintf("%d releases, %d runs", len(pl.Releases), n)}}, nil
}

func toEntry(r report.Run) runEntry {
	// The name is capped so that no one run can outweigh the property's size limit and prune every other
	// run; the URL is dropped unless http(s) (report.IsWebURL).
	return runEntry{ID: r.ID, Name: report.Truncate(r.Name, maxEntryName), Status: r.Status, Tests: r.Tests, Passed: r.Passed, Failed: r.Failed,
		Skipped: r.Skipped + r.Pending + r.Other, StartedAt: r.StartedAt.UTC().Format(time.RFC3339), URL: report.WebURL(r.URL), Source: sourceCovsync}
}

// sortRuns orders runs newest first; equal times keep their order.
func sortRuns(rs []runEntry) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].StartedAt > rs[j].StartedAt })
}

// mergeAttempts bounds how often Push re-merges when the property changes under it.
const mergeAttempts = 3

// Push reads the property, merges, reads it again to catch a concurrent writer (Jira has no etag for
// entity properties), and writes only when the merged value differs from what is there.
func (t *PropertyTarget) Push(ctx context.Context, it push.Item) (push.Result, error) {
	pl, ok := it.Payload.(propertyPayload)
	if !ok {
		return push.Result{}, push.Permanentf("%s: item %s: payload %T is not the property", t.Name(), it.Key, it.Payload)
	}
	lock := t.site.projectLock(t.projectKey)
	lock.Lock()
	defer lock.Unlock()

	var res push.Result
	if len(pl.Unlinked) > 0 {
		res.Note = "not linked, no Jira version of that name: " + strings.Join(pl.Unlinked, ", ")
	}
	current, err := t.read(ctx)
	if err != nil {
		return push.Result{}, err
	}
	for range mergeAttempts {
		merged, pruned, err := mergeProperty(current, pl)
		if err != nil {
			return push.Result{}, push.Permanent(fmt.Errorf("%s: %w", t.Name(), err))
		}
		if current != nil && equalJSON(current, merged) {
			res.NoChange = true
			return res, nil
		}
		again, err := t.read(ctx)
		if err != nil {
			return push.Result{}, err
		}
		if !sameValue(current, again) {
			t.site.log.WithField("target", t.Name()).Info("property changed while covsync merged; merging again")
			current = again
			continue
		}
		if _, err := t.site.call(ctx, "PUT", t.path(), json.RawMessage(merged), nil, "PUT property "+PropertyKey, "Administer Projects"); err != nil {
			return push.Result{}, err
		}
		res.Pruned = pruned
		if pruned > 0 {
			note := fmt.Sprintf("pruned %d oldest covsync runs to stay within %d bytes", pruned, MaxPropertyBytes)
			res.Note = strings.TrimPrefix(res.Note+"; "+note, "; ")
		}
		return res, nil
	}
	return push.Result{}, push.Retryable(fmt.Errorf("%s: property %s kept changing while covsync merged (%d attempts)", t.Name(), PropertyKey, mergeAttempts))
}

func (t *PropertyTarget) path() string {
	return "rest/api/2/project/" + url.PathEscape(t.projectKey) + "/properties/" + PropertyKey
}

// read returns the property value, or nil when the property does not exist yet.
func (t *PropertyTarget) read(ctx context.Context) (json.RawMessage, error) {
	var got struct {
		Value json.RawMessage `json:"value"`
	}
	resp, err := t.site.call(ctx, "GET", t.path(), nil, &got, "GET property "+PropertyKey, "Browse Projects")
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound && push.KindOf(err) == push.KindPermanent {
			return nil, nil
		}
		return nil, err
	}
	return got.Value, nil
}

func sameValue(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return equalJSON(a, b)
}
