package jira

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// FuzzMergeKeepsForeignContent: whatever the property holds, a merge either refuses (the stored value is
// not the documented shape, or foreign content alone is too big) or returns a value within Jira's cap that
// still holds every top-level key and every run entry covsync does not own.
func FuzzMergeKeepsForeignContent(f *testing.F) {
	f.Add(`{"version":1,"releases":{"1":{"runs":[{"id":"a","source":"x"}]}}}`, 3)
	f.Add(`{"releases":{"1":{"name":"2.4.0","runs":[{"id":"c","source":"covsync","startedAt":"2026-01-01T00:00:00Z"},7,null]}},"k":[1]}`, 400)
	f.Add(`{}`, 0)
	f.Add(`null`, 1)
	f.Fuzz(func(t *testing.T, stored string, runs int) {
		runs = max(0, min(runs, 600))
		d := propertyPayload{Releases: map[string]desiredRelease{"1": {Name: "2.4.0"}}}
		for i := range runs {
			d.Releases["1"] = desiredRelease{Name: "2.4.0", Runs: append(d.Releases["1"].Runs, runEntry{ID: fmt.Sprint(i),
				StartedAt: time.Unix(int64(1e9-i), 0).UTC().Format(time.RFC3339), Source: sourceCovsync})}
		}
		out, _, err := mergeProperty(json.RawMessage(stored), d)
		if err != nil {
			return
		}
		if len(out) > MaxPropertyBytes {
			t.Fatalf("merged value is %d bytes", len(out))
		}
		var before, after map[string]any
		if json.Unmarshal([]byte(stored), &before) != nil || before == nil {
			return // nothing stored (null): nothing foreign to keep
		}
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("merged value is not JSON: %v", err)
		}
		for k := range before {
			if _, ok := after[k]; !ok {
				t.Fatalf("lost key %q", k)
			}
		}
		if a, b := foreignRuns(before), foreignRuns(after); a != b {
			t.Fatalf("foreign runs %d before, %d after", a, b)
		}
	})
}

func foreignRuns(v map[string]any) int {
	n := 0
	rels, _ := v["releases"].(map[string]any)
	for _, r := range rels {
		rel, _ := r.(map[string]any)
		list, _ := rel["runs"].([]any)
		for _, run := range list {
			if m, ok := run.(map[string]any); !ok || m["source"] != sourceCovsync {
				n++
			}
		}
	}
	return n
}
