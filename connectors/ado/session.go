package ado

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/workitemtracking"
)

// extensionManagementArea is the resource area id of ExtensionManagement (extensionmanagement.ResourceAreaId
// in the Go client; on Azure DevOps Services it lives on extmgmt.dev.azure.com).
const extensionManagementArea = "6c2b0933-3600-42ae-bf8b-93d4f7e83594"

// dataAPIVersion is the api-version of the extension data routes, which are preview-only, when the server's
// location data does not list them; session.dataVersion is what the server advertises (versions.go).
const dataAPIVersion = "7.1-preview.1"

// session is what one target needs to talk to its organization, built once (the first Plan, Push or probe)
// and reused: the Go client caches route tables per base URL, and the resource areas do not move.
type session struct {
	conn    *azuredevops.Connection
	http    *http.Client
	orgURL  string // the connection's base URL (lowercased by NewPatConnection)
	extURL  string // the ExtensionManagement area's base URL
	wit     workitemtracking.Client
	witBase string // the work item tracking area's base URL (the process area lives there too)
	docsURL string // …/Collections/{collection}/Documents
	project projectRef

	dataVersion string // api-version of the extension data routes on this server
	coreVersion string // api-version of GET _apis/projects/{project}
}

func (t *Target) session(ctx context.Context) (*session, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sess != nil {
		return t.sess, nil
	}
	conn := azuredevops.NewPatConnection(t.o.OrganizationURL, t.o.PAT.Reveal())
	conn.UserAgent = t.o.UserAgent
	s := &session{conn: conn, http: t.http, orgURL: conn.BaseUrl, extURL: conn.BaseUrl}
	// The resource areas do not move: read once per organization (the cache outlives this target).
	a, ok := t.cache.areasOf(conn.BaseUrl)
	if !ok {
		var err error
		if a, err = t.resourceAreas(ctx, conn); err != nil {
			return nil, err
		}
		t.cache.setAreas(conn.BaseUrl, a)
	}
	// The areas live on other hosts of the service (extmgmt.dev.azure.com); the organization named them in an
	// authenticated answer, so they earn the PAT, as a redirect never does.
	for _, u := range []string{a.wit, a.ext} {
		if err := t.cred.Trust(u); err != nil {
			return nil, fmt.Errorf("%s: resource area %s: %w", t.Name(), u, err)
		}
	}
	witURL := a.wit
	s.extURL = a.ext
	ext, err := t.apiVersions(ctx, s, s.extURL)
	if err != nil {
		return nil, err
	}
	org, err := t.apiVersions(ctx, s, s.orgURL)
	if err != nil {
		return nil, err
	}
	s.dataVersion = routeAPIVersion(ext, locationDocuments, dataAPIVersion)
	s.coreVersion = routeAPIVersion(org, locationProjects, wantVersion)
	s.witBase = strings.ToLower(strings.TrimRight(witURL, "/"))
	s.wit = &workitemtracking.ClientImpl{Client: *t.client(conn, s.witBase)}
	e := t.o.Extension
	s.docsURL = strings.TrimRight(s.extURL, "/") + "/_apis/ExtensionManagement/InstalledExtensions/" +
		url.PathEscape(e.Publisher) + "/" + url.PathEscape(e.ID) + "/Data/Scopes/Default/Current/Collections/" +
		url.PathEscape(e.Collection) + "/Documents"
	// The project resolved to its id and name: a work item's System.TeamProject is compared with the name
	// even when the config names the project by id, and the id is the destination two mappings may not share.
	ref, err := t.resolveProject(ctx, s)
	if err != nil {
		return nil, err
	}
	s.project = ref
	t.sess = s
	return s, nil
}

// resourceAreas reads where the organization's work item tracking and ExtensionManagement areas live.
func (t *Target) resourceAreas(ctx context.Context, conn *azuredevops.Connection) (areaURLs, error) {
	// GetResourceAreas goes through our client (NewClientWithOptions), not the bare one GetClientByUrl would
	// build. An empty list (Server) means every area lives on the base URL.
	var areas *[]azuredevops.ResourceAreaInfo
	err := t.paced(ctx, func() (err error) {
		areas, err = t.client(conn, conn.BaseUrl).GetResourceAreas(ctx)
		return err
	})
	if err != nil {
		return areaURLs{}, fmt.Errorf("%s: resource areas of %s: %w", t.Name(), t.o.OrganizationURL, err)
	}
	a := areaURLs{wit: conn.BaseUrl, ext: conn.BaseUrl}
	for _, r := range deref(areas) {
		if r.Id == nil || r.LocationUrl == nil {
			continue
		}
		switch r.Id.String() {
		case workitemtracking.ResourceAreaId.String():
			a.wit = *r.LocationUrl
		case extensionManagementArea:
			a.ext = *r.LocationUrl
		}
	}
	return a, nil
}

// client is a Go client on baseURL that sends through the target's HTTP client.
func (t *Target) client(conn *azuredevops.Connection, baseURL string) *azuredevops.Client {
	return azuredevops.NewClientWithOptions(conn, baseURL, azuredevops.WithHTTPClient(t.http))
}

// rest makes one plain REST call (extension data and the project probe have no Go client call that goes
// through our HTTP client) and decodes a 2xx JSON answer into out.
func (s *session) rest(ctx context.Context, method, u, apiVersion string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	// Authorization is attached by httpx.Authorize (target.go), for the organization's origins only.
	accept := "application/json"
	if apiVersion != "" { // "": the OPTIONS discovery, which takes none
		accept += ";api-version=" + apiVersion
	}
	req.Header.Set("Accept", accept)
	if in != nil {
		req.Header.Set("Content-Type", "application/json;charset=utf-8")
	}
	// Without it an expired PAT gets a 203 sign-in page; with it, a 401 (the guard handles both).
	req.Header.Set("X-TFS-FedAuthRedirect", "Suppress")
	if s.conn.UserAgent != "" {
		req.Header.Set("User-Agent", s.conn.UserAgent)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, u, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &apiError{Status: resp.StatusCode}
		var eb struct {
			Message string `json:"message"`
			TypeKey string `json:"typeKey"`
		}
		if json.Unmarshal(b, &eb) == nil {
			ae.Message, ae.TypeKey = eb.Message, eb.TypeKey
		}
		if ae.Message == "" {
			ae.Message = http.StatusText(resp.StatusCode)
		}
		return ae
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: answer is not the JSON expected: %w", method, u, err)
	}
	return nil
}
