// Package redact removes credentials from text: the secret values covsync was configured with (in every
// spelling a log line or an error may use: raw, URL-escaped, JSON-escaped, quoted) and anything shaped like
// one (Authorization and X-API-KEY header values, the password of a URL or a key=value connection string,
// "password"/"token" keys). The logger's redaction hook, the HTTP client factory and config's own messages
// all use it, so one list of patterns decides what a secret looks like.
package redact

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Mask replaces every secret; it is the same mask config.Secret prints.
const Mask = "******"

// sensitiveKey matches names whose value is a secret whatever it looks like (JSON keys, key=value pairs).
// Authorization has its own pattern, which keeps the scheme word.
const sensitiveKey = `[a-z0-9_-]*(?:password|passwd|pwd|secret|token|api[_-]?key)`

// SensitiveKey reports whether a log field named key holds a secret ("password", "access_token",
// "X-API-KEY", "Authorization").
func SensitiveKey(key string) bool { return sensitiveKeyRE.MatchString(key) }

var sensitiveKeyRE = regexp.MustCompile(`(?i)^(?:` + sensitiveKey + `|(?:proxy-)?authorization)$`)

// keywords are the words sensitiveKey ends in: a line without any of them skips the key patterns.
var keywords = []string{"password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "api-key"}

func hasKeyword(lower string) bool {
	for _, k := range keywords {
		if strings.Contains(lower, k) {
			return true
		}
	}
	return false
}

// patterns find credentials by shape. Each keeps what names the secret (group 1) and masks the value.
// applies is a cheap test on the lower-cased text: most log lines hold no credential-shaped text, and
// skipping the regular expressions for them makes redaction nearly free.
var patterns = []struct {
	applies func(lower string) bool
	re      *regexp.Regexp
	repl    string
}{
	// Authorization: Basic dXNlcjpwdw== / "Authorization":["Bearer x"] / authorization="Bearer x".
	{
		func(l string) bool { return strings.Contains(l, "authorization") },
		regexp.MustCompile(`(?i)((?:proxy-)?authorization"?\s*[:=]\s*\[?"?)((?:(?:basic|bearer|token|pat|negotiate|digest)\s+)?)[^\s"\],;]+`),
		"${1}${2}" + Mask,
	},
	// X-API-KEY: value (the resync endpoint's key).
	{
		func(l string) bool { return strings.Contains(l, "x-api-key") },
		regexp.MustCompile(`(?i)(x-api-key"?\s*[:=]\s*\[?"?)[^\s"\],;]+`),
		"${1}" + Mask,
	},
	// A bare credential after its scheme word, e.g. in a dumped request: "Bearer eyJhbGciOi...".
	{
		func(l string) bool { return strings.Contains(l, "bearer") || strings.Contains(l, "basic") },
		regexp.MustCompile(`\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{20,}`),
		"${1} " + Mask,
	},
	// scheme://user:password@host (DSNs, proxy URLs).
	{
		func(l string) bool { return strings.Contains(l, "://") && strings.Contains(l, "@") },
		regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@"'<>]*:)[^\s@"'<>]+@`),
		"${1}" + Mask + "@",
	},
	// password=... in key=value connection strings, query strings and logfmt; quoted values too.
	{
		func(l string) bool { return strings.Contains(l, "=") && hasKeyword(l) },
		regexp.MustCompile(`(?i)(\b` + sensitiveKey + `\s*=\s*)(?:\\"(?:[^"\\]|\\[^"])*\\"|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&;,'"]+)`),
		"${1}" + Mask,
	},
	// "password": "..." in JSON.
	{
		func(l string) bool { return strings.Contains(l, `"`) && hasKeyword(l) },
		regexp.MustCompile(`(?i)("` + sensitiveKey + `"\s*:\s*)(?:"(?:[^"\\]|\\.)*"|\[[^\]]*\])`),
		`${1}"` + Mask + `"`,
	},
}

// Redactor masks configured secret values and credential-shaped text. The zero value and a nil *Redactor
// mask by shape only. It is safe for concurrent use; Add takes new secrets (a rotated token) at any time.
type Redactor struct {
	mu   sync.RWMutex
	vals []string // every spelling of every secret, longest first
	repl *strings.Replacer
}

// New returns a Redactor that masks secrets (empty strings are ignored).
func New(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add makes r mask secrets too. Secrets are never forgotten: after a rotation the old token still must not
// appear in a log line.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, v := range r.vals {
		seen[v] = true
	}
	for _, s := range secrets {
		for _, v := range spellings(s) {
			if v != "" && !seen[v] {
				seen[v] = true
				r.vals = append(r.vals, v)
			}
		}
	}
	// strings.Replacer tries old strings in argument order at each position: longest first, so a secret
	// that contains another is masked whole.
	sort.Slice(r.vals, func(i, j int) bool { return len(r.vals[i]) > len(r.vals[j]) })
	args := make([]string, 0, 2*len(r.vals))
	for _, v := range r.vals {
		args = append(args, v, Mask)
	}
	r.repl = strings.NewReplacer(args...)
}

// Redact returns s with every secret value and credential-shaped text masked.
func (r *Redactor) Redact(s string) string {
	if r != nil {
		r.mu.RLock()
		repl := r.repl
		r.mu.RUnlock()
		if repl != nil {
			s = repl.Replace(s)
		}
	}
	lower := strings.ToLower(s)
	for _, p := range patterns {
		if p.applies(lower) {
			s = p.re.ReplaceAllString(s, p.repl)
		}
	}
	return s
}

// spellings returns s as it may appear in text: raw, URL-escaped (query and userinfo), JSON-escaped (with
// and without HTML escaping) and Go-quoted.
func spellings(s string) []string {
	if s == "" {
		return nil
	}
	out := []string{s, url.QueryEscape(s), url.PathEscape(s)}
	if u := url.UserPassword("", s).String(); len(u) > 1 {
		out = append(out, u[1:])
	}
	if b, err := json.Marshal(s); err == nil {
		out = append(out, string(b[1:len(b)-1]))
	}
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if enc.Encode(s) == nil {
		q := strings.TrimSpace(sb.String())
		out = append(out, q[1:len(q)-1])
	}
	q := strconv.Quote(s)
	out = append(out, q[1:len(q)-1])
	return append(out, base64Cores(s)...)
}

// minBase64Core is the shortest base64 run masked: shorter runs of a short secret would mask ordinary words.
const minBase64Core = 12

// base64Cores returns, for each of the three alignments a secret can have inside encoded text, the base64
// characters that depend on the secret's bytes alone, in the standard and the URL alphabet. Every base64
// encoding of any text containing s holds one of them: the basic credential "email:token" that an HTTP
// client sends (and a server may echo), ":pat" for Azure DevOps, a token inside an encoded JSON blob.
func base64Cores(s string) []string {
	var out []string
	for k := 0; k < 3; k++ {
		buf := append(make([]byte, k), s...)
		enc := base64.StdEncoding.EncodeToString(buf)
		start := 0
		if k > 0 {
			start = 4 // the first group mixes in bytes before the secret
		}
		end := len(buf) / 3 * 4 // a trailing partial group mixes in bytes after it
		if end-start < minBase64Core {
			continue
		}
		core := enc[start:end]
		out = append(out, core, strings.NewReplacer("+", "-", "/", "_").Replace(core))
	}
	return out
}
