package httpx

import (
	"net/url"
	"strings"

	"github.com/covsync/covsync/internal/redact"
)

// redactor removes credentials from what this package logs: internal/redact masks the configured secrets in
// every spelling plus credential-shaped text; URLs additionally lose user info and credential-named query
// values.
type redactor struct {
	r *redact.Redactor
}

func newRedactor(secrets []string) *redactor {
	return &redactor{r: redact.New(secrets...)}
}

// string masks every configured secret and credential-shaped text in s.
func (r *redactor) string(s string) string { return r.r.Redact(s) }

func (r *redactor) holdsSecret(raw string) bool {
	forms := []string{raw}
	if q, err := url.QueryUnescape(raw); err == nil {
		forms = append(forms, q)
	}
	if p, err := url.PathUnescape(raw); err == nil {
		forms = append(forms, p)
	}
	for _, f := range forms {
		if r.string(f) != f {
			return true
		}
	}
	return false
}

// url renders u without user info, with credential-like query parameters replaced, secrets masked.
func (r *redactor) url(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		// Work on the raw pairs so the query keeps its order and encoding; a value is judged in every form
		// it could be read in (raw, query-decoded, path-decoded), so no encoding of a secret slips through.
		pairs := strings.Split(c.RawQuery, "&")
		for i, p := range pairs {
			k, v, _ := strings.Cut(p, "=")
			name, _ := url.QueryUnescape(k)
			if secretParam(name) || r.holdsSecret(v) {
				pairs[i] = k + "=redacted"
			}
		}
		c.RawQuery = strings.Join(pairs, "&")
	}
	return r.string(c.String())
}

// secretParam reports whether a query parameter name looks like it carries a credential.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"token", "key", "secret", "password", "passwd", "pwd", "auth", "sig", "credential", "code"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
