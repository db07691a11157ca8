package jirasim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// permissionInfo are the project permissions the simulator knows, as GET /rest/api/2/permissions lists them
// (https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-permissions/#api-rest-api-2-permissions-get).
var permissionInfo = map[string]struct{ id, name, description string }{
	PermBrowseProjects:    {"10", "Browse Projects", "Ability to browse projects and the issues within them."},
	PermEditIssues:        {"12", "Edit Issues", "Ability to edit issues."},
	PermAdministerProject: {"23", "Administer Projects", "Ability to administer a project in Jira."},
}

// myPermissions: GET /rest/api/2/mypermissions?projectKey=…&permissions=A,B (api-group-permissions, "Get my
// permissions", https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-permissions/#api-rest-api-2-mypermissions-get):
// {"permissions": {KEY: {id, key, name, type, description, havePermission}}}. The permissions parameter is
// required on Cloud (400 without it); an unknown project is 404.
func (s *Sim) myPermissions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	keys := strings.Split(q.Get("permissions"), ",")
	if q.Get("permissions") == "" {
		writeError(w, http.StatusBadRequest, []string{"The permissions query parameter is required."}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if pk := q.Get("projectKey"); pk != "" && s.projectOr404(w, pk) == nil {
		return
	}
	out := map[string]any{}
	for _, k := range keys {
		k = strings.TrimSpace(k)
		info, ok := permissionInfo[k]
		if !ok {
			writeError(w, http.StatusBadRequest, []string{fmt.Sprintf("Permission '%s' does not exist.", k)}, nil)
			return
		}
		out[k] = map[string]any{"id": info.id, "key": k, "name": info.name, "type": "PROJECT",
			"description": info.description, "havePermission": !s.perms[k]}
	}
	writeJSON(w, http.StatusOK, map[string]any{"permissions": out})
}

// editMeta: GET /rest/api/2/issue/{issueIdOrKey}/editmeta (api-group-issues, "Get edit issue metadata",
// https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issues/#api-rest-api-2-issue-issueidorkey-editmeta-get):
// the fields on the issue's edit screen with, for a select, the allowedValues of the field context that
// applies to the issue's project. An account that may not edit the issue gets no fields
// (https://jira.atlassian.com/browse/JRASERVER-63664).
func (s *Sim) editMeta(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issueOr404(w, r.PathValue("key"))
	if is == nil {
		return
	}
	fields := map[string]any{}
	if !s.perms[PermEditIssues] {
		for _, f := range s.fields {
			if is.offScreen[f.ID] {
				continue
			}
			m := map[string]any{"required": f.ID == "summary", "schema": f.Schema, "name": f.Name, "key": f.Key,
				"operations": []string{"set"}}
			if f.kind == KindSelect || f.kind == KindMultiSelect {
				vals := []map[string]any{}
				for i, o := range s.optionsOf(f, is.project) {
					id := strconv.Itoa(10100 + i)
					vals = append(vals, map[string]any{"self": s.opts.BaseURL + "/rest/api/2/customFieldOption/" + id, "value": o, "id": id})
				}
				m["allowedValues"] = vals
			}
			fields[f.ID] = m
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"fields": fields})
}
