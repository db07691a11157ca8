package postgres

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/covsync/covsync/internal/fixture"
)

// sharedReports lists every real CTRF report of testdata/ctrf at the module root (the schema file is not a report).
func sharedReports(t *testing.T) []string {
	t.Helper()
	dir := fixture.CTRFDir(t)
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") && filepath.Base(p) != "ctrf.schema.json" {
			out = append(out, p)
		}
		return err
	})
	if err != nil || len(out) < 10 {
		t.Fatalf("shared reports: %v (found %d)", err, len(out))
	}
	return out
}

func TestEveryReportInSharedTestdataParses(t *testing.T) {
	want := map[string]struct {
		tool          string
		tests, failed int
	}{
		"vitest-testream-reporter.json": {"vitest", 52, 3},
		"playwright-cryptpad.json":      {"playwright", 1, 1},
		"playwright-dart-code.json":     {"playwright", 1, 0},
		"jest-instance-scheduler.json":  {"jest", 1, 0},
		"cypress-csip-ui.json":          {"cypress", 2, 0},
		"comprehensive.json":            {"example-runner", 3, 1},
		"minimal.json":                  {"example-runner", 1, 0},
		"with-diagnostics.json":         {"example-runner", 1, 1},
		"with-insights.json":            {"example-runner", 2, 0},
		"with-retries.json":             {"example-runner", 2, 0},
		// testdata/ctrf/field: more tools and languages.
		"gotest-terraform-provider-ncloud.json": {"gotest", 7, 0},
		"junit-to-ctrf-sample.json":             {"junit-to-ctrf", 10, 2},
		"dotnet-challenge-kata.json":            {"dotnet", 7, 7},
		"pytest-petswagger.json":                {"pytest", 53, 5},
		"ska-oso-pht-ui.json":                   {"cypress", 2, 0},
		"jest-ctrf-json-reporter.json":          {"jest", 21, 0},
		"playwright-flaky-test-project.json":    {"playwright", 10, 9},
	}
	for _, p := range sharedReports(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := ParseCTRF(data)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			w, ok := want[filepath.Base(p)]
			if !ok {
				t.Fatalf("a new shared report: add its counts to this table")
			}
			failed := 0
			for _, x := range rep.Tests {
				if x.Status == "failed" {
					failed++
				}
			}
			if rep.Tool != w.tool || len(rep.Tests) != w.tests || rep.Summary.Tests != w.tests || failed != w.failed {
				t.Errorf("tool %q, %d tests (summary %d), %d failed; want %q, %d, %d", rep.Tool, len(rep.Tests),
					rep.Summary.Tests, failed, w.tool, w.tests, w.failed)
			}
			if rep.Start.Year() < 2020 || rep.Start.Year() > 2030 {
				t.Errorf("start %v: not read as milliseconds", rep.Start)
			}
		})
	}
}

func TestLenientReading(t *testing.T) {
	t.Run("per-test start in seconds while the summary is in milliseconds", func(t *testing.T) {
		rep := parseFile(t, fixture.CTRF(t, "playwright-cryptpad.json"))
		if got, want := rep.Tests[0].Start, time.Unix(1745507076, 0).UTC(); !got.Equal(want) {
			t.Errorf("test start %v, want %v", got, want)
		}
		if got, want := rep.Start, time.UnixMilli(1745507073294).UTC(); !got.Equal(want) {
			t.Errorf("run start %v, want %v", got, want)
		}
	})
	t.Run("ANSI escapes are stripped from messages", func(t *testing.T) {
		rep := parseFile(t, fixture.CTRF(t, "playwright-cryptpad.json"))
		if got, want := rep.Tests[0].Message, "Test timeout of 90000ms exceeded."; got != want {
			t.Errorf("message %q, want %q", got, want)
		}
	})
	t.Run("suite as an array is joined, as a string kept", func(t *testing.T) {
		rep := parseFile(t, filepath.Join("testdata", "ctrf", "shop-tickets.json"))
		if rep.Tests[0].Suite != "Checkout > Coupons" || rep.Tests[2].Suite != "Cart" {
			t.Errorf("suites %q, %q", rep.Tests[0].Suite, rep.Tests[2].Suite)
		}
	})
	t.Run("the Go reporter's filepath, retry and flake spellings and float durations", func(t *testing.T) {
		rep := parseFile(t, filepath.Join("testdata", "ctrf", "go-reporter.json"))
		x := rep.Tests[0]
		if x.File != "cart/cart_test.go" || x.Retries != 2 || !x.Flaky || x.DurationMS != 0.25 {
			t.Errorf("got file %q retries %d flaky %v duration %v", x.File, x.Retries, x.Flaky, x.DurationMS)
		}
		if rep.RunName() != "build 483" || rep.Build() != "483" {
			t.Errorf("run name %q build %q, want build 483 from a string buildNumber", rep.RunName(), rep.Build())
		}
	})
	t.Run("a report without environment is named by tool and start time", func(t *testing.T) {
		rep := parseFile(t, fixture.CTRF(t, "jest-instance-scheduler.json"))
		if got, want := rep.RunName(), "jest 2024-09-13 19:37"; got != want {
			t.Errorf("run name %q, want %q", got, want)
		}
	})
	t.Run("no summary.start falls back to the timestamp", func(t *testing.T) {
		rep, err := ParseCTRF([]byte(`{"timestamp":"2026-11-20T08:00:00Z","results":{"tool":{"name":"x"},
			"summary":{"tests":0,"passed":0,"failed":0,"skipped":0,"pending":0,"other":0},"tests":[]}}`))
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC); !rep.Start.Equal(want) {
			t.Errorf("start %v, want %v", rep.Start, want)
		}
	})
}

func TestTicketLinks(t *testing.T) {
	for _, c := range []struct {
		name string
		tags []string
		test string
		want []string
	}{
		{"a Jira key in the name", nil, "[SHOP-12] adds an item", []string{"SHOP-12"}},
		{"a Go subtest name with underscores", nil, "TestCart/SHOP-12_adds_an_item", []string{"SHOP-12"}},
		{"an Azure Boards mention", nil, "syncs the wishlist AB#123", []string{"AB#123"}},
		{"a tag that is a key, a tag that holds one", []string{"SHOP-1", "@SHOP-2", "smoke"}, "x", []string{"SHOP-1", "SHOP-2"}},
		{"tags first, each key once", []string{"SHOP-2"}, "SHOP-1 and SHOP-2", []string{"SHOP-2", "SHOP-1"}},
		{"lower case is not a key", []string{"shop-1"}, "shop-2", nil},
		{"a key inside a word is not a key", nil, "XAB#1 fooSHOP-1", nil},
		{"no digits, no key", nil, "SHOP- and AB#", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := tickets(c.tags, c.test); !slices.Equal(got, c.want) {
				t.Errorf("tickets(%q, %q) = %q, want %q", c.tags, c.test, got, c.want)
			}
		})
	}
}

// validCTRF is a report with two tests that the refusal cases below break one field at a time.
const validCTRF = `{"results":{"tool":{"name":"jest"},
  "summary":{"tests":2,"passed":1,"failed":1,"skipped":0,"pending":0,"other":0,"start":1763625600000,"stop":1763625601000},
  "tests":[{"name":"a","status":"passed","duration":1},{"name":"b","status":"failed","duration":2}]}}`

func TestRefusedReportsNameThePath(t *testing.T) {
	for _, c := range []struct {
		name, old, new string
		path           string // the JSON path in the error, or "line L, column C" for syntax errors
		msg            string
	}{
		{"a status outside the enum", `"status":"failed"`, `"status":"broken"`, "results.tests[1].status", `"broken" is not one of`},
		{"a missing status", `"status":"failed",`, ``, "results.tests[1].status", "missing"},
		{"a missing name", `"name":"b",`, ``, "results.tests[1].name", "missing"},
		{"a missing duration", `,"duration":2`, ``, "results.tests[1].duration", "missing"},
		{"a negative duration", `"duration":2`, `"duration":-2`, "results.tests[1].duration", "negative"},
		{"a negative count", `"failed":1,`, `"failed":-1,`, "results.summary.failed", "-1 is negative"},
		{"a fractional count", `"passed":1,`, `"passed":1.5,`, "results.summary.passed", "not a whole number"},
		{"a missing count", `"other":0,`, ``, "results.summary.other", "missing"},
		{"a count of the wrong type", `"tests":2,`, `"tests":"2",`, "results.summary.tests", "want a number"},
		{"a missing tool name", `{"name":"jest"}`, `{}`, "results.tool.name", "missing"},
		{"tests that are not an array", `"tests":[{"name":"a","status":"passed","duration":1},{"name":"b","status":"failed","duration":2}]`, `"tests":"none"`, "results.tests", "want an array"},
		{"a test that is not an object", `{"name":"a","status":"passed","duration":1}`, `7`, "results.tests[0]", "want an object"},
		{"a tag that is not a string", `"duration":2}`, `"duration":2,"tags":["ok",3]}`, "results.tests[1].tags[1]", "want a string"},
		{"another format", `{"results"`, `{"reportFormat":"JUnit","results"`, "reportFormat", `want "CTRF"`},
		{"a start beyond the year 9999", `"start":1763625600000`, `"start":1e300`, "results.summary.start", "not a time"},
		{"invalid JSON", `"passed":1,`, `"passed":1,,`, "line 2, column 36", "invalid JSON"},
		{"a truncated file", `}]}}`, `}]`, "line 3, column ", "unexpected end"},
		{"no results at all", `{"results":`, `{"result":`, "results", "missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := strings.Replace(validCTRF, c.old, c.new, 1)
			if in == validCTRF {
				t.Fatalf("case does not change the report: %q not found", c.old)
			}
			_, err := ParseCTRF([]byte(in))
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an *InputError", err)
			}
			if !strings.Contains(err.Error(), c.path+":") && !strings.HasPrefix(err.Error(), c.path) {
				t.Errorf("error %q does not name %q", err, c.path)
			}
			if !strings.Contains(ie.Msg, c.msg) {
				t.Errorf("error %q does not say %q", err, c.msg)
			}
		})
	}
	t.Run("the CTRF JSON schema is not a report", func(t *testing.T) {
		_, err := ParseCTRF(mustRead(t, fixture.CTRF(t, "ctrf-io/ctrf.schema.json")))
		if err == nil || err.Error() != "results: missing" {
			t.Errorf("got %v, want results: missing", err)
		}
	})
	t.Run("the valid report itself is accepted", func(t *testing.T) {
		if _, err := ParseCTRF([]byte(validCTRF)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRefusedCoverageNamesThePath(t *testing.T) {
	const valid = `{"project":"shop","measuredAt":"2026-11-20T09:00:00Z","stories":[
		{"ticket":"SHOP-1","coveredMethods":157,"totalMethods":200},
		{"ticket":"AB#101","coveredMethods":1,"totalMethods":3}]}`
	for _, c := range []struct{ name, old, new, path, msg string }{
		{"covered above total", `"coveredMethods":1,`, `"coveredMethods":4,`, "stories[1].coveredMethods", "more than totalMethods 3"},
		{"negative covered", `"coveredMethods":157`, `"coveredMethods":-1`, "stories[0].coveredMethods", "negative"},
		{"negative total", `"totalMethods":3`, `"totalMethods":-3`, "stories[1].totalMethods", "negative"},
		{"a missing total", `,"totalMethods":200`, ``, "stories[0].totalMethods", "missing"},
		{"a bad time", `2026-11-20T09:00:00Z`, `20.11.2026`, "measuredAt", "not an RFC 3339 time"},
		{"a missing project", `"project":"shop",`, ``, "project", "missing"},
		{"an empty project", `"project":"shop"`, `"project":" "`, "project", "empty"},
		{"a ticket that is no key", `"ticket":"AB#101"`, `"ticket":"wishlist"`, "stories[1].ticket", "not a ticket key"},
		{"a ticket given twice", `"ticket":"AB#101"`, `"ticket":"SHOP-1"`, "stories[1].ticket", "already given in stories[0]"},
		{"stories missing", `"stories":[`, `"storeys":[`, "stories", "missing"},
		{"invalid JSON", `"stories":[`, `"stories":[,`, "line 1, column", "invalid JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := strings.Replace(valid, c.old, c.new, 1)
			if in == valid {
				t.Fatalf("case does not change the file: %q not found", c.old)
			}
			_, err := ParseCoverage([]byte(in))
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an *InputError", err)
			}
			if !strings.HasPrefix(err.Error(), c.path) || !strings.Contains(ie.Msg, c.msg) {
				t.Errorf("error %q, want %s: …%s…", err, c.path, c.msg)
			}
		})
	}
	t.Run("the valid file itself is accepted", func(t *testing.T) {
		c, err := ParseCoverage([]byte(valid))
		if err != nil || len(c.Stories) != 2 || c.Stories[0].CoveredMethods != 157 {
			t.Fatalf("got %+v, %v", c, err)
		}
	})
}

func parseFile(t *testing.T, path string) *CTRFReport {
	t.Helper()
	rep, err := ParseCTRF(mustRead(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
