package jira

import "github.com/covsync/covsync/config"

// Destination is the story fields' destination: the site's canonical URL and the project, whatever the
// site's configured name (engine.Destined; the ledger keys its rows by it).
func (t *IssueTarget) Destination() string {
	return "jira:" + config.CanonicalSite(t.site.cfg.URL, false) + "/" + t.projectKey
}

// Destination is the project property's destination (engine.Destined).
func (t *PropertyTarget) Destination() string {
	return "linked-runs:" + config.CanonicalSite(t.site.cfg.URL, false) + "/" + t.projectKey
}
