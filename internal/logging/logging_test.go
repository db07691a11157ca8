package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/covsync/covsync/config"
)

const secret = `s3cr3t-"<&>-value`

type creds struct {
	User     string
	Password string
}

func TestLoggerMasksSecretsInMessagesAndFields(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			l := New(&buf, config.Log{Level: "debug", Format: format}, secret)
			l.Debugf("connecting with %s", secret)
			l.WithField("dsn", "postgres://u:"+secret+"@db/x").Info("dsn field")
			l.WithField("password", "anything").Info("sensitive key")
			l.WithField("headers", map[string][]string{"Authorization": {"Basic dXNlcjpwYXNzd29yZA=="}}).Info("headers")
			l.WithError(errors.New("auth failed for token " + secret)).Error("error field")
			l.WithField("creds", creds{User: "u", Password: secret}).Warn("struct field")
			l.WithField("req", "X-API-KEY: plain-api-key").Info("api key")
			out := buf.String()
			for _, leak := range []string{"s3cr3t", "dXNlcjpwYXNzd29yZA", "anything", "plain-api-key", `\u003c\u0026\u003e`} {
				if strings.Contains(out, leak) {
					t.Errorf("%s output leaks %q:\n%s", format, leak, out)
				}
			}
			if n := strings.Count(out, "\n"); n != 7 {
				t.Errorf("want 7 lines, got %d:\n%s", n, out)
			}
			if format == "json" {
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					var m map[string]any
					if err := json.Unmarshal([]byte(line), &m); err != nil {
						t.Errorf("redacted line is not JSON: %v\n%s", err, line)
					}
				}
			}
		})
	}
}

func TestLoggerLevelAndFormat(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, config.Log{Level: "warn"}, "")
	l.Info("hidden")
	l.Warn("shown")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "shown") {
		t.Fatalf("level warn: %q", out)
	}
	// A buffer is not a terminal: the default format is JSON.
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["msg"] != "shown" {
		t.Fatalf("default off a terminal is JSON: %v %q", err, out)
	}
	buf.Reset()
	New(&buf, config.Log{Format: "text"}).Info("plain")
	if !strings.Contains(buf.String(), `msg=plain`) {
		t.Fatalf("text format: %q", buf.String())
	}
}

func TestRedactorOfSharesTheLoggersSecrets(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, config.Log{}, "first-secret")
	AddSecrets(l, "rotated-secret")
	r := RedactorOf(l)
	if got := r.Redact("first-secret rotated-secret"); got != "****** ******" {
		t.Fatalf("got %q", got)
	}
	l.Info("rotated-secret")
	if strings.Contains(buf.String(), "rotated-secret") {
		t.Fatalf("leak: %s", buf.String())
	}
}
