package main

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/sirupsen/logrus"
	"golang.org/x/term"

	"github.com/covsync/covsync/sync/engine"
)

// progressEvery is how often long work logs its progress when stderr is not a terminal.
const progressEvery = 5 * time.Second

// progress shows how far a resync is: a bar on a terminal (schollz/progressbar: it redraws in place, sizes
// itself to the terminal, throttles redraws and prints log lines above the bar instead of through it, all of
// which a hand-made bar would have to redo), a log line every few seconds elsewhere (a journal or a CI log
// must not fill with carriage returns). It is an engine.Observer.
type progress struct {
	engine.NopObserver

	mu          sync.Mutex
	total, done int
	logged      int // done at the last progress log line

	bar     *progressbar.ProgressBar
	log     *logrus.Logger
	restore io.Writer // the logger's output before the bar took it
	stop    chan struct{}
	stopped sync.WaitGroup
}

// newProgress starts showing progress on w (a bar if w is a terminal) and, without a terminal, through log
// every so often. Call close when the work is done.
func newProgress(w io.Writer, log *logrus.Logger, every time.Duration) *progress {
	p := &progress{log: log, stop: make(chan struct{})}
	if isTerminal(w) {
		p.bar = progressbar.NewOptions(0,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("resync"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		// Log lines go above the bar (progressbar buffers them until its next redraw).
		p.restore = log.Out
		log.SetOutput(barWriter{p.bar})
		return p
	}
	p.stopped.Add(1)
	go p.logEvery(every)
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// CyclePlanned adds the cycle's pushes to the total.
func (p *progress) CyclePlanned(e engine.PlanEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total += e.ToPush
	if p.bar != nil {
		p.bar.ChangeMax(p.total)
	}
}

// ItemDone counts one push.
func (p *progress) ItemDone(engine.ItemEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if p.bar != nil {
		_ = p.bar.Add(1)
	}
}

// CycleDone takes the pushes a stopped cycle never attempted off the total, so the bar ends full.
func (p *progress) CycleDone(s engine.Summary) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.Remaining == 0 {
		return
	}
	p.total -= s.Remaining
	if p.bar != nil {
		p.bar.ChangeMax(p.total)
	}
}

func (p *progress) logEvery(d time.Duration) {
	defer p.stopped.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			done, total, changed := p.done, p.total, p.done != p.logged
			p.logged = done
			p.mu.Unlock()
			if changed {
				p.log.WithFields(logrus.Fields{"done": done, "total": total}).Infof("resync: %d of %d items pushed so far", done, total)
			}
		}
	}
}

// close stops showing progress and gives the logger its output back.
func (p *progress) close() {
	close(p.stop)
	p.stopped.Wait()
	if p.bar != nil {
		_ = p.bar.Finish()
		p.log.SetOutput(p.restore)
	}
}

// barWriter prints log lines above the progress bar.
type barWriter struct{ bar *progressbar.ProgressBar }

func (w barWriter) Write(b []byte) (int, error) {
	if _, err := progressbar.Bprintf(w.bar, "%s", b); err != nil {
		return 0, err
	}
	return len(b), nil
}
