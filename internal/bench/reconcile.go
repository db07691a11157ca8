package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/covsync/covsync/connectors/confluence/confluencesim"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/push"
)

// benchDriftEvery plants drift in one item of every benchDriftEvery (1 %) of a kind's items.
const benchDriftEvery = 100

// ReconcileRow is one kind's reconcile cycle after drift was planted out of band.
type ReconcileRow struct {
	Kind    string `json:"kind"`
	Items   int    `json:"items"`
	Planted int    `json:"planted"` // items changed out of band
	Drifted int    `json:"drifted"` // items the reconcile found drifted
	Pushed  int    `json:"pushed"`  // items it pushed
	Failed  int    `json:"failed"`
	Writes  int    `json:"writes"` // HTTP writes
	Reads   int    `json:"reads"`  // every other request: the read-back and the plan's reads
	// Seconds is the reconcile's wall time; FloorSeconds the rate-limit floor of its requests (reads +
	// writes ÷ rate), RatioToFloor their ratio.
	Seconds      float64 `json:"seconds"`
	FloorSeconds float64 `json:"floorSeconds"`
	RatioToFloor float64 `json:"ratioToFloor"`
}

// reconcileRows plants drift in 1 % of each kind's items (at least one) the way a person would, out of band,
// then runs one reconcile cycle per kind and measures it.
func (b *bencher) reconcileRows(ctx context.Context, kinds []string) ([]ReconcileRow, error) {
	var out []ReconcileRow
	for _, k := range kinds {
		planted, err := b.plantDrift(k)
		if err != nil {
			return nil, err
		}
		s, took, tr, err := b.cycle(ctx, k, engine.Options{Reconcile: true, Trigger: ledger.TriggerResync})
		if err != nil {
			return nil, err
		}
		r := ReconcileRow{Kind: k, Items: s.Planned, Planted: planted, Drifted: s.Drifted, Pushed: s.Pushed, Failed: s.Failed,
			Writes: tr.writes, Reads: tr.requests - tr.writes, Seconds: took.Seconds(),
			FloorSeconds: float64(tr.requests) / b.rate}
		if r.FloorSeconds > 0 {
			r.RatioToFloor = r.Seconds / r.FloorSeconds
		}
		b.logf("reconcile %s: %d items, %d planted, %d drifted, %d pushed, %d writes, %d reads in %.2fs (floor %.2fs)",
			k, r.Items, r.Planted, r.Drifted, r.Pushed, r.Writes, r.Reads, r.Seconds, r.FloorSeconds)
		out = append(out, r)
	}
	return out, nil
}

// plantDrift changes, out of band, every benchDriftEvery-th item of kind and returns how many it changed.
func (b *bencher) plantDrift(kind string) (int, error) {
	e := b.env
	n := 0
	switch kind {
	case push.TargetJira:
		id := e.jiraFieldIDs["Test Coverage"]
		for i := 1; i <= e.workload.Sizes.Stories; i += benchDriftEvery {
			e.jira.SetIssueField(e.workload.Prefix+"-"+strconv.Itoa(i), id, -1.0)
			n++
		}
	case push.TargetLinkedRuns:
		const key = "jira-test-manager.linked-test-runs"
		var v map[string]any
		if err := json.Unmarshal(e.jira.Property(e.workload.Prefix, key), &v); err != nil {
			return 0, fmt.Errorf("bench: linked-runs property: %w", err)
		}
		for _, rel := range v["releases"].(map[string]any) {
			rel.(map[string]any)["runs"] = []any{} // a person emptied one release
			break
		}
		raw, _ := json.Marshal(v)
		e.jira.SetProperty(e.workload.Prefix, key, raw)
		n = 1
	case push.TargetADO:
		for i := 1; i <= e.workload.Sizes.Stories; i += benchDriftEvery {
			id := strconv.Itoa(e.adoIDs[e.workload.Prefix+"-"+strconv.Itoa(i)])
			d, ok := e.ado.Document(benchADOPublisher, benchADOExtension, benchADOCollection, id)
			if !ok {
				return 0, fmt.Errorf("bench: no document %s to drift", id)
			}
			d["coveragePercent"] = -1.0
			e.ado.PutDocument(benchADOPublisher, benchADOExtension, benchADOCollection, d)
			n++
		}
	case push.TargetConfluence:
		for _, pg := range e.confluence.PagesTitled(benchSpace, "Test coverage: Bench "+e.workload.Project) {
			e.confluence.EditPage(pg.ID, confluencesim.Edit{By: "j.doe", Body: "<p>edited by hand</p>"})
			n++
		}
	}
	return n, nil
}

// reconcileBars: reads batched (Jira at most one search per 100 stories plus 10), writes for exactly the
// drifted items, every planted change found.
func reconcileBars(rows []ReconcileRow, add func(bar, kind string, met bool, got string, a ...any)) {
	for _, r := range rows {
		add("reconcile: every planted change found", r.Kind, r.Drifted == r.Planted && r.Pushed == r.Drifted && r.Failed == 0,
			"%d of %d planted, %d pushed", r.Drifted, r.Planted, r.Pushed)
		if r.Kind == push.TargetJira {
			limit := (r.Items+99)/100 + 10 // 60 for 5,000 stories
			add("reconcile: Jira reads ≤ items/100 + 10", r.Kind, r.Reads <= limit, "%d (limit %d)", r.Reads, limit)
		}
	}
}

func printReconcile(w io.Writer, rows []ReconcileRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\nreconcile, 1 %% of the items changed out of band:\n\n")
	fmt.Fprintln(w, "| target | items | planted | drifted | pushed | writes | reads | reconcile | floor (reads + writes) | ratio |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d | %.2f s | %.2f s | %.3f |\n", r.Kind, r.Items, r.Planted, r.Drifted,
			r.Pushed, r.Writes, r.Reads, r.Seconds, r.FloorSeconds, r.RatioToFloor)
	}
}
