package app

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/confluence"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/push"
)

// confluenceTargets builds the Confluence target of project p: one target publishing the project page (and
// the release pages when release_pages is set).
func confluenceTargets(ctx context.Context, d deps, p config.Project) ([]engine.Target, error) {
	if p.Confluence == nil {
		return nil, nil
	}
	t, err := confluenceTarget(d, p)
	if err != nil {
		return nil, err
	}
	return []engine.Target{t}, nil
}

// ConfluenceTarget builds the target of project p's confluence mapping without a database: what
// `covsync render confluence` renders pages with.
func ConfluenceTarget(c *config.Config, log *logrus.Logger, version string, p config.Project) (*confluence.Target, error) {
	return confluenceTarget(newDeps(c, log, version), p)
}

// confluenceTarget builds the target of project p's confluence mapping.
func confluenceTarget(d deps, p config.Project) (*confluence.Target, error) {
	m := p.Confluence
	site, ok := confluenceSite(d.cfg, m.Target)
	if !ok {
		return nil, push.Config(fmt.Errorf("projects[%s].confluence.target: no confluence entry named %q", p.ID, m.Target))
	}
	hc, err := confluenceHTTPClient(d, site)
	if err != nil {
		return nil, push.Config(fmt.Errorf("confluence %s: %w", site.Name, err))
	}
	tmpl, err := d.templates.Read("confluence/page.html.tmpl")
	if err != nil {
		return nil, push.Config(err)
	}
	t, err := confluence.New(confluence.Options{
		Site: site.Name, URL: site.URL, HTTP: hc, UserAgent: d.userAgent,
		Auth:      confluence.Auth{Type: site.Auth.Type, Email: site.Auth.Email, Token: site.Auth.Token},
		ProjectID: p.ID, Space: m.Space, ParentPageID: m.ParentPageID,
		Title: m.Title, ReleaseTitle: m.ReleaseTitle, ReleasePages: m.ReleasePages,
		OnManualEdit: site.OnManualEdit, MaxRows: site.MaxRows,
		JiraBaseURL: jiraBaseURL(d.cfg, p), PageTemplate: tmpl, Log: d.log,
	})
	if err != nil {
		return nil, push.Config(err)
	}
	return t, nil
}

// confluenceHTTPClient is the httpx client of a Confluence site, one per site in the deps' registry, so the
// site's requests_per_second (one token bucket, slowed down on 429) holds for the site as a whole.
func confluenceHTTPClient(d deps, site config.Confluence) (*http.Client, error) {
	return clientFor(d.clients, push.TargetConfluence, site.Name, func() (*http.Client, error) {
		return d.httpClient(push.TargetConfluence, site.Conn, site.URL)
	})
}

func confluenceSite(c *config.Config, name string) (config.Confluence, bool) {
	for _, s := range c.Confluence {
		if s.Name == name {
			return s, true
		}
	}
	return config.Confluence{}, false
}

// jiraBaseURL is the URL of the Jira site project p is mapped to, so the page links story keys to their
// issues; empty when the project has no Jira mapping.
func jiraBaseURL(c *config.Config, p config.Project) string {
	if p.Jira == nil {
		return ""
	}
	for _, j := range c.Jira {
		if j.Name == p.Jira.Target {
			return j.URL
		}
	}
	return ""
}

// confluenceProbes lists read-only checks of the configured Confluence targets: for each project mapping,
// its space and parent page.
func confluenceProbes(d deps) []probe {
	var out []probe
	for _, p := range d.cfg.Projects {
		if p.Confluence == nil {
			continue
		}
		out = append(out, probe{
			name: fmt.Sprintf("confluence:%s/%s/%s", p.Confluence.Target, p.Confluence.Space, p.ID),
			what: fmt.Sprintf("space %s, parent page %s", p.Confluence.Space, p.Confluence.ParentPageID),
			run: func(ctx context.Context) error {
				t, err := confluenceTarget(d, p)
				if err != nil {
					return err
				}
				return t.Check(ctx)
			},
		})
	}
	return out
}
