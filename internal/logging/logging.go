// Package logging builds covsync's logrus logger: JSON or text at the configured level, every line passed
// through a redactor that masks configured secrets, Authorization and X-API-KEY header values, DSN
// passwords and values of password/token fields, in the message and in every field.
package logging

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/term"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/internal/redact"
)

// Redactor masks secrets in text; the HTTP client factory uses the logger's (RedactorOf) for what it
// logs and for the errors it returns.
type Redactor = redact.Redactor

// NewRedactor returns a Redactor masking secrets and anything shaped like a credential.
func NewRedactor(secrets ...string) *Redactor { return redact.New(secrets...) }

// New returns a logger writing to w at cfg's level (info when empty or unknown) in cfg's format (json or
// text; when empty, text if w is a terminal and JSON otherwise). Every line it writes is redacted: secrets
// are masked, and so is anything shaped like a credential.
func New(w io.Writer, cfg config.Log, secrets ...string) *logrus.Logger {
	r := redact.New(secrets...)
	l := logrus.New()
	l.SetOutput(w)
	lvl, err := logrus.ParseLevel(cfg.Level)
	if err != nil || cfg.Level == "" {
		lvl = logrus.InfoLevel
	}
	l.SetLevel(lvl)
	var f logrus.Formatter
	switch {
	case cfg.Format == "text" || cfg.Format == "" && isTerminal(w):
		f = &logrus.TextFormatter{FullTimestamp: true, TimestampFormat: time.RFC3339}
	default:
		f = &logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano}
	}
	l.AddHook(&hook{r: r})
	l.SetFormatter(&formatter{inner: f, r: r})
	return l
}

// RedactorOf returns the Redactor of a logger made by New, so what is logged elsewhere (an HTTP client's
// own messages, errors shown to users) masks the same secrets. For any other logger it returns a Redactor
// that masks by shape only.
func RedactorOf(l *logrus.Logger) *Redactor {
	if l != nil {
		if f, ok := l.Formatter.(*formatter); ok {
			return f.r
		}
	}
	return redact.New()
}

// AddSecrets makes l mask secrets too (credentials reloaded on SIGHUP). Old secrets stay masked.
func AddSecrets(l *logrus.Logger, secrets ...string) {
	if f, ok := l.Formatter.(*formatter); ok {
		f.r.Add(secrets...)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// hook redacts an entry before it is formatted: the message, string fields, and the text of errors and
// other values; a field whose name says it holds a secret (password, token, authorization, api_key) is
// masked whatever its value.
type hook struct{ r *redact.Redactor }

func (h *hook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *hook) Fire(e *logrus.Entry) error {
	e.Message = h.r.Redact(e.Message)
	for k, v := range e.Data {
		if redact.SensitiveKey(k) {
			if v != nil && v != "" {
				e.Data[k] = redact.Mask
			}
			continue
		}
		switch x := v.(type) {
		case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, time.Time, time.Duration:
		case string:
			e.Data[k] = h.r.Redact(x)
		case error:
			if s := x.Error(); h.r.Redact(s) != s {
				e.Data[k] = h.r.Redact(s)
			}
		default:
			if s := fmt.Sprintf("%+v", x); h.r.Redact(s) != s {
				e.Data[k] = h.r.Redact(s)
			}
		}
	}
	return nil
}

// formatter redacts the formatted line as a last net: it catches what only appears once a value is
// marshalled (a struct's JSON) and the escaped spellings of secrets that the formatters produce.
type formatter struct {
	inner logrus.Formatter
	r     *redact.Redactor
}

func (f *formatter) Format(e *logrus.Entry) ([]byte, error) {
	b, err := f.inner.Format(e)
	if err != nil {
		return nil, err
	}
	return []byte(f.r.Redact(string(b))), nil
}
