package app

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/sync/push"
)

// blackHole is a database address that accepts connections and never answers: a server that hangs, or a
// proxy whose backend is gone.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c) // held open, never read from or written to
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func TestOpenPoolGivesUpOnADatabaseThatNeverAnswers(t *testing.T) {
	c := &config.Config{Database: config.Database{
		URL: config.NewSecret(fmt.Sprintf("postgres://covsync@%s/covsync?sslmode=disable", blackHole(t)))}}
	errc := make(chan error, 1)
	go func() {
		pool, err := OpenPool(context.Background(), c) // no deadline of its own: the connect timeout must end it
		if pool != nil {
			pool.Close()
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		if err == nil || push.KindOf(err) != push.KindUnreachable {
			t.Fatalf("err = %v, want an unreachable database (exit 3)", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("openPool still waits for a database that never answers")
	}
}

func TestTheURLsConnectTimeoutWinsOverTheDefault(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want time.Duration
	}{
		{"postgres://covsync@127.0.0.1:5432/covsync", DefaultConnectTimeout},
		{"postgres://covsync@127.0.0.1:5432/covsync?connect_timeout=3", 3 * time.Second},
	} {
		pc, err := PoolConfig(&config.Config{Database: config.Database{URL: config.NewSecret(tc.url)}})
		if err != nil || pc.ConnConfig.ConnectTimeout != tc.want {
			t.Errorf("%s: connect timeout %v (%v), want %v", tc.url, pc.ConnConfig.ConnectTimeout, err, tc.want)
		}
	}
}
