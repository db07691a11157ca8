package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/sync/push"
)

// Options configure a Scheduler. Zero values take the defaults noted.
type Options struct {
	// Entries are the periodic cycles. Only a client that works jobs (Queues not nil) schedules them.
	Entries []Entry
	// Queues maps a target kind to the number of cycles of that kind this replica runs at once (default 1
	// for every kind). Nil with Work false gives an insert-only client.
	Queues map[string]int
	// Work false makes a client that only inserts and waits (never works jobs).
	Work bool
	// LeaderElectionDisabled keeps a short-lived client (`covsync resync`) from winning the election and
	// leaving the daemons without a periodic enqueuer while it runs. It must have no Entries.
	LeaderElectionDisabled bool
	// MaxAttempts caps the attempts of a scheduled cycle (default 3; a resync gets 1).
	MaxAttempts int
	// RetryBackoff is the first retry's delay (default 30s), growing 4× per attempt up to RetryBackoffMax
	// (default 10m).
	RetryBackoff, RetryBackoffMax time.Duration
	// CycleTimeout cancels a cycle that runs longer (default 30m).
	CycleTimeout time.Duration
	// StopTimeout is how long Stop lets running cycles finish before cancelling them (default 30s).
	StopTimeout time.Duration
	// PollOnly avoids LISTEN/NOTIFY (River's poll-only mode); jobs are found by polling every
	// FetchPollInterval (default 1s).
	PollOnly          bool
	FetchPollInterval time.Duration
	// Logger receives River's own log lines (default: discarded below warn).
	Logger *slog.Logger
	// ID names this client among the replicas (default: River's random id).
	ID string
	// TestOnly turns off River's start-up jitter (tests only).
	TestOnly bool
	// OnReclaim is told of every job this client took back from a dead process (reclaim.go); the log gets a
	// warning either way.
	OnReclaim func(Reclaimed)
	// WaitTimeout bounds how long Resync waits for another client's cycle of the same (project, kind)
	// (default CycleTimeout + StopTimeout + StopMargin: longer than a live cycle may run); past it Resync
	// gives up with ErrWaitTimeout.
	WaitTimeout time.Duration
	// OnWait is told what Resync waits for, each time it finds another client's cycle in its way.
	OnWait func(Waiting)
	// BusySnooze is how long a cycle waits (plus up to as much again, random) when another cycle of its
	// (project, kind) is running (default 2s).
	BusySnooze time.Duration
}

func (o *Options) defaults() {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 30 * time.Second
	}
	if o.RetryBackoffMax <= 0 {
		o.RetryBackoffMax = 10 * time.Minute
	}
	if o.CycleTimeout <= 0 {
		o.CycleTimeout = 30 * time.Minute
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 30 * time.Second
	}
	if o.FetchPollInterval <= 0 {
		o.FetchPollInterval = time.Second
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = o.CycleTimeout + o.StopTimeout + StopMargin
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ID == "" && o.Work {
		o.ID = defaultClientID()
	}
	if o.BusySnooze <= 0 {
		o.BusySnooze = 2 * time.Second
	}
}

// Scheduler is covsync's River client: it schedules, inserts and works cycle jobs.
type Scheduler struct {
	opts   Options
	client *river.Client[pgx.Tx]
	pool   *pgxpool.Pool

	live          liveness // the lock that says this client is alive (reclaim.go)
	stopReclaimer context.CancelFunc
	run           atomic.Pointer[Runner]

	mu      sync.Mutex
	entries map[string]Entry // by ID, as registered with River
}

// New builds the River client. Start makes it work.
func New(pool *pgxpool.Pool, r Runner, opts Options) (*Scheduler, error) {
	opts.defaults()
	s := &Scheduler{opts: opts, entries: map[string]Entry{}, pool: pool}
	s.SetRunner(r)

	cfg := &river.Config{
		Schema:                 config.OwnSchema, // covsync's own schema: a deployment grants one schema, and River never touches public
		MaxAttempts:            opts.MaxAttempts,
		RetryPolicy:            retryPolicy{base: opts.RetryBackoff, max: opts.RetryBackoffMax, jitter: rand.Float64},
		JobTimeout:             opts.CycleTimeout,
		RescueStuckJobsAfter:   opts.CycleTimeout + 5*time.Minute,
		SoftStopTimeout:        opts.StopTimeout,
		PollOnly:               opts.PollOnly,
		FetchPollInterval:      opts.FetchPollInterval,
		FetchCooldown:          min(100*time.Millisecond, opts.FetchPollInterval),
		LeaderElectionDisabled: opts.LeaderElectionDisabled,
		Logger:                 opts.Logger,
		ID:                     opts.ID,
		TestOnly:               opts.TestOnly,
		// REINDEX needs ownership of the indexes; the daemon's least-privilege role (deploy/sql/grants.sql)
		// does not own River's tables, so the reindexer would only log permission errors. `covsync migrate`
		// runs as the owner.
		ReindexerIndexNames: []string{},
	}
	if opts.Work {
		workers := river.NewWorkers()
		if err := river.AddWorkerSafely(workers, &cycleWorker{s: s}); err != nil {
			return nil, fmt.Errorf("schedule: %w", err)
		}
		if err := river.AddWorkerSafely(workers, &reconcileTickWorker{s: s}); err != nil {
			return nil, fmt.Errorf("schedule: %w", err)
		}
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{}
		for _, k := range push.TargetKinds() {
			n := opts.Queues[k]
			if n <= 0 {
				n = 1
			}
			cfg.Queues[k] = river.QueueConfig{MaxWorkers: n}
		}
		cfg.Queues[reconcileQueue] = river.QueueConfig{MaxWorkers: 1}
	} else if len(opts.Entries) > 0 {
		return nil, errors.New("schedule: a client that does not work jobs cannot schedule them")
	}
	if opts.LeaderElectionDisabled && len(opts.Entries) > 0 {
		return nil, errors.New("schedule: periodic cycles need a client that takes part in leader election")
	}
	if !opts.Work {
		// An insert-only client validates kinds against Workers unless told not to.
		cfg.SkipUnknownJobCheck = true
	}
	c, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("schedule: river client: %w", err)
	}
	s.client = c
	if err := s.SetEntries(opts.Entries); err != nil {
		return nil, err
	}
	return s, nil
}

// StopTimeout is how long Stop lets running cycles finish before cancelling them.
func (s *Scheduler) StopTimeout() time.Duration { return s.opts.StopTimeout }

// SetRunner swaps the Runner (SIGHUP: new config and credentials). Running cycles keep the one they started
// with; the next cycle uses r.
func (s *Scheduler) SetRunner(r Runner) { s.run.Store(&r) }

func (s *Scheduler) runner() Runner { return *s.run.Load() }

// SetEntries makes entries the periodic cycles: removed or changed specs are dropped, new ones added. A
// (project, kind) that is new runs once right away (RunOnStart) so a restart or a reload never skips a long
// interval; one whose spec merely changed waits for its next tick.
func (s *Scheduler) SetEntries(entries []Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(entries) == 0 && len(s.entries) == 0 {
		// Nothing to change; and a client outside leader election has no periodic jobs to ask about.
		return nil
	}
	next := map[string]Entry{}
	for _, e := range entries {
		if _, dup := next[e.ID()]; dup {
			return fmt.Errorf("schedule: cycle %s listed twice", e.ID())
		}
		next[e.ID()] = e
	}
	var remove []string
	for id, old := range s.entries {
		if e, ok := next[id]; !ok || e.Spec != old.Spec {
			remove = append(remove, id)
		}
	}
	s.client.PeriodicJobs().RemoveManyByID(remove)
	for _, id := range remove {
		delete(s.entries, id)
	}
	for id, e := range next {
		if _, ok := s.entries[id]; ok {
			continue
		}
		changed := slices.Contains(remove, id)
		args := CycleArgs{Project: e.Project, Target: e.Kind, Trigger: TriggerSchedule}
		ctor := func() (river.JobArgs, *river.InsertOpts) { return args, s.insertOpts(args) }
		// A reconcile does not run on start: a restart is no reason to read every target back.
		runOnStart := !changed
		if e.Reconcile {
			tick := reconcileTickArgs{Project: e.Project, Target: e.Kind}
			ctor = func() (river.JobArgs, *river.InsertOpts) { return tick, s.tickOpts() }
			runOnStart = false
		}
		pj := river.NewPeriodicJob(e.sched, ctor, &river.PeriodicJobOpts{ID: id, RunOnStart: runOnStart})
		if _, err := s.client.PeriodicJobs().AddSafely(pj); err != nil {
			return fmt.Errorf("schedule: cycle %s: %w", id, err)
		}
		s.entries[id] = e
	}
	return nil
}

// Start starts working (and, on the elected leader, scheduling) cycles. It returns once started; cancelling
// ctx stops the client as Stop would.
func (s *Scheduler) Start(ctx context.Context) error {
	if s.opts.Work {
		// Alive before the first job is fetched, so no job of this client ever looks like a dead one's.
		if err := s.live.hold(ctx, s.pool, s.opts.ID); err != nil {
			return fmt.Errorf("schedule: start: client lock: %w", err)
		}
	}
	if err := s.client.Start(ctx); err != nil {
		s.live.release(ctx)
		return fmt.Errorf("schedule: start: %w", err)
	}
	if s.opts.Work {
		// One sweep before returning: a daemon or resync that starts frees what a dead process left at once.
		s.reclaimAndReport(ctx)
		rctx, cancel := context.WithCancel(ctx)
		s.mu.Lock()
		s.stopReclaimer = cancel
		s.mu.Unlock()
		go s.reclaimLoop(rctx)
	}
	return nil
}

// Stop stops fetching cycles and lets the running ones finish for up to Options.StopTimeout, then cancels
// them (their jobs are retried later; the ledger keeps every item they finished). It returns when the client
// has stopped or ctx is done.
func (s *Scheduler) Stop(ctx context.Context) error {
	err := s.client.Stop(ctx)
	s.mu.Lock()
	if s.stopReclaimer != nil {
		s.stopReclaimer()
	}
	s.mu.Unlock()
	if err != nil {
		// Cycles may still be running: keep the lock, so no other client reclaims them while they do.
		return fmt.Errorf("schedule: stop: %w", err)
	}
	s.live.release(context.WithoutCancel(ctx))
	return nil
}

// StopMargin is how long Shutdown waits, past StopTimeout, for the cycles River cancelled at StopTimeout to
// return and have their jobs recorded. A supervisor's stop timeout must cover both.
const StopMargin = 10 * time.Second

// Shutdown is Stop with the deadline every caller needs: StopTimeout for running cycles, then StopMargin for
// the cancelled ones to be recorded. A caller whose own deadline equalled StopTimeout gave up at the very
// moment River cancelled the cycles, and a process that then exited left their jobs "running": the
// (project, kind) got no new cycle until River's rescuer, CycleTimeout + 5 minutes later. ctx's cancellation
// is ignored (a Ctrl-C is what usually brings a caller here); only its values are kept.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.StopTimeout+StopMargin)
	defer cancel()
	return s.Stop(ctx)
}

// Request asks for one (project, kind) cycle outside its schedule.
type Request struct {
	Project   string `json:"project"`
	Kind      string `json:"target"`
	Force     bool   `json:"force,omitempty"`
	Reconcile bool   `json:"reconcile,omitempty"`
	Trigger   string `json:"-"` // TriggerResync or TriggerAPI (default TriggerResync)
}

// Enqueued is a job Enqueue inserted or found.
type Enqueued struct {
	JobID   int64  `json:"id"`
	Project string `json:"project"`
	Kind    string `json:"target"`
	// Duplicate: that (project, kind) already had a pending or running cycle, which is JobID; nothing new was
	// inserted.
	Duplicate bool `json:"duplicate,omitempty"`
}

// Enqueue inserts one unique cycle job per request. A (project, kind) that already has a cycle pending or
// running gets no second one: its Enqueued is that job, marked Duplicate.
func (s *Scheduler) Enqueue(ctx context.Context, reqs []Request) ([]Enqueued, error) {
	out := make([]Enqueued, 0, len(reqs))
	for _, r := range reqs {
		e, err := s.enqueue(ctx, r)
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (s *Scheduler) enqueue(ctx context.Context, r Request) (Enqueued, error) {
	trig := r.Trigger
	if trig == "" {
		trig = TriggerResync
	}
	args := CycleArgs{Project: r.Project, Target: r.Kind, Trigger: trig, Force: r.Force, Reconcile: r.Reconcile}
	res, err := s.client.Insert(ctx, args, s.insertOpts(args))
	if err != nil {
		return Enqueued{}, fmt.Errorf("schedule: enqueue cycle %s/%s: %w", r.Project, r.Kind, err)
	}
	return Enqueued{JobID: res.Job.ID, Project: r.Project, Kind: r.Kind, Duplicate: res.UniqueSkippedAsDuplicate}, nil
}

// Outcome is how a cycle job ended.
type Outcome struct {
	JobID   int64  `json:"id"`
	Project string `json:"project"`
	Kind    string `json:"target"`
	// State is River's: completed, discarded, cancelled, or retryable (failed, a retry is due).
	State string `json:"state"`
	// Output is what the Runner returned (JSON), if anything.
	Output []byte `json:"output,omitempty"`
	// Error is the last attempt's error, empty when State is completed.
	Error string `json:"error,omitempty"`
}

// OK reports whether the cycle ran to the end.
func (o Outcome) OK() bool { return o.State == string(rivertype.JobStateCompleted) }

// Cancelled reports whether the job was cancelled: its runner returned Permanent, so no retry would help.
func (o Outcome) Cancelled() bool { return o.State == string(rivertype.JobStateCancelled) }

// waitPoll is how often Wait looks at the jobs; polling (not River's events) sees jobs other replicas work.
const waitPoll = 200 * time.Millisecond

// Wait returns once every job has finished (completed, discarded, cancelled) or failed an attempt
// (retryable), in the order of ids.
func (s *Scheduler) Wait(ctx context.Context, ids []int64) ([]Outcome, error) {
	out := make([]Outcome, len(ids))
	done := make([]bool, len(ids))
	left := len(ids)
	t := time.NewTicker(waitPoll)
	defer t.Stop()
	for {
		for i, id := range ids {
			if done[i] {
				continue
			}
			j, err := s.client.JobGet(ctx, id)
			if err != nil {
				return out, fmt.Errorf("schedule: job %d: %w", id, err)
			}
			if o, ok := outcomeOf(j); ok {
				out[i], done[i] = o, true
				left--
			}
		}
		if left == 0 {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-t.C:
		}
	}
}

func outcomeOf(j *rivertype.JobRow) (Outcome, bool) {
	switch j.State {
	case rivertype.JobStateCompleted, rivertype.JobStateDiscarded, rivertype.JobStateCancelled, rivertype.JobStateRetryable:
	default:
		return Outcome{}, false
	}
	o := Outcome{JobID: j.ID, State: string(j.State), Output: j.Output()}
	var a CycleArgs
	if err := json.Unmarshal(j.EncodedArgs, &a); err == nil {
		o.Project, o.Kind = a.Project, a.Target
	}
	if o.State != string(rivertype.JobStateCompleted) && len(j.Errors) > 0 {
		o.Error = j.Errors[len(j.Errors)-1].Error
	}
	return o, true
}

// Resync runs each request's cycle through the unique jobs and waits for them. When a (project, kind) is
// already pending or running (a scheduled tick, another resync), Resync waits for that job to end and then
// inserts its own, so its Force is honoured and the two never run at once.
func (s *Scheduler) Resync(ctx context.Context, reqs []Request) ([]Outcome, error) {
	out := make([]Outcome, len(reqs))
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs = make([]error, len(reqs))
	)
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := s.resyncOne(ctx, r)
			mu.Lock()
			out[i], errs[i] = o, err
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func (s *Scheduler) resyncOne(ctx context.Context, r Request) (Outcome, error) {
	deadline := time.Now().Add(s.opts.WaitTimeout)
	for {
		e, err := s.enqueue(ctx, r)
		if err != nil {
			return Outcome{}, err
		}
		if !e.Duplicate {
			os, err := s.Wait(ctx, []int64{e.JobID})
			if err != nil {
				return Outcome{}, err
			}
			return os[0], nil
		}
		if err := s.waitForOther(ctx, e, deadline); err != nil {
			return Outcome{Project: r.Project, Kind: r.Kind}, err // no JobID: the error says why
		}
	}
}
