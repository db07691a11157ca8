package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/covsync/covsync/internal/redact"
)

// maxSecretFile bounds a token or password file: a credential is short, a large file is the wrong file.
const maxSecretFile = 64 << 10

// Secrets lists every resolved secret value of the config: each target's token and the database password
// (from the URL, password_file, url_file, or what PGPASSWORD/.pgpass give pgx). The logger masks them all.
func (c *Config) Secrets() []string {
	if c == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, t := range c.Jira {
		add(t.Auth.Token.Reveal())
	}
	for _, t := range c.ADO {
		add(t.Auth.Token.Reveal())
	}
	for _, t := range c.Confluence {
		add(t.Auth.Token.Reveal())
	}
	add(dsnPasswordResolved(c.Database.URL.Reveal()))
	for _, v := range dsnSecrets(c.Database.URL.Reveal()) {
		add(v)
	}
	return out
}

// dsnPasswordResolved is the password pgx will send for dsn, including one from PGPASSWORD or a passfile.
func dsnPasswordResolved(dsn string) string {
	if dsn == "" {
		return ""
	}
	if pc, err := pgconn.ParseConfig(dsn); err == nil {
		return pc.Password
	}
	pw, _ := dsnPassword(dsn)
	return pw
}

// dsnPassword returns the password written in a URL or key=value connection string: the user info's, or a
// password= parameter (postgres://h/db?password=x is a password too, with or without user info).
func dsnPassword(dsn string) (string, bool) {
	return dsnParam(dsn, "password")
}

// dsnSecretKeys are the connection parameters whose values are secrets: the password, and the passphrase of
// the client key (libpq's sslpassword).
var dsnSecretKeys = []string{"password", "sslpassword"}

// dsnParam returns the value of connection parameter key written in dsn (for "password", the user info's
// password first).
func dsnParam(dsn, key string) (string, bool) {
	if isURLDSN(dsn) {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", false
		}
		if key == "password" && u.User != nil {
			if pw, ok := u.User.Password(); ok {
				return pw, true
			}
		}
		q := u.Query()
		return q.Get(key), q.Has(key)
	}
	m := regexp.MustCompile(`(?:^|\s)` + key + `\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']\S*)`).FindStringSubmatch(dsn)
	if m == nil {
		return "", false
	}
	v := m[1]
	if strings.HasPrefix(v, "'") {
		v = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(strings.Trim(v, "'"))
	}
	return v, true
}

// dsnSecrets lists every secret of dsn in the spellings an error may quote: each secret parameter's value
// decoded, and as written in the text (a URL may percent-encode it in ways Go's encoder would not, %2a for *).
func dsnSecrets(dsn string) []string {
	var out []string
	for _, k := range dsnSecretKeys {
		if v, ok := dsnParam(dsn, k); ok && v != "" {
			out = append(out, v)
		}
	}
	if isURLDSN(dsn) {
		rest := dsn[strings.Index(dsn, "://")+3:]
		if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok && pw != "" {
				out = append(out, pw)
			}
		}
		if _, q, ok := strings.Cut(dsn, "?"); ok {
			for _, pair := range strings.Split(q, "&") {
				k, v, _ := strings.Cut(pair, "=")
				if name, err := url.QueryUnescape(k); err == nil && slices.Contains(dsnSecretKeys, strings.ToLower(name)) && v != "" {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

func isURLDSN(dsn string) bool {
	l := strings.ToLower(dsn)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

var envRef = regexp.MustCompile(`\$\{[^}]*\}`)

// literalPassword reports whether the unexpanded text of database.url writes a secret itself (a password,
// in the user info or as a parameter, or an sslpassword) rather than taking it, or the whole URL, from a
// ${VAR}.
func literalPassword(raw string) bool {
	const placeholder = "COVSYNCENVREF"
	dsn := envRef.ReplaceAllString(raw, placeholder)
	for _, k := range dsnSecretKeys {
		if v, ok := dsnParam(dsn, k); ok && v != "" && !strings.Contains(v, placeholder) {
			return true
		}
	}
	return false
}

// withPassword puts pw into dsn (URL or key=value form). It refuses a dsn that already has a password.
func withPassword(dsn, pw string) (string, error) {
	if _, ok := dsnPassword(dsn); ok {
		return "", errors.New("the url already holds a password: give it in one place")
	}
	if isURLDSN(dsn) {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", errors.New("the url is not a valid URL")
		}
		user := ""
		if u.User != nil {
			user = u.User.Username()
		}
		u.User = url.UserPassword(user, pw)
		return u.String(), nil
	}
	esc := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw)
	return strings.TrimSpace(dsn + " password='" + esc + "'"), nil
}

// pgReason explains why pgx rejects dsn without quoting it: pgx's own error can echo the string (and a
// URL parse error echoes it whole, password included).
func pgReason(err error, dsn string) string {
	s := err.Error()
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		// "cannot parse `<redacted dsn>`: <reason> (<cause>)": keep the reason and cause only.
		if i := strings.LastIndex(s, "`: "); i >= 0 {
			s = s[i+3:]
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		s = strings.Replace(s, ue.Error(), ue.Err.Error(), 1)
	}
	return redact.New(append(dsnSecrets(dsn), dsn)...).Redact(s)
}

// readSecretFile reads a credential file, refusing one that group or others may read or write.
func readSecretFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("file %s does not exist", path)
	}
	if err != nil {
		return "", fmt.Errorf("file %s: %w", path, errors.Unwrap(err))
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("file %s is open to group or others (mode %04o): a credential file must be private; run chmod 600 %s", path, perm, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("file %s: %w", path, errors.Unwrap(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("file %s: %w", path, err)
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("file %s is larger than %d bytes: not a credential", path, maxSecretFile)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("file %s is empty", path)
	}
	return s, nil
}
