package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/covsync/covsync/internal/bench"
	"github.com/covsync/covsync/sync/push"
)

// TestBenchReportsEveryFigureOfATinyWorkload runs `covsync bench` end to end at a size CI affords: its own
// PostgreSQL, the three simulators, every target kind, covsync and the naive baseline. The figures of the
// reference size are in docs/benchmarks.md; here the run must complete with nothing failed, and report the
// fields that page is made of with values that can only come from real cycles.
func TestBenchReportsEveryFigureOfATinyWorkload(t *testing.T) {
	code, out, errOut := execute(t, "bench", "--stories", "12", "--releases", "2", "--runs", "4", "--results", "96",
		"--latency", "1ms", "--rate", "400", "--output", "json")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	var res bench.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, out)
	}
	// The keys docs/benchmarks.md and scripts read, by their JSON names.
	for _, key := range []string{`"ratioToFloor"`, `"requestsPerItem"`, `"http429"`, `"unchangedWrites"`,
		`"unchangedSeconds"`, `"oneStoryPushed"`, `"peakRSSMB"`, `"floorSeconds"`, `"bars"`} {
		if !strings.Contains(out, key) {
			t.Errorf("output has no %s", key)
		}
	}
	if len(res.Rows) != 2*len(push.TargetKinds()) {
		t.Fatalf("%d rows, want covsync and naive for each of %d kinds", len(res.Rows), len(push.TargetKinds()))
	}
	wantItems := map[string]int{push.TargetJira: 12, push.TargetADO: 12, push.TargetLinkedRuns: 1, push.TargetConfluence: 1}
	for _, r := range res.Rows {
		if r.Failed != 0 {
			t.Errorf("%s %s: %d failed", r.Mode, r.Kind, r.Failed)
		}
		if r.Items != wantItems[r.Kind] || r.Writes < r.Items || r.Requests < r.Writes || r.FullSeconds <= 0 {
			t.Errorf("%s %s: %d items, %d writes, %d requests in %fs; want %d items, each written",
				r.Mode, r.Kind, r.Items, r.Writes, r.Requests, r.FullSeconds, wantItems[r.Kind])
		}
		if r.Mode == "covsync" && (r.UnchangedWrites != 0 || r.OneStoryPushed != 1 && r.Kind != push.TargetLinkedRuns) {
			t.Errorf("%s: unchanged cycle wrote %d, one changed story pushed %d; want 0 and 1", r.Kind, r.UnchangedWrites, r.OneStoryPushed)
		}
		if r.Mode == "naive" && r.UnchangedWrites != r.Writes {
			t.Errorf("naive %s: unchanged writes %d, want its full %d (it keeps no ledger)", r.Kind, r.UnchangedWrites, r.Writes)
		}
	}
	if res.PeakRSSMB <= 0 {
		t.Errorf("peak RSS %f", res.PeakRSSMB)
	}
	// The reconcile row: 1 % of 12 stories is one per kind; each is found, pushed, and read back in batches.
	if len(res.Reconcile) != len(push.TargetKinds()) {
		t.Fatalf("%d reconcile rows, want one per kind", len(res.Reconcile))
	}
	for _, r := range res.Reconcile {
		if r.Planted != 1 || r.Drifted != 1 || r.Pushed != 1 || r.Failed != 0 || r.Writes < 1 || r.Reads < 1 || r.Seconds <= 0 {
			t.Errorf("reconcile %s: %+v; want the one planted change found, pushed, written", r.Kind, r)
		}
		if r.Kind == push.TargetJira && (r.Writes != 1 || r.Reads > 3) {
			t.Errorf("reconcile jira: %d writes, %d reads; want 1 write and at most 3 reads (fields, serverInfo, one search)", r.Writes, r.Reads)
		}
	}
}

func TestBenchRefusesSizesThatMakeNoWorkload(t *testing.T) {
	code, _, errOut := execute(t, "bench", "--runs", "10", "--results", "5")
	if code != exitUsage || !strings.Contains(errOut, "results: 5, want at least one per run (10)") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
