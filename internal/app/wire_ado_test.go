package app

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/sync/push"
)

func adoDeps(orgURL string) deps {
	c := &config.Config{
		ADO: []config.ADO{{
			Conn:            config.Conn{Name: "acme-ado", Auth: config.Auth{Type: "pat", Token: config.NewSecret("wire-pat")}},
			OrganizationURL: orgURL,
			Extension:       config.ADOExtension{Publisher: "acme", ID: "story-coverage", Collection: "coverage"},
		}},
		Projects: []config.Project{
			{ID: "shop", ADO: &config.ProjectADO{Target: "acme-ado", Project: "Shop"}},
			{ID: "web"}, // no ADO mapping: no target, no probe
		},
	}
	l := logrus.New()
	l.SetOutput(&strings.Builder{})
	return deps{cfg: c, log: l, userAgent: "covsync/test"}
}

func TestADOTargetsFollowTheProjectMapping(t *testing.T) {
	d := adoDeps("https://dev.azure.com/acme")
	ts, err := adoTargets(context.Background(), d, d.cfg.Projects[0])
	if err != nil || len(ts) != 1 || ts[0].Name() != "ado:acme-ado/Shop" || ts[0].Kind() != push.TargetADO {
		t.Fatalf("targets = %v, %v; want ado:acme-ado/Shop", ts, err)
	}
	if ts, err := adoTargets(context.Background(), d, d.cfg.Projects[1]); err != nil || len(ts) != 0 {
		t.Fatalf("a project without ado mapping got %v, %v", ts, err)
	}
	d.cfg.Projects[0].ADO.Target = "nope"
	_, err = adoTargets(context.Background(), d, d.cfg.Projects[0])
	if err == nil || push.KindOf(err) != push.KindConfig || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown ado target: err = %v, want a usage error naming it", err)
	}
}

func TestADOProbesReadTheProjectAndCollection(t *testing.T) {
	sim := adosim.New(adosim.Options{PAT: "wire-pat"})
	sim.AddProject("Shop")
	sim.AddCovsyncFields()
	sim.InstallExtension("acme", "story-coverage")
	srv := adosim.Start(t, sim)
	d := adoDeps(srv.OrgURL)
	ps := adoProbes(d)
	if len(ps) != 1 || ps[0].name != "ado:acme-ado/Shop" {
		t.Fatalf("probes = %+v", ps)
	}
	if err := ps[0].run(context.Background()); err != nil {
		t.Fatalf("probe: %v", err)
	}
	d.cfg.Projects[0].ADO.Project = "Gone"
	err := adoProbes(d)[0].run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Gone") {
		t.Fatalf("probe of a missing project: %v", err)
	}
	for _, r := range sim.Requests() {
		if r.Method != "GET" && r.Method != "OPTIONS" {
			t.Fatalf("a probe sent %s %s", r.Method, r.Path)
		}
	}
	if strings.Contains(fmt.Sprint(err), "wire-pat") {
		t.Fatal("the PAT is in the probe error")
	}
}

func TestProjectsOnOneADOOrganizationShareOneClientAndPause(t *testing.T) {
	d := adoDeps("https://dev.azure.com/acme")
	d.clients = newClients()
	d.cfg.ADO = append(d.cfg.ADO, d.cfg.ADO[0])
	d.cfg.ADO[1].Name, d.cfg.ADO[1].OrganizationURL = "other-ado", "https://dev.azure.com/other"
	d.cfg.Projects = append(d.cfg.Projects,
		config.Project{ID: "web", ADO: &config.ProjectADO{Target: "acme-ado", Project: "Web"}},
		config.Project{ID: "ops", ADO: &config.ProjectADO{Target: "other-ado", Project: "Ops"}})
	for _, p := range d.cfg.Projects {
		if _, err := adoTargets(context.Background(), d, p); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.clients.count(push.TargetADO); n != 2 {
		t.Errorf("%d ADO clients for 2 organizations and 3 projects, want 2", n)
	}
	a, _ := adoOrg(d, &d.cfg.ADO[0])
	b, _ := adoOrg(d, &d.cfg.ADO[0])
	o, _ := adoOrg(d, &d.cfg.ADO[1])
	if a != b || a.http != b.http || a.pause != b.pause {
		t.Error("two projects on one organization got different clients: requests_per_second would hold per project")
	}
	if a.http == o.http || a.pause == o.pause {
		t.Error("two organizations share a client")
	}
}
