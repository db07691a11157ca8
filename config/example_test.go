package config

import (
	"os"
	"reflect"
	"regexp"
	"testing"
)

const examplePath = "../deploy/config/covsync.example.yaml"

// TestExampleDocumentsEveryKey keeps deploy/config/covsync.example.yaml complete: every key the Config
// type accepts appears in it, set or commented out. (cmd/covsync's tests check that it passes
// `covsync check --offline`.)
func TestExampleDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range allKeys(reflect.TypeOf(Config{}), "") {
		name := key[lastDot(key)+1:]
		if !regexp.MustCompile(`(?m)(^|[\s{,#-])` + regexp.QuoteMeta(name) + `:`).Match(b) {
			t.Errorf("%s does not mention %s", examplePath, key)
		}
	}
}

// allKeys lists the YAML key paths of t.
func allKeys(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == secretType {
		return nil
	}
	var out []string
	for name, ft := range yamlFields(t) {
		p := join(prefix, name)
		out = append(out, p)
		out = append(out, allKeys(ft, p)...)
	}
	return out
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

// BenchmarkLoadExample measures loading the full example config (parse, walk, decode, validate); its
// secret file is replaced by a token from the environment so the benchmark needs no file.
func BenchmarkLoadExample(b *testing.B) {
	raw, err := os.ReadFile(examplePath)
	if err != nil {
		b.Fatal(err)
	}
	raw = regexp.MustCompile(`token_file: /run/secrets/\w+`).ReplaceAll(raw, []byte("token_env: JIRA_TOKEN"))
	env := func(k string) (string, bool) {
		switch k {
		case "COVSYNC_DATABASE_URL":
			return "postgres://covsync@127.0.0.1:5432/covsync", true
		case "JIRA_TOKEN", "ADO_PAT":
			return "bench-token", true
		}
		return "", false
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := load("covsync.yaml", raw, env); err != nil {
			b.Fatal(err)
		}
	}
}
