package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/internal/redact"
	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// Ledger is what a cycle needs of the sync state; *ledger.Ledger implements it.
type Ledger interface {
	Load(ctx context.Context, target string) (map[string]ledger.State, error)
	RecordPushed(ctx context.Context, target, key string, hash [32]byte, summary, note string) error
	RecordPushedMany(ctx context.Context, target string, items []ledger.Pushed, note string) error
	RecordFailed(ctx context.Context, target, key, errText string) error
	RecordSkipped(ctx context.Context, target, key, note string) error
	StartCycle(ctx context.Context, target, kind, project, trigger string, reconcile bool) (int64, error)
	FinishCycle(ctx context.Context, id int64, c ledger.Counts, cycleErr string) error
}

// recordTimeout bounds each ledger write. Writes use a context detached from the cycle's, so a cancelled
// cycle still records the pushes that completed.
const recordTimeout = 30 * time.Second

// loadTimeout bounds the reads a cycle starts with (the cycle row, the target's ledger): a database that
// stops answering must fail the cycle, not hang it.
const loadTimeout = 2 * time.Minute

// Options tune one cycle.
type Options struct {
	// Workers bounds concurrent pushes (config.DefaultWorkersPerTarget when <= 0).
	Workers int
	// Force pushes every planned item, whatever the ledger says.
	Force bool
	// DryRun plans and diffs only: nothing is pushed and nothing is written, not even the cycle row.
	// Summary.WouldPush lists what a real cycle would push.
	DryRun bool
	// Limiter, when set, paces pushes (one token per push). Off by default because the HTTP client factory
	// already paces each site's requests; share one Limiter across cycles to limit a target over time.
	Limiter *rate.Limiter
	// Drain is how long in-flight pushes may go on after ctx is cancelled before their own context is
	// cancelled too (0: at once). No new push starts after cancellation either way.
	Drain time.Duration
	// Trigger is recorded in the cycle history: ledger.TriggerSchedule (default), TriggerResync, TriggerAPI.
	Trigger string
	// Observer is told about the cycle (nil: nobody).
	Observer Observer
	// Reconcile reads back what the target holds (the target must implement Reader) and pushes exactly the
	// items whose held state differs from the desired one, whatever the ledger says; items the target already
	// holds as desired are recorded in the ledger without a write, so the next ordinary cycle pushes nothing.
	// With DryRun it lists the drift (Summary.WouldPush with each differing field) and writes nothing.
	Reconcile bool
}

// Engine runs cycles. It is safe for concurrent use: cycles of different targets may run at once.
type Engine struct {
	ledger Ledger
	log    logrus.FieldLogger
	redact *redact.Redactor
}

// New returns an engine recording to l and logging to log. Error text the engine stores in the ledger or
// puts in a Summary passes red, which should be the log's own redactor (the one that knows the configured
// secrets); nil masks by shape only (Authorization values, DSN passwords, token= pairs). The redactor is
// passed in rather than looked up from the logger so that the engine does not depend on the logging setup,
// and through it on the config package (the engine imports no YAML; docs/architecture.md, Packages).
func New(l Ledger, log logrus.FieldLogger, red *redact.Redactor) *Engine {
	if red == nil {
		red = redact.New()
	}
	if log == nil {
		nl := logrus.New()
		nl.SetLevel(logrus.PanicLevel)
		log = nl
	}
	return &Engine{ledger: l, log: log, redact: red}
}

// errText is err's text as the engine stores and reports it: with the configured secrets and anything
// shaped like a credential masked. A target's error may quote what the service answered, and a service (or
// a proxy in front of it) may echo a request's credentials. It is done here, once, because the ledger, the
// cycle history and every command's output (resync, status, the daemon) all take their text from the
// engine; the log has its own redaction hook.
func (e *Engine) errText(err error) string { return e.redact.Redact(err.Error()) }

// redactedError is an error whose text was redacted; it unwraps to the original, so its kind and its
// causes still answer errors.Is/As.
type redactedError struct {
	msg string
	err error
}

func (r *redactedError) Error() string { return r.msg }
func (r *redactedError) Unwrap() error { return r.err }

// task is an item due for pushing and why.
type task struct {
	item   push.Item
	reason string
	diffs  []push.Diff // what drifted, in a reconcile
}

// Run runs one cycle of target t for project p: plan → diff against the ledger → push what changed →
// record each outcome as it completes → finish the cycle row.
//
// The error is non-nil exactly when the cycle as a whole failed (Summary.CycleError): the plan or the ledger
// failed, the target reported a fatal error, or ctx was cancelled. Items that failed on their own are in the
// Summary (Failed, Errors) and recorded in the ledger; they do not make Run return an error.
func (e *Engine) Run(ctx context.Context, t Target, p *report.Project, opts Options) (Summary, error) {
	start := time.Now()
	if p == nil {
		return Summary{Target: t.Name(), Kind: t.Kind()}, fmt.Errorf("%s: no project report to plan from", t.Name())
	}
	s := Summary{Target: t.Name(), Kind: t.Kind(), Project: p.ID, DryRun: opts.DryRun, Reconcile: opts.Reconcile}
	obs := opts.Observer
	if obs == nil || opts.DryRun {
		obs = NopObserver{}
	}
	log := e.log.WithFields(logrus.Fields{"target": s.Target, "project": s.Project})

	cycleID := int64(-1)
	if !opts.DryRun {
		sctx, cancel := context.WithTimeout(ctx, loadTimeout)
		id, err := e.ledger.StartCycle(sctx, s.Target, s.Kind, s.Project, opts.Trigger, opts.Reconcile)
		cancel()
		if err != nil {
			return e.finish(ctx, log, obs, &s, cycleID, start, err)
		}
		cycleID = id
	}

	todo, held, err := e.plan(ctx, log, t, p, opts, &s)
	if err != nil || opts.DryRun {
		return e.finish(ctx, log, obs, &s, cycleID, start, err)
	}
	if err := e.adopt(ctx, s.Target, held); err != nil {
		return e.finish(ctx, log, obs, &s, cycleID, start, err)
	}
	obs.CyclePlanned(PlanEvent{Target: s.Target, Kind: s.Kind, Project: s.Project, Planned: s.Planned, ToPush: len(todo)})
	err = e.pushAll(ctx, log, obs, t, todo, opts, &s)
	return e.finish(ctx, log, obs, &s, cycleID, start, err)
}

// load reads the ledger's states of the target, after binding its rows to the target's destination (Destined,
// Binder): rows written for another site are set aside, so the target's items are new there.
func (e *Engine) load(ctx context.Context, log logrus.FieldLogger, t Target, opts Options, s *Summary) (map[string]ledger.State, error) {
	lctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	d, destined := t.(Destined)
	b, binds := e.ledger.(Binder)
	if destined && binds {
		moved, err := b.Bind(lctx, s.Target, d.Destination(), opts.DryRun)
		if err != nil {
			return nil, err
		}
		if moved && opts.DryRun {
			return map[string]ledger.State{}, nil // the rows under the name are another destination's
		}
		if moved {
			log.WithField("destination", d.Destination()).Warn("the target now writes to another site or project: what covsync pushed to the old one is set aside, and every item is pushed to the new one")
		}
	}
	return e.ledger.Load(lctx, s.Target)
}

// plan asks the target for its items and diffs them with the ledger (or, reconciling, with what the target
// holds). In a dry run it fills WouldPush. held are the items a reconcile found already in place whose
// ledger row says otherwise: they are recorded without a push.
func (e *Engine) plan(ctx context.Context, log logrus.FieldLogger, t Target, p *report.Project, opts Options, s *Summary) (todo []task, held []push.Item, err error) {
	items, err := t.Plan(ctx, p)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: plan: %w", s.Target, err)
	}
	s.Planned = len(items)
	states, err := e.load(ctx, log, t, opts, s)
	if err != nil {
		return nil, nil, err
	}
	planned := make(map[string]struct{}, len(items))
	for _, it := range items {
		if it.Key == "" {
			return nil, nil, fmt.Errorf("%s: plan has an item without a key (%q)", s.Target, it.Summary)
		}
		if _, dup := planned[it.Key]; dup {
			return nil, nil, fmt.Errorf("%s: plan has item %q twice", s.Target, it.Key)
		}
		planned[it.Key] = struct{}{}
	}
	var drift push.Drift
	if opts.Reconcile {
		if drift, err = readDrift(ctx, t, items, s); err != nil {
			return nil, nil, err
		}
	}
	for _, it := range items {
		st, known := states[it.Key]
		var reason string
		var diffs []push.Diff
		switch {
		case opts.Reconcile:
			diffs = drift[it.Key]
			switch {
			case len(diffs) > 0:
				reason = "drifted"
				s.Drifted++
			case opts.Force:
				reason = "forced"
			default:
				if !known || !st.Acked || st.Failing || st.Hash != it.Hash {
					held = append(held, it)
				}
				s.Unchanged++
				continue
			}
		case !known || (!st.Acked && !st.Failing):
			reason = "new"
		case st.Failing:
			reason = "retry after a failed attempt"
		case st.Hash != it.Hash:
			reason = "hash changed"
		case opts.Force:
			reason = "forced"
		default:
			s.Unchanged++
			continue
		}
		todo = append(todo, task{item: it, reason: reason, diffs: diffs})
	}
	var stale []string
	for k := range states {
		if _, ok := planned[k]; !ok {
			stale = append(stale, k)
		}
	}
	s.Stale = len(stale)
	if len(stale) > 0 {
		sort.Strings(stale)
		log.WithField("stale", firstN(stale, 20)).Debugf("%d items in the ledger of %s are no longer planned; left as they are", len(stale), s.Target)
	}
	if opts.DryRun {
		s.WouldPush = make([]Change, len(todo))
		for i, tk := range todo {
			s.WouldPush[i] = Change{Key: tk.item.Key, Summary: tk.item.Summary, Reason: tk.reason, Drift: tk.diffs}
		}
	}
	return todo, held, nil
}

// readDrift asks a reconciling target what it holds.
func readDrift(ctx context.Context, t Target, items []push.Item, s *Summary) (push.Drift, error) {
	r, ok := t.(Reader)
	if !ok {
		return nil, fmt.Errorf("%s: reconcile: the %s target cannot read back what it holds", s.Target, s.Kind)
	}
	d, err := r.Drift(ctx, items)
	if err != nil {
		return nil, fmt.Errorf("%s: reconcile: read back: %w", s.Target, err)
	}
	return d, nil
}

// adopt records items a reconcile found already held as desired, so the ledger agrees with the target and
// the next ordinary cycle pushes nothing. Nothing is written to the target.
func (e *Engine) adopt(ctx context.Context, target string, held []push.Item) error {
	if len(held) == 0 {
		return nil
	}
	items := make([]ledger.Pushed, len(held))
	for i, it := range held {
		items[i] = ledger.Pushed{Key: it.Key, Hash: it.Hash, Summary: it.Summary}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	return e.ledger.RecordPushedMany(rctx, target, items, "reconcile: the target already held it")
}

// pushAll pushes todo through opts.Workers workers and records each outcome. It returns the cycle-level
// error: a fatal push, a ledger write that failed, or ctx's.
func (e *Engine) pushAll(ctx context.Context, log logrus.FieldLogger, obs Observer, t Target, todo []task, opts Options, s *Summary) error {
	workers := opts.Workers
	if workers <= 0 {
		workers = config.DefaultWorkersPerTarget
	}
	workers = min(workers, len(todo))

	// Pushes run under their own context: cancelling ctx stops dispatching at once, and in-flight pushes
	// get opts.Drain more before they are cancelled too.
	pushCtx, cancelPush := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPush()
	stopAfter := context.AfterFunc(ctx, func() {
		if opts.Drain <= 0 {
			cancelPush()
			return
		}
		time.AfterFunc(opts.Drain, cancelPush)
	})
	defer stopAfter()

	c := &cycle{e: e, log: log, obs: obs, t: t, s: s, stop: make(chan struct{})}
	work := make(chan task) // unbuffered: nothing is handed out ahead of a free worker
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tk := range work {
				c.one(ctx, pushCtx, opts.Limiter, tk)
			}
		}()
	}
	sent := 0
dispatch:
	for _, tk := range todo {
		// Checked before the select too: select picks at random among ready cases, and a stopped cycle must
		// not hand out one more item.
		if ctx.Err() != nil || c.stopped() {
			break
		}
		select {
		case work <- tk:
			sent++
		case <-ctx.Done():
			break dispatch
		case <-c.stop:
			break dispatch
		}
	}
	close(work)
	wg.Wait()

	c.mu.Lock()
	defer c.mu.Unlock()
	s.Remaining += len(todo) - sent
	sort.Slice(s.Errors, func(i, j int) bool { return s.Errors[i].Item < s.Errors[j].Item })
	if c.err != nil {
		return c.err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: cycle cancelled with %d items left for the next one: %w", s.Target, s.Remaining, err)
	}
	return nil
}

// cycle is the shared state of one cycle's workers.
type cycle struct {
	e   *Engine
	log logrus.FieldLogger
	obs Observer
	t   Target

	mu       sync.Mutex // guards s and err
	s        *Summary
	err      error // the first cycle-level error
	stop     chan struct{}
	stopOnce sync.Once
}

func (c *cycle) stopped() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// fail stops the cycle with err (the first one wins).
func (c *cycle) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.stopOnce.Do(func() { close(c.stop) })
}

func (c *cycle) count(f func(s *Summary)) {
	c.mu.Lock()
	f(c.s)
	c.mu.Unlock()
}

// one pushes one item and records its outcome.
func (c *cycle) one(ctx, pushCtx context.Context, lim *rate.Limiter, tk task) {
	it := tk.item
	notAttempted := func() { c.count(func(s *Summary) { s.Remaining++ }) }
	if ctx.Err() != nil || c.stopped() {
		notAttempted()
		return
	}
	if lim != nil {
		if err := lim.Wait(ctx); err != nil {
			notAttempted()
			return
		}
	}
	name, kind := c.s.Target, c.s.Kind
	ev := ItemEvent{Target: name, Kind: kind, Project: c.s.Project, Item: it.Key}
	log := c.log.WithFields(logrus.Fields{"item": it.Key, "reason": tk.reason})
	if len(tk.diffs) > 0 {
		log = log.WithField("drift", push.Describe(tk.diffs))
	}

	t0 := time.Now()
	res, err := c.t.Push(pushCtx, it)
	ev.Duration = time.Since(t0)
	log = log.WithField("duration_ms", ev.Duration.Milliseconds())

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	switch {
	case err == nil && res.Skipped:
		ev.Outcome = OutcomeSkipped
		if rerr := c.e.ledger.RecordSkipped(rctx, name, it.Key, res.Note); rerr != nil {
			c.unrecorded(log, it, rerr)
			return
		}
		c.count(func(s *Summary) { s.Skipped++ })
		log.WithField("outcome", ev.Outcome).Infof("skipped %s at %s: %s", it.Key, name, orDefault(res.Note, "the target chose not to write"))

	case err == nil:
		ev.Outcome, ev.NoChange = OutcomePushed, res.NoChange
		if rerr := c.e.ledger.RecordPushed(rctx, name, it.Key, it.Hash, it.Summary, res.Note); rerr != nil {
			c.unrecorded(log, it, rerr)
			return
		}
		c.count(func(s *Summary) { s.Pushed++; s.Pruned += res.Pruned })
		verb := "pushed " + it.Key + " to " + name
		if res.NoChange {
			verb = it.Key + " at " + name + " already up to date"
		}
		msg := verb + ": " + tk.reason + parenthesized(it.Summary)
		if res.Note != "" {
			msg += "; " + res.Note
		}
		log.WithFields(logrus.Fields{"outcome": ev.Outcome, "pruned": res.Pruned}).Info(msg)

	case pushCtx.Err() != nil:
		// Cancelled under us: the target did not acknowledge, and it was not the item's fault. The ledger
		// row stays as it was, so the next cycle pushes the item again.
		notAttempted()
		log.WithField("outcome", "cancelled").Infof("push of %s to %s cancelled: %v", it.Key, name, err)
		return

	case push.IsFatal(err):
		// The target as a whole is unusable (or misconfigured): not this item's failure, so its row is left
		// alone and the item is left for the next cycle. Like the other items left over (cancelled,
		// unrecorded) it is counted in Remaining only, not reported as done: an observer adding up ItemDone
		// events and Remaining (the progress bar) would count it twice.
		c.count(func(s *Summary) { s.Remaining++ })
		log.WithFields(logrus.Fields{"outcome": "fatal", "error": err.Error()}).Errorf("%s unusable, stopping its cycle: %v", name, err)
		c.fail(fmt.Errorf("%s: %w", name, err))
		return

	default:
		k := push.KindOf(err)
		ev.Outcome, ev.ErrorKind = OutcomeFailed, k.String()
		text := c.e.errText(err)
		if rerr := c.e.ledger.RecordFailed(rctx, name, it.Key, text); rerr != nil {
			c.fail(rerr)
			c.count(func(s *Summary) { s.Remaining++ })
			log.WithError(rerr).Errorf("push of %s to %s failed (%v) and the failure could not be recorded", it.Key, name, err)
			return
		}
		c.count(func(s *Summary) {
			s.Failed++
			s.Errors = append(s.Errors, ItemError{Item: it.Key, Error: text, Kind: k.String()})
		})
		log.WithFields(logrus.Fields{"outcome": ev.Outcome, "error_kind": k.String(), "error": err.Error()}).
			Warnf("push of %s to %s failed (%s, retried next cycle): %v", it.Key, name, k, err)
	}
	c.obs.ItemDone(ev)
}

// unrecorded handles a push the target acknowledged but the ledger could not record: the ledger is not
// reachable, so the cycle stops; the item was written and will be written again next cycle (pushes are
// idempotent), which is the safe side.
func (c *cycle) unrecorded(log logrus.FieldLogger, it push.Item, err error) {
	c.count(func(s *Summary) { s.Remaining++ })
	log.WithError(err).Errorf("%s was pushed to %s but could not be recorded; it will be pushed again next cycle", it.Key, c.s.Target)
	c.fail(err)
}

// finish closes the cycle row, logs the cycle and tells the observer.
func (e *Engine) finish(ctx context.Context, log logrus.FieldLogger, obs Observer, s *Summary, cycleID int64, start time.Time, err error) (Summary, error) {
	s.Duration = time.Since(start)
	if err != nil {
		s.CycleError = e.errText(err)
		err = &redactedError{msg: s.CycleError, err: err}
	}
	if cycleID >= 0 {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		ferr := e.ledger.FinishCycle(rctx, cycleID, s.Counts(), s.CycleError)
		cancel()
		if ferr != nil {
			log.WithError(ferr).Error("could not record the end of the cycle")
			if err == nil {
				s.CycleError = e.errText(ferr)
				err = &redactedError{msg: s.CycleError, err: ferr}
			}
		}
	}
	fields := logrus.Fields{"planned": s.Planned, "pushed": s.Pushed, "unchanged": s.Unchanged, "failed": s.Failed,
		"skipped": s.Skipped, "remaining": s.Remaining, "pruned": s.Pruned, "stale": s.Stale,
		"duration_ms": s.Duration.Milliseconds()}
	if s.Reconcile {
		fields["drifted"] = s.Drifted
	}
	what := "cycle"
	if s.Reconcile {
		what = "reconcile cycle"
	}
	line := fmt.Sprintf("%s of %s (project %s)%s: %s in %s", what, s.Target, s.Project, dryRunNote(s.DryRun), countsLine(*s), s.Duration.Round(time.Millisecond))
	switch {
	case err != nil:
		log.WithFields(fields).WithField("error", s.CycleError).Error(line + ": " + s.CycleError)
	case s.Failed > 0:
		log.WithFields(fields).Warn(line)
	default:
		log.WithFields(fields).Info(line)
	}
	obs.CycleDone(*s)
	return *s, err
}

func countsLine(s Summary) string {
	parts := []string{fmt.Sprintf("%d planned", s.Planned)}
	if s.Reconcile {
		parts = append(parts, fmt.Sprintf("%d drifted", s.Drifted))
	}
	if s.DryRun {
		parts = append(parts, fmt.Sprintf("%d would be pushed", len(s.WouldPush)))
	} else {
		parts = append(parts, fmt.Sprintf("%d pushed", s.Pushed))
	}
	parts = append(parts, fmt.Sprintf("%d unchanged", s.Unchanged), fmt.Sprintf("%d failed", s.Failed))
	for _, x := range []struct {
		n    int
		what string
	}{{s.Skipped, "skipped"}, {s.Pruned, "pruned"}, {s.Stale, "stale"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
		}
	}
	if !s.DryRun && s.Remaining > 0 {
		parts = append(parts, fmt.Sprintf("%d left for the next cycle", s.Remaining))
	}
	return strings.Join(parts, ", ")
}

func dryRunNote(dry bool) string {
	if dry {
		return " [dry run]"
	}
	return ""
}

func parenthesized(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func firstN(xs []string, n int) []string {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}
