package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/ado"
	"github.com/covsync/covsync/sync/engine"
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
		return nil, usageErr("projects[%s].ado.target: no ado entry is named %q", p.ID, p.ADO.Target)
	}
	t, err := ado.New(ado.Options{
		Name: conn.Name, OrganizationURL: conn.OrganizationURL, PAT: conn.Auth.Token,
		Project: p.ADO.Project, Extension: conn.Extension, Fields: conn.Fields, MatchField: p.ADO.MatchField,
		HTTPClient: adoHTTPClient(conn), Log: d.log, UserAgent: d.userAgent, Templates: d.templates,
	})
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("projects[%s].ado: %w", p.ID, err))
	}
	return t, nil
}

// adoHTTPClient is the HTTP client of one ado entry. The connector retries 429s and 5xxs itself (the Go
// client never does) and paces on Retry-After and X-RateLimit-*, so a plain client with the entry's timeout
// is enough until connectors/httpx (TLS ca_file, proxy, redaction) is on main.
func adoHTTPClient(c *config.ADO) *http.Client {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &http.Client{Timeout: timeout}
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
