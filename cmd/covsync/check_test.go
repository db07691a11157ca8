package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/internal/pgtest"
	"github.com/covsync/covsync/internal/testwait"
)

// exampleConfig copies deploy/config/covsync.example.yaml into a temp dir with its secrets dir pointed
// there, writes its credential files (mode 0600) and sets the environment variables it names.
func exampleConfig(t *testing.T, tokenMode os.FileMode) string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/config/covsync.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if !strings.Contains(string(b), "/run/secrets/confluence_token") {
		t.Fatal("example config no longer reads /run/secrets/confluence_token: update this test")
	}
	text := strings.ReplaceAll(string(b), "/run/secrets/", dir+"/")
	tok := filepath.Join(dir, "confluence_token")
	if err := os.WriteFile(tok, []byte("confluence-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tok, tokenMode); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COVSYNC_DATABASE_URL", "postgres://covsync@db.internal:5432/covsync?sslmode=verify-full")
	t.Setenv("JIRA_TOKEN", "jira-secret")
	t.Setenv("ADO_PAT", "ado-secret")
	p := filepath.Join(dir, "covsync.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckOfflinePassesTheExampleConfig(t *testing.T) {
	p := exampleConfig(t, 0o600)
	code, out, errOut := execute(t, "check", "--offline", "--config", p)
	if code != exitOK || !strings.HasPrefix(out, "OK: "+p) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(out, "1 jira, 1 ado, 1 confluence targets; 1 projects") {
		t.Errorf("summary: %s", out)
	}
}

func TestCheckOfflineRefusesACredentialFileOthersCanRead(t *testing.T) {
	p := exampleConfig(t, 0o644)
	code, out, _ := execute(t, "check", "--offline", "--config", p)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d; stdout: %s", code, exitUsage, out)
	}
	tok := filepath.Join(filepath.Dir(p), "confluence_token")
	want := "confluence[0].auth.token_file: file " + tok + " is open to group or others (mode 0644)"
	if !strings.Contains(out, want) {
		t.Fatalf("stdout lacks %q:\n%s", want, out)
	}
}

func TestCheckOfflineListsEveryProblemAndExits2(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.yaml")
	yaml := "database:\n  url: ${NOT_SET_ANYWHERE_1}\nlog: {level: loud}\ncolour: blue\n"
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := execute(t, "check", "--offline", "--config", p)
	if code != exitUsage {
		t.Fatalf("exit %d, want 2: %s", code, out)
	}
	for _, w := range []string{
		p + ": 3 problem(s):",
		p + ":2: database.url: environment variable NOT_SET_ANYWHERE_1 is not set",
		p + `:3: log.level: "loud" is not one of`,
		p + `:4: colour: unknown key "colour"`,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, out)
		}
	}
}

func TestCommandsRefuseABadConfigWithExit2AndTheProblemList(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(p, []byte("database:\n  url: ${NOT_SET_ANYWHERE_2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfigFor(t, p); err == nil {
		t.Fatal("loadConfig accepted a bad config")
	} else {
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), p+":2: database.url: environment variable NOT_SET_ANYWHERE_2 is not set") {
			t.Fatalf("loadConfig error: %v", err)
		}
	}
}

// loadConfigFor runs loadConfig as a command would, with --config path.
func loadConfigFor(t *testing.T, path string) (any, error) {
	t.Helper()
	cmd := newCheckCmd()
	if err := cmd.Flags().Set("config", path); err != nil {
		t.Fatal(err)
	}
	return loadConfig(cmd)
}

// dbConfig writes a config whose database is url (no targets) and returns its path.
func dbConfig(t *testing.T, url string) string {
	t.Helper()
	t.Setenv("CHECK_TEST_DB", url)
	p := filepath.Join(t.TempDir(), "covsync.yaml")
	yaml := "database:\n  url: ${CHECK_TEST_DB}\n  migrate_source: false\nlog: {level: debug}\n"
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckPassesAMigratedDatabase(t *testing.T) {
	url := migratedURL(t)
	code, out, errOut := execute(t, "check", "--config", dbConfig(t, url))
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, w := range []string{"✅  database", "✅  migrations", "covsync schema at the newest version", "OK: "} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, out)
		}
	}
}

func TestCheckFailsWithExit3WhenMigrationsArePending(t *testing.T) {
	code, out, _ := execute(t, "check", "--config", dbConfig(t, pgtest.URL(t)))
	if code != exitDependency {
		t.Fatalf("exit %d, want 3:\n%s", code, out)
	}
	for _, w := range []string{"✅  database", "❌  migrations", "covsync schema at version 0 of ", "run covsync migrate", "1 of 2 probes failed"} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, out)
		}
	}
}

func TestCheckFailsWithExit3WhenTheDatabaseIsUnreachable(t *testing.T) {
	url := "postgres://covsync:unreachable-pw-7@127.0.0.1:" + strconv.Itoa(testwait.ClosedPort(t)) + "/covsync?sslmode=disable&connect_timeout=5"
	code, out, errOut := execute(t, "check", "--config", dbConfig(t, url))
	if code != exitDependency {
		t.Fatalf("exit %d, want 3:\n%s", code, out)
	}
	for _, w := range []string{"❌  database", "unreachable", "❌  migrations", "not checked: the database is unreachable"} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out+errOut, "unreachable-pw-7") {
		t.Errorf("output leaks the password:\n%s\n%s", out, errOut)
	}
}

func TestCheckRunsEveryConnectorProbe(t *testing.T) {
	orig := probesOf
	t.Cleanup(func() { probesOf = orig })
	probesOf = func(c *config.Config, log *logrus.Logger, version string) []app.Probe {
		return append(orig(c, log, version), []app.Probe{
			{Name: "jira:acme", What: "myself, fields", Run: func(ctx context.Context) error { return nil }},
			{Name: "ado:acme-ado", What: "connection data", Run: func(ctx context.Context) error {
				return errors.New("401 Unauthorized: Authorization: Basic dXNlcjpzZWNyZXQ=")
			}},
		}...)
	}
	url := migratedURL(t)
	code, out, _ := execute(t, "check", "--config", dbConfig(t, url))
	if code != exitDependency {
		t.Fatalf("exit %d, want 3:\n%s", code, out)
	}
	for _, w := range []string{"✅  jira:acme", "myself, fields", "❌  ado:acme-ado", "401 Unauthorized: Authorization: Basic ******", "1 of 4 probes failed"} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "dXNlcjpzZWNyZXQ") {
		t.Errorf("probe reason leaks a credential:\n%s", out)
	}
}

// migratedURL returns a fresh database with covsync's own migrations applied (the source schema is left
// to the configs here, which set migrate_source: false).
func migratedURL(t *testing.T) string {
	t.Helper()
	url := pgtest.URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := postgres.Migrate(ctx, conn, postgres.MigrateOptions{SkipSource: true}); err != nil {
		t.Fatal(err)
	}
	return url
}
