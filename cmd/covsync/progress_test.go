package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/covsync/covsync/sync/engine"
)

func TestProgressOffATerminalIsALogLineNowAndThen(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	var w bytes.Buffer // not a terminal
	p := newProgress(&w, log, 10*time.Millisecond)
	p.CyclePlanned(engine.PlanEvent{Target: "jira:acme/SHOP", ToPush: 5})
	p.CyclePlanned(engine.PlanEvent{Target: "ado:acme/Shop", ToPush: 3})
	for range 3 {
		p.ItemDone(engine.ItemEvent{Outcome: engine.OutcomePushed})
	}
	var line *logrus.Entry
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && line == nil; time.Sleep(5 * time.Millisecond) {
		for _, e := range hook.AllEntries() {
			if strings.HasPrefix(e.Message, "resync: ") {
				line = e
			}
		}
	}
	p.close()
	if line == nil {
		t.Fatal("no progress line was logged")
	}
	if line.Message != "resync: 3 of 8 items pushed so far" || line.Data["done"] != 3 || line.Data["total"] != 8 {
		t.Errorf("progress line = %q %v, want 3 of 8", line.Message, line.Data)
	}
	if w.Len() != 0 {
		t.Errorf("a bar was drawn on a non-terminal: %q", w.String())
	}
	// After close, nothing more is logged.
	n := len(hook.AllEntries())
	time.Sleep(30 * time.Millisecond)
	if len(hook.AllEntries()) != n {
		t.Errorf("progress kept logging after close")
	}
}
