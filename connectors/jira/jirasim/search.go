package jirasim

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Deployments the simulator can play: which search endpoints exist and what serverInfo says.
const (
	// DeploymentCloud serves POST /rest/api/2/search/jql (nextPageToken paging) and answers 410 Gone to the
	// removed /rest/api/2/search, as Jira Cloud has since the enhanced search replaced it
	// (https://developer.atlassian.com/changelog/#CHANGE-2046;
	// https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-search/#api-rest-api-2-search-jql-post).
	DeploymentCloud = "Cloud"
	// DeploymentDataCenter serves POST /rest/api/2/search (startAt paging) and has no /search/jql
	// (https://developer.atlassian.com/server/jira/platform/rest/v10000/api-group-search/#api-api-2-search-post).
	DeploymentDataCenter = "DataCenter"
)

// Page sizes: Cloud's search/jql returns at most 100 issues a page once fields beyond id and key are asked
// for ("the API may return fewer items per page where a large number of fields are requested"); Data
// Center's limit is jira.search.views.default.max, 1,000 by default. Both default to 50.
const (
	cloudMaxResults = 100
	dcMaxResults    = 1000
	defaultResults  = 50
)

// removedSearch is Jira Cloud's answer to the removed search endpoints (the text Jira Cloud sends since
// CHANGE-2046).
const removedSearch = "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"

// issueKeyIn is the one JQL shape the simulator understands: issuekey in (K1, K2, …) (also key in …).
var issueKeyIn = regexp.MustCompile(`(?i)^\s*(?:issuekey|key)\s+in\s*\(([^)]*)\)\s*$`)

// serverInfo: GET /rest/api/2/serverInfo (api-group-server-info, "Get Jira instance info"):
// deploymentType is "Cloud" on Cloud; Data Center says "DataCenter" (Server said "Server").
func (s *Sim) serverInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	dep, base := s.deployment(), s.opts.BaseURL
	s.mu.Unlock()
	version, number := "1001.0.0-SNAPSHOT", []int{1001, 0, 0}
	if dep == DeploymentDataCenter {
		version, number = "10.3.1", []int{10, 3, 1}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"baseUrl": base, "version": version, "versionNumbers": number, "deploymentType": dep,
		"buildNumber": 100290, "serverTitle": "Jira",
	})
}

// deployment is the simulated deployment (DeploymentCloud by default). Caller holds s.mu.
func (s *Sim) deployment() string {
	if s.opts.Deployment == "" {
		return DeploymentCloud
	}
	return s.opts.Deployment
}

// searchRequest is the body of both search endpoints.
type searchRequest struct {
	JQL           string   `json:"jql"`
	Fields        []string `json:"fields"`
	MaxResults    *int     `json:"maxResults"`
	NextPageToken string   `json:"nextPageToken"` // Cloud
	StartAt       int      `json:"startAt"`       // Data Center
}

// searchJQL: POST /rest/api/2/search/jql on Cloud: {"issues":[…],"nextPageToken":"…","isLast":bool}; the
// token is absent on the last page. On Data Center the route does not exist (404).
func (s *Sim) searchJQL(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	dep := s.deployment()
	s.mu.Unlock()
	if dep != DeploymentCloud {
		writeError(w, http.StatusNotFound, []string{"null for uri: " + r.URL.String()}, nil)
		return
	}
	var req searchRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, []string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil)
		return
	}
	start := 0
	if req.NextPageToken != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(req.NextPageToken, "page-"))
		if err != nil || !strings.HasPrefix(req.NextPageToken, "page-") {
			writeError(w, http.StatusBadRequest, []string{"The provided next page token is invalid or expired."}, nil)
			return
		}
		start = n
	}
	issues, next, ok := s.search(w, req, start, cloudMaxResults)
	if !ok {
		return
	}
	out := map[string]any{"issues": issues, "isLast": next < 0}
	if next >= 0 {
		out["nextPageToken"] = "page-" + strconv.Itoa(next)
	}
	writeJSON(w, http.StatusOK, out)
}

// searchLegacy: POST /rest/api/2/search. Data Center: {"startAt","maxResults","total","issues"}. Cloud: 410
// Gone, the endpoint was removed.
func (s *Sim) searchLegacy(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	dep := s.deployment()
	s.mu.Unlock()
	if dep == DeploymentCloud {
		writeError(w, http.StatusGone, []string{removedSearch}, nil)
		return
	}
	var req searchRequest
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		req.JQL = q.Get("jql")
		if f := q.Get("fields"); f != "" {
			req.Fields = strings.Split(f, ",")
		}
		req.StartAt, _ = strconv.Atoi(q.Get("startAt"))
		if n, err := strconv.Atoi(q.Get("maxResults")); err == nil {
			req.MaxResults = &n
		}
	} else if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, []string{"Unexpected character in the request body: " + err.Error()}, nil)
		return
	}
	issues, _, ok := s.search(w, req, req.StartAt, dcMaxResults)
	if !ok {
		return
	}
	s.mu.Lock()
	total := s.matchCount(req)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"startAt": req.StartAt, "maxResults": len(issues), "total": total, "issues": issues})
}

// search runs the JQL and returns the page starting at start, and the index of the next page (-1: last).
// A key of an issue that does not exist (or cannot be browsed) fails the whole query with 400, as Jira
// does: "An issue with key 'X' does not exist for field 'issuekey'." (no Atlassian page documents the text;
// it is what both deployments answer).
func (s *Sim) search(w http.ResponseWriter, req searchRequest, start, limit int) ([]map[string]any, int, bool) {
	keys, ok := parseKeys(req.JQL)
	if !ok {
		writeError(w, http.StatusBadRequest, []string{fmt.Sprintf("Error in the JQL Query: the simulator understands only 'issuekey in (…)', not %q.", req.JQL)}, nil)
		return nil, 0, false
	}
	size := defaultResults
	if req.MaxResults != nil {
		size = max(1, min(*req.MaxResults, limit))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var missing []string
	var found []*issue
	for _, k := range keys {
		is := s.issues[k]
		if is == nil || s.perms[PermBrowseProjects] {
			missing = append(missing, fmt.Sprintf("An issue with key '%s' does not exist for field 'issuekey'.", k))
			continue
		}
		found = append(found, is)
	}
	if len(missing) > 0 {
		writeError(w, http.StatusBadRequest, missing, nil)
		return nil, 0, false
	}
	// Without ORDER BY, Jira orders by issue id, newest first; any stable order serves paging.
	sort.Slice(found, func(i, j int) bool { return found[i].id > found[j].id })
	if start > len(found) {
		start = len(found)
	}
	end := min(start+size, len(found))
	out := make([]map[string]any, 0, end-start)
	for _, is := range found[start:end] {
		out = append(out, map[string]any{
			"id": strconv.Itoa(is.id), "key": is.key, "self": s.opts.BaseURL + "/rest/api/2/issue/" + strconv.Itoa(is.id),
			"fields": s.searchFields(is, req.Fields),
		})
	}
	next := -1
	if end < len(found) {
		next = end
	}
	return out, next, true
}

func (s *Sim) matchCount(req searchRequest) int {
	keys, _ := parseKeys(req.JQL)
	n := 0
	for _, k := range keys {
		if s.issues[k] != nil {
			n++
		}
	}
	return n
}

// searchFields renders the asked fields as Jira's search does: a number as a Java double (95.0), a select
// as its option object {"self","value","id"}, an unset field as null. Caller holds s.mu.
func (s *Sim) searchFields(is *issue, ids []string) map[string]any {
	out := map[string]any{}
	for _, id := range ids {
		v, set := is.fields[id]
		f := s.fieldByID(id)
		switch {
		case !set || v == nil:
			if f != nil {
				out[id] = nil
			}
		case f != nil && f.kind == KindNumber:
			if n, ok := v.(float64); ok {
				out[id] = javaDouble(n)
			} else {
				out[id] = v
			}
		case f != nil && f.kind == KindSelect:
			opt := maps.Clone(v.(map[string]any))
			idx := 0
			for i, o := range f.Options {
				if o == opt["value"] {
					idx = i
				}
			}
			optID := strconv.FormatInt(f.Schema.CustomID*100+int64(idx), 10)
			opt["id"], opt["self"] = optID, s.opts.BaseURL+"/rest/api/2/customFieldOption/"+optID
			out[id] = opt
		default:
			out[id] = v
		}
	}
	return out
}

// javaDouble writes a number as Java's Double.toString would for the values covsync stores: 95 as 95.0.
func javaDouble(n float64) json.RawMessage {
	s := strconv.FormatFloat(n, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return json.RawMessage(s)
}

func parseKeys(jql string) ([]string, bool) {
	m := issueKeyIn.FindStringSubmatch(jql)
	if m == nil {
		return nil, false
	}
	var keys []string
	for _, k := range strings.Split(m[1], ",") {
		k = strings.Trim(strings.TrimSpace(k), `"'`)
		if k != "" {
			keys = append(keys, strings.ToUpper(k))
		}
	}
	return keys, len(keys) > 0
}

// SetIssueField changes an issue's field as a person or an automation rule would, out of band (not through
// the recorded API): value nil clears it; a select takes the option's text.
func (s *Sim) SetIssueField(key, fieldID string, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issues[key]
	if is == nil {
		panic(fmt.Sprintf("jirasim: no issue %q", key))
	}
	if value == nil {
		delete(is.fields, fieldID)
		return
	}
	if f := s.fieldByID(fieldID); f != nil && f.kind == KindSelect {
		if str, ok := value.(string); ok {
			value = map[string]any{"value": str}
		}
	}
	is.fields[fieldID] = value
}

// SetDeployment switches the simulated deployment (DeploymentCloud or DeploymentDataCenter).
func (s *Sim) SetDeployment(d string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Deployment = d
}

// Searches counts the recorded search requests: jql on POST /rest/api/2/search/jql, legacy on
// /rest/api/2/search.
func (s *Sim) Searches() (jql, legacy int) {
	for _, r := range s.Requests() {
		switch r.Path {
		case "/rest/api/2/search/jql":
			jql++
		case "/rest/api/2/search":
			legacy++
		}
	}
	return jql, legacy
}
