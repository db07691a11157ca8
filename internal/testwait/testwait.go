// Package testwait holds what tests wait with: a condition polled up to a deadline, and a loopback port
// that nothing listens on. It is for tests only.
package testwait

import (
	"net"
	"testing"
	"time"
)

// Until waits up to d for cond, polling every 100 ms; it fails the test naming what it waited for.
func Until(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ClosedPort returns a loopback port nothing listens on (something did a moment ago).
func ClosedPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}
