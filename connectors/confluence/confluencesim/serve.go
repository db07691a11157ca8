package confluencesim

import (
	"fmt"
	"testing"

	"github.com/covsync/covsync/internal/simkit"
)

// Serve runs s on a loopback listener outside tests (`covsync demo`) and returns the site URL a config's
// confluence[].url names, Cloud style ("http://127.0.0.1:PORT/wiki"); stop closes the listener.
func Serve(s *Server) (siteURL string, stop func(), err error) {
	base, stop, err := simkit.Listen(s)
	if err != nil {
		return "", stop, fmt.Errorf("confluencesim: %w", err)
	}
	return base + "/wiki", stop, nil
}

// Start is Serve for tests: the listener closes when the test ends.
func Start(t testing.TB, s *Server) string {
	t.Helper()
	u, stop, err := Serve(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return u
}
