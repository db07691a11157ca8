// Package shared finds ../shared beside the repository (the project's shared design and real CTRF reports),
// for tests. CI clones the repository with shared/ beside it, as a developer's checkout has it.
package shared

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the absolute path of ../shared relative to the module root (the directory holding go.mod),
// or fails the test when it is missing.
func Dir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			s := filepath.Join(filepath.Dir(d), "shared")
			if _, err := os.Stat(filepath.Join(s, "testdata")); err != nil {
				t.Fatalf("shared testdata not found at %s (the repository must have ../shared beside it): %v", s, err)
			}
			return s
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", wd)
		}
	}
}

// CTRF returns the path of a report under shared/testdata/ctrf ("vitest-testream-reporter.json").
func CTRF(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(Dir(t), "testdata", "ctrf", name)
}
