package ado

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/workitemtracking"

	"github.com/covsync/covsync/sync/push"
)

// Drift reads back what Azure DevOps holds for every planned item and compares it with what Push would
// write: the documents through one listing of the collection (GET …/Collections/{c}/Documents, the
// ExtensionManagement getDocumentsByName call), and, when work-item fields are configured, the fields
// through POST _apis/wit/workitemsbatch with at most 200 ids a request
// (https://learn.microsoft.com/en-us/rest/api/azure/devops/wit/work-items/get-work-items-batch). A document
// deleted by a person, or one whose covsync keys were changed, is drift; keys covsync does not own never
// are. Items whose work item is gone are left to Push, which fails them alone.
func (t *Target) Drift(ctx context.Context, items []push.Item) (push.Drift, error) {
	if len(items) == 0 {
		return nil, nil
	}
	s, err := t.session(ctx)
	if err != nil {
		return nil, t.classify(err)
	}
	docs, err := t.listDocuments(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the collection %s back: %w", t.Name(), t.o.Extension.Collection, t.classify(err))
	}
	var ids []int
	for _, it := range items {
		if pl, ok := it.Payload.(*payload); ok && len(pl.Fields) > 0 && pl.missing == nil {
			ids = append(ids, pl.WorkItemID)
		}
	}
	held, err := t.readBatch(ctx, s, ids)
	if err != nil {
		return nil, t.classify(err)
	}
	out := push.Drift{}
	for _, it := range items {
		pl, ok := it.Payload.(*payload)
		if !ok {
			return nil, fmt.Errorf("%s: item %s: payload %T was not planned by this target", t.Name(), it.Key, it.Payload)
		}
		if pl.missing != nil {
			continue // Push fails it with the reason
		}
		pl.listing.prime(docs) // one listing per cycle, shared by its payloads: Push writes with its __etag
		id := strconv.Itoa(pl.WorkItemID)
		var diffs []push.Diff
		if stored, found := docs[id]; !found {
			diffs = append(diffs, push.Diff{Field: "document " + id, Held: push.Missing, Desired: it.Summary})
		} else {
			diffs = append(diffs, docDiffs(stored, pl.Document)...)
		}
		if len(pl.Fields) > 0 {
			if sn := held[pl.WorkItemID]; sn != nil {
				pl.snap = sn // Push patches from what was just read (a stale rev still fails its test, 412)
				diffs = append(diffs, fieldDiffs(sn, pl.Fields)...)
			}
		}
		if len(diffs) > 0 {
			out[it.Key] = diffs
		}
	}
	if err := t.verifyDrifted(ctx, s, items, out); err != nil {
		return nil, err
	}
	return out, nil
}

// verifyDrifted reads, in batches, the work items of the drifted items whose mapping came from the cache,
// so their pushes start from a fresh snapshot instead of each checking its work item on its own (a work item
// gone since is left without one: its Push finds out and fails alone).
func (t *Target) verifyDrifted(ctx context.Context, s *session, items []push.Item, drift push.Drift) error {
	var ids []int
	for _, it := range items {
		if pl, _ := it.Payload.(*payload); pl != nil && drift[it.Key] != nil && pl.verify != nil && pl.snap == nil {
			ids = append(ids, pl.WorkItemID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	snaps, err := t.readBatch(ctx, s, ids)
	if err != nil {
		return t.classify(err)
	}
	for _, it := range items {
		if pl, _ := it.Payload.(*payload); pl != nil && drift[it.Key] != nil && pl.snap == nil {
			pl.snap = snaps[pl.WorkItemID]
		}
	}
	return nil
}

// readBatch reads the fields covsync writes of work items ids with POST _apis/wit/workitemsbatch, 200 ids
// a request, errorPolicy omit (a missing id is a null, not a failed call).
func (t *Target) readBatch(ctx context.Context, s *session, ids []int) (map[int]*snapshot, error) {
	return t.readInBatches(ctx, s, ids, "reading back", func(fields []string, batch []int) (*[]workitemtracking.WorkItem, error) {
		return s.wit.GetWorkItemsBatch(ctx, workitemtracking.GetWorkItemsBatchArgs{
			Project: &t.o.Project,
			WorkItemGetRequest: &workitemtracking.WorkItemBatchGetRequest{
				Ids: &batch, Fields: &fields, ErrorPolicy: &workitemtracking.WorkItemErrorPolicyValues.Omit,
			},
		})
	})
}

// docDiffs lists covsync's keys whose stored value differs from the desired one (both as decoded JSON, so
// 95 and 95.0 are the same float64).
func docDiffs(stored, desired map[string]any) []push.Diff {
	var out []push.Diff
	for _, k := range slices.Sorted(maps.Keys(desired)) {
		h, has := stored[k]
		if has && reflect.DeepEqual(h, desired[k]) {
			continue
		}
		held := push.Missing
		if has {
			held = render(h)
		}
		out = append(out, push.Diff{Field: "document." + k, Held: held, Desired: render(desired[k])})
	}
	return out
}

// fieldDiffs lists the work-item fields fieldOps would patch.
func fieldDiffs(sn *snapshot, want map[string]any) []push.Diff {
	var out []push.Diff
	for _, op := range fieldOps(sn, want) {
		ref := (*op.Path)[len("/fields/"):]
		out = append(out, push.Diff{Field: ref, Held: render(sn.Fields[ref]), Desired: render(want[ref])})
	}
	return out
}

func render(v any) string {
	switch x := v.(type) {
	case nil:
		return push.Empty
	case string:
		return push.Show(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return push.Show(string(b))
}
