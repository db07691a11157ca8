package confluencesim

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// Serve runs s on a loopback listener outside tests (`covsync demo`) and returns the site URL a config's
// confluence[].url names, Cloud style ("http://127.0.0.1:PORT/wiki"); stop closes the listener.
func Serve(s *Server) (siteURL string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", func() {}, fmt.Errorf("confluencesim: listening on 127.0.0.1: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String() + "/wiki", func() { _ = srv.Close() }, nil
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
