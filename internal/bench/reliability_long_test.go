//go:build reliability

package bench

import (
	"context"
	"testing"
	"time"

	"github.com/covsync/covsync/internal/benchload"
	"github.com/covsync/covsync/sync/push"
)

// The long variants of the reliability suite, outside CI (docs/reliability.md):
//
//	go test -race -tags reliability -run 'TestReliability' -timeout 30m ./cmd/covsync/

var longSizes = benchload.Sizes{Stories: 600, Releases: 20, Runs: 120, Results: 24000}

func TestReliabilityLongStormOf429sAnd5xxOverManyCycles(t *testing.T) {
	s := newScenario(t, false, func(f *Options) { f.Sizes, f.SiteRate, f.Workers, f.Rate = longSizes, 40, 8, 200 })
	s.faultyRounds(10, 3, 20)
	s.recover()
	s.verify()
	s.checkAckedWereWritten()
	s.checkNoSecretLogged()
}

func TestReliabilityLongPostgreSQLRestartsRepeatedly(t *testing.T) {
	s := newScenario(t, true, func(f *Options) { f.Sizes, f.Workers = longSizes, 4 })
	s.env.jira.SetLatency(10 * time.Millisecond)
	s.env.ado.SetLatency(10 * time.Millisecond)
	for round := range 3 {
		done := make(chan error, 1)
		go func() {
			time.Sleep(time.Duration(300+200*round) * time.Millisecond)
			done <- s.env.pg.Restart(context.Background(), time.Second)
		}()
		if _, err := s.run(context.Background(), push.TargetJira, push.TargetADO); err != nil {
			t.Logf("round %d: %v", round, err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		s.checkAckedWereWritten()
	}
	s.env.jira.SetLatency(0)
	s.env.ado.SetLatency(0)
	s.recover(push.TargetJira, push.TargetADO)
	s.verify(push.TargetJira, push.TargetADO)
}

func TestReliabilityLongCancelsAtRandomPoints(t *testing.T) {
	s := newScenario(t, false, func(f *Options) { f.Sizes, f.Workers = longSizes, 4 })
	s.env.jira.SetLatency(5 * time.Millisecond)
	s.env.ado.SetLatency(5 * time.Millisecond)
	for round := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(200+150*round)*time.Millisecond)
		_, _ = s.run(ctx, push.TargetJira, push.TargetADO)
		cancel()
		s.checkAckedWereWritten()
	}
	s.recover(push.TargetJira, push.TargetADO)
	s.verify(push.TargetJira, push.TargetADO)
}
