package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/internal/httpapi"
	"github.com/covsync/covsync/internal/logging"
	"github.com/covsync/covsync/internal/metrics"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/schedule"
)

// HTTPShutdownTimeout bounds the endpoint's shutdown after the scheduler's. A stop therefore takes up to
// workers.shutdown_timeout + schedule.StopMargin + HTTPShutdownTimeout; supervisors (systemd TimeoutStopSec,
// Kubernetes terminationGracePeriodSeconds, compose stop_grace_period) must allow more.
const HTTPShutdownTimeout = 5 * time.Second

// RunnerDeps is what a cycle runner is built from.
type RunnerDeps struct {
	Config  *config.Config
	Pool    *pgxpool.Pool
	Metrics *metrics.Metrics // for the engine's observer
	Log     *logrus.Logger
}

// NewRunnerFunc builds the cycle runner for a config. It is called at start and again on every SIGHUP, so a
// new config's credentials reach the next cycle.
type NewRunnerFunc func(ctx context.Context, d RunnerDeps) (schedule.Runner, error)

// appRunner is the default NewRunnerFunc: the application's job runner for the config, its HTTP clients
// and cycles reporting to the daemon's metrics.
func appRunner(version string) NewRunnerFunc {
	return func(_ context.Context, d RunnerDeps) (schedule.Runner, error) {
		a := app.New(app.Options{Config: d.Config, Log: d.Log, Pool: d.Pool, Version: version, Counters: d.Metrics.HTTPCounters})
		return a.JobRunner(d.Metrics.Observer()), nil
	}
}

// Options configure Run.
type Options struct {
	ConfigPath string
	// Load reads the config (default config.Load).
	Load func(path string) (*config.Config, error)
	// NewLogger builds the logger from the config (default: app.NewLogger to stderr, redacting).
	NewLogger func(*config.Config) *logrus.Logger
	// Version goes into the targets' User-Agent ("covsync/<version>").
	Version string
	// NewRunner builds the cycle runner (default: the application's, internal/app); tests bring their own.
	NewRunner NewRunnerFunc
	// Reload delivers SIGHUP.
	Reload <-chan os.Signal
	// OnListen is told the endpoint's address once it listens (tests listen on 127.0.0.1:0).
	OnListen func(addr string)
	// Scheduler holds test overrides of River's timings (TestOnly, FetchPollInterval, RetryBackoff); the
	// config fills Queues, CycleTimeout and StopTimeout.
	Scheduler schedule.Options
	// DBRetryMin and DBRetryMax bound the backoff while PostgreSQL is unreachable (default 1s, 30s).
	DBRetryMin, DBRetryMax time.Duration
}

type daemon struct {
	opts    Options
	log     *logrus.Logger
	metrics *metrics.Metrics

	cfg      atomic.Pointer[config.Config]
	keys     atomic.Pointer[[][32]byte]
	cert     atomic.Pointer[tls.Certificate] // the endpoint's, when http.tls is set; SIGHUP reloads it
	pool     *pgxpool.Pool
	notReady atomic.Pointer[string] // why the daemon is not ready yet; nil once the scheduler runs

	mu    sync.Mutex // serialises reloads with the scheduler's creation
	sched *schedule.Scheduler

	// ingestSlots bounds the reports stored at once over HTTPS (ingestSlotsFor).
	ingestSlots chan struct{}
}

// Run is the daemon. It returns nil after a graceful stop (ctx cancelled: SIGTERM or SIGINT), a
// push.KindConfig error when the config is unusable at start, and a push.KindUnreachable error when the
// endpoint cannot listen.
func Run(ctx context.Context, opts Options) error {
	if opts.Load == nil {
		opts.Load = config.Load
	}
	if opts.NewLogger == nil {
		opts.NewLogger = defaultLogger
	}
	if opts.NewRunner == nil {
		opts.NewRunner = appRunner(opts.Version)
	}
	opts.DBRetryMin = cmpOr(opts.DBRetryMin, time.Second)
	opts.DBRetryMax = cmpOr(opts.DBRetryMax, 30*time.Second)

	cfg, err := opts.Load(opts.ConfigPath)
	if err != nil {
		return push.Config(err)
	}
	if err := validate(cfg); err != nil {
		return push.Config(err)
	}
	d := &daemon{opts: opts, log: opts.NewLogger(cfg), metrics: metrics.New()}
	d.cfg.Store(cfg)
	keys, _ := httpapi.ParseKeyHashes(cfg.HTTP.ResyncAPIKeySHA256) // validate checked them
	d.keys.Store(&keys)
	if err := d.loadCert(cfg); err != nil {
		return push.Config(err)
	}
	d.setNotReady("connecting to the database")

	// The pool every command uses (app.PoolConfig: max_conns, the connect timeout). NewWithConfig connects
	// lazily: an unreachable database is not an error here but a not-ready daemon.
	pc, err := app.PoolConfig(cfg)
	if err != nil {
		return err
	}
	if d.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return push.Config(fmt.Errorf("database.url: %w", err))
	}
	defer d.pool.Close()
	d.ingestSlots = make(chan struct{}, ingestSlotsFor(pc.MaxConns))

	srv, err := d.listen(cfg)
	if err != nil {
		return push.Unreachable(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), HTTPShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			// Requests still running (a body still arriving) are cut off: a report not read whole is not stored.
			_ = srv.Close()
		}
	}()

	wctx, stopWatchdog := context.WithCancel(ctx)
	defer stopWatchdog()
	go watchdog(wctx, d.log)
	reloadDone := make(chan struct{})
	go func() {
		defer close(reloadDone)
		for {
			select {
			case <-wctx.Done():
				return
			case <-opts.Reload:
				d.reload(wctx)
			}
		}
	}()
	defer func() { stopWatchdog(); <-reloadDone }()

	if err := d.startScheduler(ctx); err != nil {
		if ctx.Err() != nil {
			d.log.Info("stopped before the database was ready")
			return nil
		}
		return err // a configuration error: the only other way startScheduler ends
	}
	d.log.WithField("listen", srv.Addr).Info("covsync serve: ready")
	notify(d.log, sd.SdNotifyReady)

	<-ctx.Done()
	notify(d.log, sd.SdNotifyStopping)
	d.log.Info("stopping: no new cycles; letting running ones finish")
	d.setNotReady("stopping")
	d.mu.Lock()
	sched := d.sched
	d.mu.Unlock()
	// River cancels what still runs after StopTimeout; Shutdown's margin lets those cycles return and record.
	if err := sched.Shutdown(ctx); err != nil {
		d.log.WithError(err).Warn("scheduler did not stop in time")
	}
	d.log.Info("stopped")
	return nil
}

// defaultLogger is the application's redacting logger, writing to stderr.
func defaultLogger(c *config.Config) *logrus.Logger { return app.NewLogger(os.Stderr, c) }

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// validate checks what only the daemon reads: schedules, queue names, key hashes.
func validate(c *config.Config) error {
	if _, err := schedule.Entries(c); err != nil {
		return err
	}
	for k, n := range c.Workers.Queues {
		if !slices.Contains(push.TargetKinds(), k) {
			return fmt.Errorf("workers.queues.%s: not a target kind (%v)", k, push.TargetKinds())
		}
		if n < 1 {
			return fmt.Errorf("workers.queues.%s: %d; at least 1", k, n)
		}
	}
	if _, err := httpapi.ParseKeyHashes(c.HTTP.ResyncAPIKeySHA256); err != nil {
		return err
	}
	return nil
}

func (d *daemon) setNotReady(why string) { d.notReady.Store(&why) }

func (d *daemon) listen(cfg *config.Config) (*http.Server, error) {
	addr := cfg.HTTP.Listen
	if addr == "" {
		addr = config.DefaultListen // loopback only: nothing is exposed until a deployment says where
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.listen %s: %w", addr, err)
	}
	api := &httpapi.Server{
		Ready:   d.ready,
		Metrics: d.metrics.Handler(),
		Keys:    func() [][32]byte { return *d.keys.Load() },
		Resync:  d.resync,
		Ingest:  d.ingestAPI(),
		Log:     d.log,
	}
	srv := &http.Server{
		Addr:    ln.Addr().String(),
		Handler: api.Handler(),
		// Every phase of a connection has a deadline: a client that sends its headers or body slowly, or
		// holds a keep-alive connection open, cannot pin a connection (and its goroutine) for ever.
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.RequestTimeout,
		WriteTimeout:      cfg.HTTP.RequestTimeout + writeMargin,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		ErrorLog:          serverErrorLog(d.log),
	}
	if cfg.HTTP.TLS.Enabled() {
		srv.TLSConfig = &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return d.cert.Load(), nil },
		}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.WithError(err).Error("http endpoint stopped")
		}
	}()
	if d.opts.OnListen != nil {
		d.opts.OnListen(srv.Addr)
	}
	return srv, nil
}

// startScheduler waits for the database (migrating it when database.auto_migrate is set), then starts River.
// It retries with backoff until it succeeds or ctx ends; meanwhile /readyz says why not. Only a config the
// runner refuses (a push.KindConfig error) ends it early.
func (d *daemon) startScheduler(ctx context.Context) error {
	wait := d.opts.DBRetryMin
	for {
		err := d.prepareDatabase(ctx)
		if err == nil {
			err = d.tryStart(ctx)
		}
		if err == nil || push.KindOf(err) == push.KindConfig {
			return err
		}
		d.setNotReady(publicReason(err))
		d.log.WithError(err).WithField("retry_in", wait.String()).Warn("database not ready")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, d.opts.DBRetryMax)
	}
}

func (d *daemon) tryStart(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cfg := d.cfg.Load() // a SIGHUP during the wait counts
	runner, err := d.opts.NewRunner(ctx, RunnerDeps{Config: cfg, Pool: d.pool, Metrics: d.metrics, Log: d.log})
	if err != nil {
		return push.Config(err)
	}
	entries, err := schedule.Entries(cfg)
	if err != nil {
		return push.Config(err)
	}
	so := d.opts.Scheduler
	so.Entries, so.Work = entries, true
	so.Queues = cfg.Workers.Queues
	so.CycleTimeout = cmpOr(so.CycleTimeout, cfg.Workers.CycleTimeout)
	so.StopTimeout = cmpOr(so.StopTimeout, cfg.Workers.ShutdownTimeout)
	so.Logger = newSlog(d.log)
	sched, err := schedule.New(d.pool, d.guard(runner), so)
	if err != nil {
		return push.Config(err)
	}
	// River stops on its own when its start context ends; Run stops it explicitly, with a deadline.
	if err := sched.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	d.sched = sched
	d.notReady.Store(nil)
	d.log.WithField("cycles", len(entries)).Info("scheduler started")
	return nil
}

// prepareDatabase pings, migrates when asked to, and checks the migrations are current.
func (d *daemon) prepareDatabase(ctx context.Context) error {
	cfg := d.cfg.Load()
	if err := d.pool.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	if cfg.Database.AutoMigrate {
		if err := Migrate(ctx, d.pool, cfg); err != nil {
			return err
		}
	}
	return d.migrationsCurrent(ctx, cfg)
}

// Migrate applies covsync's own migrations (the ledger, and the source schema unless
// database.migrate_source is false) and River's, as `covsync migrate` and auto_migrate do.
func Migrate(ctx context.Context, pool *pgxpool.Pool, cfg *config.Config) error {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	_, err = postgres.Migrate(ctx, c.Conn(), migrateOptions(cfg))
	c.Release()
	if err != nil {
		return err
	}
	_, err = schedule.Migrate(ctx, pool)
	return err
}

func migrateOptions(cfg *config.Config) postgres.MigrateOptions {
	return postgres.MigrateOptions{
		SourceSchema: cfg.Database.SourceSchema,
		SkipSource:   cfg.Database.MigrateSource != nil && !*cfg.Database.MigrateSource,
	}
}

func (d *daemon) migrationsCurrent(ctx context.Context, cfg *config.Config) error {
	c, err := d.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	sts, err := postgres.Status(ctx, c.Conn(), migrateOptions(cfg))
	c.Release()
	if err != nil {
		return err
	}
	for _, s := range sts {
		if s.Current != s.Available {
			return &migrationsBehind{fmt.Sprintf("migrations of %s at version %d of %d: run covsync migrate (or set database.auto_migrate)", s.Set, s.Current, s.Available)}
		}
	}
	cur, avail, err := schedule.MigrationStatus(ctx, d.pool)
	if err != nil {
		return err
	}
	if cur != avail {
		return &migrationsBehind{fmt.Sprintf("migrations of the job queue (River) at version %d of %d: run covsync migrate (or set database.auto_migrate)", cur, avail)}
	}
	return nil
}

// ready is /readyz: the scheduler runs, the database answers and its migrations are current. Anyone who
// reaches the endpoint reads the answer, so it says why without connection details (pgx's errors name the
// database user, host and database); the log has them.
func (d *daemon) ready(ctx context.Context) error {
	if why := d.notReady.Load(); why != nil {
		return errors.New(*why)
	}
	err := d.pool.Ping(ctx)
	if err == nil {
		err = d.migrationsCurrent(ctx, d.cfg.Load())
	}
	if err != nil {
		d.log.WithError(err).Debug("/readyz: not ready")
		return errors.New(publicReason(err))
	}
	return nil
}

// migrationsBehind is a database whose migrations are not current; its message names no connection detail.
type migrationsBehind struct{ msg string }

func (e *migrationsBehind) Error() string { return e.msg }

// publicReason says why the daemon is not ready in words safe for anyone to read.
func publicReason(err error) string {
	var mb *migrationsBehind
	if errors.As(err, &mb) {
		return mb.msg
	}
	return "database unreachable or failing (the daemon's log says why)"
}

func (d *daemon) resync(ctx context.Context, r httpapi.ResyncRequest) ([]schedule.Enqueued, error) {
	d.mu.Lock()
	sched := d.sched
	d.mu.Unlock()
	if sched == nil {
		return nil, errors.New("not ready: the scheduler has not started")
	}
	reqs, err := schedule.RequestsOf(d.cfg.Load(), r.Projects, r.Targets, schedule.Request{Force: r.Force, Reconcile: r.Reconcile, Trigger: schedule.TriggerAPI})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", httpapi.ErrBadRequest, err)
	}
	return sched.Enqueue(ctx, reqs)
}

// guard runs a cycle only for a (project, kind) the current config still maps, and logs each cycle.
func (d *daemon) guard(r schedule.Runner) schedule.Runner {
	return schedule.RunnerFunc(func(ctx context.Context, c schedule.Cycle) (any, error) {
		log := d.log.WithFields(logrus.Fields{"project": c.Project, "target": c.Kind, "trigger": c.Trigger, "job": c.JobID, "attempt": c.Attempt})
		if !schedule.Mapped(d.cfg.Load(), c.Project, c.Kind) {
			log.Warn("cycle skipped: the config no longer maps this project and target")
			return nil, schedule.Permanent(fmt.Errorf("project %q has no %s target in %s", c.Project, c.Kind, d.opts.ConfigPath))
		}
		began := time.Now()
		out, err := r.RunCycle(ctx, c)
		log = log.WithField("duration", time.Since(began).Round(time.Millisecond).String())
		if err != nil {
			log.WithError(err).Warn("cycle failed")
		} else {
			log.Info("cycle done")
		}
		return out, err
	})
}

// reload is SIGHUP: a new config and new credentials for the next cycles; running cycles finish with what
// they started with. A config that does not load or validate is refused whole, and the running one stays.
func (d *daemon) reload(ctx context.Context) {
	notify(d.log, reloading())
	defer notify(d.log, sd.SdNotifyReady)
	fail := func(err error) {
		d.log.WithError(err).Error("reload refused; keeping the running config")
	}
	cfg, err := d.opts.Load(d.opts.ConfigPath)
	if err != nil {
		fail(err)
		return
	}
	if err := validate(cfg); err != nil {
		fail(err)
		return
	}
	entries, _ := schedule.Entries(cfg)
	keys, _ := httpapi.ParseKeyHashes(cfg.HTTP.ResyncAPIKeySHA256)
	cert, err := loadCert(cfg)
	if err != nil {
		fail(err)
		return
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.cfg.Load()
	if d.sched != nil {
		runner, err := d.opts.NewRunner(ctx, RunnerDeps{Config: cfg, Pool: d.pool, Metrics: d.metrics, Log: d.log})
		if err != nil {
			fail(err)
			return
		}
		if err := d.sched.SetEntries(entries); err != nil {
			fail(err)
			return
		}
		d.sched.SetRunner(d.guard(runner))
	}
	d.cfg.Store(cfg)
	d.keys.Store(&keys)
	if cert != nil {
		d.cert.Store(cert) // new TLS handshakes get the rotated certificate
	}
	if lvl, err := logrus.ParseLevel(cfg.Log.Level); err == nil {
		d.log.SetLevel(lvl)
	}
	// Rotated credentials are masked from now on (the old ones stay masked).
	logging.AddSecrets(d.log, cfg.Secrets()...)
	for _, w := range restartOnly(old, cfg) {
		d.log.Warnf("reload: %s changed; it takes effect at the next restart", w)
	}
	d.log.WithField("cycles", len(entries)).Info("config reloaded")
}

// restartOnly lists the changed keys that a reload cannot apply.
func restartOnly(old, cur *config.Config) []string {
	var out []string
	if old.Database.URL.Reveal() != cur.Database.URL.Reveal() || old.Database.URLFile != cur.Database.URLFile {
		out = append(out, "database.url")
	}
	if old.HTTP.Listen != cur.HTTP.Listen {
		out = append(out, "http.listen")
	}
	if old.HTTP.TLS.Enabled() != cur.HTTP.TLS.Enabled() {
		out = append(out, "http.tls (on or off)")
	}
	if old.HTTP.RequestTimeout != cur.HTTP.RequestTimeout || old.HTTP.IdleTimeout != cur.HTTP.IdleTimeout {
		out = append(out, "http.request_timeout/idle_timeout")
	}
	if fmt.Sprint(old.Workers.Queues) != fmt.Sprint(cur.Workers.Queues) {
		out = append(out, "workers.queues")
	}
	if old.Workers.CycleTimeout != cur.Workers.CycleTimeout || old.Workers.ShutdownTimeout != cur.Workers.ShutdownTimeout {
		out = append(out, "workers.cycle_timeout/shutdown_timeout")
	}
	return out
}
