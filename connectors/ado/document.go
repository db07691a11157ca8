package ado

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"time"

	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// docLastRun is the document's "lastRun" (docs/architecture.md, Contracts).
type docLastRun struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	URL       string    `json:"url,omitempty"`
	StartedAt time.Time `json:"startedAt"`
}

// ownedDoc is the part of a document covsync owns (docs/architecture.md, Contracts). Every key is always
// written (null when the report has no value), so a value that went away is cleared, and every other key is
// left as found.
type ownedDoc struct {
	Source          string            `json:"source"`
	UpdatedAt       *time.Time        `json:"updatedAt"`
	Project         string            `json:"project"`
	CoveragePercent *float64          `json:"coveragePercent"`
	CoveredMethods  *int              `json:"coveredMethods"`
	TotalMethods    *int              `json:"totalMethods"`
	Tests           report.TestCounts `json:"tests"`
	Status          string            `json:"status"`
	LastRun         *docLastRun       `json:"lastRun"`
	Release         *string           `json:"release"`
	// FlakyTests is the story's Flaky: its linked tests in the report's flaky list.
	FlakyTests int `json:"flakyTests"`
}

// documentFor is the owned part of story s's document: the story's numbers and status exactly as the report
// gives them. updatedAt is when the story's own data was last measured (its newest run or coverage figure),
// falling back to the project's DataAsOf; never the time of the sync, so an unchanged story hashes and
// compares equal from cycle to cycle, and a run that touches other stories does not rewrite this one.
func documentFor(p *report.Project, s report.Story) map[string]any {
	d := ownedDoc{
		Source: "covsync", Project: p.ID, CoveragePercent: s.CoveragePercent, CoveredMethods: s.CoveredMethods,
		TotalMethods: s.TotalMethods, Tests: s.Tests, Status: s.Status, FlakyTests: s.Flaky,
	}
	var at time.Time
	if s.LastRun != nil {
		d.LastRun = &docLastRun{ID: s.LastRun.ID, Name: s.LastRun.Name, URL: report.WebURL(s.LastRun.URL), StartedAt: s.LastRun.StartedAt.UTC()}
		if s.LastRun.Release != "" {
			rel := s.LastRun.Release
			d.Release = &rel
		}
		at = s.LastRun.StartedAt
	}
	if s.CoverageMeasuredAt != nil && s.CoverageMeasuredAt.After(at) {
		at = *s.CoverageMeasuredAt
	}
	if at.IsZero() {
		at = p.DataAsOf
	}
	if !at.IsZero() {
		u := at.UTC()
		d.UpdatedAt = &u
	}
	return jsonMap(d)
}

// jsonMap is v as a decoded JSON object: the form a document has once read back, so comparisons with a
// stored document are like for like.
func jsonMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain data is passed
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}

// merge returns stored with covsync's keys replaced by desired and the id set; every other key is kept.
func merge(stored, desired map[string]any, id string) map[string]any {
	out := make(map[string]any, len(stored)+len(desired)+1)
	for k, v := range stored {
		out[k] = v
	}
	for k, v := range desired {
		out[k] = v
	}
	out["id"] = id
	return out
}

// sameDoc compares two documents, ignoring __etag.
func sameDoc(a, b map[string]any) bool {
	if len(withoutEtag(a)) != len(withoutEtag(b)) {
		return false
	}
	return reflect.DeepEqual(withoutEtag(a), withoutEtag(b))
}

func withoutEtag(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != "__etag" {
			out[k] = v
		}
	}
	return out
}

// conflict reports whether a document write lost a race: a stale __etag (409, or 400
// InvalidDocumentVersionException on Server 2022), a create that found the document already there, or an
// update of a document deleted since it was read.
func conflict(err error) bool {
	s, key := statusOf(err)
	switch {
	case s == http.StatusConflict:
		return true
	case s == http.StatusBadRequest && (key == "InvalidDocumentVersionException" || key == "DocumentExistsException"):
		return true
	case s == http.StatusNotFound && key == "DocumentDoesNotExistException":
		return true
	}
	return false
}

// pushDocument reads the work item's document, merges covsync's keys into it and writes it back with the
// __etag read (POST with __etag -1 only when covsync creates it). A lost race re-reads and tries again, at
// most maxConflicts times. It reports whether it wrote.
func (t *Target) pushDocument(ctx context.Context, s *session, key string, pl *payload) (bool, error) {
	id := strconv.Itoa(pl.WorkItemID)
	docURL := s.docsURL + "/" + url.PathEscape(id)
	what := fmt.Sprintf("%s: story %s: document %s", t.Name(), key, id)
	for round := 1; round <= t.maxConflicts; round++ {
		stored, found, listed := map[string]any(nil), false, false
		if round == 1 {
			var err error
			if stored, found, listed, err = pl.listing.stored(ctx, t, s, id); err != nil {
				return false, t.docError(what, "reading", err)
			}
		}
		if !listed {
			err := t.paced(ctx, func() error {
				stored = nil
				return s.rest(ctx, http.MethodGet, docURL, s.dataVersion, nil, &stored)
			})
			found = err == nil
			if st, typeKey := statusOf(err); err != nil && st == http.StatusNotFound && typeKey != "InstalledExtensionNotFoundException" {
				err = nil // no document (or no collection yet): covsync creates it
			}
			if err != nil {
				return false, t.docError(what, "reading", err)
			}
		}
		next := merge(stored, pl.Document, id)
		if found && sameDoc(stored, next) {
			return false, nil
		}
		method := http.MethodPatch
		if found {
			next["__etag"] = stored["__etag"]
		} else {
			method = http.MethodPost
			next["__etag"] = -1
		}
		// Replaying this write is safe (a lost answer makes the replay conflict, and the next round finds the
		// document already right), so an HTTP client that retries only idempotent methods may retry it.
		wctx := httpx.AllowRetry(ctx)
		err := t.paced(ctx, func() error { return s.rest(wctx, method, s.docsURL, s.dataVersion, next, nil) })
		if conflict(err) {
			t.log.WithFields(map[string]any{"target": t.Name(), "story": key, "document": id, "round": round}).
				Debug("document changed since it was read; reading it again")
			continue
		}
		if err != nil {
			return false, t.docError(what, "writing", err)
		}
		return true, nil
	}
	return false, push.Retryable(fmt.Errorf("%s: still changing under covsync after %d read-merge-write rounds", what, t.maxConflicts))
}

// docError classifies a failed document call; an extension that is not installed stops the target.
func (t *Target) docError(what, doing string, err error) error {
	if _, key := statusOf(err); key == "InstalledExtensionNotFoundException" {
		e := t.o.Extension
		return push.Fatal(fmt.Errorf("%s: %s: the extension %s.%s is not installed in %s: %w", what, doing, e.Publisher, e.ID, t.o.OrganizationURL, err))
	}
	if isAuth(err) {
		return t.classify(err)
	}
	return t.classify(fmt.Errorf("%s: %s: %w", what, doing, err))
}
