package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covsync/covsync/internal/fixture"
	"github.com/covsync/covsync/internal/pgtest"
)

// sourceConfig writes a config for a fresh database (the URL comes through ${VAR} expansion, as in
// production) and returns its path.
func sourceConfig(t *testing.T) string {
	t.Helper()
	t.Setenv("COVSYNC_TEST_SOURCE_URL", pgtest.URL(t))
	p := filepath.Join(t.TempDir(), "covsync.yaml")
	cfg := "database:\n  url: ${COVSYNC_TEST_SOURCE_URL}\n  source_schema: covsync_source\nlog:\n  level: warn\n"
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustRun runs covsync and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := execute(t, args...)
	if code != exitOK {
		t.Fatalf("covsync %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

const postgresTestdata = "../../connectors/postgres/testdata"

// ingestShopData migrates and ingests every shared CTRF report, two reports with ticket links (each in a
// release) and a coverage file into project shop.
func ingestShopData(t *testing.T, cfg string) {
	t.Helper()
	out := mustRun(t, "migrate", "--config", cfg)
	if !strings.Contains(out, "source (covsync_source): applied migrations 1 to 3") {
		t.Errorf("migrate printed %q", out)
	}
	dir := fixture.CTRFDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	more, _ := filepath.Glob(filepath.Join(dir, "ctrf-io", "*.json"))
	for _, f := range append(files, more...) {
		if filepath.Base(f) == "ctrf.schema.json" {
			continue
		}
		mustRun(t, "ingest", "ctrf", "--config", cfg, "--project", "shop", f)
	}
	mustRun(t, "ingest", "ctrf", "--config", cfg, "--project", "shop", "--release", "2.4.0",
		filepath.Join(postgresTestdata, "ctrf", "go-reporter.json"))
	mustRun(t, "ingest", "ctrf", "--config", cfg, "--project", "shop", "--release", "2.5.0",
		"--run-url", "https://ci.example.com/shop/482?attempt=2", filepath.Join(postgresTestdata, "ctrf", "shop-tickets.json"))
	mustRun(t, "ingest", "coverage", "--config", cfg, filepath.Join(postgresTestdata, "coverage", "shop.json"))
}

func TestReportMatchesTheGoldenFiles(t *testing.T) {
	cfg := sourceConfig(t)
	ingestShopData(t, cfg)
	for _, c := range []struct{ output, golden string }{{"json", "shop.json"}, {"text", "shop.txt"}} {
		t.Run(c.output, func(t *testing.T) {
			got := mustRun(t, "report", "--config", cfg, "--project", "shop", "--output", c.output)
			golden := filepath.Join("testdata", "report", c.golden)
			if updateGolden() {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("report --output %s differs from %s (run with -update after checking the change):\n%s", c.output, golden, got)
			}
		})
	}
}

func TestARefusedFileLeavesTheReportExactlyAsItWas(t *testing.T) {
	cfg := sourceConfig(t)
	ingestShopData(t, cfg)
	before := mustRun(t, "report", "--config", cfg, "--project", "shop", "--output", "json")
	beforeText := mustRun(t, "report", "--config", cfg, "--project", "shop")

	dir := t.TempDir()
	good, err := os.ReadFile(fixture.CTRF(t, "vitest-testream-reporter.json"))
	if err != nil {
		t.Fatal(err)
	}
	// A new report (another start time, so not a duplicate) whose fourth test has a status outside the enum.
	bad := strings.Replace(string(good), `"start": 1773918887003`, `"start": 1773918999000`, 1)
	bad = replaceNth(t, bad, `"status": "passed"`, `"status": "exploded"`, 4)
	badFile := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badFile, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	covFile := filepath.Join(dir, "cov.json")
	if err := os.WriteFile(covFile, []byte(`{"project":"shop","measuredAt":"2026-11-22T00:00:00Z","stories":[
		{"ticket":"SHOP-1","coveredMethods":199,"totalMethods":200},{"ticket":"SHOP-2","coveredMethods":-1,"totalMethods":3}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ingest", "ctrf", "--config", cfg, "--project", "shop", "--release", "9.9.9", badFile},
			badFile + `: results.tests[3].status: "exploded" is not one of passed, failed, skipped, pending, other`},
		{[]string{"ingest", "coverage", "--config", cfg, covFile}, covFile + ": stories[1].coveredMethods: -1 is negative"},
	} {
		code, _, errOut := execute(t, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, %q; want exit 2 and %q", c.args[1], code, errOut, c.want)
		}
	}
	if after := mustRun(t, "report", "--config", cfg, "--project", "shop", "--output", "json"); after != before {
		t.Errorf("report --output json changed after refused files:\nbefore %s\nafter %s", before, after)
	}
	if after := mustRun(t, "report", "--config", cfg, "--project", "shop"); after != beforeText {
		t.Errorf("report text changed after refused files:\nbefore %s\nafter %s", beforeText, after)
	}
}

func TestIngestAndReportCommandLine(t *testing.T) {
	cfg := sourceConfig(t)
	report := filepath.Join(postgresTestdata, "ctrf", "shop-tickets.json")
	mustRun(t, "migrate", "--config", cfg)
	for _, c := range []struct {
		name string
		args []string
		code int
		want string // in stdout for exit 0, else in stderr
	}{
		{"migrate again applies nothing", []string{"migrate", "--config", cfg}, exitOK,
			"source (covsync_source): up to date at version 3 of 3"},
		{"a report is stored as a run", []string{"ingest", "ctrf", "--config", cfg, "--project", "shop", report}, exitOK,
			"stored run 1 (build 482) of project shop: 6 tests, 7 links to 4 tickets (project created)"},
		{"the same report again is not stored twice", []string{"ingest", "ctrf", "--config", cfg, "--project", "shop", report}, exitOK,
			"already ingested as run 1 (build 482) of project shop; nothing stored"},
		{"the text report shows the stories", []string{"report", "--config", cfg, "--project", "shop"}, exitOK,
			"SHOP-1  -         -        1       1       0        failed"},
		{"ingest without --project", []string{"ingest", "ctrf", "--config", cfg, report}, exitUsage, "--project is required"},
		{"ingest with a run URL that is not one", []string{"ingest", "ctrf", "--config", cfg, "--project", "shop",
			"--run-url", "ci/482", report}, exitUsage, `--run-url "ci/482": want an http(s) URL`},
		{"ingest without a file", []string{"ingest", "ctrf", "--config", cfg, "--project", "shop"}, exitUsage, "accepts 1 arg"},
		{"ingest a file that does not exist", []string{"ingest", "coverage", "--config", cfg, "nope.json"}, exitUsage, "open nope.json"},
		{"ingest without saying what", []string{"ingest"}, exitUsage, "say what to ingest"},
		{"report on an unknown project", []string{"report", "--config", cfg, "--project", "shpo"}, exitUsage,
			`project "shpo": unknown project (known: shop)`},
		{"report in another format", []string{"report", "--config", cfg, "--project", "shop", "-o", "yaml"}, exitUsage,
			`--output "yaml": want text or json`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := execute(t, c.args...)
			where := out
			if c.code != exitOK {
				where = errOut
			}
			if code != c.code || !strings.Contains(where, c.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, c.code, c.want)
			}
		})
	}
}

func TestMigrateLeavesTheSourceSchemaAloneWhenAsked(t *testing.T) {
	cfg := sourceConfig(t)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgText := strings.Replace(string(b), "  source_schema: covsync_source\n", "  source_schema: theirs\n  migrate_source: false\n", 1)
	if err := os.WriteFile(cfg, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "migrate", "--config", cfg)
	if !strings.Contains(out, "covsync (covsync): applied") || !strings.Contains(out, "source (theirs): left alone") {
		t.Errorf("migrate printed %q", out)
	}
	code, _, errOut := execute(t, "report", "--config", cfg, "--project", "shop")
	if code != exitUsage || !strings.Contains(errOut, "covsync migrate") {
		t.Errorf("report on a missing source schema: exit %d, %q", code, errOut)
	}
}

// replaceNth replaces the n-th (1-based) occurrence of old in s.
func replaceNth(t *testing.T, s, old, new string, n int) string {
	t.Helper()
	i := -1
	for range n {
		j := strings.Index(s[i+1:], old)
		if j < 0 {
			t.Fatalf("fewer than %d %q", n, old)
		}
		i += j + 1
	}
	return s[:i] + new + s[i+len(old):]
}
