package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/connectors/confluence/confluencesim"
	"github.com/covsync/covsync/connectors/jira/jirasim"
)

// The demo's credentials: the simulators accept exactly these, and covsync reads them from token files as a
// real deployment would.
const (
	demoEmail           = "qa-bot@demo.example"
	demoJiraToken       = "demo-jira-token"
	demoADOPAT          = "demo-ado-pat"
	demoConfluenceToken = "demo-confluence-token"
	demoStories         = 8 // SHOP-1…SHOP-8 and AB#101…AB#108 in demodata
	demoFirstWorkItem   = 101
	demoSpace           = "QA"
	demoExtPublisher    = "covsync-demo"
	demoExtID           = "story-coverage"
	demoExtCollection   = "coverage"
)

// demoSims are the running simulators.
type demoSims struct {
	jira       *jirasim.Sim
	jiraSrv    *httptest.Server
	ado        *adosim.Servers
	adoStop    func()
	conf       *confluencesim.Server
	confURL    string
	confStop   func()
	confParent string
}

// startDemoSims starts the simulators on 127.0.0.1, seeded with what a real site would already have: the
// Jira project, its stories, the custom fields covsync writes and the versions of the two releases; the
// Azure DevOps project, its work items 101…108 and the installed extension; the Confluence space with a
// parent page for covsync's pages.
func startDemoSims() (*demoSims, error) {
	s := &demoSims{}
	s.jira = jirasim.New(jirasim.Options{Email: demoEmail, Token: demoJiraToken})
	s.jira.AddProject("SHOP", "Shop")
	s.jira.AddIssues("SHOP", demoStories)
	s.jira.AddField("Test Coverage", jirasim.KindNumber)
	s.jira.AddField("Test Coverage Summary", jirasim.KindTextField)
	s.jira.AddField("Test Status", jirasim.KindSelect, "passed", "failed", "skipped", "no tests")
	s.jira.AddField("Last Test Run", jirasim.KindURL)
	s.jira.AddVersion("SHOP", "2.4.0")
	s.jira.AddVersion("SHOP", "2.5.0")
	s.jiraSrv = s.jira.Start()

	ado := adosim.New(adosim.Options{Organization: "acme", PAT: demoADOPAT})
	ado.AddProject("Shop")
	ado.AddCovsyncFields()
	for i := 0; i < demoStories; i++ {
		id := ado.AddWorkItem("Shop", map[string]any{"System.Title": fmt.Sprintf("Story %d", i+1), "System.WorkItemType": "User Story"})
		if id != demoFirstWorkItem+i {
			s.stop()
			return nil, fmt.Errorf("adosim numbered work item %d, the sample data expects %d", id, demoFirstWorkItem+i)
		}
	}
	ado.InstallExtension(demoExtPublisher, demoExtID)
	var err error
	if s.ado, s.adoStop, err = adosim.Serve(ado); err != nil {
		s.stop()
		return nil, err
	}

	s.conf = confluencesim.New(confluencesim.Options{Email: demoEmail, Token: demoConfluenceToken, AccountID: "covsync-bot", DisplayName: "covsync"})
	home := s.conf.AddSpace(demoSpace, "Quality")
	s.confParent = s.conf.AddPage(demoSpace, home, "Test reports", "<p>Pages written by covsync.</p>", "admin")
	if s.confURL, s.confStop, err = confluencesim.Serve(s.conf); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *demoSims) stop() {
	if s.jiraSrv != nil {
		s.jiraSrv.Close()
	}
	if s.adoStop != nil {
		s.adoStop()
	}
	if s.confStop != nil {
		s.confStop()
	}
}

// urls lists the simulators for the user.
func (s *demoSims) urls() [][2]string {
	return [][2]string{{"Jira", s.jiraSrv.URL}, {"Azure DevOps", s.ado.OrgURL}, {"Confluence", s.confURL}}
}

// writeDemoConfig writes the config a user would write for these simulators, with each token in a file of
// its own (mode 0600) beside it, and returns its path.
func writeDemoConfig(dir, dbURL string, s *demoSims, listen string) (string, error) {
	for name, tok := range map[string]string{"jira_token": demoJiraToken, "ado_pat": demoADOPAT, "confluence_token": demoConfluenceToken} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(tok), 0o600); err != nil {
			return "", err
		}
	}
	cfg := fmt.Sprintf(`# Written by covsync demo: the simulators on 127.0.0.1 and a throwaway PostgreSQL.
database:
  url: %s
http:
  listen: %s
log: {level: warn}
schedules:
  jira: "@every 1m"
  linked_runs: "@every 1m"
  ado: "@every 1m"
  confluence: "@every 1m"
jira:
  - name: demo
    url: %s
    auth: {type: basic, email: %s, token_file: jira_token}
    requests_per_second: 50
    fields:
      coverage_percent: Test Coverage
      coverage_summary: Test Coverage Summary
      test_status: Test Status
      last_run_url: Last Test Run
ado:
  - name: demo-ado
    organization_url: %s
    auth: {type: pat, token_file: ado_pat}
    requests_per_second: 50
    extension: {publisher: %s, id: %s, collection: %s}
confluence:
  - name: demo-wiki
    url: %s
    auth: {type: basic, email: %s, token_file: confluence_token}
    requests_per_second: 50
projects:
  - id: %s
    jira: {target: demo, project_key: SHOP, linked_runs: true}
    ado: {target: demo-ado, project: Shop}
    confluence: {target: demo-wiki, space: %s, parent_page_id: "%s", release_pages: true}
`, dbURL, listen, s.jiraSrv.URL, demoEmail, s.ado.OrgURL, demoExtPublisher, demoExtID, demoExtCollection,
		s.confURL, demoEmail, demoProject, demoSpace, s.confParent)
	p := filepath.Join(dir, "covsync.yaml")
	return p, os.WriteFile(p, []byte(cfg), 0o600)
}

// exportDemo writes what the simulators now hold: the Confluence pages (storage format), the Jira project
// property and the stories' fields, and the Azure DevOps extension documents.
func exportDemo(out string, s *demoSims) error {
	var pages []confluencesim.Page
	for _, p := range s.conf.Children(s.confParent) {
		pages = append(pages, p)
		pages = append(pages, s.conf.Children(p.ID)...)
	}
	for _, p := range pages {
		if err := writeDemoFile(out, fmt.Sprintf("confluence/%s-%s.xhtml", p.ID, slug(p.Title)), []byte(p.Body)); err != nil {
			return err
		}
	}
	for i := 0; i < demoStories; i++ {
		id := fmt.Sprint(demoFirstWorkItem + i)
		doc, ok := s.ado.Sim.Document(demoExtPublisher, demoExtID, demoExtCollection, id)
		if !ok {
			continue
		}
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return err
		}
		if err := writeDemoFile(out, "ado/"+id+".json", b); err != nil {
			return err
		}
	}
	prop := s.jira.Property("SHOP", "jira-test-manager.linked-test-runs")
	if err := writeDemoFile(out, "jira/SHOP-linked-test-runs.json", indentJSON(prop)); err != nil {
		return err
	}
	issues := map[string]any{}
	for i := 1; i <= demoStories; i++ {
		k := fmt.Sprintf("SHOP-%d", i)
		issues[k] = s.jira.IssueFields(k)
	}
	b, err := json.MarshalIndent(issues, "", "  ")
	if err != nil {
		return err
	}
	return writeDemoFile(out, "jira/issue-fields.json", b)
}

func indentJSON(raw []byte) []byte {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return raw
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return b
}

// slug makes a page title a file name.
func slug(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}
