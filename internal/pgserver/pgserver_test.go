package pgserver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestAStartInterruptedWhileTheServerBootsLeavesNoServerBehind is Ctrl-C during `covsync demo`'s first
// seconds: the context ends while pg_ctl waits for the postmaster it forked. Killing pg_ctl does not stop that
// postmaster (it runs in its own session), so Start must stop it before removing its directory.
func TestAStartInterruptedWhileTheServerBootsLeavesNoServerBehind(t *testing.T) {
	if _, err := FindBinDir(); err != nil {
		t.Fatal(err) // CI installs PostgreSQL; the other packages' tests need it too
	}
	// Short: the server's Unix socket path must fit in 107 bytes, which t.TempDir's does not.
	tmp, err := os.MkdirTemp("", "pgs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	// As root the server runs as postgres, which must reach its directory under tmp.
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp) // Start's os.MkdirTemp lands here, where the test can see postmaster.pid
	for attempt := 0; attempt < 10; attempt++ {
		ctx, cancel := context.WithCancel(context.Background())
		pids := make(chan int, 1)
		go func() {
			defer close(pids)
			for ctx.Err() == nil {
				files, _ := filepath.Glob(filepath.Join(tmp, "covsync-pg-*", "data", "postmaster.pid"))
				for _, f := range files {
					// initdb's bootstrap backend writes a pid file too; pg_ctl start's log file marks the real one.
					if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(f)), "log")); err != nil {
						continue
					}
					b, _ := os.ReadFile(f)
					// Interrupt once the postmaster is up (its pid file says "ready") and pg_ctl, which looks
					// every 100 ms, has likely not noticed yet; earlier, deleting the directory kills a
					// postmaster that is still starting and hides the leak.
					if !bytes.Contains(b, []byte("ready")) {
						continue
					}
					if line, _, ok := bytes.Cut(b, []byte("\n")); ok {
						if pid, err := strconv.Atoi(string(line)); err == nil {
							pids <- pid
							cancel() // the interrupt, while pg_ctl start -w is still waiting
							return
						}
					}
				}
				time.Sleep(time.Millisecond)
			}
		}()
		s, err := Start(ctx, Options{})
		cancel()
		pid, seen := <-pids
		if err == nil {
			// pg_ctl returned before the interrupt: nothing to learn from this attempt.
			if err := s.Stop(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if !seen {
			t.Fatalf("Start failed before the postmaster wrote its pid: %v", err)
		}
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGQUIT) })
		// pg_ctl stop -w has returned, so a stopped postmaster is gone (or a zombie of no one of ours).
		if alive(pid) {
			t.Fatalf("postmaster %d still runs after Start returned %v", pid, err)
		}
		return
	}
	t.Fatal("in 10 attempts pg_ctl never was still waiting when the context ended")
}

// alive reports whether pid runs (a zombie does not count).
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state follows the ")" that ends the command name.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}
