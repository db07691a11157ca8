package bench

import (
	"net"
	"testing"
	"time"

	"github.com/covsync/covsync/internal/pgtest"
)

// TestMain stops the throwaway PostgreSQL that tests of this package start through pgtest.
func TestMain(m *testing.M) { pgtest.Main(m) }

// closedPort returns a loopback port nothing listens on (it did a moment ago).
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// waitUntil waits up to d for cond, polling; it fails the test naming what it waited for.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
