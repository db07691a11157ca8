package jira

import (
	"text/template"

	"github.com/covsync/covsync/sync/report"
	"github.com/covsync/covsync/templates"
)

// parseSummary parses the summary template with covsync's helper funcs (templates.ParseSummary, shared with
// the ADO connector's coverage_summary field).
func parseSummary(src string) (*template.Template, error) { return templates.ParseSummary(src) }

// renderSummary executes the template for one story and folds its output onto one line.
func renderSummary(t *template.Template, p *report.Project, st report.Story) (string, error) {
	return templates.RenderSummary(t, p, st)
}
