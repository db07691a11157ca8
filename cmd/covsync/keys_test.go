package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/covsync/covsync/internal/pgtest"
)

func TestKeysCreateListRevoke(t *testing.T) {
	t.Setenv("COVSYNC_TEST_SERVE_URL", pgtest.URL(t))
	cfg := filepath.Join(t.TempDir(), "covsync.yaml")
	serveConfig(t, cfg, 0)
	if code, _, stderr := execute(t, "migrate", "--config", cfg); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr)
	}
	code, out, stderr := execute(t, "keys", "create", "--config", cfg, "--project", "shop", "--name", "github actions")
	if code != 0 {
		t.Fatalf("keys create: %d %s", code, stderr)
	}
	lines := strings.Split(out, "\n")
	key := lines[0]
	if !strings.HasPrefix(key, "csk_") || len(key) < 40 || strings.ContainsAny(key, " \t") {
		t.Fatalf("first line %q: want the key alone, starting csk_", key)
	}
	prefix := key[:12]
	if strings.Contains(strings.Join(lines[1:], "\n"), key[12:]) || strings.Contains(stderr, key[12:]) {
		t.Errorf("the key is printed more than once:\n%s%s", out, stderr)
	}
	code, out, _ = execute(t, "keys", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, prefix) || !strings.Contains(out, "shop") || !strings.Contains(out, "github actions") ||
		!strings.Contains(out, "never") || strings.Contains(out, "revoked") || strings.Contains(out, key[12:]) {
		t.Fatalf("keys list: %d\n%s", code, out)
	}
	if code, out, stderr := execute(t, "keys", "revoke", "--config", cfg, prefix); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("keys revoke: %d %s %s", code, out, stderr)
	}
	if code, out, _ := execute(t, "keys", "list", "--config", cfg, "--project", "shop"); code != 0 || !strings.Contains(out, prefix) || !strings.Contains(out, "revoked") {
		t.Fatalf("keys list after revoke: %d\n%s", code, out)
	}
	if code, out, _ := execute(t, "keys", "list", "--config", cfg, "--project", "bank"); code != 0 || strings.Contains(out, prefix) {
		t.Errorf("keys list --project bank shows shop's key: %d\n%s", code, out)
	}
	if code, _, stderr := execute(t, "keys", "revoke", "--config", cfg, "csk_zzzzzzzz"); code != exitUsage || !strings.Contains(stderr, "csk_zzzzzzzz") {
		t.Errorf("revoking an unknown prefix: %d %s, want exit 2 naming it", code, stderr)
	}
	if code, _, _ := execute(t, "keys", "create", "--config", cfg); code != exitUsage {
		t.Errorf("keys create without --project: %d, want 2", code)
	}
}
