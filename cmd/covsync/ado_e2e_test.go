package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/internal/pgtest"
)

const adoTestPAT = "e2e-ado-pat-3c9d1f7a"

// adoWorld is a fresh database, a running ADO simulator with project Shop and the extension installed, and
// a config that maps project shop to it.
type adoWorld struct {
	cfg string
	sim *adosim.Sim
	srv *adosim.Servers
}

// newADOWorld writes a config whose ado mapping line is mapping (e.g. "match_field: Custom.JiraKey") and
// whose extension id is extID.
func newADOWorld(t *testing.T, o adosim.Options, mapping, extID string) *adoWorld {
	t.Helper()
	o.PAT = adoTestPAT
	sim := adosim.New(o)
	sim.AddProject("Shop")
	sim.InstallExtension("acme", "story-coverage")
	srv := adosim.Start(t, sim)
	t.Setenv("COVSYNC_TEST_SOURCE_URL", pgtest.URL(t))
	t.Setenv("COVSYNC_TEST_ADO_URL", srv.OrgURL)
	t.Setenv("COVSYNC_TEST_ADO_PAT", adoTestPAT)
	cfg := fmt.Sprintf(`database:
  url: ${COVSYNC_TEST_SOURCE_URL}
log: {level: warn}
ado:
  - name: acme-ado
    organization_url: ${COVSYNC_TEST_ADO_URL}
    auth: {type: pat, token_env: COVSYNC_TEST_ADO_PAT}
    extension: {publisher: acme, id: %s, collection: coverage}
    requests_per_second: 200
projects:
  - id: shop
    ado: {target: acme-ado, project: Shop%s}
`, extID, mapping)
	p := filepath.Join(t.TempDir(), "covsync.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &adoWorld{cfg: p, sim: sim, srv: srv}
}

func TestCheckProbesTheADOProjectAndCollectionReadOnly(t *testing.T) {
	w := newADOWorld(t, adosim.Options{}, "", "story-coverage")
	mustRun(t, "migrate", "--config", w.cfg)
	out := mustRun(t, "check", "--config", w.cfg)
	if !strings.Contains(out, "ado:acme-ado/Shop") || strings.Contains(out, "❌") {
		t.Fatalf("check output:\n%s", out)
	}
	for _, r := range w.sim.Requests() {
		if r.Method != "GET" && r.Method != "OPTIONS" {
			t.Fatalf("check sent %s %s", r.Method, r.Path)
		}
	}

	bad := newADOWorld(t, adosim.Options{}, "", "not-installed")
	mustRun(t, "migrate", "--config", bad.cfg)
	code, out, errOut := execute(t, "check", "--config", bad.cfg)
	if code != exitDependency || !strings.Contains(out, "acme.not-installed") {
		t.Fatalf("check with an extension that is not installed: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, adoTestPAT) {
		t.Fatal("the PAT is in check's output")
	}
}
