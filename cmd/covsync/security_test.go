package main

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/jira/jirasim"
	"github.com/covsync/covsync/internal/benchload"
	"github.com/covsync/covsync/internal/daemon"
	"github.com/covsync/covsync/internal/pgtest"
)

// Security tests through the real command (docs/reliability.md, "Security"). What other packages already
// prove is referenced there, not repeated: a 0644 token file (config/credentials_test.go), the /v1/resync key
// check (internal/httpapi), httpx's CA handling at unit level, each connector's own token tests.

// simSite is one simulated Jira site holding one project of a workload.
// simEmail is the simulated Jira sites' account.
const simEmail = "bench-bot@bench.example"

type simSite struct {
	name string
	sim  *jirasim.Sim
	url  string
	w    benchload.Workload
}

// newSimSite seeds a site with w's project, issues and versions.
func newSimSite(name string, w benchload.Workload, token string) *simSite {
	sim := jirasim.New(jirasim.Options{Email: simEmail, Token: token})
	sim.AddField("Test Coverage", jirasim.KindNumber)
	sim.AddProject(w.Prefix, w.Project)
	sim.AddIssues(w.Prefix, w.Stories)
	for i := 1; i <= w.Releases; i++ {
		sim.AddVersion(w.Prefix, w.ReleaseName(i))
	}
	return &simSite{name: name, sim: sim, w: w}
}

// jiraOnlyConfig writes a config mapping each site's project to it (fields and linked runs), with one
// token file per site, and returns its path.
func jiraOnlyConfig(t *testing.T, dbURL string, sites []*simSite, tokens []string, caFiles []string) string {
	t.Helper()
	dir := t.TempDir()
	var jira, projects strings.Builder
	for i, s := range sites {
		tf := filepath.Join(dir, s.name+"_token")
		if err := os.WriteFile(tf, []byte(tokens[i]), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&jira, "  - name: %s\n    url: %s\n    auth: {type: basic, email: %s, token_file: %s}\n    requests_per_second: 500\n    timeout: 3s\n    fields: {coverage_percent: Test Coverage}\n",
			s.name, s.url, simEmail, tf)
		if caFiles != nil && caFiles[i] != "" {
			fmt.Fprintf(&jira, "    ca_file: %s\n", caFiles[i])
		}
		fmt.Fprintf(&projects, "  - id: %s\n    jira: {target: %s, project_key: %s, linked_runs: true}\n", s.w.Project, s.name, s.w.Prefix)
	}
	cfg := fmt.Sprintf("database:\n  url: %q\nlog: {level: debug, format: text}\njira:\n%sprojects:\n%s", dbURL, jira.String(), projects.String())
	p := filepath.Join(dir, "covsync.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// migratedWith returns a migrated pgtest database holding workloads ws.
func migratedWith(t *testing.T, ws ...benchload.Workload) string {
	t.Helper()
	url := pgtest.URL(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := daemon.Migrate(context.Background(), pool, &config.Config{}); err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if err := benchload.Generate(context.Background(), pool, "covsync_source", w); err != nil {
			t.Fatal(err)
		}
	}
	return url
}

func TestTwoProjectsOnTwoJiraSitesNeverSeeEachOthersData(t *testing.T) {
	sizes := benchload.Sizes{Stories: 8, Releases: 2, Runs: 4, Results: 32}
	alpha := benchload.Workload{Project: "alpha", Prefix: "ALPHA", Sizes: sizes}
	beta := benchload.Workload{Project: "beta", Prefix: "BETA", Sizes: sizes}
	db := migratedWith(t, alpha, beta)
	a, b := newSimSite("site-a", alpha, "token-of-a"), newSimSite("site-b", beta, "token-of-b")
	for _, s := range []*simSite{a, b} {
		srv := s.sim.Start()
		t.Cleanup(srv.Close)
		s.url = srv.URL
	}
	cfg := jiraOnlyConfig(t, db, []*simSite{a, b}, []string{"token-of-a", "token-of-b"}, nil)

	code, out, errOut := execute(t, "resync", "--config", cfg, "--output", "json")
	if code != exitOK {
		t.Fatalf("resync exit %d: %s\n%s", code, out, errOut)
	}
	for _, tc := range []struct {
		site  *simSite
		other benchload.Workload
	}{{a, beta}, {b, alpha}} {
		reqs := tc.site.sim.Requests()
		if tc.site.sim.Count("PUT", "/rest/api/2/issue/") != sizes.Stories {
			t.Errorf("%s: %d issue writes, want its own %d", tc.site.name, tc.site.sim.Count("PUT", "/rest/api/2/issue/"), sizes.Stories)
		}
		// Neither the other project's keys nor its project id (in its run URLs) may reach this site.
		for _, r := range reqs {
			seen := r.Method + " " + r.Path + "?" + r.Query.Encode() + " " + string(r.Body)
			if strings.Contains(seen, tc.other.Prefix) || strings.Contains(seen, "/"+tc.other.Project+"/") {
				t.Errorf("%s received %s's data: %.300s", tc.site.name, tc.other.Project, seen)
			}
		}
	}
	if strings.Contains(errOut, "token-of-a") || strings.Contains(errOut, "token-of-b") {
		t.Error("a token reached the debug log")
	}
}

func TestTLSToASiteWithAnUnknownCAIsRefusedAndAcceptedWithItsCAFile(t *testing.T) {
	w := benchload.Workload{Project: "tls", Prefix: "TLS", Sizes: benchload.Sizes{Stories: 3, Releases: 1, Runs: 1, Results: 3}}
	db := migratedWith(t, w)
	site := newSimSite("tls-site", w, "tls-token")
	srv := httptest.NewTLSServer(site.sim)
	t.Cleanup(srv.Close)
	site.url = srv.URL

	cfg := jiraOnlyConfig(t, db, []*simSite{site}, []string{"tls-token"}, nil)
	code, out, errOut := execute(t, "resync", "--config", cfg, "--target", "jira")
	if code == exitOK || !strings.Contains(out+errOut, "certificate") {
		t.Fatalf("an unknown CA was accepted: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := len(site.sim.Requests()); n != 0 {
		t.Fatalf("the site received %d requests over an unverified connection", n)
	}

	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = jiraOnlyConfig(t, db, []*simSite{site}, []string{"tls-token"}, []string{ca})
	if code, out, errOut := execute(t, "resync", "--config", cfg, "--target", "jira"); code != exitOK {
		t.Fatalf("with ca_file: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := site.sim.Count("PUT", "/rest/api/2/issue/"); got != 3 {
		t.Errorf("%d issue writes with ca_file, want 3", got)
	}
}
