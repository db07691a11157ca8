package app

import (
	"context"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/internal/budget"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/templates"
)

// deps is what the target builders need. Built once per App (and again on SIGHUP in serve).
type deps struct {
	cfg       *config.Config
	log       *logrus.Logger
	templates templates.Set
	userAgent string // "covsync/<version>"
	// clients holds one client per configured Jira site, ADO organization and Confluence site, shared by
	// every target of every project mapped to it (clients.go).
	clients *clients
	// counters, when set (serve), gives each HTTP client the counter its 429s go to on /metrics.
	counters func(client string) *httpx.Counters
	// pool, when set (the cycle runner's), holds every site's request budget for the whole deployment
	// (internal/budget); without it a site's requests_per_second holds per process.
	pool *pgxpool.Pool
}

// httpClient builds the HTTP client of one configured site or organization of kind: httpx's pacing,
// retries and redacted logs with the config's limits (httpx.ForConn), this binary's User-Agent, and in
// serve the counters its 429s go to on /metrics. Every connector gets its client from here. Its requests in
// flight are bounded by workers.per_target, and when the deps has a database every replica draws from the
// site's one budget (internal/budget; docs/architecture.md, "Pace to the site"); without it a site's
// requests_per_second holds per process.
func (d deps) httpClient(kind string, c config.Conn, siteURL string) (*http.Client, error) {
	o := httpx.ForConn(kind, c)
	o.UserAgent, o.Logger = d.userAgent, d.log
	if d.counters != nil {
		o.Counters = d.counters(o.Name)
	}
	o.MaxInFlight = d.cfg.Workers.PerTarget
	if d.pool != nil && o.RequestsPerSecond > 0 {
		site := budgetSite(kind, siteURL)
		b, err := budget.New(d.pool, budget.Options{Site: site, RequestsPerSecond: o.RequestsPerSecond, Schema: config.OwnSchema,
			OnError: func(err error) {
				d.log.WithError(err).Warnf("%s: the shared request budget could not be leased; pacing this replica alone", site)
			}})
		if err != nil {
			return nil, err
		}
		o.Budget = b
	}
	return httpx.New(o)
}

// budgetSite names a site's shared request budget by its canonical URL, not by the config entry's name: two
// entries for one site (mapping different projects, which the config allows) must draw from one budget, as
// the site counts their requests together.
func budgetSite(kind, siteURL string) string {
	return kind + ":" + config.CanonicalSite(siteURL, kind == push.TargetADO)
}

// targetBuilder builds the targets one project mapping has at one connector (possibly none).
type targetBuilder func(ctx context.Context, d deps, p config.Project) ([]engine.Target, error)

// probe is one read-only check of a configured target for `covsync check` (online).
type probe struct {
	name string // "jira:acme"
	what string // "myself, fields, project SHOP"
	run  func(ctx context.Context) error
}

// probeBuilder lists the probes of one connector's configured targets.
type probeBuilder func(d deps) []probe

// Each connector's wiring lives in its own wire_<connector>.go.
var (
	targetBuilders = []targetBuilder{jiraTargets, adoTargets, confluenceTargets}
	probeBuilders  = []probeBuilder{jiraProbes, adoProbes, confluenceProbes}
)

// buildTargets returns every target of project p whose kind is in kinds (all kinds when kinds is empty).
func buildTargets(ctx context.Context, d deps, p config.Project, kinds map[string]bool) ([]engine.Target, error) {
	var out []engine.Target
	for _, b := range targetBuilders {
		ts, err := b(ctx, d, p)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if len(kinds) == 0 || kinds[t.Kind()] {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// Probe is one read-only check of a configured target, for `covsync check`.
type Probe struct {
	Name string // "jira:acme"
	What string // "myself, fields, project SHOP"
	Run  func(ctx context.Context) error
}

// Probes lists the read-only checks of every configured target, each connector's in turn.
func Probes(c *config.Config, log *logrus.Logger, version string) []Probe {
	d := newDeps(c, log, version)
	var out []Probe
	for _, b := range probeBuilders {
		for _, p := range b(d) {
			out = append(out, Probe{Name: p.name, What: p.what, Run: p.run})
		}
	}
	return out
}
