package config

import (
	"strings"
	"testing"
)

// TestOneSiteUnderTwoNamesIsOneDestination: two entries with different names and one site (spelled
// differently: case, default port, trailing slash) mapped to the same project by two covsync projects are a
// configuration error, for Jira, Azure DevOps and Confluence alike; two different sites are not.
func TestOneSiteUnderTwoNamesIsOneDestination(t *testing.T) {
	const base = minimal + `jira:
  - name: acme
    url: https://acme.atlassian.net
    auth: {type: basic, email: bot@acme.example, token_env: JIRA_TOKEN}
    fields: {coverage_percent: Test Coverage}
  - name: acme-again
    url: %JIRA2%
    auth: {type: basic, email: bot@acme.example, token_env: JIRA_TOKEN}
    fields: {coverage_percent: Test Coverage}
ado:
  - name: org
    organization_url: https://dev.azure.com/Acme
    auth: {type: pat, token_env: ADO_PAT}
    extension: {publisher: acme, id: cov, collection: coverage}
  - name: org-again
    organization_url: %ADO2%
    auth: {type: pat, token_env: ADO_PAT}
    extension: {publisher: acme, id: cov, collection: coverage}
confluence:
  - name: wiki
    url: https://acme.atlassian.net/wiki
    auth: {type: basic, email: bot@acme.example, token_env: JIRA_TOKEN}
  - name: wiki-again
    url: %WIKI2%
    auth: {type: basic, email: bot@acme.example, token_env: JIRA_TOKEN}
projects:
  - id: shop
    jira: {target: acme, project_key: SHOP}
    ado: {target: org, project: Shop}
    confluence: {target: wiki, space: QA, title: Coverage}
  - id: shop-eu
    jira: {target: acme-again, project_key: SHOP}
    ado: {target: org-again, project: shop}
    confluence: {target: wiki-again, space: QA, title: Coverage}
`
	same := strings.NewReplacer("%JIRA2%", "HTTPS://Acme.Atlassian.net:443/", "%ADO2%", "https://dev.azure.com/acme/",
		"%WIKI2%", "https://acme.atlassian.net:443/wiki/").Replace(base)
	_, err := loadCase(t, same, nil, nil)
	if err == nil {
		t.Fatal("one site under two names, mapped twice, was accepted")
	}
	for _, key := range []string{"projects[1].jira.project_key", "projects[1].ado.project", "projects[1].confluence.title"} {
		if !strings.Contains(err.Error(), key+": ") || !strings.Contains(err.Error(), "each destination may be mapped by one project only") {
			t.Errorf("no destination error at %s:\n%v", key, err)
		}
	}
	other := strings.NewReplacer("%JIRA2%", "https://acme-eu.atlassian.net", "%ADO2%", "https://dev.azure.com/acme-eu",
		"%WIKI2%", "https://acme.atlassian.net:8443/wiki").Replace(base)
	if _, err := loadCase(t, other, nil, nil); err != nil {
		t.Fatalf("two different sites were refused: %v", err)
	}
}
