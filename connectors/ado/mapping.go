package ado

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/workitemtracking"

	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// candidate is a story and the work item it maps to.
type candidate struct {
	story  report.Story
	id     int
	cached bool // from the Cache: not read this cycle
}

// snapshot is a work item as read: its rev and the fields covsync looks at.
type snapshot struct {
	Rev    int
	Fields map[string]any
}

// idKey is the id rule: an Azure Boards mention "AB#123" or a bare work item id.
var idKey = regexp.MustCompile(`^(?i:AB#)?([0-9]+)$`)

// Service limits that shape the calls: GET _apis/wit/workItems takes at most 200 ids
// (https://learn.microsoft.com/en-us/rest/api/azure/devops/wit/work-items/list) and a WIQL text at most 32K
// characters (https://learn.microsoft.com/en-us/rest/api/azure/devops/wit/wiql/query-by-wiql).
const (
	batchSize   = 200
	wiqlMaxText = 30000 // below 32K, with room for the clause around the values
)

// mapStories applies the configured rule. It also returns the mapped work items as read (one batched read per
// 200 work items), so Push starts from a known rev and Plan knows which ids do not exist.
func (t *Target) mapStories(ctx context.Context, s *session, p *report.Project) ([]candidate, map[int]*snapshot, Mapping, error) {
	if t.o.MatchField == "" {
		return t.mapByID(ctx, s, p)
	}
	return t.mapByField(ctx, s, p)
}

func (t *Target) mapByID(ctx context.Context, s *session, p *report.Project) ([]candidate, map[int]*snapshot, Mapping, error) {
	m := Mapping{Rule: "the ticket key is the work item id (AB#123 or 123)"}
	var cands []candidate
	seen := map[int]string{}
	for _, st := range p.Stories {
		mm := idKey.FindStringSubmatch(strings.TrimSpace(st.Key))
		id := 0
		if mm != nil {
			id, _ = strconv.Atoi(mm[1])
		}
		switch prev, dup := seen[id]; {
		case id <= 0:
			m.Misses = append(m.Misses, Miss{st.Key, "not a work item id (AB#123 or 123)"})
		case dup:
			m.Misses = append(m.Misses, Miss{st.Key, fmt.Sprintf("work item %d is already mapped from %s", id, prev)})
		default:
			seen[id] = st.Key
			cands = append(cands, candidate{story: st, id: id})
		}
	}
	ids := make([]int, len(cands))
	for i, c := range cands {
		ids[i] = c.id
	}
	snaps, err := t.readWorkItems(ctx, s, ids)
	if err != nil {
		return nil, nil, m, err
	}
	m.Mapped = len(cands)
	return cands, snaps, m, nil
}

func (t *Target) mapByField(ctx context.Context, s *session, p *report.Project) ([]candidate, map[int]*snapshot, Mapping, error) {
	f := t.o.MatchField
	m := Mapping{Rule: fmt.Sprintf("the work item field %s holds the ticket key (WIQL)", f)}
	keys := make([]string, 0, len(p.Stories))
	for _, st := range p.Stories {
		keys = append(keys, st.Key)
	}
	ids, err := t.queryByField(ctx, s, f, keys)
	if err != nil {
		return nil, nil, m, err
	}
	snaps, err := t.readWorkItems(ctx, s, ids)
	if err != nil {
		return nil, nil, m, err
	}
	// WIQL compares strings case-insensitively; so does this lookup.
	byValue := map[string][]int{}
	for id, sn := range snaps {
		if v, ok := sn.Fields[f].(string); ok {
			byValue[strings.ToLower(v)] = append(byValue[strings.ToLower(v)], id)
		}
	}
	var cands []candidate
	seen := map[int]string{}
	for _, st := range p.Stories {
		found := byValue[strings.ToLower(st.Key)]
		sort.Ints(found)
		switch {
		case len(found) == 0:
			m.Misses = append(m.Misses, Miss{st.Key, fmt.Sprintf("no work item in project %s has %s = %s", t.o.Project, f, st.Key)})
			continue
		case seen[found[0]] != "":
			m.Misses = append(m.Misses, Miss{st.Key, fmt.Sprintf("work item %d is already mapped from %s", found[0], seen[found[0]])})
			continue
		case len(found) > 1:
			t.log.WithFields(map[string]any{"target": t.Name(), "story": st.Key, "work_items": found}).
				Warn("several work items hold the ticket key; using the lowest id")
		}
		seen[found[0]] = st.Key
		cands = append(cands, candidate{story: st, id: found[0]})
	}
	m.Mapped = len(cands)
	return cands, snaps, m, nil
}

// queryByField finds the work items of the project whose field f equals one of values, with as few WIQL
// queries as the 32K text limit allows.
func (t *Target) queryByField(ctx context.Context, s *session, f string, values []string) ([]int, error) {
	prefix := "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [" + f + "] IN ("
	var ids []int
	for len(values) > 0 {
		var b strings.Builder
		b.WriteString(prefix)
		n := 0
		for n < len(values) {
			lit := "'" + strings.ReplaceAll(values[n], "'", "''") + "'"
			if n > 0 && b.Len()+len(lit)+2 > wiqlMaxText {
				break
			}
			if n > 0 {
				b.WriteString(", ")
			}
			b.WriteString(lit)
			n++
		}
		b.WriteString(") ORDER BY [System.Id]")
		values = values[n:]
		q := b.String()
		var res *workitemtracking.WorkItemQueryResult
		// A WIQL query is a read sent as POST: safe to replay, so the HTTP client may retry it.
		qctx := httpx.AllowRetry(ctx)
		err := t.paced(ctx, func() (err error) {
			res, err = s.wit.QueryByWiql(qctx, workitemtracking.QueryByWiqlArgs{Project: &t.o.Project, Wiql: &workitemtracking.Wiql{Query: &q}})
			return err
		})
		if st, _ := statusOf(err); st == http.StatusBadRequest && strings.Contains(err.Error(), "TF51005") {
			// The organization has no such field: the mapping is wrong, not the service.
			return nil, push.Configf("%s: match_field %s: the organization has no such work-item field (check projects[].ado.match_field): %w", t.Name(), f, err)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: WIQL query on %s: %w", t.Name(), f, err)
		}
		if res != nil && res.WorkItems != nil {
			for _, r := range *res.WorkItems {
				if r.Id != nil {
					ids = append(ids, *r.Id)
				}
			}
		}
	}
	return ids, nil
}

// wantedFields are the fields a read asks for: the project (tenant check), the match field and the fields
// covsync writes.
func (t *Target) wantedFields() []string {
	set := map[string]bool{"System.TeamProject": true}
	if t.o.MatchField != "" {
		set[t.o.MatchField] = true
	}
	for _, ref := range t.o.Fields {
		set[ref] = true
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// readWorkItems reads ids in batches of 200 with errorPolicy=omit, so a missing id is a null in the answer,
// not a failed call. Work items of another project are left out (project data goes only to its own
// project).
func (t *Target) readWorkItems(ctx context.Context, s *session, ids []int) (map[int]*snapshot, error) {
	return t.readInBatches(ctx, s, ids, "reading", func(fields []string, batch []int) (*[]workitemtracking.WorkItem, error) {
		return s.wit.GetWorkItems(ctx, workitemtracking.GetWorkItemsArgs{
			Project: &t.o.Project, Ids: &batch, Fields: &fields, ErrorPolicy: &workitemtracking.WorkItemErrorPolicyValues.Omit,
		})
	})
}

// readInBatches reads ids batchSize at a time with get (given the wanted fields and one batch) and keeps
// the snapshots of this project's work items; doing names the reading in an error.
func (t *Target) readInBatches(ctx context.Context, s *session, ids []int, doing string, get func(fields []string, batch []int) (*[]workitemtracking.WorkItem, error)) (map[int]*snapshot, error) {
	out := map[int]*snapshot{}
	fields := t.wantedFields()
	for start := 0; start < len(ids); start += batchSize {
		batch := ids[start:min(start+batchSize, len(ids))]
		var got *[]workitemtracking.WorkItem
		err := t.paced(ctx, func() (err error) {
			got, err = get(fields, batch)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %s work items %d…%d: %w", t.Name(), doing, batch[0], batch[len(batch)-1], err)
		}
		for _, wi := range deref(got) {
			if sn := t.snapshotOf(s, wi); sn != nil {
				out[*wi.Id] = sn
			}
		}
	}
	return out, nil
}

// snapshotOf returns the snapshot of wi, or nil when wi is a null (missing) entry or belongs to another
// project.
func (t *Target) snapshotOf(s *session, wi workitemtracking.WorkItem) *snapshot {
	if wi.Id == nil || wi.Rev == nil {
		return nil
	}
	f := deref(wi.Fields)
	// The resolved name, so a project configured by id is checked as strictly as one configured by name.
	if p, _ := f["System.TeamProject"].(string); !strings.EqualFold(p, s.project.name) {
		return nil
	}
	return &snapshot{Rev: *wi.Rev, Fields: f}
}
