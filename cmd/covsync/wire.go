package main

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/budget"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/templates"
)

// deps is what the target builders need. Built once per command (and again on SIGHUP in serve).
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

// pace is the pacing every site's HTTP client gets: requests in flight bounded by workers.per_target, and
// the site's budget shared by every replica when the deps has a database.
func (d deps) pace(site string, rps float64) httpx.Options {
	o := httpx.Options{MaxInFlight: d.cfg.Workers.PerTarget}
	if d.pool == nil || rps <= 0 {
		return o
	}
	b, err := budget.New(d.pool, budget.Options{Site: site, RequestsPerSecond: rps, Schema: postgres.OwnSchema,
		OnError: func(err error) {
			d.log.WithError(err).Warnf("%s: the shared request budget could not be leased; pacing this replica alone", site)
		}})
	if err != nil {
		d.log.WithError(err).Warnf("%s: no shared request budget", site)
		return o
	}
	o.Budget = b
	return o
}

// httpCounters returns the counters of the HTTP client named client ("ado:acme"), or nil outside serve.
func (d deps) httpCounters(client string) *httpx.Counters {
	if d.counters == nil {
		return nil
	}
	return d.counters(client)
}

// Target kinds, as --target and the schedules name them.
const (
	kindJira       = "jira"
	kindLinkedRuns = "linked-runs"
	kindADO        = "ado"
	kindConfluence = "confluence"
)

var allKinds = []string{kindJira, kindLinkedRuns, kindADO, kindConfluence}

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
