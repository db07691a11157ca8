package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covsync/covsync/internal/fixture"
)

func TestTheIngestLineSaysWhereTheStartCameFromAndWhenTheSummaryDisagrees(t *testing.T) {
	cfg := sourceConfig(t)
	mustRun(t, "migrate", "--config", cfg)
	out := mustRun(t, "ingest", "ctrf", "--config", cfg, "--project", "shop", fixture.CTRF(t, "field/gotest-terraform-provider-ncloud.json"))
	if !strings.Contains(out, "summary.start is 0 or missing") || !strings.Contains(out, "taken from the ingest time") {
		t.Errorf("Go reporter's start 0: %q", out)
	}
	out = mustRun(t, "ingest", "ctrf", "--config", cfg, "--project", "shop", fixture.CTRF(t, "field/junit-to-ctrf-sample.json"))
	if !strings.Contains(out, "start 2025-08-05T17:41:07Z taken from the timestamp") {
		t.Errorf("junit-to-ctrf's start 0 with a timestamp: %q", out)
	}
	f := filepath.Join(t.TempDir(), "retry.json")
	if err := os.WriteFile(f, []byte(`{"results":{"tool":{"name":"jest"},
		"summary":{"tests":2,"passed":0,"failed":2,"skipped":0,"pending":0,"other":0,"start":1763625600000,"stop":1763625601000},
		"tests":[{"name":"a","status":"passed","duration":1,"retries":1},{"name":"b","status":"failed","duration":1}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, "ingest", "ctrf", "--config", cfg, "--project", "shop", f)
	if !strings.Contains(out, "the summary says 2 tests: 0 passed, 2 failed") || !strings.Contains(out, "its tests are 2: 1 passed, 1 failed") {
		t.Errorf("a summary that disagrees with its tests: %q", out)
	}
}
