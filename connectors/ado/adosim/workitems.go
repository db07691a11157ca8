package adosim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type project struct {
	ID, Name string
}

type workItem struct {
	ID      int
	Rev     int
	Project string // the project's name as seeded
	Fields  map[string]any
}

// AddProject seeds a project and returns its id.
func (s *Sim) AddProject(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", len(s.projects)+1)
	s.projects[lower(name)] = &project{ID: id, Name: name}
	return id
}

// AddWorkItem seeds a work item in project (which must exist) with fields (reference name → value) and
// returns its id. System.Id, System.TeamProject, System.Rev and a default System.WorkItemType are filled in.
func (s *Sim) AddWorkItem(projectName string, fields map[string]any) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[lower(projectName)]
	if !ok {
		panic("adosim: AddWorkItem: no project " + projectName)
	}
	s.nextID++
	wi := &workItem{ID: s.nextID, Rev: 1, Project: p.Name, Fields: map[string]any{}}
	for k, v := range fields {
		wi.Fields[k] = v
		if s.knownField(k) == nil {
			// A field a work item holds is one the process defines: a String, unless AddField said otherwise.
			s.fields[lower(k)] = &field{Ref: k, Name: k, Type: TypeString}
		}
	}
	wi.Fields["System.Id"] = float64(wi.ID)
	wi.Fields["System.TeamProject"] = p.Name
	if _, ok := wi.Fields["System.WorkItemType"]; !ok {
		wi.Fields["System.WorkItemType"] = "User Story"
	}
	wi.Fields["System.Rev"] = float64(wi.Rev)
	s.workItems[wi.ID] = wi
	return wi.ID
}

// WorkItem returns a copy of work item id's rev and fields.
func (s *Sim) WorkItem(id int) (rev int, fields map[string]any, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wi, ok := s.workItems[id]
	if !ok {
		return 0, nil, false
	}
	fields = map[string]any{}
	for k, v := range wi.Fields {
		fields[k] = v
	}
	return wi.Rev, fields, true
}

// EditWorkItem changes fields of work item id as a person would (bumping its rev).
func (s *Sim) EditWorkItem(id int, fields map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wi := s.workItems[id]
	for k, v := range fields {
		wi.Fields[k] = v
	}
	wi.Rev++
	wi.Fields["System.Rev"] = float64(wi.Rev)
}

// DeleteWorkItem deletes work item id as a person would: afterwards reading it answers 404 and a batch read
// with errorPolicy=omit a null (https://learn.microsoft.com/en-us/rest/api/azure/devops/wit/work-items/delete:
// a deleted work item goes to the recycle bin, out of reach of the work item routes).
func (s *Sim) DeleteWorkItem(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.workItems, id)
}

// serveProject answers GET _apis/projects/{projectId}
// (https://learn.microsoft.com/en-us/rest/api/azure/devops/core/projects/get).
func (s *Sim) serveProject(w http.ResponseWriter, r *http.Request, name string) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "read-only in the simulator")
		return
	}
	p := s.project(name)
	if p == nil {
		writeError(w, http.StatusNotFound, "ProjectDoesNotExistWithNameException",
			fmt.Sprintf("TF200016: The following project does not exist: %s. Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server.", name))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": p.ID, "name": p.Name, "state": "wellFormed", "revision": 1, "visibility": "private",
		"url": baseURL(r) + "/_apis/projects/" + p.ID,
	})
}

func (s *Sim) project(name string) *project {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.projects[lower(name)]; ok {
		return p
	}
	for _, p := range s.projects {
		if strings.EqualFold(p.ID, name) {
			return p
		}
	}
	return nil
}

// serveWorkItemRoutes answers [{project}/]_apis/wit/workItems[/{id}] and [{project}/]_apis/wit/wiql.
func (s *Sim) serveWorkItemRoutes(w http.ResponseWriter, r *http.Request, rest []string, body []byte) {
	var proj *project
	if len(rest) > 0 && !strings.EqualFold(rest[0], "_apis") {
		if proj = s.project(rest[0]); proj == nil {
			writeError(w, http.StatusNotFound, "ProjectDoesNotExistWithNameException",
				fmt.Sprintf("TF200016: The following project does not exist: %s.", rest[0]))
			return
		}
		rest = rest[1:]
	}
	switch {
	case matchSegs(rest, "_apis", "wit", "fields") && r.Method == http.MethodGet:
		s.serveFields(w, r)
	case len(rest) == 5 && matchSegs(rest[:4], "_apis", "work", "processes", "lists") && r.Method == http.MethodGet:
		s.servePicklist(w, r, rest[4])
	case matchSegs(rest, "_apis", "wit", "workitems") && r.Method == http.MethodGet:
		s.serveWorkItemBatch(w, r, proj)
	case len(rest) == 4 && matchSegs(rest[:3], "_apis", "wit", "workitems"):
		id, err := strconv.Atoi(rest[3])
		if err != nil {
			writeError(w, http.StatusBadRequest, "ArgumentException", "work item id must be a number: "+rest[3])
			return
		}
		switch r.Method {
		case http.MethodGet:
			s.serveWorkItem(w, r, proj, id)
		case http.MethodPatch:
			s.patchWorkItem(w, r, proj, id, body)
		default:
			writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" not served")
		}
	case matchSegs(rest, "_apis", "wit", "workitemsbatch") && r.Method == http.MethodPost:
		s.serveWorkItemsBatchPost(w, proj, body, baseURL(r))
	case matchSegs(rest, "_apis", "wit", "wiql") && r.Method == http.MethodPost:
		s.serveWiql(w, r, proj, body)
	default:
		writeError(w, http.StatusNotFound, "RouteNotFound", "no route for "+r.Method+" "+r.URL.Path)
	}
}

// notFoundMessage is the service's answer for a work item that does not exist or cannot be read
// (https://learn.microsoft.com/en-us/rest/api/azure/devops/wit/work-items/get-work-item).
func notFoundMessage(id int) string {
	return fmt.Sprintf("TF401232: Work item %d does not exist, or you do not have permissions to read it.", id)
}

// lookup returns work item id when it exists and belongs to proj (any project when proj is nil).
func (s *Sim) lookup(proj *project, id int) *workItem {
	wi, ok := s.workItems[id]
	if !ok || (proj != nil && !strings.EqualFold(wi.Project, proj.Name)) {
		return nil
	}
	return wi
}

// found is lookup that answers 404 itself when the work item is not there. Called with s.mu held.
func (s *Sim) found(w http.ResponseWriter, proj *project, id int) *workItem {
	wi := s.lookup(proj, id)
	if wi == nil {
		writeError(w, http.StatusNotFound, "WorkItemUnauthorizedAccessException", notFoundMessage(id))
	}
	return wi
}

func (s *Sim) serveWorkItem(w http.ResponseWriter, r *http.Request, proj *project, id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.knownFields(w, fieldList(r)) {
		return
	}
	if wi := s.found(w, proj, id); wi != nil {
		writeJSON(w, http.StatusOK, wi.json(baseURL(r), fieldList(r)))
	}
}

// serveWorkItemBatch answers GET _apis/wit/workItems?ids=…[&fields=…][&errorPolicy=omit]: at most 200 ids;
// a missing id fails the call unless errorPolicy is Omit, which answers null in its place
// (https://learn.microsoft.com/en-us/rest/api/azure/devops/wit/work-items/list).
func (s *Sim) serveWorkItemBatch(w http.ResponseWriter, r *http.Request, proj *project) {
	q := r.URL.Query()
	raw := strings.Split(q.Get("ids"), ",")
	if q.Get("ids") == "" || len(raw) > 200 {
		writeError(w, http.StatusBadRequest, "ArgumentException", "ids: between 1 and 200 work item ids are required")
		return
	}
	omit := strings.EqualFold(q.Get("errorPolicy"), "omit")
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.knownFields(w, fieldList(r)) {
		return
	}
	var value []any
	for _, rs := range raw {
		id, err := strconv.Atoi(strings.TrimSpace(rs))
		if err != nil {
			writeError(w, http.StatusBadRequest, "ArgumentException", "ids: not a number: "+rs)
			return
		}
		wi := s.lookup(proj, id)
		if wi == nil {
			if omit {
				value = append(value, nil)
				continue
			}
			writeError(w, http.StatusNotFound, "WorkItemUnauthorizedAccessException", notFoundMessage(id))
			return
		}
		value = append(value, wi.json(baseURL(r), fieldList(r)))
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(value), "value": value})
}

// serveWorkItemsBatchPost answers POST _apis/wit/workitemsbatch with a WorkItemBatchGetRequest body
// ({"ids":[…],"fields":[…],"errorPolicy":"omit"}): at most 200 ids; a missing id fails the call unless
// errorPolicy is omit, which answers null in its place
// (https://learn.microsoft.com/en-us/rest/api/azure/devops/wit/work-items/get-work-items-batch).
func (s *Sim) serveWorkItemsBatchPost(w http.ResponseWriter, proj *project, body []byte, base string) {
	var req struct {
		IDs         []int    `json:"ids"`
		Fields      []string `json:"fields"`
		ErrorPolicy string   `json:"errorPolicy"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "ArgumentException", "workItemGetRequest: "+err.Error())
		return
	}
	if len(req.IDs) == 0 || len(req.IDs) > 200 {
		writeError(w, http.StatusBadRequest, "ArgumentException", "ids: between 1 and 200 work item ids are required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.knownFields(w, req.Fields) {
		return
	}
	var value []any
	for _, id := range req.IDs {
		wi := s.lookup(proj, id)
		if wi == nil {
			if strings.EqualFold(req.ErrorPolicy, "omit") {
				value = append(value, nil)
				continue
			}
			writeError(w, http.StatusNotFound, "WorkItemUnauthorizedAccessException", notFoundMessage(id))
			return
		}
		value = append(value, wi.json(base, req.Fields))
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(value), "value": value})
}

// knownFields answers 400 TF51535 for the first field of a read's fields= the process does not define.
// Called with s.mu held.
func (s *Sim) knownFields(w http.ResponseWriter, refs []string) bool {
	for _, ref := range refs {
		if s.knownField(ref) == nil {
			cannotFindField(w, strings.TrimSpace(ref))
			return false
		}
	}
	return true
}

func fieldList(r *http.Request) []string {
	f := r.URL.Query().Get("fields")
	if f == "" {
		return nil
	}
	return strings.Split(f, ",")
}

func (wi *workItem) json(base string, fields []string) map[string]any {
	out := map[string]any{}
	if fields == nil {
		for k, v := range wi.Fields {
			out[k] = v
		}
	} else {
		for _, f := range fields {
			for k, v := range wi.Fields {
				if strings.EqualFold(k, strings.TrimSpace(f)) {
					out[k] = v
				}
			}
		}
	}
	return map[string]any{"id": wi.ID, "rev": wi.Rev, "fields": out, "url": fmt.Sprintf("%s/_apis/wit/workItems/%d", base, wi.ID)}
}

type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
	From  string          `json:"from"`
}

// patchWorkItem applies a JSON Patch document to a work item
// (https://learn.microsoft.com/en-us/rest/api/azure/devops/wit/work-items/update): add/replace/remove on
// /fields/{ref}, and test, which the reference shows on /rev for optimistic concurrency. A failed test
// answers 412 Precondition Failed; the body must be application/json-patch+json.
func (s *Sim) patchWorkItem(w http.ResponseWriter, r *http.Request, proj *project, id int, body []byte) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json-patch+json") {
		writeError(w, http.StatusUnsupportedMediaType, "VssRequestContentTypeNotSupportedException",
			"The request indicated a Content-Type of \""+ct+"\" for method type \"PATCH\" which is not supported. Valid content types for this method are: application/json-patch+json.")
		return
	}
	var ops []patchOp
	if err := json.Unmarshal(body, &ops); err != nil || len(ops) == 0 {
		writeError(w, http.StatusBadRequest, "VssPropertyValidationException", "You must pass a valid patch document in the body of the request.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	wi := s.found(w, proj, id)
	if wi == nil {
		return
	}
	next := map[string]any{}
	for k, v := range wi.Fields {
		next[k] = v
	}
	for _, op := range ops {
		var val any
		if len(op.Value) > 0 {
			_ = json.Unmarshal(op.Value, &val)
		}
		switch strings.ToLower(op.Op) {
		case "test":
			cur, ok := testTarget(wi, op.Path)
			if !ok || !sameJSON(cur, val) {
				writeError(w, http.StatusPreconditionFailed, "WorkItemRevisionMismatchException",
					fmt.Sprintf("TF26071: This work item has been changed by someone else since you opened it. Test of %s failed (current %v).", op.Path, cur))
				return
			}
		case "add", "replace":
			ref, ok := strings.CutPrefix(op.Path, "/fields/")
			if !ok || ref == "" {
				writeError(w, http.StatusBadRequest, "WorkItemFieldInvalidException", "unsupported patch path "+op.Path)
				return
			}
			f := s.knownField(ref)
			if f == nil {
				cannotFindField(w, ref)
				return
			}
			if status, key, msg := validateValue(f, val); status != 0 {
				writeError(w, status, key, msg)
				return
			}
			next[ref] = val
		case "remove":
			ref, ok := strings.CutPrefix(op.Path, "/fields/")
			if !ok {
				writeError(w, http.StatusBadRequest, "WorkItemFieldInvalidException", "unsupported patch path "+op.Path)
				return
			}
			delete(next, ref)
		default:
			writeError(w, http.StatusBadRequest, "VssPropertyValidationException", "unsupported patch operation "+op.Op)
			return
		}
	}
	wi.Fields = next
	wi.Rev++
	wi.Fields["System.Rev"] = float64(wi.Rev)
	wi.Fields["System.ChangedDate"] = s.now().UTC().Format(time.RFC3339Nano)
	writeJSON(w, http.StatusOK, wi.json(baseURL(r), nil))
}

func testTarget(wi *workItem, path string) (any, bool) {
	if strings.EqualFold(path, "/rev") {
		return float64(wi.Rev), true
	}
	if ref, ok := strings.CutPrefix(path, "/fields/"); ok {
		v, ok := wi.Fields[ref]
		return v, ok
	}
	return nil, false
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// baseURL is the organization URL the request came to (scheme, host and organization segment).
func baseURL(r *http.Request) string {
	return "http://" + r.Host + "/" + first(splitPath(r.URL.Path))
}
