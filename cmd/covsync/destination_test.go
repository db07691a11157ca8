package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/covsync/covsync/internal/benchload"
)

// TestATargetNamePointedAtAnotherSitePushesThere: the ledger is keyed by the site (its canonical URL) and
// project, not by the target's name. Pointing the name at another Jira pushes every item there (keyed by name,
// the ledger said "unchanged" and nothing reached the new site); pointing it back finds what was pushed to the
// first site and pushes nothing.
func TestATargetNamePointedAtAnotherSitePushesThere(t *testing.T) {
	w := benchload.Workload{Project: "shop", Prefix: "SHOP", Sizes: benchload.Sizes{Stories: 6, Releases: 1, Runs: 2, Results: 12}}
	db := migratedWith(t, w)
	first, second := newSimSite("acme", w, "tok-acme"), newSimSite("acme", w, "tok-acme")
	for _, s := range []*simSite{first, second} {
		srv := s.sim.Start()
		t.Cleanup(srv.Close)
		s.url = srv.URL
	}
	cfg := jiraOnlyConfig(t, db, []*simSite{first}, []string{"tok-acme"}, nil)
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pointAt := func(url string) {
		t.Helper()
		if err := os.WriteFile(cfg, []byte(strings.Replace(string(text), "url: "+first.url+"\n", "url: "+url+"\n", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	resync := func(what string) map[string]resyncTargetCounts {
		t.Helper()
		code, out, errOut := execute(t, "resync", "--config", cfg, "--output", "json")
		if code != exitOK {
			t.Fatalf("%s: resync exit %d: %s\n%s", what, code, out, errOut)
		}
		var res struct {
			Targets []resyncTargetCounts `json:"targets"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
		m := map[string]resyncTargetCounts{}
		for _, x := range res.Targets {
			m[x.Target] = x
		}
		if len(m) != 2 {
			t.Fatalf("%s: targets %v, want jira and linked-runs", what, res.Targets)
		}
		return m
	}

	for name, c := range resync("first site") {
		if c.Planned == 0 || c.Pushed != c.Planned {
			t.Fatalf("first site, %s: %+v, want every item pushed", name, c)
		}
	}
	pointAt(second.url)
	for name, c := range resync("second site") {
		if c.Pushed != c.Planned || c.Unchanged != 0 {
			t.Errorf("second site, %s: %+v, want every item pushed there", name, c)
		}
	}
	if n := second.sim.Count("PUT", "/rest/api/2/issue/"); n != w.Stories {
		t.Errorf("the second site got %d issue writes, want %d", n, w.Stories)
	}
	first.sim.ResetRequests()
	pointAt(first.url)
	for name, c := range resync("first site again") {
		if c.Pushed != 0 || c.Unchanged != c.Planned {
			t.Errorf("first site again, %s: %+v, want all unchanged (its ledger was kept aside)", name, c)
		}
	}
	if n := first.sim.Count("PUT", "/rest/api/2/issue/"); n != 0 {
		t.Errorf("the first site got %d issue writes on its return, want 0", n)
	}
}

type resyncTargetCounts struct {
	Target                             string
	Planned, Pushed, Unchanged, Failed int
}
