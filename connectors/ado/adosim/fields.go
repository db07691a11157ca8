package adosim

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode/utf16"
)

// Field types as GET _apis/wit/fields reports them (workitemtracking.FieldTypeValues in the Go client).
const (
	TypeString    = "string"    // at most MaxStringChars characters
	TypePlainText = "plainText" // multi-line text
	TypeHTML      = "html"
	TypeDouble    = "double"
	TypeInteger   = "integer"
	TypeDateTime  = "dateTime"
	TypeBoolean   = "boolean"
)

// MaxStringChars is the length of a String field: "String: up to 255 Unicode characters"
// (https://learn.microsoft.com/en-us/azure/devops/boards/work-items/work-item-fields#field-data-types-and-attributes),
// counted as .NET counts them (UTF-16 code units).
const MaxStringChars = 255

// field is one work-item field of the organization's process.
type field struct {
	Ref, Name, Type string
	list            *picklist
}

// picklist is a field's list of allowed values (GET _apis/work/processes/lists/{listId}).
type picklist struct {
	ID        string
	Items     []string
	Suggested bool // "Allow users to enter their own values": other values are accepted
}

// systemFields are the fields every process has (the simulator's subset).
var systemFields = []field{
	{Ref: "System.Id", Name: "ID", Type: TypeInteger},
	{Ref: "System.Rev", Name: "Rev", Type: TypeInteger},
	{Ref: "System.Title", Name: "Title", Type: TypeString},
	{Ref: "System.State", Name: "State", Type: TypeString},
	{Ref: "System.TeamProject", Name: "Team Project", Type: TypeString},
	{Ref: "System.WorkItemType", Name: "Work Item Type", Type: TypeString},
	{Ref: "System.ChangedDate", Name: "Changed Date", Type: TypeDateTime},
	{Ref: "System.Tags", Name: "Tags", Type: TypePlainText},
	{Ref: "System.Description", Name: "Description", Type: TypeHTML},
}

// AddField adds a custom field (reference name such as "Custom.TestStatus", display name, a Type*). items
// make it a picklist of those values (TypeString, TypeInteger or TypeDouble).
func (s *Sim) AddField(ref, name, typ string, items ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &field{Ref: ref, Name: name, Type: typ}
	if len(items) > 0 {
		f.list = &picklist{ID: fmt.Sprintf("%08x-0000-4000-8000-00000000%04x", len(s.fields)+1, len(s.fields)+1), Items: items}
	}
	s.fields[lower(ref)] = f
}

// SuggestedPicklist makes a picklist field accept values outside its list (the process editor's "Allow
// users to enter their own values").
func (s *Sim) SuggestedPicklist(ref string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fields[lower(ref)].list.Suggested = true
}

// AddCovsyncFields adds the work-item fields of covsync's example config: Custom.TestCoverage (double),
// Custom.CoverageSummary (string), Custom.TestStatus (a picklist of the story statuses) and Custom.LastRun
// (string).
func (s *Sim) AddCovsyncFields() {
	s.AddField("Custom.TestCoverage", "Test Coverage", TypeDouble)
	s.AddField("Custom.CoverageSummary", "Coverage Summary", TypeString)
	s.AddField("Custom.TestStatus", "Test Status", TypeString, "passed", "failed", "skipped", "no tests")
	s.AddField("Custom.LastRun", "Last Run", TypePlainText)
}

// knownField returns the field ref names, nil when the process does not define it. Caller holds s.mu.
func (s *Sim) knownField(ref string) *field {
	return s.fields[lower(strings.TrimSpace(ref))]
}

// cannotFindField is the service's answer to a field it does not define, on writes and on reads naming it
// in fields= (reported verbatim in igoravl/TfsCmdlets#133 and wangkanai/devops-mcp#48: 400 "TF51535: Cannot
// find field System.Area.", typeKey WorkItemTrackingFieldDefinitionNotFoundException).
func cannotFindField(w http.ResponseWriter, ref string) {
	writeError(w, http.StatusBadRequest, "WorkItemTrackingFieldDefinitionNotFoundException",
		fmt.Sprintf("TF51535: Cannot find field %s.", ref))
}

// validateValue checks a value written to a field as the work item rules do. A value outside a picklist is
// 400 TF401320 LimitedToValues, with "The field '…' contains the value '…' that is not in the list of
// supported values" (tfsaggregator/aggregator-cli#277, MicrosoftPremier/VstsExtensions#149,
// microsoft/vsts-extension-multivalue-control#187). A String over 255 characters is refused; the public
// reports found quote no message for it, so the simulator's wording (error code InvalidTooLong) is its own.
// A number into a double or integer field must be a number. It returns "" when the value is fine.
func validateValue(f *field, v any) (status int, typeKey, msg string) {
	bad := func(code, detail string) (int, string, string) {
		return http.StatusBadRequest, "RuleValidationException",
			fmt.Sprintf("TF401320: Rule Error for field %s. Error code: %s. %s", f.Name, code, detail)
	}
	if v == nil {
		return 0, "", ""
	}
	switch f.Type {
	case TypeDouble, TypeInteger:
		if _, ok := v.(float64); !ok {
			return bad("InvalidType", fmt.Sprintf("The field '%s' needs a number.", f.Name))
		}
	case TypeString:
		str, ok := v.(string)
		if !ok {
			str = fmt.Sprint(v)
		}
		if len(utf16.Encode([]rune(str))) > MaxStringChars {
			return bad("InvalidTooLong", fmt.Sprintf("The field '%s' holds at most %d characters.", f.Name, MaxStringChars))
		}
	}
	if f.list != nil && !f.list.Suggested {
		val := fmt.Sprint(v)
		for _, it := range f.list.Items {
			if it == val {
				return 0, "", ""
			}
		}
		return bad("LimitedToValues, AllowsOldValue, InvalidUnknown",
			fmt.Sprintf("The field '%s' contains the value '%s' that is not in the list of supported values", f.Name, val))
	}
	return 0, "", ""
}

// serveFields answers GET [{project}/]_apis/wit/fields: the process's fields
// (https://learn.microsoft.com/en-us/rest/api/azure/devops/wit/fields/list).
func (s *Sim) serveFields(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	refs := make([]string, 0, len(s.fields))
	for k := range s.fields {
		refs = append(refs, k)
	}
	sort.Strings(refs)
	value := make([]map[string]any, 0, len(refs))
	for _, k := range refs {
		f := s.fields[k]
		m := map[string]any{"name": f.Name, "referenceName": f.Ref, "type": f.Type, "usage": "workItem",
			"readOnly": strings.HasPrefix(f.Ref, "System.Id") || f.Ref == "System.Rev", "isPicklist": f.list != nil,
			"isPicklistSuggested": f.list != nil && f.list.Suggested, "isIdentity": false,
			"url": baseURL(r) + "/_apis/wit/fields/" + f.Ref}
		if f.list != nil {
			m["picklistId"] = f.list.ID
		}
		value = append(value, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(value), "value": value})
}

// servePicklist answers GET _apis/work/processes/lists/{listId}
// (https://learn.microsoft.com/en-us/rest/api/azure/devops/processes/lists/get).
func (s *Sim) servePicklist(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.fields {
		if f.list != nil && strings.EqualFold(f.list.ID, id) {
			writeJSON(w, http.StatusOK, map[string]any{"id": f.list.ID, "name": "picklist_" + f.list.ID, "type": "String",
				"isSuggested": f.list.Suggested, "items": f.list.Items, "url": baseURL(r) + "/_apis/work/processes/lists/" + f.list.ID})
			return
		}
	}
	writeError(w, http.StatusNotFound, "PicklistDoesNotExistException", fmt.Sprintf("The picklist %s does not exist.", id))
}
