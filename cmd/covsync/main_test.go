package main

import (
	"bytes"
	"context"
	"flag"
	"testing"

	"github.com/covsync/covsync/internal/pgtest"
)

// TestMain stops the throwaway PostgreSQL that tests of this package start through pgtest.
func TestMain(m *testing.M) {
	// -update regenerates golden files. Registered here, once, so every test file of the package can read it
	// through updateGolden without two files declaring the same flag.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files from the current output")
	}
	pgtest.Main(m)
}

// updateGolden says whether -update was given.
func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// execute runs the covsync command line in-process with args and returns its exit code, stdout and
// stderr, mapping errors to exit codes as main does.
func execute(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(context.Background())
	if err != nil && !isSilent(err) {
		errOut.WriteString(err.Error())
	}
	return exitCode(err), out.String(), errOut.String()
}
