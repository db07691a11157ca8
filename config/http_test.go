package config

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"
)

func TestHTTPListenAndIngestKeys(t *testing.T) {
	refused := func(listen string) loadTest {
		return loadTest{
			name: "a bare non-loopback listen " + listen + " is refused",
			yaml: minimal + "http:\n  listen: \"" + listen + "\"\n",
			want: []string{`4: http.listen: "` + listen + `" is not a loopback address: set http.tls.cert_file and key_file, or http.plaintext_behind_proxy: true`},
		}
	}
	accepted := func(listen string) loadTest {
		return loadTest{name: "loopback " + listen + " needs no TLS", yaml: minimal + "http:\n  listen: \"" + listen + "\"\n"}
	}
	runLoadCases(t, []loadTest{
		refused("0.0.0.0:9464"), refused("[::]:9464"), refused(":9464"), refused("10.0.0.5:9464"),
		refused("covsync.example:9464"),
		accepted("127.0.0.1:9464"), accepted("127.9.9.9:0"), accepted("[::1]:9464"), accepted("localhost:9464"),
		{
			name: "plaintext_behind_proxy allows a non-loopback listen",
			yaml: minimal + "http:\n  listen: 0.0.0.0:9464\n  plaintext_behind_proxy: true\n",
		},
		{
			name: "a certificate without its key is refused by name",
			yaml: minimal + "http:\n  listen: 0.0.0.0:9464\n  tls: {cert_file: tls.crt}\n",
			want: []string{"5: http.tls.key_file: missing"},
		},
		{
			name:  "a TLS key readable by others is refused",
			yaml:  minimal + "http:\n  listen: 0.0.0.0:9464\n  tls: {cert_file: tls.crt, key_file: tls.key}\n",
			files: map[string]file{"tls.crt": {body: "x", mode: 0o644}, "tls.key": {body: "x", mode: 0o644}},
			want:  []string{"5: http.tls.key_file: file"},
		},
		{
			name:  "a TLS pair that does not load is refused",
			yaml:  minimal + "http:\n  listen: 0.0.0.0:9464\n  tls: {cert_file: tls.crt, key_file: tls.key}\n",
			files: map[string]file{"tls.crt": {body: "x", mode: 0o644}, "tls.key": {body: "x", mode: 0o600}},
			want:  []string{"5: http.tls.cert_file: cannot load the certificate and key"},
		},
		{
			name: "ingest and endpoint defaults",
			yaml: minimal,
			check: func(t *testing.T, c *Config) {
				eq(t, "max_body_bytes", c.HTTP.MaxBodyBytes, int64(50<<20))
				eq(t, "request_timeout", c.HTTP.RequestTimeout, 60*time.Second)
				eq(t, "idle_timeout", c.HTTP.IdleTimeout, 60*time.Second)
				eq(t, "key_requests_per_second", c.HTTP.KeyRequestsPerSecond, 5.0)
				eq(t, "key_burst", c.HTTP.KeyBurst, 50)
				eq(t, "sync_delay", c.Ingest.SyncDelay, 5*time.Second)
			},
		},
		{
			name: "limits of zero or less are refused by name",
			yaml: minimal + "http:\n  max_body_bytes: 0\n  request_timeout: 0s\n  idle_timeout: -1s\n  key_requests_per_second: 0\n  key_burst: 0\ningest:\n  sync_delay: 0s\n",
			want: []string{"4: http.max_body_bytes: must be 1 or more", "5: http.request_timeout: must be greater than 0",
				"6: http.idle_timeout: must be greater than 0", "7: http.key_requests_per_second: must be a number greater than 0",
				"8: http.key_burst: must be 1 or more", "10: ingest.sync_delay: must be greater than 0"},
		},
	})
}

// TestTheExampleShipsNoUsableResyncKey: a hash in the example is a key every copy of the example accepts,
// and one whose preimage anyone can guess (sha256("test")) opens POST /v1/resync to anyone.
func TestTheExampleShipsNoUsableResyncKey(t *testing.T) {
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "#") {
			continue
		}
		for _, w := range strings.FieldsFunc(l, func(r rune) bool { return !strings.ContainsRune("0123456789abcdefABCDEF", r) }) {
			if len(w) == 64 {
				t.Errorf("the example config accepts a resync key: %s", l)
			}
		}
	}
	test := sha256.Sum256([]byte("test"))
	if strings.Contains(string(b), hex.EncodeToString(test[:])) {
		t.Errorf("the example config holds sha256(\"test\")")
	}
}
