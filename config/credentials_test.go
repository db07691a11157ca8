package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadCredentials covers how secrets reach the config: token_env, token_file, the database URL,
// url_file and password_file, and the file-mode and literal-secret rules.
func TestLoadCredentials(t *testing.T) {
	runLoadCases(t, []loadTest{
		{
			name: "a literal token is refused with a hint to use token_env or token_file",
			yaml: minimal + `jira:
  - name: acme
    url: https://acme.atlassian.net
    auth:
      type: bearer
      token: abc123
`,
			want: []string{"8: jira[0].auth.token: not allowed: a token never goes in the config file: use token_env", "6: jira[0].auth: missing credentials"},
		},
		{
			name: "a password key under database is refused",
			yaml: minimal + "  password: hunter2\n",
			want: []string{"3: database.password: not allowed: a password never goes in the config file"},
		},
		{
			name: "a password key under auth points at token_env and token_file",
			yaml: strings.Replace(jiraSection, "token_env: JIRA_TOKEN", "password: x", 1),
			want: []string{"6: jira[0].auth.password: not allowed: a token never goes in the config file", "6: jira[0].auth: missing credentials"},
		},
		{
			name: "switching TLS verification off is refused with a pointer to ca_file",
			yaml: jiraSection + "    insecure_skip_verify: true\n",
			want: []string{"8: jira[0].insecure_skip_verify: not allowed: TLS verification is always on: give the server's CA with ca_file instead"},
		},
		{
			name: "a URL with credentials in it is refused without echoing them",
			yaml: strings.Replace(jiraSection, "https://acme.atlassian.net", "https://bot:s3cret-in-url@acme.atlassian.net", 1),
			want: []string{"5: jira[0].url: must not hold credentials: give them in auth"},
		},
		{
			name: "a token_env naming an unset variable is a missing credential",
			yaml: jiraSection,
			env:  map[string]string{"JIRA_TOKEN": "<unset>"},
			want: []string{"6: jira[0].auth.token_env: environment variable JIRA_TOKEN is not set"},
		},
		{
			name: "an empty token variable is a missing credential",
			yaml: jiraSection,
			env:  map[string]string{"JIRA_TOKEN": "  "},
			want: []string{"6: jira[0].auth.token_env: environment variable JIRA_TOKEN is empty"},
		},
		{
			name: "a token_env that is not a variable name is refused",
			yaml: strings.Replace(jiraSection, "token_env: JIRA_TOKEN", "token_env: $JIRA_TOKEN", 1),
			want: []string{`6: jira[0].auth.token_env: "$JIRA_TOKEN" is not an environment variable name`},
		},
		{
			name: "a target without token_env or token_file is refused",
			yaml: strings.Replace(jiraSection, ", token_env: JIRA_TOKEN", "", 1),
			want: []string{"6: jira[0].auth: missing credentials: set token_env: VAR"},
		},
		{
			name:  "both token_env and token_file is refused",
			yaml:  strings.Replace(jiraSection, "token_env: JIRA_TOKEN", "token_env: JIRA_TOKEN, token_file: tok", 1),
			files: map[string]file{"tok": {"t", 0o600}},
			want:  []string{"6: jira[0].auth.token_file: set token_env or token_file, not both"},
		},
		{
			name:  "a relative token_file is read from beside the config file",
			yaml:  strings.Replace(jiraSection, "token_env: JIRA_TOKEN", "token_file: secrets/jira", 1),
			files: map[string]file{"secrets/jira": {"file-token-3\n", 0o600}},
			check: func(t *testing.T, c *Config) {
				eq(t, "token", c.Jira[0].Auth.Token.Reveal(), "file-token-3")
				eq(t, "path", filepath.Base(c.Jira[0].Auth.TokenFile), "jira")
				eq(t, "abs", filepath.IsAbs(c.Jira[0].Auth.TokenFile), true)
			},
		},
		{
			name:  "a token file readable by others is refused naming the file and its mode",
			yaml:  strings.Replace(jiraSection, "token_env: JIRA_TOKEN", "token_file: jira_token", 1),
			files: map[string]file{"jira_token": {"t", 0o644}},
			want:  []string{"6: jira[0].auth.token_file: file */jira_token is open to group or others (mode 0644)"},
		},
		{
			name:  "a token file readable by its group is refused",
			yaml:  strings.Replace(jiraSection, "token_env: JIRA_TOKEN", "token_file: jira_token", 1),
			files: map[string]file{"jira_token": {"t", 0o640}},
			want:  []string{"6: jira[0].auth.token_file: file */jira_token is open to group or others (mode 0640)"},
		},
		{
			name:  "an empty token file is refused",
			yaml:  strings.Replace(jiraSection, "token_env: JIRA_TOKEN", "token_file: jira_token", 1),
			files: map[string]file{"jira_token": {"\n", 0o600}},
			want:  []string{"6: jira[0].auth.token_file: file */jira_token is empty"},
		},
		{
			name: "a missing token file is refused naming it",
			yaml: strings.Replace(jiraSection, "token_env: JIRA_TOKEN", "token_file: /nonexistent/jira_token", 1),
			want: []string{"6: jira[0].auth.token_file: file /nonexistent/jira_token does not exist"},
		},
		{
			name: "basic auth without an email is refused",
			yaml: strings.Replace(jiraSection, "email: bot@acme.example, ", "", 1),
			want: []string{"6: jira[0].auth.email: missing: basic auth needs the account's email"},
		},
		{
			name: "an email without an @ is refused",
			yaml: strings.Replace(jiraSection, "bot@acme.example", "bot", 1),
			want: []string{`6: jira[0].auth.email: "bot" is not an email address`},
		},
		{
			name: "an unknown auth type is refused",
			yaml: strings.Replace(jiraSection, "type: basic", "type: oauth", 1),
			want: []string{`6: jira[0].auth.type: unknown auth type "oauth": this target takes basic or bearer`},
		},
		{
			name: "a missing auth type is refused",
			yaml: strings.Replace(jiraSection, "type: basic, ", "", 1),
			want: []string{"6: jira[0].auth.type: missing: one of basic, bearer"},
		},
		{
			name: "ado takes only pat auth",
			yaml: minimal + adoSection("basic"),
			want: []string{`6: ado[0].auth.type: unknown auth type "basic": this target takes pat`},
		},
		{
			name:  "ado auth defaults to pat",
			yaml:  minimal + adoSection(""),
			check: func(t *testing.T, c *Config) { eq(t, "type", c.ADO[0].Auth.Type, "pat") },
		},
		{
			name:  "a ca_file without a certificate is refused",
			yaml:  jiraSection + "    ca_file: ca.pem\n",
			files: map[string]file{"ca.pem": {"not a cert", 0o644}},
			want:  []string{"8: jira[0].ca_file: */ca.pem holds no PEM certificate"},
		},
		{
			name: "a missing ca_file is refused",
			yaml: jiraSection + "    ca_file: /nonexistent/ca.pem\n",
			want: []string{"8: jira[0].ca_file: cannot read /nonexistent/ca.pem"},
		},
		{
			name: "a missing database url is refused",
			yaml: "log: {level: info}\n",
			want: []string{"0: database.url: missing: set url"},
		},
		{
			name: "an unset database url variable is reported once",
			yaml: minimal,
			env:  map[string]string{"DB": "<unset>"},
			want: []string{"2: database.url: environment variable DB is not set"},
		},
		{
			name: "a literal password in database.url is refused",
			yaml: "database:\n  url: postgres://covsync:hunter2@db/covsync\n",
			want: []string{"2: database.url: holds a literal password: put the whole URL in the environment"},
		},
		{
			name: "a literal password in a key=value database.url is refused",
			yaml: "database:\n  url: host=db user=covsync password=hunter2\n",
			want: []string{"2: database.url: holds a literal password"},
		},
		{
			name:  "a password from the environment inside database.url is fine",
			yaml:  "database:\n  url: postgres://covsync:${PGPW}@db/covsync\n",
			env:   map[string]string{"PGPW": "pw-from-env"},
			check: func(t *testing.T, c *Config) { has(t, c.Secrets(), "pw-from-env") },
		},
		{
			name:  "password_file puts the password into a URL",
			yaml:  minimal + "  password_file: pw\n",
			files: map[string]file{"pw": {"p@ss word'\n", 0o600}},
			check: func(t *testing.T, c *Config) {
				eq(t, "url", c.Database.URL.Reveal(), "postgres://covsync:p%40ss%20word%27@127.0.0.1:5432/covsync?sslmode=disable")
				has(t, c.Secrets(), "p@ss word'")
			},
		},
		{
			name:  "password_file puts the password into a key=value connection string",
			yaml:  minimal + "  password_file: pw\n",
			env:   map[string]string{"DB": "host=127.0.0.1 user=covsync dbname=covsync"},
			files: map[string]file{"pw": {`it's\x`, 0o400}},
			check: func(t *testing.T, c *Config) {
				eq(t, "url", c.Database.URL.Reveal(), `host=127.0.0.1 user=covsync dbname=covsync password='it\'s\\x'`)
				has(t, c.Secrets(), `it's\x`)
			},
		},
		{
			name:  "password_file with a url that already has a password is refused",
			yaml:  minimal + "  password_file: pw\n",
			env:   map[string]string{"DB": "postgres://covsync:other@db/covsync"},
			files: map[string]file{"pw": {"pw", 0o600}},
			want:  []string{"3: database.password_file: the url already holds a password"},
		},
		{
			name:  "a password_file readable by others is refused naming the file",
			yaml:  minimal + "  password_file: pw\n",
			files: map[string]file{"pw": {"pw", 0o644}},
			want:  []string{"3: database.password_file: file */pw is open to group or others (mode 0644)"},
		},
		{
			name:  "url_file reads the whole URL from a private file",
			yaml:  "database:\n  url_file: dburl\n",
			files: map[string]file{"dburl": {"postgres://covsync:file-pw@db:5432/covsync\n", 0o600}},
			check: func(t *testing.T, c *Config) {
				eq(t, "url", c.Database.URL.Reveal(), "postgres://covsync:file-pw@db:5432/covsync")
				has(t, c.Secrets(), "file-pw")
			},
		},
		{
			name:  "url and url_file together are refused",
			yaml:  minimal + "  url_file: dburl\n",
			files: map[string]file{"dburl": {"postgres://db/covsync", 0o600}},
			want:  []string{"3: database.url_file: set url or url_file, not both"},
		},
		{
			name: "a database url pgx cannot parse is refused without echoing its password",
			yaml: minimal,
			env:  map[string]string{"DB": "postgres://covsync:env-pw-9@db:notaport/covsync"},
			want: []string{"2: database.url: not a valid PostgreSQL connection string: "},
			check: func(t *testing.T, c *Config) {
				t.Fatal("must not load")
			},
		},
		{
			name: "source_schema equal to covsync's own schema is refused",
			yaml: minimal + "  source_schema: covsync\n",
			want: []string{`3: database.source_schema: "covsync" is covsync's own schema`},
		},
		{
			name: "a source_schema that is not an identifier is refused",
			yaml: minimal + "  source_schema: my-schema\n",
			want: []string{`3: database.source_schema: "my-schema" is not a schema name`},
		},
		{
			name: "an empty file reports the missing database url",
			yaml: "",
			want: []string{"0: database.url: missing"},
		},
		{
			name: "a secret expanded into a problem message is masked",
			yaml: jiraSection + "projects:\n  - id: shop\n    jira: {target: acme, project_key: \"${JIRA_TOKEN}\"}\n",
			want: []string{`10: projects[0].jira.project_key: "******" is not a Jira project key`},
		},
	})
}
