package ado

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Location ids of the routes covsync calls by hand, as the Go client's generated code names them
// (extensionmanagement: the Data documents route; core: projects).
const (
	locationDocuments = "bbe06c18-1c8b-4fcd-b9c6-1535aaab8749"
	locationProjects  = "603fe2ac-9723-48b9-88ad-09305aa6c6e1"
)

// wantVersion is the newest api-version covsync speaks; older servers are asked for their own highest.
const wantVersion = "7.1"

// routeVersion is one route's entry in the OPTIONS location data.
type routeVersion struct {
	ID              string `json:"id"`
	MaxVersion      string `json:"maxVersion"`
	ReleasedVersion string `json:"releasedVersion"`
}

// apiVersions reads the api-versions of the hand-built routes from OPTIONS {base}/_apis, the location data
// the Go client reads for its own calls: Azure DevOps Server 2019 serves up to 5.0, 2020
// up to 6.0, 2022 up to 7.0 and 2022.1 up to 7.1, and answers a higher one with 400
// VssVersionOutOfRangeException (https://learn.microsoft.com/en-us/azure/devops/integrate/concepts/rest-api-versioning#supported-versions).
func (t *Target) apiVersions(ctx context.Context, s *session, base string) (map[string]string, error) {
	if v, ok := t.cache.versionsOf(base); ok {
		return v, nil
	}
	u := strings.TrimRight(base, "/") + "/_apis"
	var locs struct {
		Value []routeVersion `json:"value"`
	}
	err := t.paced(ctx, func() error { return s.rest(ctx, http.MethodOptions, u, "", nil, &locs) })
	if err != nil {
		return nil, fmt.Errorf("%s: api-versions of %s (OPTIONS %s): %w", t.Name(), base, u, err)
	}
	out := map[string]string{}
	for _, l := range locs.Value {
		out[strings.ToLower(l.ID)] = negotiate(l, wantVersion)
	}
	t.cache.setVersions(base, out)
	return out, nil
}

// negotiate picks the api-version to send on a route: want, or the server's maxVersion when that is lower;
// "-preview.1" when the server has not released the route at that version (releasedVersion below it, "0.0"
// for a preview-only route): resource version 1 is the one covsync's requests were written for.
func negotiate(l routeVersion, want string) string {
	v := want
	if l.MaxVersion != "" && lessVersion(l.MaxVersion, want) {
		v = l.MaxVersion
	}
	if l.ReleasedVersion == "" || lessVersion(l.ReleasedVersion, v) {
		return v + "-preview.1"
	}
	return v
}

// lessVersion compares "major.minor" versions.
func lessVersion(a, b string) bool {
	pa, pb := splitVersion(a), splitVersion(b)
	return pa[0] < pb[0] || (pa[0] == pb[0] && pa[1] < pb[1])
}

func splitVersion(v string) [2]int {
	num, _, _ := strings.Cut(v, "-")
	a, b, _ := strings.Cut(num, ".")
	x, _ := strconv.Atoi(a)
	y, _ := strconv.Atoi(b)
	return [2]int{x, y}
}

// routeAPIVersion is the version to send on a route, or fallback when the server does not list it.
func routeAPIVersion(versions map[string]string, location, fallback string) string {
	if v, ok := versions[location]; ok {
		return v
	}
	return fallback
}
