package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/covsync/covsync/sync/push"
)

// SearchBatch is how many issue keys one search names: JQL `issuekey in (…)` with at most 100 keys, which
// is also the most issues one page of Cloud's search/jql returns with fields asked for, so a batch is one
// request. 5,000 stories read back in 50 searches.
const SearchBatch = 100

// Deployment types, as GET /rest/api/2/serverInfo reports them in deploymentType
// (https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-server-info/#api-rest-api-2-serverinfo-get).
const (
	deploymentCloud = "Cloud"
)

// isCloud says whether the site is Jira Cloud, which decides the search endpoint: Cloud removed
// /rest/api/2/search (410 Gone) for POST /rest/api/2/search/jql
// (https://developer.atlassian.com/changelog/#CHANGE-2046), Data Center has only /rest/api/2/search
// (https://developer.atlassian.com/server/jira/platform/rest/v10000/api-group-search/#api-api-2-search-post).
// A URL on atlassian.net (or the older jira.com) is Cloud without asking; any other host is asked once per
// site with GET /rest/api/2/serverInfo: deploymentType "Cloud" is Cloud, anything else ("Server",
// "DataCenter") is not.
func (s *Site) isCloud(ctx context.Context) (bool, error) {
	s.mu.Lock()
	known := s.deployment
	s.mu.Unlock()
	if known == "" {
		if u, err := url.Parse(s.cfg.URL); err == nil {
			h := strings.ToLower(u.Hostname())
			if strings.HasSuffix(h, ".atlassian.net") || strings.HasSuffix(h, ".jira.com") {
				known = deploymentCloud
			}
		}
	}
	if known == "" {
		var info struct {
			DeploymentType string `json:"deploymentType"`
		}
		if _, err := s.call(ctx, "GET", "rest/api/2/serverInfo", nil, &info, "GET serverInfo", "Browse Projects"); err != nil {
			return false, err
		}
		known = info.DeploymentType
		if known == "" {
			known = "Server" // Jira Server before deploymentType existed
		}
	}
	s.mu.Lock()
	s.deployment = known
	s.mu.Unlock()
	return known == deploymentCloud, nil
}

// searchResult is one page of either search endpoint; Cloud sets NextPageToken (absent on the last
// page), Data Center StartAt and Total.
type searchResult struct {
	Issues []struct {
		Key    string                     `json:"key"`
		Fields map[string]json.RawMessage `json:"fields"`
	} `json:"issues"`
	NextPageToken string `json:"nextPageToken"`
	IsLast        bool   `json:"isLast"`
	StartAt       int    `json:"startAt"`
	Total         int    `json:"total"`
}

// missingKeyRE reads the keys out of Jira's answer to a search naming an issue that does not exist (or
// that the user may not browse): the whole query fails with 400 and one message per key, "An issue with key
// 'SHOP-9' does not exist for field 'issuekey'." (no Atlassian page documents the text; it is what both
// deployments answer, in varying letter case of the field).
var missingKeyRE = regexp.MustCompile(`(?i)an issue with key '([^']+)' does not exist for field`)

// searchWorkers bounds the searches a read-back has in flight: at the reference 25 ms latency one search at
// a time leaves the site's budget mostly unused; the site's pacing (httpx) still holds the rate.
const searchWorkers = 4

// heldFields reads the fields ids of the issues keys in batches of SearchBatch keys, searchWorkers at a
// time: POST /rest/api/2/search/jql on Cloud (paged by nextPageToken), POST /rest/api/2/search on Data Center
// (paged by startAt). It returns issue key → field id → raw value; an issue that does not exist is absent.
func (s *Site) heldFields(ctx context.Context, keys, ids []string) (map[string]map[string]json.RawMessage, error) {
	cloud, err := s.isCloud(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu  sync.Mutex
		out = make(map[string]map[string]json.RawMessage, len(keys))
		wg  sync.WaitGroup
	)
	batches := make(chan []string)
	for range searchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range batches {
				got := map[string]map[string]json.RawMessage{}
				if err := s.searchAll(ctx, cloud, batch, ids, got); err != nil {
					cancel(err)
					continue
				}
				mu.Lock()
				maps.Copy(out, got)
				mu.Unlock()
			}
		}()
	}
	for start := 0; start < len(keys) && ctx.Err() == nil; start += SearchBatch {
		select {
		case batches <- keys[start:min(start+SearchBatch, len(keys))]:
		case <-ctx.Done():
		}
	}
	close(batches)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// searchAll reads one batch of keys into out. A key that does not exist fails the query: it drops the keys
// Jira names and asks again. Each round drops at least one key, and Jira names all of them at once, so this
// ends in a round or two.
func (s *Site) searchAll(ctx context.Context, cloud bool, batch, ids []string, out map[string]map[string]json.RawMessage) error {
	for len(batch) > 0 {
		missing, err := s.searchBatch(ctx, cloud, batch, ids, out)
		if err != nil || len(missing) == 0 {
			return err
		}
		batch = without(batch, missing)
	}
	return nil
}

// searchBatch reads one batch, every page of it, into out. missing are keys Jira says do not exist (the
// query then read nothing).
func (s *Site) searchBatch(ctx context.Context, cloud bool, keys, ids []string, out map[string]map[string]json.RawMessage) (missing []string, err error) {
	jql := "issuekey in (" + strings.Join(keys, ", ") + ")"
	path, what := "rest/api/2/search", "POST search"
	if cloud {
		path, what = "rest/api/2/search/jql", "POST search/jql"
	}
	token, startAt := "", 0
	for page := 0; ; page++ {
		body := map[string]any{"jql": jql, "fields": ids, "maxResults": SearchBatch}
		if cloud && token != "" {
			body["nextPageToken"] = token
		}
		if !cloud {
			body["startAt"] = startAt
		}
		req, err := s.client.NewRequestWithContext(ctx, "POST", path, body)
		if err != nil {
			return nil, fmt.Errorf("jira %s: %s: %w", s.cfg.Name, what, err)
		}
		var res searchResult
		resp, err := s.client.Do(req, &res)
		if err != nil {
			if resp != nil && resp.StatusCode == http.StatusBadRequest {
				if miss := missingKeys(gojira.NewJiraError(resp, err)); len(miss) > 0 && page == 0 {
					return miss, nil
				}
			}
			return nil, s.classify(ctx, resp, err, what+" ("+strconv.Itoa(len(keys))+" issues)", "Browse Projects")
		}
		for _, is := range res.Issues {
			out[is.Key] = is.Fields
		}
		if cloud {
			if res.NextPageToken == "" || res.IsLast {
				return nil, nil
			}
			token = res.NextPageToken
		} else {
			startAt = res.StartAt + len(res.Issues)
			if len(res.Issues) == 0 || startAt >= res.Total {
				return nil, nil
			}
		}
		if page > len(keys) { // a server that pages forever
			return nil, push.Retryablef("jira %s: %s kept paging past %d pages", s.cfg.Name, what, page)
		}
	}
}

func missingKeys(err error) []string {
	var je *gojira.Error
	if !errors.As(err, &je) {
		return nil
	}
	var out []string
	for _, m := range je.ErrorMessages {
		if g := missingKeyRE.FindStringSubmatch(m); g != nil {
			out = append(out, strings.ToUpper(g[1]))
		}
	}
	return out
}

func without(keys, drop []string) []string {
	gone := map[string]bool{}
	for _, k := range drop {
		gone[k] = true
	}
	out := keys[:0:0]
	for _, k := range keys {
		if !gone[k] {
			out = append(out, k)
		}
	}
	return out
}

// Drift reads the configured fields of every planned issue back with searches of SearchBatch keys and
// compares them by meaning with what Push would write (see heldDiffers). An issue that no longer exists is
// drift: its push then fails alone, with Jira's 404.
func (t *IssueTarget) Drift(ctx context.Context, items []push.Item) (push.Drift, error) {
	if len(items) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(items))
	idSet := map[string]bool{}
	for _, it := range items {
		pl, ok := it.Payload.(issuePayload)
		if !ok {
			return nil, fmt.Errorf("jira %s: item %s: payload %T is not an issue edit", t.site.cfg.Name, it.Key, it.Payload)
		}
		keys = append(keys, pl.Key)
		for id := range pl.Fields {
			idSet[id] = true
		}
	}
	ids := sortedKeys(idSet)
	held, err := t.site.heldFields(ctx, keys, ids)
	if err != nil {
		return nil, err
	}
	out := push.Drift{}
	for _, it := range items {
		pl := it.Payload.(issuePayload)
		fields, ok := held[pl.Key]
		if !ok {
			out[it.Key] = []push.Diff{{Field: "issue", Held: push.Missing, Desired: pl.Key}}
			continue
		}
		var diffs []push.Diff
		for _, id := range sortedKeys(pl.Fields) {
			if d, differs := heldDiffers(fields[id], pl.Fields[id]); differs {
				d.Field = id
				if n := pl.names[id]; n != "" {
					d.Field = n + " (" + id + ")"
				}
				diffs = append(diffs, d)
			}
		}
		if len(diffs) > 0 {
			out[it.Key] = diffs
		}
	}
	return out, nil
}

// heldDiffers compares a field's held value (raw JSON from the search) with the value Push would send, by
// meaning: an unset, null or empty value equals a cleared one; numbers compare as numbers (95.0 equals 95);
// a select compares its option's value (Jira adds id and self); text compares exactly.
func heldDiffers(held json.RawMessage, want any) (push.Diff, bool) {
	h := decodeHeld(held)
	w := shown(want)
	switch {
	case h.empty && w.empty:
		return push.Diff{}, false
	case h.empty != w.empty:
	case w.number != nil && h.number != nil:
		if *w.number == *h.number {
			return push.Diff{}, false
		}
	case w.number == nil && h.number == nil && h.text == w.text:
		return push.Diff{}, false
	}
	return push.Diff{Held: h.String(), Desired: w.String()}, true
}

// value is a field value reduced to what comparing it needs.
type value struct {
	empty  bool
	number *float64
	text   string // a string, a select's value, or the JSON of anything else
}

func (v value) String() string {
	switch {
	case v.empty:
		return push.Empty
	case v.number != nil:
		return strconv.FormatFloat(*v.number, 'f', -1, 64)
	}
	return push.Show(v.text)
}

func decodeHeld(raw json.RawMessage) value {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if len(raw) == 0 || dec.Decode(&v) != nil {
		return value{empty: true}
	}
	return shown(v)
}

func shown(v any) value {
	switch x := v.(type) {
	case nil:
		return value{empty: true}
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return value{text: x.String()}
		}
		return value{number: &f}
	case float64:
		return value{number: &x}
	case string:
		return value{empty: x == "", text: x}
	case map[string]any:
		if s, ok := x["value"].(string); ok {
			return value{empty: s == "", text: s}
		}
	}
	b, _ := json.Marshal(v)
	return value{text: string(b)}
}

// Drift reads the property once and merges covsync's runs into it as Push would: it has drifted when the
// merged value differs from the stored one (covsync's entries changed, removed or missing), or when the
// property is gone. Entries covsync does not own never count.
func (t *PropertyTarget) Drift(ctx context.Context, items []push.Item) (push.Drift, error) {
	out := push.Drift{}
	for _, it := range items {
		pl, ok := it.Payload.(propertyPayload)
		if !ok {
			return nil, fmt.Errorf("%s: item %s: payload %T is not the property", t.Name(), it.Key, it.Payload)
		}
		current, err := t.read(ctx)
		if err != nil {
			return nil, err
		}
		merged, _, err := mergeProperty(current, pl)
		if err != nil {
			// Push fails this item with the same message; count it as drift so it is attempted and reported.
			out[it.Key] = []push.Diff{{Field: PropertyKey, Held: push.Show(err.Error()), Desired: it.Summary}}
			continue
		}
		if current == nil {
			out[it.Key] = []push.Diff{{Field: PropertyKey, Held: push.Missing, Desired: it.Summary}}
			continue
		}
		if !equalJSON(current, merged) {
			out[it.Key] = propertyDiffs(current, merged)
		}
	}
	return out, nil
}

// propertyDiffs names what differs between the stored and the merged property: each release whose covsync
// runs differ, or the top-level keys.
func propertyDiffs(stored, merged json.RawMessage) []push.Diff {
	type prop struct {
		UpdatedAt string `json:"updatedAt"`
		Releases  map[string]struct {
			Runs []json.RawMessage `json:"runs"`
		} `json:"releases"`
	}
	var a, b prop
	_ = json.Unmarshal(stored, &a)
	_ = json.Unmarshal(merged, &b)
	ours := func(runs []json.RawMessage) []json.RawMessage {
		var out []json.RawMessage
		for _, r := range runs {
			var e struct {
				Source string `json:"source"`
			}
			if json.Unmarshal(r, &e) == nil && e.Source == sourceCovsync {
				out = append(out, r)
			}
		}
		return out
	}
	ids := map[string]bool{}
	for id := range a.Releases {
		ids[id] = true
	}
	for id := range b.Releases {
		ids[id] = true
	}
	var diffs []push.Diff
	for _, id := range sortedKeys(ids) {
		ha, hb := ours(a.Releases[id].Runs), ours(b.Releases[id].Runs)
		x, _ := json.Marshal(ha)
		y, _ := json.Marshal(hb)
		if !equalJSON(x, y) {
			diffs = append(diffs, push.Diff{Field: "releases." + id + " covsync runs",
				Held: strconv.Itoa(len(ha)) + " runs", Desired: strconv.Itoa(len(hb)) + " runs"})
		}
	}
	if a.UpdatedAt != b.UpdatedAt {
		diffs = append(diffs, push.Diff{Field: "updatedAt", Held: push.Show(a.UpdatedAt), Desired: push.Show(b.UpdatedAt)})
	}
	if len(diffs) == 0 {
		diffs = []push.Diff{{Field: PropertyKey, Held: "other shape", Desired: "covsync's merge"}}
	}
	sort.SliceStable(diffs, func(i, j int) bool { return diffs[i].Field < diffs[j].Field })
	return diffs
}
