package config

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

const fuzzSecret = "fuzz-secret-Q9"

func fuzzEnv(k string) (string, bool) {
	switch k {
	case "DB":
		return "postgres://covsync@127.0.0.1:5432/covsync", true
	case "JIRA_TOKEN", "ADO_PAT":
		return fuzzSecret, true
	case "EMPTY":
		return "", true
	}
	return "", false
}

// FuzzLoad feeds the loader arbitrary bytes. It must never panic or hang, must return either a config
// with its defaults filled or a *Problems whose every entry has a message and a line inside the file, must
// give the same answer twice, and must not put a token into a message unless the input itself expanded it
// into a non-secret key.
func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile(examplePath); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		minimal,
		jiraSection + "projects:\n  - id: shop\n    jira: {target: acme, project_key: SHOP, linked_runs: true}\n",
		minimal + adoSection("pat"),
		"database: {url: ${DB:-postgres://h/db}}\nlog: {level: ${LVL:-debug}}\n",
		"database:\n  url: ${DB}\njira:\n  - &a {name: x, url: https://x.example, auth: {type: bearer, token_env: JIRA_TOKEN}}\n  - <<: *a\n    name: y\n",
		"a: &a [*a]\n",
		"database:\n  url: ${DB\n  password: x\n",
		"schedules: {jira: '@every 10m', ado: '61 * * * *'}\nhttp: {listen: ':0', resync_api_key_sha256: [zz]}\n",
		"jira: [{auth: {token: x}}]\nprojects: [{id: a, jira: {target: b}}, {id: a}]\n",
		"---\n---\n",
		"database:\n  url: \"$${DB}\"\n  max_conns: 1e3\n",
		"projects:\n  - confluence: {title: '{{.Project.Name'}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := load("fuzz/covsync.yaml", data, fuzzEnv)
		if err == nil {
			if c == nil {
				t.Fatal("nil config without an error")
			}
			if c.HTTP.Listen == "" || c.Log.Level == "" || c.Workers.PerTarget < 1 || c.Database.SourceSchema == "" || c.Database.URL.IsZero() {
				t.Fatalf("defaults not filled: %+v", c)
			}
			for _, j := range c.Jira {
				if j.Auth.Token.IsZero() || !(j.RequestsPerSecond > 0) || j.Timeout <= 0 {
					t.Fatalf("accepted jira target without a token, rate or timeout: %+v", j)
				}
			}
		} else {
			var ps *Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error is not *Problems: %v", err)
			}
			if len(ps.List) == 0 {
				t.Fatal("empty *Problems")
			}
			// YAML counts "\r\n", a lone "\r" and "\n" each as one line break (YAML 1.2 §5.4), and so
			// do the lines its problems name; +2 as before for yaml.v3's end-of-input lines.
			breaks := bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
			lines := bytes.Count(breaks, []byte("\n")) + 2
			for _, p := range ps.List {
				if p.Msg == "" || p.Line < 0 || p.Line > lines {
					t.Fatalf("bad problem %+v (file has %d lines)", p, lines)
				}
			}
			if !bytes.Contains(data, []byte(fuzzSecret)) && !bytes.Contains(data, []byte("${")) && strings.Contains(err.Error(), fuzzSecret) {
				t.Fatalf("message leaks a token:\n%v", err)
			}
		}
		c2, err2 := load("fuzz/covsync.yaml", data, fuzzEnv)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() || (c == nil) != (c2 == nil) {
			t.Fatalf("not deterministic:\n%v\n%v", err, err2)
		}
	})
}
