package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/covsync/covsync/internal/pgtest"
	"github.com/covsync/covsync/internal/testwait"
)

// serveConfig writes a config whose database URL comes from the environment, listening on port.
func serveConfig(t *testing.T, path string, port int, keys ...string) {
	t.Helper()
	var hashes []string
	for _, k := range keys {
		h := sha256.Sum256([]byte(k))
		hashes = append(hashes, fmt.Sprintf("%q", hex.EncodeToString(h[:])))
	}
	cfg := fmt.Sprintf(`database:
  url: ${COVSYNC_TEST_SERVE_URL}
  auto_migrate: true
http:
  listen: 127.0.0.1:%d
  resync_api_key_sha256: [%s]
log: {level: warn}
workers: {shutdown_timeout: 1s}
`, port, strings.Join(hashes, ", "))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestServeReloadsOnARealSIGHUPAndExitsZeroWhenStopped runs `covsync serve` as main runs it: SIGHUP is the
// process's own signal (sent to this test process, which serve has registered for), and cancellation is
// what SIGTERM does through main's signal.NotifyContext.
func TestServeReloadsOnARealSIGHUPAndExitsZeroWhenStopped(t *testing.T) {
	t.Setenv("COVSYNC_TEST_SERVE_URL", pgtest.URL(t))
	port := testwait.ClosedPort(t)
	cfg := filepath.Join(t.TempDir(), "covsync.yaml")
	serveConfig(t, cfg, port)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, []string{"serve", "--config", cfg}) }()

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	status := func(method, path, key string) int {
		req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
		if key != "" {
			req.Header.Set("X-API-KEY", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	testwait.Until(t, 30*time.Second, "readyz 200 (auto_migrate, then River)", func() bool { return status("GET", "/readyz", "") == 200 })
	if c := status("POST", "/v1/resync", "rotated-in"); c != 404 {
		t.Fatalf("resync API with no keys configured: %d, want 404", c)
	}

	serveConfig(t, cfg, port, "rotated-in")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 10*time.Second, "the reloaded key accepted", func() bool { return status("POST", "/v1/resync", "rotated-in") == 202 })

	began := time.Now()
	cancel()
	select {
	case code := <-exit:
		if code != exitOK {
			t.Errorf("serve exited %d after stop, want 0", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	t.Logf("stopped in %v", time.Since(began))
}
