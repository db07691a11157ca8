package templates

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"text/template"

	"github.com/covsync/covsync/sync/report"
)

// The one-line story summary (jira/summary.tmpl) goes to a Jira text field and to an Azure DevOps work-item
// field alike; its helper funcs and rendering live here so both connectors render the same text.

// summaryData is what jira/summary.tmpl sees.
type summaryData struct {
	Story   report.Story
	Project *report.Project
}

// ParseSummary parses a story summary template with its helper funcs: deref and plural.
func ParseSummary(src string) (*template.Template, error) {
	return template.New("jira/summary.tmpl").Option("missingkey=error").Funcs(template.FuncMap{
		"deref":  deref,
		"plural": plural,
	}).Parse(src)
}

// deref returns what a pointer points at (the zero value of its type for nil), so templates can print the
// report's optional numbers: {{ deref .CoveragePercent }}.
func deref(v any) any {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return ""
	}
	if rv.Kind() != reflect.Pointer {
		return v
	}
	if rv.IsNil() {
		return reflect.Zero(rv.Type().Elem()).Interface()
	}
	return rv.Elem().Interface()
}

// plural counts a noun: plural 1 "test" is "1 test", plural 12 "test" is "12 tests".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// RenderSummary executes t for one story and folds its output onto one line (runs of white space become one
// space). Length limits are applied by the field it goes to.
func RenderSummary(t *template.Template, p *report.Project, st report.Story) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, summaryData{Story: st, Project: p}); err != nil {
		return "", fmt.Errorf("template jira/summary.tmpl, story %s: %w", st.Key, err)
	}
	return strings.Join(strings.Fields(b.String()), " "), nil
}
