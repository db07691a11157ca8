package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/logging"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// ReportReader reads one project's report: *postgres.Reader.
type ReportReader interface {
	ReadProject(ctx context.Context, projectID string) (*report.Project, error)
}

// TargetsFunc builds the targets of one project mapping whose kind is in kinds (all kinds when empty).
type TargetsFunc func(ctx context.Context, p config.Project, kinds map[string]bool) ([]engine.Target, error)

// Options are what an App is built from.
type Options struct {
	Config *config.Config
	Log    *logrus.Logger
	Pool   *pgxpool.Pool
	// Version goes into every request's User-Agent: "covsync/<version>".
	Version string
	// Counters, when set (serve), gives each HTTP client the counters its 429s go to on /metrics.
	Counters func(client string) *httpx.Counters
	// Targets replaces the configured connectors, and Reader the source schema's reader (tests).
	Targets TargetsFunc
	Reader  func(pool *pgxpool.Pool, sourceSchema string) ReportReader
}

// App runs the cycles of the projects of one config: it reads a project's report once, builds the
// project's targets and runs one engine cycle per target. `covsync resync`, the daemon's River jobs, the
// demo and the bench all go through it, so a resync and a scheduled cycle run the very same code. A new
// config (SIGHUP) gets a new App, which re-reads credentials and starts a new client registry.
type App struct {
	d       deps
	pool    *pgxpool.Pool
	targets TargetsFunc
	reader  ReportReader
	engine  *engine.Engine
	workers int
}

// New builds the App of a config.
func New(o Options) *App {
	d := newDeps(o.Config, o.Log, o.Version)
	d.counters = o.Counters
	d.pool = o.Pool // the sites' budgets are shared through the database (deps.httpClient)
	workers := o.Config.Workers.PerTarget
	if workers <= 0 {
		workers = config.DefaultWorkersPerTarget
	}
	a := &App{
		d:       d,
		pool:    o.Pool,
		targets: o.Targets,
		engine:  engine.New(ledger.New(o.Pool, config.OwnSchema), o.Log, logging.RedactorOf(o.Log)),
		workers: workers,
	}
	if a.targets == nil {
		a.targets = func(ctx context.Context, p config.Project, kinds map[string]bool) ([]engine.Target, error) {
			return buildTargets(ctx, a.d, p, kinds)
		}
	}
	if o.Reader != nil {
		a.reader = o.Reader(o.Pool, o.Config.Database.SourceSchema)
	} else {
		a.reader = postgres.NewReader(o.Pool, o.Config.Database.SourceSchema)
	}
	return a
}

// Run runs the cycle of one (project, target kind): the unit of a River job.
func (a *App) Run(ctx context.Context, projectID, kind string, opts engine.Options) ([]engine.Summary, error) {
	return a.RunProject(ctx, projectID, []string{kind}, opts)
}

// RunProject reads project projectID's report once and runs a cycle of each of its targets whose kind is in
// kinds (every kind when kinds is empty), concurrently: they are different systems (or different limits of
// one), and each cycle bounds its own pushes.
//
// Summaries come back in target order. The error joins every cycle-level failure and carries a push.Kind:
// KindConfig for a project the config does not map or a target's configuration that does not fit it,
// KindUnreachable when the database or a target was unreachable. Items that failed on their own are in the
// summaries only.
func (a *App) RunProject(ctx context.Context, projectID string, kinds []string, opts engine.Options) ([]engine.Summary, error) {
	pc, ok := ProjectByID(a.d.cfg, projectID)
	if !ok {
		return nil, push.Configf("project %q is not in the config (%s)", projectID, ProjectIDs(a.d.cfg))
	}
	if opts.Workers <= 0 {
		opts.Workers = a.workers
	}
	kindSet := map[string]bool{}
	for _, k := range kinds {
		kindSet[k] = true
	}
	targets, err := a.targets(ctx, pc, kindSet)
	if err != nil {
		if classified(err) {
			return nil, err
		}
		return nil, push.Config(fmt.Errorf("project %s: %w", projectID, err))
	}
	if len(targets) == 0 {
		return nil, nil
	}
	rctx, cancel := context.WithTimeout(ctx, DBReadTimeout)
	p, err := a.reader.ReadProject(rctx, projectID)
	cancel()
	switch {
	case errors.Is(err, postgres.ErrUnknownProject):
		// Mapped in the config but nothing ingested yet: nothing to plan from, and pushing an empty report
		// would clear what the targets hold.
		return nil, push.Config(fmt.Errorf("project %s: the source schema has no such project (ingest a report for it first): %w", projectID, err))
	case errors.Is(err, postgres.ErrSchemaMissing):
		return nil, push.Config(fmt.Errorf("project %s: %w (run covsync migrate, or create the views README describes)", projectID, err))
	case err != nil:
		return nil, push.Unreachable(fmt.Errorf("project %s: read report: %w", projectID, err))
	}

	out := make([]engine.Summary, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = a.engine.Run(ctx, t, p, opts)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return out, push.WithKind(cyclesKind(errs), err)
	}
	return out, nil
}

// cyclesKind is the kind of failed cycles: KindConfig when every failure is a target's configuration error
// (a field name matching nothing), else KindUnreachable (a database or target could not be used), which
// outranks it.
func cyclesKind(errs []error) push.Kind {
	k := push.KindConfig
	for _, err := range errs {
		if err != nil && push.KindOf(err) != push.KindConfig {
			k = push.KindUnreachable
		}
	}
	return k
}

// classified reports whether err carries a push.Kind of its own.
func classified(err error) bool {
	var e *push.Error
	return errors.As(err, &e)
}

// severity orders errors by how much of a run they stopped: none (nil), some items (KindPermanent), a
// configuration that must change (KindConfig), an outage (every other kind).
func severity(err error) int {
	switch {
	case err == nil:
		return 0
	case push.KindOf(err) == push.KindPermanent:
		return 1
	case push.KindOf(err) == push.KindConfig:
		return 2
	}
	return 3
}

// keepWorse keeps in *worst the more serious of *worst and err; the first of equals stays.
func keepWorse(worst *error, err error) {
	if severity(err) > severity(*worst) {
		*worst = err
	}
}

// ProjectByID finds a project mapping of the config.
func ProjectByID(cfg *config.Config, id string) (config.Project, bool) {
	for _, p := range cfg.Projects {
		if p.ID == id {
			return p, true
		}
	}
	return config.Project{}, false
}

// ProjectIDs lists the configured project ids for an error message.
func ProjectIDs(cfg *config.Config) string {
	if len(cfg.Projects) == 0 {
		return "no projects configured"
	}
	ids := make([]string, len(cfg.Projects))
	for i, p := range cfg.Projects {
		ids[i] = p.ID
	}
	return "configured: " + strings.Join(ids, ", ")
}
