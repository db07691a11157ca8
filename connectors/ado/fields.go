package ado

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"text/template"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/webapi"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/workitemtracking"

	"github.com/covsync/covsync/connectors/fieldtext"
	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
	"github.com/covsync/covsync/templates"
)

// fieldsFor returns the work-item field values of story s (reference name → value; nil clears the field).
// A String field gets at most its 255 characters (types: reference name → field type, from fieldTypes).
func (t *Target) fieldsFor(p *report.Project, s report.Story, types map[string]string) (map[string]any, error) {
	out := map[string]any{}
	for key, ref := range t.o.Fields {
		switch key {
		case FieldCoveragePercent:
			if s.CoveragePercent != nil {
				out[ref] = *s.CoveragePercent
			} else {
				out[ref] = nil
			}
		case FieldTestStatus:
			out[ref] = s.Status
		case FieldLastRunURL:
			if s.LastRun != nil && report.IsWebURL(s.LastRun.URL) { // report.IsWebURL: no javascript: from data
				out[ref] = s.LastRun.URL
			} else {
				out[ref] = nil
			}
		case FieldCoverageSummary:
			text, err := t.summary.render(p, s)
			if err != nil {
				return nil, err
			}
			out[ref] = text
		}
		if str, ok := out[ref].(string); ok && types[ref] == "string" {
			out[ref] = fieldtext.TruncateUTF16(str, maxStringChars)
		}
	}
	return jsonMap(out), nil
}

// pushFields patches the work item's fields that differ from the item's values, in one JSON Patch that
// starts with `test /rev` (https://learn.microsoft.com/en-us/rest/api/azure/devops/wit/work-items/update), so
// a change made since the read fails with 412 instead of being overwritten blindly; a 412 re-reads and tries
// again, at most maxConflicts times. bypassRules is never set: covsync's values go through the process rules
// like anyone's. It reports whether it wrote.
func (t *Target) pushFields(ctx context.Context, s *session, key string, pl *payload) (bool, error) {
	what := fmt.Sprintf("%s: story %s: work item %d", t.Name(), key, pl.WorkItemID)
	snap := pl.snap
	fields := t.wantedFields()
	for round := 1; round <= t.maxConflicts; round++ {
		if snap == nil {
			var wi *workitemtracking.WorkItem
			err := t.paced(ctx, func() (err error) {
				wi, err = s.wit.GetWorkItem(ctx, workitemtracking.GetWorkItemArgs{Id: &pl.WorkItemID, Project: &t.o.Project, Fields: &fields})
				return err
			})
			if err != nil {
				return false, t.fieldError(what, "reading", err)
			}
			if snap = t.snapshotOf(s, deref(wi)); snap == nil {
				return false, push.Permanentf("%s: not in project %s", what, t.o.Project)
			}
		}
		ops := fieldOps(snap, pl.Fields)
		if len(ops) == 0 {
			return false, nil
		}
		doc := append([]webapi.JsonPatchOperation{{Op: &webapi.OperationValues.Test, Path: ptr("/rev"), Value: snap.Rev}}, ops...)
		// Safe to replay: a patch already applied fails the replay's rev test (412) and the next round finds
		// nothing left to change.
		wctx := httpx.AllowRetry(ctx)
		err := t.paced(ctx, func() error {
			_, err := s.wit.UpdateWorkItem(wctx, workitemtracking.UpdateWorkItemArgs{Id: &pl.WorkItemID, Project: &t.o.Project, Document: &doc})
			return err
		})
		if st, _ := statusOf(err); st == http.StatusPreconditionFailed {
			t.log.WithFields(map[string]any{"target": t.Name(), "story": key, "work_item": pl.WorkItemID, "round": round}).
				Debug("work item changed since it was read (412); reading it again")
			snap = nil
			continue
		}
		if err != nil {
			return false, t.fieldError(what, "updating fields", err)
		}
		return true, nil
	}
	return false, push.Retryable(fmt.Errorf("%s: still changing under covsync after %d read-patch rounds", what, t.maxConflicts))
}

func (t *Target) fieldError(what, doing string, err error) error {
	if isAuth(err) {
		return t.classify(err)
	}
	if _, key := statusOf(err); key == "WorkItemTrackingFieldDefinitionNotFoundException" {
		// A field checked at planning is gone since (TF51535): the configuration's, not this item's; the next
		// cycle checks the fields again.
		t.cache.dropFieldTypes(strings.ToLower(strings.TrimRight(t.o.OrganizationURL, "/")))
		return push.Config(fmt.Errorf("%s: %s: a configured field does not exist (run covsync check): %w", what, doing, err))
	}
	if st, _ := statusOf(err); st == http.StatusNotFound {
		return push.Permanent(fmt.Errorf("%s: %s: does not exist in project %s (or the PAT cannot read it): %w", what, doing, t.o.Project, err))
	}
	return t.classify(fmt.Errorf("%s: %s: %w", what, doing, err))
}

// fieldOps are the JSON Patch operations that make snap's fields hold want, sorted by field.
func fieldOps(snap *snapshot, want map[string]any) []webapi.JsonPatchOperation {
	refs := make([]string, 0, len(want))
	for ref := range want {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	var ops []webapi.JsonPatchOperation
	for _, ref := range refs {
		cur, has := snap.Fields[ref]
		path := "/fields/" + ref
		switch v := want[ref]; {
		case v == nil && has && cur != nil:
			ops = append(ops, webapi.JsonPatchOperation{Op: &webapi.OperationValues.Remove, Path: ptr(path)})
		case v != nil && (!has || !reflect.DeepEqual(cur, v)):
			ops = append(ops, webapi.JsonPatchOperation{Op: &webapi.OperationValues.Add, Path: ptr(path), Value: v})
		}
	}
	return ops
}

func ptr[T any](v T) *T { return &v }

// summaryRenderer renders the coverage_summary field from jira/summary.tmpl (the same one-line text Jira
// gets, through the same templates.RenderSummary), cut to the 255 characters of a single-line string field
// (UTF-16 code units, as .NET counts them).
type summaryRenderer struct{ tmpl *template.Template }

const maxSummary = 255

func newSummaryRenderer(set templates.Set) (*summaryRenderer, error) {
	src, err := set.Read("jira/summary.tmpl")
	if err != nil {
		return nil, err
	}
	tm, err := templates.ParseSummary(string(src))
	if err != nil {
		return nil, fmt.Errorf("jira/summary.tmpl: %w", err)
	}
	return &summaryRenderer{tmpl: tm}, nil
}

func (r *summaryRenderer) render(p *report.Project, s report.Story) (string, error) {
	out, err := templates.RenderSummary(r.tmpl, p, s)
	if err != nil {
		return "", err
	}
	return fieldtext.TruncateUTF16(out, maxSummary), nil
}
