package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/internal/testwait"
)

// TestDebugLogsCarryNoSecret logs at debug level through the real paths that handle secrets — loading a
// config whose tokens come from the environment and from a file and whose database password comes from a
// password_file, then failing to connect to the database with that password — and finds no secret in any
// line, in either format.
func TestDebugLogsCarryNoSecret(t *testing.T) {
	const (
		jiraToken = "jira-tok-Zq81!x"
		adoPAT    = "ado-pat-7f3c\"&<x>"
		wikiToken = "wiki-tok-55aa"
		dbPass    = "db-p@ss:w/rd 1"
	)
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			for name, v := range map[string]string{"wiki_token": wikiToken, "db_password": dbPass} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("REDACT_JIRA_TOKEN", jiraToken)
			t.Setenv("REDACT_ADO_PAT", adoPAT)
			t.Setenv("REDACT_DB", "postgres://covsync@127.0.0.1:"+strconv.Itoa(testwait.ClosedPort(t))+"/covsync?sslmode=disable")
			yaml := `database:
  url: ${REDACT_DB}
  password_file: db_password
log: {level: debug, format: ` + format + `}
jira:
  - name: acme
    url: http://127.0.0.1:9
    auth: {type: basic, email: bot@acme.example, token_env: REDACT_JIRA_TOKEN}
    fields: {test_status: Test Status}
ado:
  - name: acme-ado
    organization_url: http://127.0.0.1:9/acme
    auth: {type: pat, token_env: REDACT_ADO_PAT}
    extension: {publisher: acme, id: cov, collection: coverage}
confluence:
  - name: wiki
    url: http://127.0.0.1:9/wiki
    auth: {type: bearer, token_file: wiki_token}
projects:
  - id: shop
    jira: {target: acme, project_key: SHOP}
`
			p := filepath.Join(dir, "covsync.yaml")
			if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := newCheckCmd()
			if err := cmd.Flags().Set("config", p); err != nil {
				t.Fatal(err)
			}
			c, err := loadConfig(cmd)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			log := app.NewLogger(&buf, c)
			log.WithField("config", c).Debug("config loaded")
			log.Debugf("config %+v", *c)
			// Code that carelessly logs what it holds: the revealed values, a request's headers.
			log.Debugf("database url %s", c.Database.URL.Reveal())
			log.WithField("dsn", c.Database.URL.Reveal()).Debug("dsn as a field")
			log.WithField("token", c.Jira[0].Auth.Token.Reveal()).Debug("token as a field")
			log.Debugf("GET /rest/api/2/myself Authorization: Basic %s", c.Jira[0].Auth.Token.Reveal())
			log.Debugf("ado says %q", c.ADO[0].Auth.Token.Reveal())

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			pool, err := app.OpenPool(ctx, c)
			if err == nil {
				pool.Close()
				t.Fatal("openPool connected to a closed port")
			}
			log.WithError(err).Error("database unreachable")
			log.Debugf("openPool: %+v", err)

			out := buf.String()
			if n := strings.Count(out, "\n"); n != 9 {
				t.Fatalf("want 9 log lines, got %d:\n%s", n, out)
			}
			if !strings.Contains(out, "unreachable") || !strings.Contains(out, "127.0.0.1") {
				t.Fatalf("the failure itself must still be logged:\n%s", out)
			}
			for _, secret := range []string{jiraToken, adoPAT, wikiToken, dbPass, "db-p%40ss", "db-p@ss", "7f3c", `\u0026`} {
				if strings.Contains(out, secret) {
					t.Errorf("%s log leaks %q:\n%s", format, secret, out)
				}
			}
		})
	}
}
