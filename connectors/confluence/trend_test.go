package confluence_test

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/covsync/covsync/connectors/confluence"
	"github.com/covsync/covsync/connectors/confluence/confluencesim"
	"github.com/covsync/covsync/sync/report"
)

// pageXML is what a storage-format body says, read as XML: the chart macros (their parameters and data rows)
// and the rows of the table under each h2 heading.
type pageXML struct {
	charts   []chartXML
	sections map[string][][]string // h2 text → rows of the first table after it (header included)
}

type chartXML struct {
	params map[string]string
	rows   [][]string
}

// readPage parses body the way Confluence does (namespaces declared, strict XML) and collects pageXML.
func readPage(t *testing.T, body string) pageXML {
	t.Helper()
	doc := `<ac:confluence xmlns="http://www.w3.org/1999/xhtml" xmlns:ac="` + confluencesim.NamespaceAC +
		`" xmlns:ri="` + confluencesim.NamespaceRI + `">` + body + `</ac:confluence>`
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = true
	out := pageXML{sections: map[string][][]string{}}
	var (
		chart            *chartXML
		param, heading   string
		inParam, inHead  bool
		rows             *[][]string
		row              []string
		cell             strings.Builder
		inCell           bool
		headingTableDone = map[string]bool{}
	)
	acName := func(se xml.StartElement) string {
		for _, a := range se.Attr {
			if a.Name.Space == confluencesim.NamespaceAC && a.Name.Local == "name" {
				return a.Value
			}
		}
		return ""
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("page does not parse as XML: %v\n%s", err, body)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			switch {
			case x.Name.Space == confluencesim.NamespaceAC && x.Name.Local == "structured-macro" && acName(x) == "chart":
				out.charts = append(out.charts, chartXML{params: map[string]string{}})
				chart = &out.charts[len(out.charts)-1]
			case x.Name.Space == confluencesim.NamespaceAC && x.Name.Local == "parameter" && chart != nil:
				param, inParam = acName(x), true
				cell.Reset()
			case x.Name.Local == "h2":
				inHead = true
				cell.Reset()
			case x.Name.Local == "table":
				switch {
				case chart != nil:
					rows = &chart.rows
				case heading != "" && !headingTableDone[heading]:
					headingTableDone[heading] = true
					r := [][]string{}
					out.sections[heading] = r
					rows = &r
				}
			case x.Name.Local == "tr":
				row = nil
			case x.Name.Local == "td" || x.Name.Local == "th":
				inCell = true
				cell.Reset()
			}
		case xml.CharData:
			if inCell || inParam || inHead {
				cell.Write(x)
			}
		case xml.EndElement:
			switch {
			case x.Name.Space == confluencesim.NamespaceAC && x.Name.Local == "structured-macro" && chart != nil && rows == nil:
				chart = nil
			case x.Name.Space == confluencesim.NamespaceAC && x.Name.Local == "parameter" && inParam:
				chart.params[param], inParam = cell.String(), false
			case x.Name.Local == "h2":
				heading, inHead = cell.String(), false
			case x.Name.Local == "td" || x.Name.Local == "th":
				row, inCell = append(row, cell.String()), false
			case x.Name.Local == "tr" && rows != nil:
				*rows = append(*rows, row)
			case x.Name.Local == "table" && rows != nil:
				if chart == nil {
					out.sections[heading] = *rows
				}
				rows = nil
			}
		}
	}
}

func TestTheTrendChartParsesAndItsRowsAreTheReportsTrend(t *testing.T) {
	p := shopProject()
	// More points, one of them 0 ÷ 0 and without coverage, and a release name that needs escaping.
	p.Trend = append(p.Trend, report.TrendPoint{Release: `3.0 <rc> & "final"`, Runs: 4, Tests: 10, Passed: 9, Failed: 1,
		PassRate: report.CoveragePercent(9, 10), CoveragePercent: report.CoveragePercent(2, 3)})
	pg := readPage(t, render(t, confluence.PageInput{Project: p}))
	if len(pg.charts) != 1 {
		t.Fatalf("%d chart macros, want 1", len(pg.charts))
	}
	c := pg.charts[0]
	if c.params["type"] != "line" || c.params["dataOrientation"] != "vertical" {
		t.Errorf("chart parameters %v, want type line and dataOrientation vertical", c.params)
	}
	want := [][]string{{"Release", "Coverage %", "Pass rate %"}}
	for _, x := range p.Trend {
		cell := func(v *float64) string {
			if v == nil {
				return ""
			}
			return strconv.FormatFloat(*v, 'f', 1, 64)
		}
		want = append(want, []string{x.Release, cell(x.CoveragePercent), cell(x.PassRate)})
	}
	if fmt.Sprint(c.rows) != fmt.Sprint(want) {
		t.Errorf("chart rows\n%q\nwant the report's trend, oldest first\n%q", c.rows, want)
	}
	// Every figure is a number the chart can plot, and equal to the report's.
	for i, r := range c.rows[1:] {
		for j, v := range []*float64{p.Trend[i].CoveragePercent, p.Trend[i].PassRate} {
			if v == nil {
				continue
			}
			f, err := strconv.ParseFloat(r[j+1], 64)
			if err != nil || f != *v {
				t.Errorf("row %d column %d = %q, want %v", i+1, j+1, r[j+1], *v)
			}
		}
	}

	flaky := pg.sections["Flaky tests"]
	wantFlaky := [][]string{{"Test", "Suite", "Flips", "Runs", "Stories"}}
	for _, f := range p.Flaky {
		wantFlaky = append(wantFlaky, []string{f.Name, f.Suite, fmt.Sprint(f.Flips), fmt.Sprint(f.Runs), strings.Join(f.Stories, ", ")})
	}
	if fmt.Sprint(flaky) != fmt.Sprint(wantFlaky) {
		t.Errorf("flaky table\n%q\nwant\n%q", flaky, wantFlaky)
	}
}

func TestWithoutTrendOrFlakyTestsThePageSaysSo(t *testing.T) {
	p := shopProject()
	p.Trend, p.Flaky = nil, nil
	got := render(t, confluence.PageInput{Project: p})
	if strings.Contains(got, `ac:name="chart"`) || !strings.Contains(got, "No release has runs yet.") ||
		!strings.Contains(got, "No flaky tests in the newest 20 runs.") {
		t.Errorf("empty trend and flaky list not said plainly:\n%s", got)
	}
}

func TestAReleasePageShowsItsOwnRunsAndNoProjectTrend(t *testing.T) {
	p := shopProject()
	got := render(t, confluence.PageInput{Project: p, Release: &p.Releases[1], ReleasePages: true})
	pg := readPage(t, got)
	if len(pg.charts) != 0 || strings.Contains(got, "Flaky tests") {
		t.Errorf("a release page shows the project's trend or flaky list:\n%s", got)
	}
	runs := pg.sections["Latest runs"]
	if len(runs) != 2 || runs[1][0] != p.Releases[1].Runs[0].Name {
		t.Errorf("release page runs %q, want only %s's run", runs, p.Releases[1].Name)
	}
}

func TestAChangedTrendOrFlakyListChangesThePage(t *testing.T) {
	a := render(t, confluence.PageInput{Project: shopProject()})
	p := shopProject()
	p.Flaky[0].Flips++
	if render(t, confluence.PageInput{Project: p}) == a {
		t.Error("a changed flip count did not change the page")
	}
	p = shopProject()
	*p.Trend[1].CoveragePercent = 1
	if render(t, confluence.PageInput{Project: p}) == a {
		t.Error("a changed trend figure did not change the page")
	}
}
