package main

import (
	"flag"
	"testing"

	"github.com/covsync/covsync/internal/pgtest"
)

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
