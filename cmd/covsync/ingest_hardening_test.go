package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

const hardeningCTRF = `{"results":{"tool":{"name":"jest"},
  "summary":{"tests":1,"passed":1,"failed":0,"skipped":0,"pending":0,"other":0,"start":1763625600000},
  "environment":ENV,
  "tests":[{"name":"SHOP-1 works","status":"passed","duration":1}]}}`

// Hostile data from a report or the command line is refused with exit 2 naming the field, never stored and
// never a database error; names already stored with escape codes are printed escaped.
func TestIngestRefusesHostileDataWithTheField(t *testing.T) {
	cfg := sourceConfig(t)
	mustRun(t, "migrate", "--config", cfg)
	dir := t.TempDir()
	write := func(name, env string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Replace(hardeningCTRF, "ENV", env, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"buildNumber":"7"}`)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"a javascript: build URL", []string{write("js.json", `{"buildUrl":"javascript:alert(1)//"}`)},
			"js.json: results.environment.buildUrl: "},
		{"a run in the year 9999", []string{strings.Replace(write("y.json", `{}`), "", "", 1)}, ""},
		{"a whitespace-only release", []string{"--release", "  ", good}, "good.json: --release: empty"},
		{"a 2.6 KB release", []string{"--release", strings.Repeat("r", 2600), good}, "--release: is 2600 bytes long, at most 255"},
		{"invalid UTF-8 in a release", []string{"--release", "1.0\xff", good}, "is not valid UTF-8"},
		{"two results objects", []string{write("dup.json", `{}}, "results":{"x":1`)}, "dup.json: results: given twice"},
	} {
		if c.want == "" {
			y := filepath.Join(dir, "y.json")
			b, _ := os.ReadFile(y)
			_ = os.WriteFile(y, []byte(strings.Replace(string(b), "1763625600000", "253402300799000", 1)), 0o600)
			c.args, c.want = []string{y}, "y.json: results.summary.start: 9999-12-31T23:59:59Z is outside the accepted window"
		}
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"ingest", "ctrf", "--config", cfg, "--project", "shop"}, c.args...)
			code, out, errOut := execute(t, args...)
			if code != exitUsage || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, exitUsage, c.want)
			}
		})
	}
	mustRun(t, "ingest", "ctrf", "--config", cfg, "--project", "shop", "--release", " 2.0 ", good)
	// A run stored with an escape code in its name (before ingest stripped them) is printed escaped.
	conn, err := pgx.Connect(context.Background(), os.Getenv("COVSYNC_TEST_SOURCE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "UPDATE covsync_source.runs SET name = E'evil\\x1b]0;owned\\x07\\x1b[2J'"); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "report", "--config", cfg, "--project", "shop")
	if strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, `evil\x1b]0;owned\a\x1b[2J`) {
		t.Errorf("report printed %q", out)
	}
	if !strings.Contains(out, "\n2.0: 1 runs") {
		t.Errorf("release not stored trimmed as 2.0: %q", out)
	}
}
