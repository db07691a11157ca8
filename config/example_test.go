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
