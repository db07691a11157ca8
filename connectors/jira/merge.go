package jira

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"time"
)

// MaxPropertyBytes is Jira's cap on an entity property value (32,768; the reference says characters in one
// place and bytes in another: covsync counts bytes, the stricter reading).
const MaxPropertyBytes = 32768

// maxEntryName caps a run's name in its property entry (the ingest's own limit for run names, 255 bytes):
// a 40 KB name would otherwise be larger than the property, and pruning to fit would remove every run.
const maxEntryName = 255

// runSlot is one run entry of a release being merged: foreign entries keep their exact JSON.
type runSlot struct {
	raw     json.RawMessage
	ours    bool
	started time.Time // zero when unknown
}

type releaseState struct {
	obj     map[string]json.RawMessage // every key found, "runs" rewritten when touched
	runs    []runSlot
	touched bool
}

// mergeProperty merges covsync's desired releases into the stored value (nil: no property yet), as
// docs/architecture.md, Contracts, says: every key, release and run entry covsync did not write is kept as
// found; runs with "source":"covsync" are replaced by the desired ones; runs are ordered newest first. When
// the result would pass MaxPropertyBytes, covsync's oldest runs are dropped first; pruned counts them. It
// fails only when the stored value is not the documented shape, or foreign content alone is too big.
func mergeProperty(stored json.RawMessage, d propertyPayload) (out json.RawMessage, pruned int, err error) {
	top := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(stored)) > 0 {
		if err := json.Unmarshal(stored, &top); err != nil || top == nil {
			return nil, 0, fmt.Errorf("property %s holds something other than a JSON object: not overwriting it", PropertyKey)
		}
	}
	if _, ok := top["version"]; !ok {
		top["version"] = json.RawMessage("1")
	}
	if d.UpdatedAt != "" {
		top["updatedAt"], _ = marshal(d.UpdatedAt)
	}
	rawReleases := map[string]json.RawMessage{}
	if r, ok := top["releases"]; ok && string(r) != "null" {
		if err := json.Unmarshal(r, &rawReleases); err != nil {
			return nil, 0, fmt.Errorf("property %s: \"releases\" is not an object: not overwriting it", PropertyKey)
		}
	}
	states := map[string]*releaseState{}
	for id, raw := range rawReleases {
		st, err := parseRelease(id, raw)
		if err != nil {
			return nil, 0, err
		}
		states[id] = st
	}
	for _, id := range sortedKeys(d.Releases) {
		st := states[id]
		if st == nil {
			st = &releaseState{obj: map[string]json.RawMessage{}}
			states[id] = st
		}
		if _, ok := st.obj["name"]; !ok {
			st.obj["name"], _ = marshal(d.Releases[id].Name)
		}
		st.touched = true
	}
	for id, st := range states {
		desired, want := d.Releases[id]
		hadOurs := false
		kept := st.runs[:0:0]
		for _, r := range st.runs {
			if r.ours {
				hadOurs = true
				continue
			}
			kept = append(kept, r)
		}
		if !want && !hadOurs {
			continue // not covsync's: left exactly as found
		}
		st.touched = true
		for _, e := range desired.Runs {
			raw, _ := marshal(e)
			t, _ := time.Parse(time.RFC3339, e.StartedAt)
			kept = append(kept, runSlot{raw: raw, ours: true, started: t})
		}
		sort.SliceStable(kept, func(i, j int) bool { return newer(kept[i], kept[j]) })
		st.runs = kept
		if !want && len(kept) == 0 && onlyKeys(st.obj, "name", "runs") {
			delete(states, id) // a release covsync created and no longer has runs for
		}
	}
	for {
		out, err = encodeProperty(top, states)
		if err != nil {
			return nil, 0, err
		}
		if len(out) <= MaxPropertyBytes {
			return out, pruned, nil
		}
		// Each dropped run shortens the value by its own bytes and a comma, so drop until that covers the
		// excess, then encode again to check (one or two rounds instead of one per run).
		for excess := len(out) - MaxPropertyBytes; excess > 0; {
			n := dropOldestOurs(states)
			if n == 0 {
				return nil, 0, fmt.Errorf("property %s: content covsync does not own is %d bytes, over Jira's %d: not writing", PropertyKey, len(out), MaxPropertyBytes)
			}
			excess -= n + 1
			pruned++
		}
	}
}

func parseRelease(id string, raw json.RawMessage) (*releaseState, error) {
	st := &releaseState{obj: map[string]json.RawMessage{}}
	if err := json.Unmarshal(raw, &st.obj); err != nil || st.obj == nil {
		return nil, fmt.Errorf("property %s: release %q is not an object: not overwriting it", PropertyKey, id)
	}
	var runs []json.RawMessage
	if r, ok := st.obj["runs"]; ok && string(r) != "null" {
		if err := json.Unmarshal(r, &runs); err != nil {
			return nil, fmt.Errorf("property %s: release %q: \"runs\" is not a list: not overwriting it", PropertyKey, id)
		}
	}
	for _, r := range runs {
		// A map, not a struct: encoding/json matches struct fields case-insensitively, which would take a
		// foreign entry's "Source": "covsync" for covsync's own mark and replace it. Only the exact key counts.
		var head map[string]any
		_ = json.Unmarshal(r, &head) // a run that is not an object is foreign and kept as it is
		slot := runSlot{raw: r, ours: head["source"] == sourceCovsync}
		if s, ok := head["startedAt"].(string); ok {
			slot.started, _ = time.Parse(time.RFC3339, s)
		}
		st.runs = append(st.runs, slot)
	}
	return st, nil
}

// newer orders runs newest first; runs without a readable start time go last.
func newer(a, b runSlot) bool {
	if a.started.IsZero() || b.started.IsZero() {
		return !a.started.IsZero() && b.started.IsZero()
	}
	return a.started.After(b.started)
}

func onlyKeys(m map[string]json.RawMessage, keys ...string) bool {
	allowed := map[string]bool{}
	for _, k := range keys {
		allowed[k] = true
	}
	for k := range m {
		if !allowed[k] {
			return false
		}
	}
	return true
}

// dropOldestOurs removes covsync's oldest run across all releases and returns its encoded size; 0 when
// covsync has none left.
func dropOldestOurs(states map[string]*releaseState) int {
	var (
		best    *releaseState
		bestIdx int
	)
	for _, id := range sortedKeys(states) {
		st := states[id]
		for i, r := range st.runs {
			if !r.ours {
				continue
			}
			if best == nil || older(r, best.runs[bestIdx]) {
				best, bestIdx = st, i
			}
		}
	}
	if best == nil {
		return 0
	}
	n := len(best.runs[bestIdx].raw)
	best.runs = append(best.runs[:bestIdx], best.runs[bestIdx+1:]...)
	return n
}

// older: strictly older start time; an unknown time counts as oldest.
func older(a, b runSlot) bool {
	if a.started.IsZero() != b.started.IsZero() {
		return a.started.IsZero()
	}
	return a.started.Before(b.started)
}

func encodeProperty(top map[string]json.RawMessage, states map[string]*releaseState) (json.RawMessage, error) {
	rels := make(map[string]json.RawMessage, len(states))
	for id, st := range states {
		if st.touched {
			runs := make([]json.RawMessage, len(st.runs))
			for i, r := range st.runs {
				runs[i] = r.raw
			}
			b, err := marshal(runs)
			if err != nil {
				return nil, err
			}
			st.obj["runs"] = b
		}
		b, err := marshal(st.obj)
		if err != nil {
			return nil, err
		}
		rels[id] = b
	}
	b, err := marshal(rels)
	if err != nil {
		return nil, err
	}
	top["releases"] = b
	return marshal(top)
}

// marshal is json.Marshal without HTML escaping, so foreign values such as URLs with "&" keep their bytes
// (and their size) instead of growing into \u0026.
func marshal(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// equalJSON compares two JSON values by meaning (key order and spacing ignored).
func equalJSON(a, b json.RawMessage) bool {
	var x, y any
	if errors.Join(json.Unmarshal(a, &x), json.Unmarshal(b, &y)) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
