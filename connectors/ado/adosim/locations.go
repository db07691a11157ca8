package adosim

import (
	"net/http"
	"strings"
)

// Resource area ids, as the Go client's packages declare them (ResourceAreaId in workitemtracking, core and
// extensionmanagement) and GET _apis/ResourceAreas lists them.
const (
	areaWorkItemTracking    = "5264459e-e5e0-4bd8-b118-0985e68a4ec5"
	areaCore                = "79134c72-4a58-4b42-976c-04e7115f32bf"
	areaExtensionManagement = "6c2b0933-3600-42ae-bf8b-93d4f7e83594"
)

var resourceAreas = []struct{ id, name string }{
	{areaWorkItemTracking, "wit"},
	{areaCore, "core"},
	{areaExtensionManagement, "ExtensionManagement"},
}

// location is one ApiResourceLocation of the OPTIONS {base}/_apis answer. The Go client finds a call's
// route by its location id, builds the URL from routeTemplate and negotiates the api-version against
// minVersion/maxVersion/resourceVersion (azuredevops/v7 client.go, versionnegotiation.go).
type location struct {
	ID              string `json:"id"`
	Area            string `json:"area"`
	ResourceName    string `json:"resourceName"`
	RouteTemplate   string `json:"routeTemplate"`
	ResourceVersion int    `json:"resourceVersion"`
	MinVersion      string `json:"minVersion"`
	MaxVersion      string `json:"maxVersion"`
	ReleasedVersion string `json:"releasedVersion"`
}

// locations are the resources the simulator serves. Ids and route templates are the service's (the same ids
// are hard-coded in the Go client's generated calls; the templates appear in the vendor's TypeScript clients,
// e.g. ExtensionManagementRestClient's "_apis/{area}/InstalledExtensions/{publisherName}/...").
var locations = []location{
	{"e81700f7-3be2-46de-8624-2eb35882fcaa", "Location", "ResourceAreas", "_apis/{resource}/{areaId}", 1, "3.2", "7.1", "0.0"},
	{"603fe2ac-9723-48b9-88ad-09305aa6c6e1", "core", "projects", "_apis/{resource}/{*projectId}", 4, "1.0", "7.1", "7.1"},
	{"72c7ddf8-2cdc-4f60-90cd-ab71c14a399b", "wit", "workItems", "{project}/_apis/{area}/{resource}/{id}", 3, "1.0", "7.1", "7.1"},
	// POST {project}/_apis/wit/workitemsbatch: "Gets work items for a list of work item ids (Maximum 200)"
	// (https://learn.microsoft.com/en-us/rest/api/azure/devops/wit/work-items/get-work-items-batch; the Go
	// client asks for 7.1-preview.1).
	{"908509b6-4248-4475-a1cd-829139ba419f", "wit", "workItemsBatch", "{project}/_apis/{area}/{resource}", 1, "5.0", "7.1", "7.1"},
	{"1a9c53f7-f243-4447-b110-35ef023636e4", "wit", "wiql", "{project}/{team}/_apis/{area}/{resource}/{id}", 2, "1.0", "7.1", "7.1"},
	{"bbe06c18-1c8b-4fcd-b9c6-1535aaab8749", "ExtensionManagement", "Data",
		"_apis/{area}/InstalledExtensions/{publisherName}/{extensionName}/{resource}/Scopes/{scopeType}/{scopeValue}/Collections/{collectionName}/Documents/{documentId}",
		1, "3.0", "7.1", "0.0"},
	{"b51fd764-e5c2-4b9b-aaf7-3395cf4bdd94", "wit", "fields", "{project}/_apis/{area}/{resource}/{fieldNameOrRefName}", 3, "1.0", "7.1", "7.0"},
	{"01e15468-e27c-4e20-a974-bd957dcccebc", "work", "lists", "_apis/{area}/processes/{resource}/{listId}", 1, "4.1", "7.1", "0.0"},
}

// serveOptions answers OPTIONS {base}/_apis: {"count": N, "value": [ApiResourceLocation…]}, which the Go
// client reads once per base URL before its first call.
//
// A Server advertises its own ceiling: each location's maxVersion (and releasedVersion, unless the route is
// preview-only, "0.0") is capped at the server's highest api-version, which is what the Go client negotiates
// down to (versionnegotiation.go) and what covsync reads for the routes it calls by hand.
func (s *Sim) serveOptions(w http.ResponseWriter) {
	top := s.ceiling()
	out := make([]location, len(locations))
	for i, l := range locations {
		l.MaxVersion = minVersion(l.MaxVersion, top)
		l.ReleasedVersion = minVersion(l.ReleasedVersion, top)
		out[i] = l
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "value": out})
}

// serveResourceAreas answers GET _apis/ResourceAreas[/{areaId}]: where each area lives. Azure DevOps
// Services names other hosts for some areas (ExtensionManagement on extmgmt.dev.azure.com); Server answers an
// empty list, which the Go client reads as "use the base URL for every area" (connection.go).
func (s *Sim) serveResourceAreas(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "resource areas are read-only")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	value := []map[string]string{}
	if !s.onPrem() {
		for _, a := range resourceAreas {
			if u, ok := s.areaURLs[a.id]; ok {
				value = append(value, map[string]string{"id": a.id, "name": a.name, "locationUrl": u})
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(value), "value": value})
}

func lower(s string) string { return strings.ToLower(s) }
