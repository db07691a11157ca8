package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/covsync/covsync/config"
	jiraconn "github.com/covsync/covsync/connectors/jira"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/push"
)

// jiraSite returns the Jira site of cfg from the deps' client registry: every target of a site shares one
// client (one token bucket) and one set of property locks.
func (d deps) jiraSite(cfg config.Jira) (*jiraconn.Site, error) {
	return clientFor(d.clients, push.TargetJira, cfg.Name, func() (*jiraconn.Site, error) {
		hc, err := d.httpClient(push.TargetJira, cfg.Conn, cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("jira %s: %w", cfg.Name, err)
		}
		return jiraconn.NewSite(cfg, jiraconn.Options{HTTP: hc, Log: d.log, UserAgent: d.userAgent, Templates: d.templates})
	})
}

func jiraConfig(cfg *config.Config, name string) (config.Jira, bool) {
	for _, j := range cfg.Jira {
		if j.Name == name {
			return j, true
		}
	}
	return config.Jira{}, false
}

// jiraTargets builds the Jira targets of project p: "jira" (the story fields) unless the mapping turns
// fields off or the site configures none, and "linked-runs" (the project property) when linked_runs is true.
func jiraTargets(ctx context.Context, d deps, p config.Project) ([]engine.Target, error) {
	m := p.Jira
	if m == nil {
		return nil, nil
	}
	cfg, ok := jiraConfig(d.cfg, m.Target)
	if !ok {
		return nil, push.Configf("projects[%s].jira.target: no jira entry named %q", p.ID, m.Target)
	}
	site, err := d.jiraSite(cfg)
	if err != nil {
		return nil, push.Config(err)
	}
	var out []engine.Target
	f := cfg.Fields
	anyField := f.CoveragePercent != "" || f.CoverageSummary != "" || f.TestStatus != "" || f.LastRunURL != ""
	if (m.Fields == nil || *m.Fields) && anyField {
		out = append(out, site.IssueTarget(m.ProjectKey))
	}
	if m.LinkedRuns {
		out = append(out, site.PropertyTarget(m.ProjectKey))
	}
	return out, nil
}

// jiraProbes lists read-only checks of the configured Jira targets: the credential (myself), the configured
// fields, and each mapped project.
func jiraProbes(d deps) []probe {
	var out []probe
	for _, cfg := range d.cfg.Jira {
		var keys []string
		for _, p := range d.cfg.Projects {
			if p.Jira != nil && p.Jira.Target == cfg.Name {
				keys = append(keys, p.Jira.ProjectKey)
			}
		}
		what := "myself, fields"
		if len(keys) > 0 {
			what += ", project " + strings.Join(keys, ", ")
		}
		out = append(out, probe{name: "jira:" + cfg.Name, what: what, run: func(ctx context.Context) error {
			site, err := d.jiraSite(cfg)
			if err != nil {
				return fmt.Errorf("jira %s: %w", cfg.Name, err)
			}
			return site.Check(ctx, keys)
		}})
	}
	return out
}
