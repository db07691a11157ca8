package confluence

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"net/url"
	"regexp"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/covsync/covsync/connectors/fieldtext"
	"github.com/covsync/covsync/sync/report"
)

const (
	// DefaultMaxRows caps the story table when the config's max_rows is not set.
	DefaultMaxRows = 500
	// MaxBodyBytes is the largest body covsync sends. Confluence slows down badly on very large pages long
	// before it refuses them; a body over this size means the row cap is set too high, and Render says so.
	MaxBodyBytes = 1 << 20
	// maxRuns is how many latest runs the page lists; maxReleases and maxReleaseRuns bound the per-release
	// sections of the project page.
	maxRuns        = 10
	maxReleases    = 20
	maxReleaseRuns = 10
	// maxText caps any one value shown on the page (a run name, a branch) so a runaway string cannot blow
	// the body up; longer values end in "…".
	maxText = 200
	// maxTitle is Confluence's title limit, in UTF-16 code units (Java's String.length).
	maxTitle = 255
)

// PageInput is what one page is rendered from.
type PageInput struct {
	Project *report.Project
	// Release is the release of a release page; nil renders the project page.
	Release *report.Release
	// ReleasePages true means each release has its own page, so the project page has no release sections.
	ReleasePages bool
	// JiraBaseURL links story keys to their Jira issues ("https://acme.atlassian.net"); empty: no links.
	JiraBaseURL string
	// MaxRows caps the story table (DefaultMaxRows when 0).
	MaxRows int
}

// The view the template sees: every value already chosen, formatted and made safe for XML, so the template
// only lays it out (and html/template escapes it once more).
type pageView struct {
	ProjectID, ProjectName string
	ReleaseName            string
	RunCount               int
	DataAsOf               string
	LatestRun              *runView
	StoryCount             int
	Failed, Passed         int
	Skipped, NoTests       int
	Stories                []storyView
	MoreStories            int
	Runs                   []runView
	Releases               []releaseView
	MoreReleases           int
	// Trend and Flaky are the project page's (a release page has neither): the report's trend, oldest
	// first, for the Chart macro, and its flaky list.
	Trend      []trendView
	Flaky      []flakyView
	TrendShown bool // the project page: the trend and flaky sections are rendered
}

// trendView is one chart row; a null figure is an empty cell, which the Chart macro leaves out of its line.
type trendView struct {
	Release, Coverage, PassRate string
}

type flakyView struct {
	Name, Suite string
	Flips, Runs int
	Stories     string
}

type storyView struct {
	Key, URL             string
	Percent, Methods     string
	Passed, Failed, Skip int
	Status, Colour       string
	LastRun              *runView
}

type runView struct {
	Name, URL, Status, Colour, StartedAt string
	Tests, Passed, Failed, Skipped       int
	Build, Branch, Environment, Release  string
}

type releaseView struct {
	Name     string
	Runs     []runView
	MoreRuns int
}

// ParseTemplate parses a page template (templates/confluence/page.html.tmpl or an override).
func ParseTemplate(src []byte) (*template.Template, error) {
	t, err := template.New("page.html.tmpl").Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("confluence page template: %w", err)
	}
	return t, nil
}

// Render renders one page body in storage format.
func Render(t *template.Template, in PageInput) ([]byte, error) {
	v := view(in)
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("confluence page template: %w", err)
	}
	if b.Len() > MaxBodyBytes {
		return nil, fmt.Errorf("confluence page of project %q is %d bytes, over covsync's %d-byte limit: lower confluence max_rows (now %d)",
			in.Project.ID, b.Len(), MaxBodyBytes, rowCap(in.MaxRows))
	}
	return b.Bytes(), nil
}

func rowCap(n int) int {
	if n <= 0 {
		return DefaultMaxRows
	}
	return n
}

// TitleData is what the title templates see: {{.Project.Name}}, {{.Release.Name}}.
type TitleData struct {
	Project *report.Project
	Release *report.Release
}

// Title renders a title template (text/template) and makes the result a valid Confluence title: control
// characters dropped, spaces trimmed, at most 255 characters.
func Title(tmpl string, d TitleData) (string, error) {
	t, err := texttemplate.New("title").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("title template %q: %w", tmpl, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("title template %q: %w", tmpl, err)
	}
	s := strings.Join(strings.Fields(clean(b.String())), " ")
	if s == "" {
		return "", fmt.Errorf("title template %q renders an empty title", tmpl)
	}
	return fieldtext.TruncateUTF16(s, maxTitle), nil
}

var jiraKey = regexp.MustCompile(`^[A-Z][A-Z0-9]+-[0-9]+$`)

func view(in PageInput) pageView {
	p := in.Project
	v := pageView{ProjectID: text(p.ID), ProjectName: text(p.Name), DataAsOf: when(p.DataAsOf), RunCount: p.RunCount}
	latest := p.LatestRun
	stories := p.Stories
	if in.Release != nil {
		// A release page's latest run is the release's own newest run.
		latest = nil
		if len(in.Release.Runs) > 0 {
			latest = &in.Release.Runs[0]
		}
		v.ReleaseName = text(in.Release.Name)
		stories = nil
		for _, s := range p.Stories {
			if s.LastRun != nil && s.LastRun.Release == in.Release.Name {
				stories = append(stories, s)
			}
		}
	}
	if latest != nil {
		r := runRow(*latest)
		v.LatestRun = &r
	}
	v.StoryCount = len(stories)
	sorted := slices.Clone(stories)
	slices.SortStableFunc(sorted, worstFirst)
	for i, s := range sorted {
		switch s.Status {
		case report.StatusFailed:
			v.Failed++
		case report.StatusPassed:
			v.Passed++
		case report.StatusSkipped:
			v.Skipped++
		default:
			v.NoTests++
		}
		if i < rowCap(in.MaxRows) {
			v.Stories = append(v.Stories, storyRow(s, in.JiraBaseURL))
		}
	}
	v.MoreStories = len(sorted) - len(v.Stories)

	if in.Release != nil {
		v.Runs, _ = runRows(in.Release.Runs, maxRuns)
		return v
	}
	v.Runs, _ = runRows(latestRuns(p), maxRuns)
	v.TrendShown = true
	for _, x := range p.Trend {
		v.Trend = append(v.Trend, trendView{Release: text(x.Release), Coverage: figure(x.CoveragePercent), PassRate: figure(x.PassRate)})
	}
	for _, f := range p.Flaky {
		v.Flaky = append(v.Flaky, flakyView{Name: text(f.Name), Suite: text(f.Suite), Flips: f.Flips, Runs: f.Runs,
			Stories: text(strings.Join(f.Stories, ", "))})
	}
	if !in.ReleasePages {
		for i, rel := range p.Releases {
			if i == maxReleases {
				v.MoreReleases = len(p.Releases) - maxReleases
				break
			}
			rv := releaseView{Name: text(rel.Name)}
			rv.Runs, rv.MoreRuns = runRows(rel.Runs, maxReleaseRuns)
			v.Releases = append(v.Releases, rv)
		}
	}
	return v
}

// worstFirst orders stories as a release manager reads them: failed first, then lowest coverage (no
// coverage data lowest of all), then by key so equal stories keep a stable order.
func worstFirst(a, b report.Story) int {
	fa, fb := a.Status == report.StatusFailed, b.Status == report.StatusFailed
	if fa != fb {
		if fa {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(coverage(a), coverage(b)); c != 0 {
		return c
	}
	return cmp.Compare(a.Key, b.Key)
}

func coverage(s report.Story) float64 {
	if s.CoveragePercent == nil {
		return -1
	}
	return *s.CoveragePercent
}

func storyRow(s report.Story, jiraBase string) storyView {
	sv := storyView{
		Key: text(s.Key), Percent: "–", Passed: s.Tests.Passed, Failed: s.Tests.Failed, Skip: s.Tests.Skipped,
		Status: s.Status, Colour: statusColour(s.Status),
	}
	if sv.Status == "" {
		sv.Status = report.StatusNoTests
	}
	if jiraBase != "" && jiraKey.MatchString(s.Key) {
		sv.URL = strings.TrimRight(jiraBase, "/") + "/browse/" + url.PathEscape(s.Key)
	}
	if s.CoveragePercent != nil {
		sv.Percent = fmt.Sprintf("%.1f%%", *s.CoveragePercent)
	}
	if s.CoveredMethods != nil && s.TotalMethods != nil {
		sv.Methods = fmt.Sprintf("%d/%d", *s.CoveredMethods, *s.TotalMethods)
	}
	if r := s.LastRun; r != nil {
		sv.LastRun = &runView{Name: text(r.Name), URL: text(report.WebURL(r.URL)), StartedAt: when(r.StartedAt), Release: text(r.Release)}
	}
	return sv
}

func runRow(r report.Run) runView {
	return runView{
		Name: text(r.Name), URL: text(report.WebURL(r.URL)), Status: text(r.Status), Colour: statusColour(r.Status),
		StartedAt: when(r.StartedAt), Tests: r.Tests, Passed: r.Passed, Failed: r.Failed, Skipped: r.Skipped + r.Pending + r.Other,
		Build: text(r.Build), Branch: text(r.Branch), Environment: text(r.Environment), Release: text(r.Release),
	}
}

func runRows(runs []report.Run, n int) ([]runView, int) {
	var out []runView
	for i, r := range runs {
		if i == n {
			return out, len(runs) - n
		}
		out = append(out, runRow(r))
	}
	return out, 0
}

// latestRuns gathers the project's runs (every release's and the latest one), newest first, each once.
func latestRuns(p *report.Project) []report.Run {
	seen := map[string]bool{}
	var runs []report.Run
	add := func(r report.Run) {
		if !seen[r.ID] {
			seen[r.ID] = true
			runs = append(runs, r)
		}
	}
	if p.LatestRun != nil {
		add(*p.LatestRun)
	}
	for _, rel := range p.Releases {
		for _, r := range rel.Runs {
			add(r)
		}
	}
	slices.SortStableFunc(runs, func(a, b report.Run) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return runs
}

// statusColour maps a status to the status macro's colour: Green passed, Red failed, Yellow skipped, Grey
// no tests (https://confluence.atlassian.com/doc/status-macro-223222355.html: Grey, Red, Yellow, Green, Blue).
func statusColour(s string) string {
	switch s {
	case report.StatusPassed:
		return "Green"
	case report.StatusFailed:
		return "Red"
	case report.StatusSkipped:
		return "Yellow"
	}
	return "Grey"
}

// figure is a percentage as a chart cell: one decimal, or empty for null.
func figure(v *float64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf("%.1f", *v)
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// text makes s safe to place in XML after escaping: invalid UTF-8 becomes U+FFFD, characters XML 1.0 does
// not allow (most C0 controls, surrogates, U+FFFE/U+FFFF) are dropped, and it is cut to maxText runes.
func text(s string) string {
	s = clean(s)
	if utf8.RuneCountInString(s) > maxText {
		s = string([]rune(s)[:maxText-1]) + "…"
	}
	return s
}

func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF) {
			return r
		}
		return -1
	}, s)
}
