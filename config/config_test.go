package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testEnv is the environment every case starts from; a case adds or removes (value "<unset>") variables.
var testEnv = map[string]string{
	"DB":         "postgres://covsync@127.0.0.1:5432/covsync?sslmode=disable",
	"JIRA_TOKEN": "jira-secret-1",
	"ADO_PAT":    "ado-secret-2",
}

// minimal is a valid config on lines 1-2; cases append from line 3.
const minimal = "database:\n  url: ${DB}\n"

const jiraSection = minimal + `jira:
  - name: acme
    url: https://acme.atlassian.net
    auth: {type: basic, email: bot@acme.example, token_env: JIRA_TOKEN}
    fields: {coverage_percent: Test Coverage}
`

type file struct {
	body string
	mode os.FileMode
}

// loadCase writes files into a temp dir beside the config and loads it with env.
func loadCase(t *testing.T, yaml string, env map[string]string, files map[string]file) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	for name, f := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.body), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil { // WriteFile's mode is filtered by the umask
			t.Fatal(err)
		}
	}
	e := map[string]string{"DIR": dir}
	for k, v := range testEnv {
		e[k] = v
	}
	for k, v := range env {
		if v == "<unset>" {
			delete(e, k)
		} else {
			e[k] = v
		}
	}
	lookup := func(k string) (string, bool) { v, ok := e[k]; return v, ok }
	path := filepath.Join(dir, "covsync.yaml")
	return load(path, []byte(yaml), lookup)
}

// problemLines renders problems as "LINE: KEY: MESSAGE" (no file), the form the cases expect.
func problemLines(err error) []string {
	var ps *Problems
	if !errors.As(err, &ps) {
		return nil
	}
	var out []string
	for _, p := range ps.List {
		out = append(out, fmt.Sprintf("%d: %s: %s", p.Line, p.Key, p.Msg))
	}
	return out
}

// loadTest is one row of the table tests: a config, its environment and files, and what Load must say.
type loadTest struct {
	name  string
	yaml  string
	env   map[string]string
	files map[string]file
	// want lists the expected problems, each a prefix of "LINE: KEY: MESSAGE"; all must be found and no
	// other problem reported. Empty: the config must load.
	want  []string
	check func(t *testing.T, c *Config)
}

func TestLoad(t *testing.T) {
	runLoadCases(t, []loadTest{
		{
			name: "a minimal config gets every default",
			yaml: minimal,
			check: func(t *testing.T, c *Config) {
				eq(t, "source_schema", c.Database.SourceSchema, "covsync_source")
				eq(t, "migrate_source", *c.Database.MigrateSource, true)
				eq(t, "max_conns", c.Database.MaxConns, int32(8))
				eq(t, "listen", c.HTTP.Listen, "127.0.0.1:9464")
				eq(t, "log level", c.Log.Level, "info")
				eq(t, "log format", c.Log.Format, "")
				eq(t, "workers", c.Workers.PerTarget, 64)
				eq(t, "url", c.Database.URL.Reveal(), testEnv["DB"])
			},
		},
		{
			name: "a target and project get their defaults",
			yaml: jiraSection + `confluence:
  - name: wiki
    url: https://acme.atlassian.net/wiki
    auth: {type: bearer, token_env: JIRA_TOKEN}
projects:
  - id: shop
    jira: {target: acme, project_key: SHOP}
    confluence: {target: wiki, space: QA}
`,
			check: func(t *testing.T, c *Config) {
				j := c.Jira[0]
				eq(t, "rps", j.RequestsPerSecond, 10.0)
				eq(t, "timeout", j.Timeout, 30*time.Second)
				eq(t, "token", j.Auth.Token.Reveal(), "jira-secret-1")
				eq(t, "fields", *c.Projects[0].Jira.Fields, true)
				eq(t, "linked_runs", c.Projects[0].Jira.LinkedRuns, false)
				eq(t, "on_manual_edit", c.Confluence[0].OnManualEdit, "overwrite")
				eq(t, "max_rows", c.Confluence[0].MaxRows, 500)
				eq(t, "title", c.Projects[0].Confluence.Title, "Test coverage: {{.Project.Name}}")
			},
		},
		{
			name: "an unknown top-level key is named with its line",
			yaml: minimal + "colour: blue\n",
			want: []string{`3: colour: unknown key "colour" (known here: ado, confluence, database, http, ingest, jira, log, projects, schedules, templates, workers)`},
		},
		{
			name: "a misspelled key suggests the right one",
			yaml: "database:\n  url: ${DB}\n  sourc_schema: x\n",
			want: []string{`3: database.sourc_schema: unknown key "sourc_schema" (did you mean "source_schema"?)`},
		},
		{
			name: "an unknown key inside a list entry names the entry",
			yaml: jiraSection + "    colour: blue\n",
			want: []string{`8: jira[0].colour: unknown key "colour"`},
		},
		{
			name: "an unset variable is named with its line",
			yaml: minimal + "log:\n  level: ${LOG_LEVEL}\n",
			want: []string{"4: log.level: environment variable LOG_LEVEL is not set"},
		},
		{
			name:  "a default written as ${VAR:-default} is used when the variable is unset",
			yaml:  minimal + "log:\n  level: ${LOG_LEVEL:-debug}\n",
			check: func(t *testing.T, c *Config) { eq(t, "level", c.Log.Level, "debug") },
		},
		{
			name:  "a set variable wins over its default",
			yaml:  minimal + "log:\n  level: ${LOG_LEVEL:-debug}\n",
			env:   map[string]string{"LOG_LEVEL": "warn"},
			check: func(t *testing.T, c *Config) { eq(t, "level", c.Log.Level, "warn") },
		},
		{
			name: "a malformed variable reference is a problem",
			yaml: minimal + "log:\n  level: ${LOG LEVEL}\n",
			want: []string{`4: log.level: "${LOG LEVEL}" is not a variable reference`},
		},
		{
			name: "an unterminated variable reference is a problem",
			yaml: minimal + "log:\n  level: ${LOG_LEVEL\n",
			want: []string{`4: log.level: unterminated "${LOG_LEVEL"`},
		},
		{
			name: "$${ writes a literal ${ in a template",
			yaml: jiraSection + `confluence:
  - name: wiki
    url: https://acme.atlassian.net/wiki
    auth: {type: bearer, token_env: JIRA_TOKEN}
projects:
  - id: shop
    confluence: {target: wiki, space: QA, title: "$${HOME} and $HOME {{.Project.Name}}"}
`,
			check: func(t *testing.T, c *Config) {
				eq(t, "title", c.Projects[0].Confluence.Title, "${HOME} and $HOME {{.Project.Name}}")
			},
		},
		{
			name: "a value from the environment cannot inject YAML structure",
			yaml: minimal + "log:\n  level: ${INJECT}\n",
			env:  map[string]string{"INJECT": "info\nhttp: {listen: 0.0.0.0:80}"},
			want: []string{`4: log.level: "info\nhttp: {listen: 0.0.0.0:80}" is not one of`},
		},
		{
			name:  "a number from the environment is typed as a number",
			yaml:  jiraSection + "    requests_per_second: ${RPS}\n",
			env:   map[string]string{"RPS": "2.5"},
			check: func(t *testing.T, c *Config) { eq(t, "rps", c.Jira[0].RequestsPerSecond, 2.5) },
		},
		{
			name: "a word where a number belongs names the key",
			yaml: jiraSection + "    requests_per_second: fast\n",
			want: []string{`8: jira[0].requests_per_second: expected a number, got "fast"`},
		},
		{
			name: "a bare number for a timeout asks for a duration",
			yaml: jiraSection + "    timeout: 30\n",
			want: []string{`8: jira[0].timeout: expected a duration such as 30s or 2m, got "30"`},
		},
		{
			name: "a word where true or false belongs names the key",
			yaml: minimal + "  auto_migrate: sometimes\n",
			want: []string{`3: database.auto_migrate: expected true or false, got "sometimes"`},
		},
		{
			name: "a list where a mapping belongs names the key",
			yaml: minimal + "log:\n  - level: info\n",
			want: []string{"3: log: expected a mapping of keys, got a list"},
		},
		{
			name: "a mapping where a list belongs names the key",
			yaml: minimal + "jira:\n  name: acme\n",
			want: []string{"3: jira: expected a list, got a mapping"},
		},
		{
			name: "an empty list entry is refused rather than dropped",
			yaml: minimal + "jira:\n  -\n",
			want: []string{"4: jira[0]: an empty entry: check the indentation"},
		},
		{
			name: "a file that is a list rather than a mapping is refused on its line",
			yaml: "- database\n",
			want: []string{"1: : expected a mapping of keys, got a list", "0: database.url: missing"},
		},
		{
			name: "a cron spec with six fields is refused",
			yaml: minimal + "schedules:\n  jira: \"0 */15 * * * *\"\n",
			want: []string{`4: schedules.jira: "0 */15 * * * *" is not a cron spec`},
		},
		{
			name: "a cron spec with a bad field is refused",
			yaml: minimal + "schedules:\n  ado: \"*/15 * * * mon-fri-sat\"\n",
			want: []string{`4: schedules.ado: "*/15 * * * mon-fri-sat" is not a cron spec`},
		},
		{
			name: "schedules.reconcile is @daily when unset",
			yaml: minimal,
			check: func(t *testing.T, c *Config) {
				eq(t, "reconcile", c.Schedules.ReconcileSpec(), "@daily")
			},
		},
		{
			name: "schedules.reconcile set empty turns reconcile cycles off",
			yaml: minimal + "schedules:\n  reconcile: \"\"\n",
			check: func(t *testing.T, c *Config) {
				eq(t, "reconcile", c.Schedules.ReconcileSpec(), "")
			},
		},
		{
			name: "a bad schedules.reconcile is refused on its line",
			yaml: minimal + "schedules:\n  reconcile: \"@fortnightly\"\n",
			want: []string{`4: schedules.reconcile: "@fortnightly" is not a cron spec`},
		},
		{
			name: "cron descriptors such as @every 10m and @hourly are accepted",
			yaml: minimal + "schedules:\n  jira: \"@every 10m\"\n  confluence: \"@hourly\"\n  linked_runs: \"*/5 * * * *\"\n",
			check: func(t *testing.T, c *Config) {
				eq(t, "jira", c.Schedules.Jira, "@every 10m")
			},
		},
		{
			name: "an unknown cron descriptor is refused",
			yaml: minimal + "schedules:\n  jira: \"@fortnightly\"\n",
			want: []string{`4: schedules.jira: "@fortnightly" is not a cron spec`},
		},
		{
			name: "an http URL to a remote host is refused",
			yaml: strings.Replace(jiraSection, "https://acme.atlassian.net", "http://acme.atlassian.net", 1),
			want: []string{"5: jira[0].url: http:// is allowed only for loopback hosts (localhost, 127.0.0.1, ::1): use https://acme.atlassian.net"},
		},
		{
			name:  "an http URL to a loopback host is accepted",
			yaml:  strings.Replace(jiraSection, "https://acme.atlassian.net", "http://127.0.0.1:8080", 1),
			check: func(t *testing.T, c *Config) { eq(t, "url", c.Jira[0].URL, "http://127.0.0.1:8080") },
		},
		{
			name:  "an http URL to localhost or ::1 is accepted",
			yaml:  strings.Replace(jiraSection, "https://acme.atlassian.net", "http://[::1]:8080", 1),
			check: func(t *testing.T, c *Config) { eq(t, "url", c.Jira[0].URL, "http://[::1]:8080") },
		},
		{
			name: "a URL of another scheme is refused",
			yaml: strings.Replace(jiraSection, "https://acme.atlassian.net", "ftp://acme.example", 1),
			want: []string{`5: jira[0].url: "ftp://acme.example" is not an https:// URL`},
		},
		{
			name: "a URL without a host is refused",
			yaml: strings.Replace(jiraSection, "https://acme.atlassian.net", "https:///rest", 1),
			want: []string{`5: jira[0].url: "https:///rest" has no host`},
		},
		{
			name: "a missing URL is refused",
			yaml: strings.Replace(jiraSection, "    url: https://acme.atlassian.net\n", "", 1),
			want: []string{"4: jira[0].url: missing"},
		},
		{
			name: "a Confluence Cloud URL without /wiki says where the wiki lives",
			yaml: minimal + `confluence:
  - name: wiki
    url: https://acme.atlassian.net
    auth: {type: bearer, token_env: JIRA_TOKEN}
`,
			want: []string{"5: confluence[0].url: Confluence Cloud lives under /wiki: write https://acme.atlassian.net/wiki"},
		},
		{
			name: "a project mapped to an undefined target names the defined ones",
			yaml: jiraSection + "projects:\n  - id: shop\n    jira: {target: acme2, project_key: SHOP}\n",
			want: []string{`10: projects[0].jira.target: jira target "acme2" is not defined (defined: acme)`},
		},
		{
			name: "a project mapped to a kind with no targets says there is no such section",
			yaml: minimal + "projects:\n  - id: shop\n    ado: {target: acme-ado, project: Shop}\n",
			want: []string{`5: projects[0].ado.target: ado target "acme-ado" is not defined: there is no ado: section`},
		},
		{
			name: "duplicate target names are reported",
			yaml: jiraSection + `  - name: acme
    url: https://other.atlassian.net
    auth: {type: bearer, token_env: JIRA_TOKEN}
`,
			want: []string{`8: jira[1].name: duplicate jira name "acme"`},
		},
		{
			name: "the same name for a jira and a confluence entry is fine",
			yaml: jiraSection + `confluence:
  - name: acme
    url: https://acme.atlassian.net/wiki
    auth: {type: bearer, token_env: JIRA_TOKEN}
`,
			check: func(t *testing.T, c *Config) { eq(t, "name", c.Confluence[0].Name, "acme") },
		},
		{
			name: "duplicate project ids are reported",
			yaml: jiraSection + "projects:\n  - id: shop\n    jira: {target: acme, project_key: SHOP}\n  - id: shop\n    jira: {target: acme, project_key: SHOP2}\n",
			want: []string{`11: projects[1].id: duplicate project id "shop"`},
		},
		{
			name: "two projects mapped to one jira project are refused, naming both",
			yaml: jiraSection + "projects:\n  - id: shop\n    jira: {target: acme, project_key: SHOP}\n  - id: shop-eu\n    jira: {target: acme, project_key: SHOP}\n",
			want: []string{`12: projects[1].jira.project_key: jira target "acme" project SHOP is also mapped by projects[0] (id "shop", line 10) to project "shop-eu"`},
		},
		{
			name: "two projects mapped to one ado project are refused whatever its case",
			yaml: minimal + adoSection("pat") + "projects:\n  - id: shop\n    ado: {target: acme-ado, project: Shop}\n  - id: shop-eu\n    ado: {target: acme-ado, project: shop}\n",
			want: []string{`12: projects[1].ado.project: ado target "acme-ado" project "shop" is also mapped by projects[0] (id "shop", line 10) to project "shop-eu"`},
		},
		{
			name: "two projects with one static confluence title in one space are refused",
			yaml: minimal + confluenceSection + "projects:\n  - id: shop\n    confluence: {target: wiki, space: QA, title: Coverage}\n  - id: shop-eu\n    confluence: {target: wiki, space: QA, title: Coverage}\n",
			want: []string{`11: projects[1].confluence.title: confluence target "wiki" space QA title "Coverage" is also mapped by projects[0] (id "shop", line 9) to project "shop-eu"`},
		},
		{
			name:  "projects sharing a site but not a destination are fine",
			yaml:  jiraSection + confluenceSection + "projects:\n  - id: shop\n    jira: {target: acme, project_key: SHOP}\n    confluence: {target: wiki, space: QA}\n  - id: shop-eu\n    jira: {target: acme, project_key: SHOPEU}\n    confluence: {target: wiki, space: QA}\n",
			check: func(t *testing.T, c *Config) { eq(t, "projects", len(c.Projects), 2) },
		},
		{
			name: "a target without a name is refused",
			yaml: strings.Replace(jiraSection, "name: acme", "name: \"\"", 1),
			want: []string{"4: jira[0].name: missing: every jira entry needs a name"},
		},
		{
			name: "an ado entry without its extension names each missing part",
			yaml: strings.Replace(minimal+adoSection("pat"), "    extension: {publisher: acme, id: cov, collection: coverage}\n", "", 1),
			want: []string{"4: ado[0].extension.publisher: missing", "4: ado[0].extension.id: missing", "4: ado[0].extension.collection: missing"},
		},
		{
			name: "an ado work-item field must be a known key with a reference name",
			yaml: minimal + adoSection("pat") + "    fields: {coverage: Custom.X, test_status: Test Status}\n",
			want: []string{`8: ado[0].fields.coverage: unknown field "coverage"`, `8: ado[0].fields.test_status: "Test Status" is not a work-item field reference name`},
		},
		{
			name: "an ado field reference name cannot start with an underscore",
			yaml: minimal + adoSection("pat") + "    fields: {test_status: _Custom.TestStatus}\n",
			want: []string{`8: ado[0].fields.test_status: "_Custom.TestStatus" is not a work-item field reference name`},
		},
		{
			name: "on_manual_edit takes overwrite or skip",
			yaml: minimal + "confluence:\n  - name: wiki\n    url: https://wiki.acme.example\n    auth: {type: bearer, token_env: JIRA_TOKEN}\n    on_manual_edit: merge\n",
			want: []string{`7: confluence[0].on_manual_edit: "merge" is not one of overwrite, skip`},
		},
		{
			name: "a max_rows of zero is refused",
			yaml: minimal + "confluence:\n  - name: wiki\n    url: https://wiki.acme.example\n    auth: {type: bearer, token_env: JIRA_TOKEN}\n    max_rows: 0\n",
			want: []string{"7: confluence[0].max_rows: must be 1 or more, got 0"},
		},
		{
			name: "requests_per_second of zero is refused",
			yaml: jiraSection + "    requests_per_second: 0\n",
			want: []string{"8: jira[0].requests_per_second: must be a number greater than 0, got 0"},
		},
		{
			name: "a negative requests_per_second is refused",
			yaml: jiraSection + "    requests_per_second: -1\n",
			want: []string{"8: jira[0].requests_per_second: must be a number greater than 0, got -1"},
		},
		{
			name: "a negative timeout is refused",
			yaml: jiraSection + "    timeout: -5s\n",
			want: []string{"8: jira[0].timeout: must be greater than 0, got -5s"},
		},
		{
			name:  "a timeout is a duration",
			yaml:  jiraSection + "    timeout: 1m30s\n",
			check: func(t *testing.T, c *Config) { eq(t, "timeout", c.Jira[0].Timeout, 90*time.Second) },
		},
		{
			name: "an unknown log level is refused",
			yaml: minimal + "log: {level: loud, format: xml}\n",
			want: []string{`3: log.level: "loud" is not one of debug, info, warn, error`, `3: log.format: "xml" is not one of json, text`},
		},
		{
			name: "log level and format are case-insensitive",
			yaml: minimal + "log: {level: DEBUG, format: Text}\n",
			check: func(t *testing.T, c *Config) {
				eq(t, "level", c.Log.Level, "debug")
				eq(t, "format", c.Log.Format, "text")
			},
		},
		{
			name: "http.listen without a port is refused",
			yaml: minimal + "http:\n  listen: 127.0.0.1\n",
			want: []string{`4: http.listen: "127.0.0.1" is not host:port`},
		},
		{
			name: "http.listen with a port out of range is refused",
			yaml: minimal + "http:\n  listen: 127.0.0.1:70000\n",
			want: []string{`4: http.listen: port "70000" is not a number from 0 to 65535`},
		},
		{
			name: "an api key hash that is not 64 hex characters is refused without echoing it",
			yaml: minimal + "http:\n  resync_api_key_sha256:\n    - my-plain-api-key\n    - " + strings.Repeat("AB", 32) + "\n",
			want: []string{"5: http.resync_api_key_sha256[0]: not a SHA-256 hash: expected 64 hex characters, got 16 characters"},
		},
		{
			name:  "api key hashes are stored lower-case",
			yaml:  minimal + "http:\n  resync_api_key_sha256: [" + strings.Repeat("AB", 32) + "]\n",
			check: func(t *testing.T, c *Config) { eq(t, "hash", c.HTTP.ResyncAPIKeySHA256[0], strings.Repeat("ab", 32)) },
		},
		{
			name: "a title template that does not parse is refused",
			yaml: jiraSection + `confluence:
  - name: wiki
    url: https://wiki.acme.example
    auth: {type: bearer, token_env: JIRA_TOKEN}
projects:
  - id: shop
    confluence: {target: wiki, space: QA, title: "Coverage {{.Project.Name"}
`,
			want: []string{"14: projects[0].confluence.title: not a valid template:"},
		},
		{
			name: "a parent page id that is not digits is refused",
			yaml: jiraSection + "confluence:\n  - name: wiki\n    url: https://wiki.acme.example\n    auth: {type: bearer, token_env: JIRA_TOKEN}\nprojects:\n  - id: shop\n    confluence: {target: wiki, space: QA, parent_page_id: Home}\n",
			want: []string{`14: projects[0].confluence.parent_page_id: "Home" is not a page id`},
		},
		{
			name: "a lower-case Jira project key is refused",
			yaml: jiraSection + "projects:\n  - id: shop\n    jira: {target: acme, project_key: shop}\n",
			want: []string{`10: projects[0].jira.project_key: "shop" is not a Jira project key`},
		},
		{
			name: "a jira mapping with fields and linked_runs off maps nothing",
			yaml: jiraSection + "projects:\n  - id: shop\n    jira: {target: acme, project_key: SHOP, fields: false}\n",
			want: []string{"10: projects[0].jira: maps nothing: fields is false and linked_runs is false"},
		},
		{
			name: "a jira mapping to a target without fields needs linked_runs",
			yaml: strings.Replace(jiraSection, "    fields: {coverage_percent: Test Coverage}\n", "", 1) + "projects:\n  - id: shop\n    jira: {target: acme, project_key: SHOP}\n",
			want: []string{`9: projects[0].jira: maps nothing: jira target "acme" names no fields and linked_runs is false`},
		},
		{
			name: "a project without an id is refused",
			yaml: jiraSection + "projects:\n  - jira: {target: acme, project_key: SHOP}\n",
			want: []string{"9: projects[0].id: missing"},
		},
		{
			name: "workers.per_target of zero is refused",
			yaml: minimal + "workers: {per_target: 0}\n",
			want: []string{"3: workers.per_target: must be 1 or more, got 0"},
		},
		{
			name: "a templates dir that does not exist is refused",
			yaml: minimal + "templates: {dir: /nonexistent/templates}\n",
			want: []string{"3: templates.dir: directory /nonexistent/templates does not exist"},
		},
		{
			name: "a YAML syntax error names its line",
			yaml: minimal + "log:\n  level: [info\n",
			want: []string{"*: : not valid YAML: did not find expected ',' or ']'"},
		},
		{
			name: "a duplicate key is a YAML error on its line",
			yaml: minimal + "log: {level: info}\nlog: {level: debug}\n",
			want: []string{`4: log: mapping key "log" already defined at line 3`},
		},
		{
			name: "a second YAML document is refused",
			yaml: minimal + "---\nlog: {level: info}\n",
			want: []string{"3: : a config is one YAML document"},
		},
		{
			name: "YAML merge keys share settings between targets",
			yaml: minimal + `jira:
  - &site
    name: acme
    url: https://acme.atlassian.net
    auth: {type: bearer, token_env: JIRA_TOKEN}
    fields: {test_status: Test Status}
  - <<: *site
    name: other
    colour: red
`,
			want: []string{`11: jira[1].colour: unknown key "colour"`},
		},
		{
			name: "every problem is reported, not only the first",
			yaml: `database:
  url: ${NOPE}
log: {level: loud}
schedules: {jira: "every day"}
jira:
  - name: acme
    url: http://acme.example
    auth: {type: basic, token_env: MISSING_TOKEN}
projects:
  - id: shop
    jira: {target: nowhere, project_key: SHOP}
`,
			want: []string{
				"2: database.url: environment variable NOPE is not set",
				`3: log.level: "loud" is not one of`,
				`4: schedules.jira: "every day" is not a cron spec`,
				"7: jira[0].url: http:// is allowed only for loopback hosts",
				"8: jira[0].auth.email: missing",
				"8: jira[0].auth.token_env: environment variable MISSING_TOKEN is not set",
				`11: projects[0].jira.target: jira target "nowhere" is not defined (defined: acme)`,
			},
		},
	})
}

// runLoadCases loads each case and checks its problems (all of them, and no others) or its config.
func runLoadCases(t *testing.T, tests []loadTest) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadCase(t, tt.yaml, tt.env, tt.files)
			got := problemLines(err)
			if err != nil && got == nil {
				t.Fatalf("error is not *Problems: %v", err)
			}
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("want no problems, got:\n  %s", strings.Join(got, "\n  "))
				}
			} else {
				if err == nil {
					t.Fatalf("want problems %q, config loaded", tt.want)
				}
				matched := map[int]bool{}
				for _, w := range tt.want {
					found := false
					for i, g := range got {
						if !matched[i] && globMatch(g, w) {
							matched[i], found = true, true
							break
						}
					}
					if !found {
						t.Errorf("missing problem %q; got:\n  %s", w, strings.Join(got, "\n  "))
					}
				}
				if len(got) != len(tt.want) {
					t.Errorf("want %d problems, got %d:\n  %s", len(tt.want), len(got), strings.Join(got, "\n  "))
				}
				for _, s := range []string{"jira-secret-1", "ado-secret-2", "env-pw-9", "s3cret-in-url", "hunter2", "my-plain-api-key"} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("problem text leaks %q:\n%s", s, err)
					}
				}
				return
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

// globMatch reports whether g starts with pattern w, where "*" in w stands for any text.
func globMatch(g, w string) bool {
	parts := strings.Split(w, "*")
	if !strings.HasPrefix(g, parts[0]) {
		return false
	}
	g = g[len(parts[0]):]
	for _, p := range parts[1:] {
		i := strings.Index(g, p)
		if i < 0 {
			return false
		}
		g = g[i+len(p):]
	}
	return true
}

// confluenceSection is a Confluence site named wiki on 3 lines.
const confluenceSection = `confluence:
  - name: wiki
    url: https://acme.atlassian.net/wiki
    auth: {type: bearer, token_env: JIRA_TOKEN}
`

func adoSection(authType string) string {
	typ := ""
	if authType != "" {
		typ = "type: " + authType + ", "
	}
	return `ado:
  - name: acme-ado
    organization_url: https://dev.azure.com/acme
    auth: {` + typ + `token_env: ADO_PAT}
    extension: {publisher: acme, id: cov, collection: coverage}
`
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func has(t *testing.T, list []string, s string) {
	t.Helper()
	for _, x := range list {
		if x == s {
			return
		}
	}
	t.Errorf("%q not in %q", s, list)
}
