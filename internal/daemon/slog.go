package daemon

import (
	"context"
	"log/slog"

	"github.com/sirupsen/logrus"
)

// logrusHandler sends River's slog records to covsync's logrus logger, so they pass the same redaction hook
// and format as every other line. River's info lines (a job inserted, a leader elected) are debug here: the
// daemon logs its own cycles; River's warnings and errors stay what they are.
type logrusHandler struct {
	log    logrus.FieldLogger
	fields logrus.Fields
	group  string
}

func newSlog(l *logrus.Logger) *slog.Logger {
	return slog.New(&logrusHandler{log: l.WithField("component", "river"), fields: logrus.Fields{}})
}

func (h *logrusHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *logrusHandler) Handle(_ context.Context, r slog.Record) error {
	f := make(logrus.Fields, len(h.fields)+r.NumAttrs())
	for k, v := range h.fields {
		f[k] = v
	}
	r.Attrs(func(a slog.Attr) bool {
		f[h.key(a.Key)] = a.Value.Any()
		return true
	})
	e := h.log.WithFields(f)
	switch {
	case r.Level >= slog.LevelError:
		e.Error(r.Message)
	case r.Level >= slog.LevelWarn:
		e.Warn(r.Message)
	default:
		e.Debug(r.Message)
	}
	return nil
}

func (h *logrusHandler) key(k string) string {
	if h.group != "" {
		return h.group + "." + k
	}
	return k
}

func (h *logrusHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &logrusHandler{log: h.log, fields: make(logrus.Fields, len(h.fields)+len(as)), group: h.group}
	for k, v := range h.fields {
		n.fields[k] = v
	}
	for _, a := range as {
		n.fields[h.key(a.Key)] = a.Value.Any()
	}
	return n
}

func (h *logrusHandler) WithGroup(name string) slog.Handler {
	return &logrusHandler{log: h.log, fields: h.fields, group: h.key(name)}
}
