package ado

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/workitemtracking"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/workitemtrackingprocess"

	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// maxStringChars is what a String work-item field holds: "String: up to 255 Unicode characters"
// (https://learn.microsoft.com/en-us/azure/devops/boards/work-items/work-item-fields#field-data-types-and-attributes).
const maxStringChars = 255

// accepts lists, per role, the work-item field types covsync can write it to (the types are
// workitemtracking.FieldTypeValues): the percent is a number, the others text.
var accepts = map[string][]string{
	FieldCoveragePercent: {"double"},
	FieldCoverageSummary: {"string", "plainText", "html"},
	FieldTestStatus:      {"string", "plainText"},
	FieldLastRunURL:      {"string", "plainText", "html"},
}

// storyStatuses are the values test_status takes (sync/report's story statuses): a picklist
// must hold all of them.
var storyStatuses = []string{report.StatusPassed, report.StatusFailed, report.StatusSkipped, report.StatusNoTests}

// fieldTypes checks the configured work-item fields against the organization's process once (cached per
// organization and project with the resource areas): each must exist (a write or a read naming an unknown
// field answers 400 TF51535), be of a type covsync can write, and, when it is a picklist that refuses other
// values, list every value covsync writes to it. A misfit is a configuration error naming fields.<role>,
// found by `covsync check` and before any item of a cycle. It returns reference name → type.
func (t *Target) fieldTypes(ctx context.Context, s *session) (map[string]string, error) {
	if len(t.o.Fields) == 0 {
		return nil, nil
	}
	key := strings.ToLower(t.o.Project) + "\x00" + fmt.Sprint(t.o.Fields)
	if ft, ok := t.cache.fieldTypesOf(s.orgURL, key); ok {
		return ft, nil
	}
	var all *[]workitemtracking.WorkItemField2
	err := t.paced(ctx, func() (err error) {
		all, err = s.wit.GetWorkItemFields(ctx, workitemtracking.GetWorkItemFieldsArgs{Project: &t.o.Project})
		return err
	})
	if err != nil {
		return nil, t.classify(fmt.Errorf("%s: reading the work-item fields of project %s: %w", t.Name(), t.o.Project, err))
	}
	byRef := map[string]workitemtracking.WorkItemField2{}
	for _, f := range deref(all) {
		byRef[strings.ToLower(deref(f.ReferenceName))] = f
	}
	roles := make([]string, 0, len(t.o.Fields))
	for r := range t.o.Fields {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	out := map[string]string{}
	for _, role := range roles {
		ref := t.o.Fields[role]
		f, ok := byRef[strings.ToLower(ref)]
		if !ok {
			return nil, push.Configf("%s: fields.%s: %s: the process of project %s has no such field (Azure DevOps answers TF51535: Cannot find field %s): create it or fix the reference name",
				t.Name(), role, ref, t.o.Project, ref)
		}
		typ := string(deref(f.Type))
		if !slices.Contains(accepts[role], typ) {
			return nil, push.Configf("%s: fields.%s: %s (%q) is a %s field; covsync writes %s only to a field of type %s",
				t.Name(), role, ref, deref(f.Name), typ, role, strings.Join(accepts[role], ", "))
		}
		if deref(f.IsPicklist) && !deref(f.IsPicklistSuggested) {
			if err := t.checkPicklist(ctx, s, role, ref, f); err != nil {
				return nil, err
			}
		}
		out[ref] = typ
	}
	t.cache.setFieldTypes(s.orgURL, key, out)
	return out, nil
}

// checkPicklist checks that a picklist that refuses other values holds every value covsync writes to it:
// test_status's four statuses; the other roles write free text, which no closed list can hold.
func (t *Target) checkPicklist(ctx context.Context, s *session, role, ref string, f workitemtracking.WorkItemField2) error {
	if role != FieldTestStatus || f.PicklistId == nil {
		return push.Configf("%s: fields.%s: %s (%q) is a picklist, but covsync writes free text to it: use a plain field, or let the picklist accept other values",
			t.Name(), role, ref, deref(f.Name))
	}
	proc := workitemtrackingprocess.ClientImpl{Client: *t.client(s.conn, s.witBase)}
	var list *workitemtrackingprocess.PickList
	err := t.paced(ctx, func() (err error) {
		list, err = proc.GetList(ctx, workitemtrackingprocess.GetListArgs{ListId: f.PicklistId})
		return err
	})
	if err != nil {
		return t.classify(fmt.Errorf("%s: fields.%s: reading the picklist of %s: %w", t.Name(), role, ref, err))
	}
	if list != nil && deref(list.IsSuggested) {
		return nil
	}
	items := deref(list).Items
	for _, v := range storyStatuses {
		if !slices.Contains(deref(items), v) {
			return push.Configf("%s: fields.%s: %s (%q) is a picklist without %q (its values: %q): add the story statuses %q to it",
				t.Name(), role, ref, deref(f.Name), v, deref(items), storyStatuses)
		}
	}
	return nil
}
