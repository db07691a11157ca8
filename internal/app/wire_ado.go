package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/ado"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/push"
)

// adoTargets builds the ADO target of project p: one per project mapping (projects[].ado).
func adoTargets(ctx context.Context, d deps, p config.Project) ([]engine.Target, error) {
	if p.ADO == nil {
		return nil, nil
	}
	t, err := newADOTarget(d, p)
	if err != nil {
		return nil, err
	}
	return []engine.Target{t}, nil
}

func newADOTarget(d deps, p config.Project) (*ado.Target, error) {
	var conn *config.ADO
	for i := range d.cfg.ADO {
		if d.cfg.ADO[i].Name == p.ADO.Target {
			conn = &d.cfg.ADO[i]
		}
	}
	if conn == nil {
		return nil, push.Configf("projects[%s].ado.target: no ado entry is named %q", p.ID, p.ADO.Target)
	}
	org, err := adoOrg(d, conn)
	if err != nil {
		return nil, err
	}
	t, err := ado.New(ado.Options{
		Name: conn.Name, OrganizationURL: conn.OrganizationURL, PAT: conn.Auth.Token,
		Project: p.ADO.Project, Owner: p.ID, Extension: conn.Extension, Fields: conn.Fields, MatchField: p.ADO.MatchField,
		HTTP: org.http, Pause: org.pause, Cache: org.cache, Log: d.log, UserAgent: d.userAgent, Templates: d.templates,
	})
	if err != nil {
		return nil, push.Config(fmt.Errorf("projects[%s].ado: %w", p.ID, err))
	}
	return t, nil
}

// adoOrg returns what the targets of one ado entry share, one per organization in the deps' registry, so
// requests_per_second and the 429 slow-down hold for the organization, not per project. Its httpx client
// does the retries (writes included, which the connector marks safe), Retry-After, the token bucket, TLS
// ca_file, the proxy and redacted logs; the connector keeps only what httpx does not do: the sign-in page
// guard and the pause on X-RateLimit-Remaining / X-RateLimit-Delay.
func adoOrg(d deps, c *config.ADO) (*adoClient, error) {
	org, err := clientFor(d.clients, push.TargetADO, c.Name, func() (*adoClient, error) {
		hc, err := d.httpClient(push.TargetADO, c.Conn, c.OrganizationURL)
		if err != nil {
			return nil, err
		}
		return &adoClient{http: hc, pause: ado.NewPause(), cache: ado.NewCache()}, nil
	})
	if err != nil {
		return nil, push.Config(fmt.Errorf("ado %s: %w", c.Name, err))
	}
	return org, nil
}

// adoClient is what the targets of one organization share: the paced HTTP client and the pause the service
// asked for (Retry-After, X-RateLimit-Delay), which holds for the organization, and the planning cache
// (resource areas, key → work item mappings), which outlives the per-cycle targets.
type adoClient struct {
	http  *http.Client
	pause *ado.Pause
	cache *ado.Cache
}

// adoProbes lists read-only checks of the configured ADO targets: per project mapping, the project and the
// extension's collection.
func adoProbes(d deps) []probe {
	var out []probe
	for _, p := range d.cfg.Projects {
		if p.ADO == nil {
			continue
		}
		t, err := newADOTarget(d, p)
		name := "ado:" + p.ADO.Target + "/" + p.ADO.Project
		if err != nil {
			out = append(out, probe{name: name, what: "configuration", run: func(context.Context) error { return err }})
			continue
		}
		out = append(out, probe{
			name: t.Name(),
			what: "project " + p.ADO.Project + ", extension data collection",
			run: func(ctx context.Context) error {
				return errors.Join(t.ProbeProject(ctx), t.ProbeCollection(ctx))
			},
		})
	}
	return out
}
