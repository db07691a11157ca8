package jirasim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf16"
)

// MaxPropertyBytes is Jira's cap on an entity property value: "The maximum length is 32768 characters"
// (https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-project-properties/#api-rest-api-2-project-projectidorkey-properties-propertykey-put;
// the schema of the same operation says "32768 bytes"). The simulator counts bytes, the stricter reading.
const MaxPropertyBytes = 32768

// MaxTextFieldChars is the limit of a single-line text custom field: Jira answers "The entered text is too
// long. It exceeds the allowed limit of 255 characters."
const MaxTextFieldChars = 255

func (s *Sim) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /rest/api/2/myself", s.myself)
	m.HandleFunc("GET /rest/api/2/serverInfo", s.serverInfo)
	m.HandleFunc("POST /rest/api/2/search/jql", s.searchJQL)
	m.HandleFunc("POST /rest/api/2/search", s.searchLegacy)
	m.HandleFunc("GET /rest/api/2/search", s.searchLegacy)
	m.HandleFunc("GET /rest/api/2/field", s.listFields)
	m.HandleFunc("GET /rest/api/2/project/{key}", s.getProject)
	m.HandleFunc("GET /rest/api/2/project/{key}/versions", s.listVersions)
	m.HandleFunc("GET /rest/api/2/mypermissions", s.myPermissions)
	m.HandleFunc("GET /rest/api/2/issue/{key}", s.getIssue)
	m.HandleFunc("GET /rest/api/2/issue/{key}/editmeta", s.editMeta)
	m.HandleFunc("PUT /rest/api/2/issue/{key}", s.editIssue)
	m.HandleFunc("GET /rest/api/2/project/{key}/properties/{prop}", s.getProperty)
	m.HandleFunc("PUT /rest/api/2/project/{key}/properties/{prop}", s.setProperty)
	m.HandleFunc("DELETE /rest/api/2/project/{key}/properties/{prop}", s.deleteProperty)
	s.mux = m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes Jira's error collection shape
// (https://developer.atlassian.com/cloud/jira/platform/rest/v2/intro/#status-codes).
func writeError(w http.ResponseWriter, status int, messages []string, errs map[string]string) {
	if messages == nil {
		messages = []string{}
	}
	if errs == nil {
		errs = map[string]string{}
	}
	writeJSON(w, status, map[string]any{"errorMessages": messages, "errors": errs})
}

// myself: GET /rest/api/2/myself (api-group-myself, "Get current user").
func (s *Sim) myself(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	email := s.opts.Email // SetCredentials may change it mid-run
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"self": s.base() + "/rest/api/2/user?accountId=5b10a2844c20165700ede21g", "accountId": "5b10a2844c20165700ede21g",
		"emailAddress": email, "displayName": "covsync bot", "active": true, "timeZone": "UTC", "accountType": "atlassian",
	})
}

// listFields: GET /rest/api/2/field (api-group-issue-fields, "Get fields"): system and custom fields with
// their schema.
func (s *Sim) listFields(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]map[string]any, 0, len(s.fields))
	for _, f := range s.fields {
		out = append(out, map[string]any{
			"id": f.ID, "key": f.Key, "name": f.Name, "custom": f.Custom, "orderable": true, "navigable": true,
			"searchable": true, "clauseNames": []string{f.Name}, "schema": f.Schema,
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) base() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.BaseURL
}

// visibleOr404 returns v, or answers 404 with Jira's message when v does not exist or the user may not
// browse projects (Jira does not tell the two apart). Caller holds s.mu.
func visibleOr404[T any](s *Sim, w http.ResponseWriter, v *T, message string) *T {
	if v == nil || s.perms[PermBrowseProjects] {
		writeError(w, http.StatusNotFound, []string{message}, nil)
		return nil
	}
	return v
}

// projectOr404 answers 404 with Jira's message when the project does not exist. Caller holds s.mu.
func (s *Sim) projectOr404(w http.ResponseWriter, key string) *project {
	return visibleOr404(s, w, s.projects[key], fmt.Sprintf("No project could be found with key '%s'.", key))
}

// getProject: GET /rest/api/2/project/{projectIdOrKey} (api-group-projects, "Get project"); it includes the
// versions, as Jira does.
func (s *Sim) getProject(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projectOr404(w, r.PathValue("key")); p != nil {
		writeJSON(w, http.StatusOK, map[string]any{
			"self": s.opts.BaseURL + "/rest/api/2/project/" + strconv.Itoa(p.id), "id": strconv.Itoa(p.id), "key": p.key,
			"name": p.name, "projectTypeKey": "software", "versions": s.sortedVersions(p),
		})
	}
}

// listVersions: GET /rest/api/2/project/{projectIdOrKey}/versions (api-group-project-versions, "Get
// project versions"): all versions, unpaginated.
func (s *Sim) listVersions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projectOr404(w, r.PathValue("key")); p != nil {
		writeJSON(w, http.StatusOK, s.sortedVersions(p))
	}
}

// deniedMessages are Jira's 403 messages for the permissions the simulator can deny.
var deniedMessages = map[string]string{
	PermAdministerProject: "You do not have permission to administer this project.",
}

// denied answers 403 with Jira's message when the user lacks perm. Caller holds s.mu.
func (s *Sim) denied(w http.ResponseWriter, perm string) bool {
	if !s.perms[perm] {
		return false
	}
	writeError(w, http.StatusForbidden, []string{deniedMessages[perm]}, nil)
	return true
}

// issueOr404 answers as Jira does for an issue that does not exist or cannot be seen. Caller holds s.mu.
func (s *Sim) issueOr404(w http.ResponseWriter, key string) *issue {
	return visibleOr404(s, w, s.issues[key], "Issue does not exist or you do not have permission to see it.")
}

// getIssue: GET /rest/api/2/issue/{issueIdOrKey} (api-group-issues, "Get issue").
func (s *Sim) getIssue(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if is := s.issueOr404(w, r.PathValue("key")); is != nil {
		writeJSON(w, http.StatusOK, map[string]any{
			"id": strconv.Itoa(is.id), "key": is.key, "self": s.opts.BaseURL + "/rest/api/2/issue/" + strconv.Itoa(is.id),
			"fields": is.fields,
		})
	}
}

// NotifyRefusal is Jira Cloud's answer to notifyUsers=false from an account without Administer Projects.
// The edit-issue reference documents the 403 ("Returned if the user doesn't have the necessary permission to
// disable notifications", api-group-issues "Edit issue";
// https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issues/#api-rest-api-2-issue-issueidorkey-put,
// also listed in https://jira.atlassian.com/browse/JRASERVER-67013). The wording is what live sites answer in
// public reports; the search corpus holds no Atlassian page quoting it, so it is not cited here.
const NotifyRefusal = "To discard the user notification either admin or project admin permissions are required."

// cannotBeSet is the per-field message of an edit that names a field the account may not set: off the edit
// screen, unknown, or (Jira answers the same) the account lacks Edit Issues
// (https://jira.atlassian.com/browse/JRASERVER-67013: "Supply the valid credentials of a user who doesn't have
// Edit Issues permission … errors: {priority: Field 'priority' cannot be set. It is not on the appropriate
// screen, or unknown.}").
func cannotBeSet(id string) string {
	return fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", id)
}

// editIssue: PUT /rest/api/2/issue/{issueIdOrKey} (api-group-issues, "Edit issue"): 204 on success; 400 with
// an errors map keyed by field id for a field that cannot be set or a bad value (every field, when the account
// lacks Edit Issues: JRASERVER-67013); 403 NotifyRefusal for notifyUsers=false without Administer Projects,
// the edit not applied; 404 for an unknown issue.
func (s *Sim) editIssue(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, []string{"Unexpected character in the request body: " + err.Error()}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issueOr404(w, r.PathValue("key"))
	if is == nil {
		return
	}
	notify := r.URL.Query().Get("notifyUsers") != "false"
	if !notify && s.perms[PermAdministerProject] {
		writeError(w, http.StatusForbidden, []string{NotifyRefusal}, nil)
		return
	}
	errs := map[string]string{}
	values := map[string]any{}
	for id, raw := range body.Fields {
		f := s.fieldByID(id)
		if f == nil || is.offScreen[id] || s.perms[PermEditIssues] {
			errs[id] = cannotBeSet(id)
			continue
		}
		v, msg := validate(f, s.optionsOf(f, is.project), raw)
		if msg != "" {
			errs[id] = msg
			continue
		}
		values[id] = v
	}
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, nil, errs)
		return
	}
	for id, v := range values {
		if v == nil {
			delete(is.fields, id)
		} else {
			is.fields[id] = v
		}
	}
	is.updates++
	if notify {
		is.notified++
	}
	w.WriteHeader(http.StatusNoContent)
}

// optionsOf returns the options of a select field in a project: its project's field context when one was set
// with SetProjectOptions, else the global context. Caller holds s.mu.
func (s *Sim) optionsOf(f *Field, projectKey string) []string {
	if opts, ok := s.contexts[f.ID][projectKey]; ok {
		return opts
	}
	return f.Options
}

// validate checks a value against the field's schema the way Jira's field validators answer.
func validate(f *Field, options []string, raw json.RawMessage) (any, string) {
	if string(raw) == "null" {
		return nil, ""
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, "Invalid value"
	}
	switch f.kind {
	case KindNumber:
		if _, ok := v.(float64); !ok {
			return nil, "Operation value must be a number"
		}
	case KindTextField, KindTextArea, KindURL:
		str, ok := v.(string)
		if !ok {
			return nil, "Operation value must be a string"
		}
		// Jira measures the limits with Java's String.length(): UTF-16 code units, so a character outside
		// the Basic Multilingual Plane (an emoji) counts twice.
		if f.kind == KindTextField && utf16Len(str) > MaxTextFieldChars {
			return nil, "The entered text is too long. It exceeds the allowed limit of 255 characters."
		}
		if f.kind == KindTextArea && utf16Len(str) > 32767 {
			return nil, "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
		}
		if f.kind == KindURL && str != "" {
			if u, err := url.Parse(str); err != nil || u.Scheme == "" || u.Host == "" {
				return nil, fmt.Sprintf("Not a valid URL: %s", str)
			}
		}
	case KindSelect:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Sprintf("Specify a valid 'id' or 'name' for %s", f.Name)
		}
		val, _ := obj["value"].(string)
		for _, o := range options {
			if o == val {
				return map[string]any{"value": val}, ""
			}
		}
		return nil, fmt.Sprintf("Option value '%s' is not valid", val)
	default:
		return nil, fmt.Sprintf("Field %s of type %s is not supported by the simulator", f.Name, f.kind)
	}
	return v, ""
}

// getProperty: GET /rest/api/2/project/{projectIdOrKey}/properties/{propertyKey} (api-group-project-properties,
// "Get project property"): {"key":…,"value":…}; 404 when the property is not set.
func (s *Sim) getProperty(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p := s.projectOr404(w, r.PathValue("key"))
	if p == nil {
		s.mu.Unlock()
		return
	}
	key := r.PathValue("prop")
	v, ok := p.properties[key]
	if !ok {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, []string{fmt.Sprintf("The property with key '%s' does not exist.", key)}, nil)
		return
	}
	writer := s.faults.onPropertyGet
	s.faults.onPropertyGet = nil
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"key": key, "value": v})
	if writer != nil {
		nv := writer(p.key, key, v)
		s.mu.Lock()
		p.properties[key] = nv
		s.mu.Unlock()
	}
}

// setProperty: PUT /rest/api/2/project/{projectIdOrKey}/properties/{propertyKey}: 201 when created, 200 when
// updated; the body must be valid, non-empty JSON of at most MaxPropertyBytes; 403 without Administer
// Projects. The reference does not document the answer to an over-long value; the simulator answers 400
// with an error message, like Jira's other validation failures.
func (s *Sim) setProperty(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil || len(raw) == 0 {
		writeError(w, http.StatusBadRequest, []string{"The property value must be a valid, non-empty JSON."}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r.PathValue("key"))
	if p == nil || s.denied(w, PermAdministerProject) {
		return
	}
	if len(raw) > MaxPropertyBytes {
		writeError(w, http.StatusBadRequest, []string{fmt.Sprintf("The property value is too long: %d bytes, the maximum is %d.", len(raw), MaxPropertyBytes)}, nil)
		return
	}
	key := r.PathValue("prop")
	_, existed := p.properties[key]
	p.properties[key] = append(json.RawMessage(nil), raw...)
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{})
}

// deleteProperty: DELETE /rest/api/2/project/{projectIdOrKey}/properties/{propertyKey}: 204, or 404.
func (s *Sim) deleteProperty(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectOr404(w, r.PathValue("key"))
	if p == nil || s.denied(w, PermAdministerProject) {
		return
	}
	key := r.PathValue("prop")
	if _, ok := p.properties[key]; !ok {
		writeError(w, http.StatusNotFound, []string{fmt.Sprintf("The property with key '%s' does not exist.", key)}, nil)
		return
	}
	delete(p.properties, key)
	w.WriteHeader(http.StatusNoContent)
}

// utf16Len is len(s) as Java's String.length() reports it: UTF-16 code units.
func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }
