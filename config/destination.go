package config

import (
	"net"
	"net/url"
	"strings"
)

// CanonicalSite is the identity of a site or organization URL: lower-case scheme and host, the port always
// written, the path without its trailing slash (lower-cased too when foldPath: Azure DevOps organization and
// collection names are case-insensitive). Two entries are one site when their canonical URLs are equal, whatever
// their names: "https://Acme.atlassian.net/" and "https://acme.atlassian.net:443" are one Jira.
func CanonicalSite(raw string, foldPath bool) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return strings.TrimRight(strings.TrimSpace(raw), "/")
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	p := strings.TrimRight(u.EscapedPath(), "/")
	if foldPath {
		p = strings.ToLower(p)
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")), port) + p
}

// destinationSite is the canonical URL of the kind's entry named name ("" when there is none): the key that
// the one-project-per-destination rule compares, so one site under two names is still one destination.
func (v *validator) destinationSite(kind, name string) string {
	switch kind {
	case "jira":
		for _, j := range v.cfg.Jira {
			if j.Name == name {
				return CanonicalSite(j.URL, false)
			}
		}
	case "ado":
		for _, a := range v.cfg.ADO {
			if a.Name == name {
				return CanonicalSite(a.OrganizationURL, true)
			}
		}
	case "confluence":
		for _, c := range v.cfg.Confluence {
			if c.Name == name {
				return CanonicalSite(c.URL, false)
			}
		}
	}
	return "name:" + name
}
