package confluence_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/confluence"
	"github.com/covsync/covsync/connectors/confluence/confluencesim"
	"github.com/covsync/covsync/sync/report"
	"github.com/covsync/covsync/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func pageTemplate(t testing.TB) []byte {
	t.Helper()
	b, err := templates.Default("confluence/page.html.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func render(t testing.TB, in confluence.PageInput) string {
	t.Helper()
	tmpl, err := confluence.ParseTemplate(pageTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := confluence.Render(tmpl, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := confluencesim.ParseStorage(string(b)); err != nil {
		t.Fatalf("rendered page is not valid storage format: %v\n%s", err, b)
	}
	return string(b)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the rendered page (go test -update rewrites it on purpose):\n%s", path, got)
	}
}

func TestRenderedPagesMatchTheirGoldenFiles(t *testing.T) {
	p := shopProject()
	golden(t, "project-page.golden.html", render(t, confluence.PageInput{Project: p, JiraBaseURL: "https://acme.atlassian.net"}))
	golden(t, "release-page.golden.html", render(t, confluence.PageInput{Project: p, Release: &p.Releases[0], ReleasePages: true}))
}

func TestRender(t *testing.T) {
	p := shopProject()
	tests := []struct {
		name     string
		in       confluence.PageInput
		contains []string
		absent   []string
	}{
		{
			name: "values with markup characters are escaped, never interpreted",
			in:   confluence.PageInput{Project: p},
			contains: []string{
				"build &lt;470&gt; &amp; &#34;friends&#34;",
				`href="https://ci.example/build/482?x=1&amp;y=2"`,
			},
			absent: []string{"<470>", "&nbsp;"},
		},
		{
			name:     "story keys link to Jira when a Jira base URL is given, Azure Boards keys do not",
			in:       confluence.PageInput{Project: p, JiraBaseURL: "https://acme.atlassian.net/"},
			contains: []string{`<a href="https://acme.atlassian.net/browse/SHOP-1">SHOP-1</a>`, "<td>AB#101</td>"},
		},
		{
			name:   "without a Jira mapping no story is a link",
			in:     confluence.PageInput{Project: p},
			absent: []string{"/browse/"},
		},
		{
			name: "each status shows as the status macro in its colour",
			in:   confluence.PageInput{Project: p},
			contains: []string{
				`<ac:parameter ac:name="colour">Red</ac:parameter><ac:parameter ac:name="title">failed</ac:parameter>`,
				`<ac:parameter ac:name="colour">Green</ac:parameter><ac:parameter ac:name="title">passed</ac:parameter>`,
				`<ac:parameter ac:name="colour">Yellow</ac:parameter><ac:parameter ac:name="title">skipped</ac:parameter>`,
				`<ac:parameter ac:name="colour">Grey</ac:parameter><ac:parameter ac:name="title">no tests</ac:parameter>`,
			},
		},
		{
			name:     "the header shows when the data was measured and the latest run",
			in:       confluence.PageInput{Project: p},
			contains: []string{"Data as of 2026-11-20 16:03 UTC", `latest run <a href="https://ci.example/build/482?x=1&amp;y=2">build 482</a>`},
		},
		{
			name:     "the project page has a section per release when release pages are off",
			in:       confluence.PageInput{Project: p},
			contains: []string{"<h2>Release 2.4.0</h2>", "<h2>Release 2.3.1</h2>"},
		},
		{
			name:   "the project page has no release sections when each release has its page",
			in:     confluence.PageInput{Project: p, ReleasePages: true},
			absent: []string{"<h2>Release "},
		},
		{
			name:     "a release page lists only the stories and latest run of that release",
			in:       confluence.PageInput{Project: p, Release: &p.Releases[1], ReleasePages: true},
			contains: []string{"SHOP-4", "release <strong>2.3.1</strong>", "latest run build &lt;470&gt;"},
			absent:   []string{"SHOP-1<", "SHOP-2<"},
		},
		{
			name:     "a row cap keeps the worst stories and counts the rest",
			in:       confluence.PageInput{Project: p, MaxRows: 2},
			contains: []string{">SHOP-1<", ">SHOP-4<", "… and 3 more"},
			absent:   []string{">SHOP-2<", ">SHOP-3<", ">AB#101<"},
		},
		{
			name:     "a project without data says so",
			in:       confluence.PageInput{Project: &report.Project{ID: "empty", Name: "Empty"}},
			contains: []string{"Data as of – (no data yet)", "No stories yet.", "No runs yet."},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, tc.in)
			for _, s := range tc.contains {
				if s != "" && !strings.Contains(got, s) {
					t.Errorf("page lacks %q:\n%s", s, got)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(got, s) {
					t.Errorf("page has %q:\n%s", s, got)
				}
			}
		})
	}
}

func TestStoriesAreSortedWorstFirst(t *testing.T) {
	got, _, _ := strings.Cut(render(t, confluence.PageInput{Project: shopProject()}), "<h2>Latest runs")
	_, got, _ = strings.Cut(got, "<h2>Coverage by story") // the story table only, not the trend or flaky tables
	// failed first, then lowest coverage (none lowest of all), key last.
	want := []string{"SHOP-1", "SHOP-4", "SHOP-3", "AB#101", "SHOP-2"}
	re := regexp.MustCompile(`<tr><td>([^<]+)</td>`)
	var keys []string
	for _, m := range re.FindAllStringSubmatch(got, -1) {
		keys = append(keys, m[1])
	}
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("story order = %v, want %v", keys, want)
	}
}

func TestRenderingIsAPureFunctionOfTheData(t *testing.T) {
	a := render(t, confluence.PageInput{Project: shopProject()})
	b := render(t, confluence.PageInput{Project: shopProject()})
	if a != b {
		t.Fatal("two renders of the same report differ")
	}
	p := shopProject()
	*p.Stories[0].CoveragePercent = 80
	if render(t, confluence.PageInput{Project: p}) == a {
		t.Fatal("a changed coverage figure did not change the page")
	}
}

func TestNonLatinAndHostileNamesRenderAsValidXML(t *testing.T) {
	p := shopProject()
	p.Name = `Магазин 商店 "<script>alert('x')</script>" & &nbsp; ]]> ` + "\x01\x0b\uFFFE" + string([]byte{0xff})
	p.LatestRun.Name = `<![CDATA[ x ]]> ' " & < >`
	p.LatestRun.URL = `javascript:alert(1)`
	p.Stories[0].Key = `SHOP-1"><ac:x/>`
	p.Releases[0].Name = "Версия 2.4 <beta> & “smart” quotes"
	got := render(t, confluence.PageInput{Project: p, JiraBaseURL: "https://acme.atlassian.net"})
	for _, bad := range []string{"<script>", "javascript:", "<ac:x/>", "&nbsp;", "\x01"} {
		if strings.Contains(got, bad) {
			t.Errorf("page contains %q unescaped:\n%s", bad, got)
		}
	}
	if !strings.Contains(got, "Версия 2.4 &lt;beta&gt; &amp; “smart” quotes") {
		t.Errorf("non-Latin release name not rendered as text:\n%s", got)
	}
}

func TestFiveThousandStoriesStayWithinTheRowCapAndTheBodyLimit(t *testing.T) {
	p := bigProject(5000)
	got := render(t, confluence.PageInput{Project: p, MaxRows: 500, JiraBaseURL: "https://acme.atlassian.net"})
	if rows := strings.Count(got, "/browse/SHOP-"); rows != 500 {
		t.Errorf("story rows = %d, want 500", rows)
	}
	if !strings.Contains(got, "… and 4500 more") {
		t.Error(`no "… and 4500 more" line`)
	}
	if len(got) > confluence.MaxBodyBytes || len(got) > confluencesim.DefaultMaxBodyBytes {
		t.Errorf("body is %d bytes, over the limit", len(got))
	}
	t.Logf("5,000 stories, 500 rows: %d bytes", len(got))
}

func TestARowCapTooHighForTheBodyLimitIsAClearError(t *testing.T) {
	tmpl, err := confluence.ParseTemplate(pageTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = confluence.Render(tmpl, confluence.PageInput{Project: bigProject(5000), MaxRows: 5000, JiraBaseURL: "https://acme.atlassian.net"})
	if err == nil || !strings.Contains(err.Error(), "max_rows") {
		t.Fatalf("err = %v, want one naming max_rows", err)
	}
}

func TestTitle(t *testing.T) {
	p := shopProject()
	tests := []struct {
		name, tmpl, want string
		rel              *report.Release
		wantErr          bool
	}{
		{name: "the default title names the project", tmpl: config.DefaultPageTitle, want: "Test coverage: Shop & Co <web>"},
		{name: "a release title names the release", tmpl: config.DefaultReleaseTitle, rel: &p.Releases[0], want: "Test coverage: Shop & Co <web> 2.4.0"},
		{name: "control characters and runs of spaces go", tmpl: "a\x01  b\n{{.Project.ID}}", want: "a b shop"},
		{name: "a title that renders empty is an error", tmpl: "  ", wantErr: true},
		{name: "a broken template is an error", tmpl: "{{.Project.Nope}}", wantErr: true},
		{name: "a long title is cut to 255 characters", tmpl: strings.Repeat("é", 300), want: strings.Repeat("é", 254) + "…"},
		{name: "an emoji title is cut to 255 UTF-16 units, as Confluence counts", tmpl: strings.Repeat("🚀", 200), want: strings.Repeat("🚀", 127) + "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := confluence.Title(tc.tmpl, confluence.TitleData{Project: p, Release: tc.rel})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("title = %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzRender(f *testing.F) {
	f.Add("Shop & Co", "SHOP-1", "build 482", "https://ci.example/b?x=1&y=2", "2.4.0", 3)
	f.Add("<![CDATA[", "]]>", "&nbsp;", "javascript:alert(1)", "\x00\x01", 0)
	f.Add("Магазин 商店", `"'<>`, "\uFFFE\uD7FF", "http://a/\u2028", string([]byte{0xff, 0xfe}), 1)
	tmpl, err := confluence.ParseTemplate(pageTemplate(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, key, run, url, release string, rows int) {
		p := shopProject()
		p.Name, p.ID = name, name
		p.Stories[0].Key = key
		p.LatestRun.Name, p.LatestRun.URL = run, url
		p.Releases[0].Name = release
		p.Releases[0].Runs[0].Name = run
		p.Stories[1].LastRun.Name, p.Stories[1].LastRun.URL = run, url
		// The trend chart and the flaky table carry the same hostile values.
		p.Trend[0].Release, p.Trend[1].Release = release, name
		*p.Trend[1].PassRate = float64(rows%2001) / 10
		p.Flaky[0].Name, p.Flaky[0].Suite, p.Flaky[0].Stories = key, run, []string{key, url}
		p.Flaky[1].Name, p.Flaky[1].Flips = url, rows
		for _, rp := range []bool{false, true} {
			var rel *report.Release
			if rp {
				rel = &p.Releases[0]
			}
			b, err := confluence.Render(tmpl, confluence.PageInput{Project: p, Release: rel, ReleasePages: rp, MaxRows: rows % 10, JiraBaseURL: "https://acme.atlassian.net"})
			if err != nil {
				t.Fatal(err)
			}
			if err := confluencesim.ParseStorage(string(b)); err != nil {
				t.Fatalf("not valid storage format: %v\n%s", err, b)
			}
			if len(b) > confluence.MaxBodyBytes {
				t.Fatalf("body is %d bytes", len(b))
			}
			if bytes.Contains(b, []byte("&nbsp;")) {
				t.Fatal("&nbsp; in body")
			}
		}
	})
}
