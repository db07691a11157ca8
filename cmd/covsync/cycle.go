package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/logging"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// reportReader reads one project's report: *postgres.Reader.
type reportReader interface {
	ReadProject(ctx context.Context, projectID string) (*report.Project, error)
}

// targetsFunc builds the targets of one project mapping whose kind is in kinds (all kinds when empty):
// buildTargets, or a test's own.
type targetsFunc func(ctx context.Context, d deps, p config.Project, kinds map[string]bool) ([]engine.Target, error)

// cycleEnv is what a cycleRunner reads from and pushes to. Commands use defaultCycleEnv; tests give their
// own targets.
type cycleEnv struct {
	targets targetsFunc
	reader  func(pool *pgxpool.Pool, sourceSchema string) reportReader
}

func defaultCycleEnv() cycleEnv {
	return cycleEnv{
		targets: buildTargets,
		reader: func(pool *pgxpool.Pool, schema string) reportReader {
			return postgres.NewReader(pool, schema)
		},
	}
}

// cycleRunner runs the cycles of a project: it reads the project's report once, builds the project's
// targets and runs one engine cycle per target. `covsync resync` and the daemon's River job worker both go
// through it, so a resync and a scheduled cycle run the very same code.
type cycleRunner struct {
	d       deps
	env     cycleEnv
	reader  reportReader
	engine  *engine.Engine
	workers int
}

func newCycleRunner(d deps, pool *pgxpool.Pool, env cycleEnv) *cycleRunner {
	workers := d.cfg.Workers.PerTarget
	if workers <= 0 {
		workers = engine.DefaultWorkers
	}
	d.pool = pool // the sites' budgets are shared through the database (deps.pace)
	return &cycleRunner{
		d:       d,
		env:     env,
		reader:  env.reader(pool, d.cfg.Database.SourceSchema),
		engine:  engine.New(ledger.New(pool, postgres.OwnSchema), d.log, logging.RedactorOf(d.log)),
		workers: workers,
	}
}

// Run runs the cycle of one (project, target kind): the unit of a River job.
func (r *cycleRunner) Run(ctx context.Context, projectID, kind string, opts engine.Options) ([]engine.Summary, error) {
	return r.RunProject(ctx, projectID, []string{kind}, opts)
}

// RunProject reads project projectID's report once and runs a cycle of each of its targets whose kind is in
// kinds (every kind when kinds is empty), concurrently: they are different systems (or different limits of
// one), and each cycle bounds its own pushes.
//
// Summaries come back in target order. The error joins every cycle-level failure and carries an exit code
// (main.go): 2 for a project the config does not map or a target's configuration that does not fit it, 3
// when the database or a target was unreachable.
// Items that failed on their own are in the summaries only.
func (r *cycleRunner) RunProject(ctx context.Context, projectID string, kinds []string, opts engine.Options) ([]engine.Summary, error) {
	pc, ok := projectByID(r.d.cfg, projectID)
	if !ok {
		return nil, usageErr("project %q is not in the config (%s)", projectID, projectIDs(r.d.cfg))
	}
	if opts.Workers <= 0 {
		opts.Workers = r.workers
	}
	kindSet := map[string]bool{}
	for _, k := range kinds {
		kindSet[k] = true
	}
	targets, err := r.env.targets(ctx, r.d, pc, kindSet)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return nil, err
		}
		return nil, withCode(exitUsage, fmt.Errorf("project %s: %w", projectID, err))
	}
	if len(targets) == 0 {
		return nil, nil
	}
	rctx, cancel := context.WithTimeout(ctx, dbReadTimeout)
	p, err := r.reader.ReadProject(rctx, projectID)
	cancel()
	switch {
	case errors.Is(err, postgres.ErrUnknownProject):
		// Mapped in the config but nothing ingested yet: nothing to plan from, and pushing an empty report
		// would clear what the targets hold.
		return nil, withCode(exitUsage, fmt.Errorf("project %s: the source schema has no such project (ingest a report for it first): %w", projectID, err))
	case errors.Is(err, postgres.ErrSchemaMissing):
		return nil, withCode(exitUsage, fmt.Errorf("project %s: %w (run covsync migrate, or create the views README describes)", projectID, err))
	case err != nil:
		return nil, withCode(exitDependency, fmt.Errorf("project %s: read report: %w", projectID, err))
	}

	out := make([]engine.Summary, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = r.engine.Run(ctx, t, p, opts)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return out, withCode(cycleExitCode(errs), err)
	}
	return out, nil
}

// cycleExitCode is the exit code of failed cycles: 2 (configuration) when every failure is a target's
// configuration error (push.KindConfig: a field name matching nothing), else 3 (a database or target was
// unreachable), which outranks it as resyncAll ranks codes.
func cycleExitCode(errs []error) int {
	code := exitOK
	for _, err := range errs {
		switch {
		case err == nil:
		case push.KindOf(err) == push.KindConfig:
			code = max(code, exitUsage)
		default:
			code = exitDependency
		}
	}
	return code
}

// projectByID finds a project mapping of the config.
func projectByID(cfg *config.Config, id string) (config.Project, bool) {
	for _, p := range cfg.Projects {
		if p.ID == id {
			return p, true
		}
	}
	return config.Project{}, false
}

// projectIDs lists the configured project ids for an error message.
func projectIDs(cfg *config.Config) string {
	if len(cfg.Projects) == 0 {
		return "no projects configured"
	}
	ids := make([]string, len(cfg.Projects))
	for i, p := range cfg.Projects {
		ids[i] = p.ID
	}
	return "configured: " + strings.Join(ids, ", ")
}
