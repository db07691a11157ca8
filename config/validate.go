package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/robfig/cron/v3"
)

// Defaults: each declared here once; the packages that fill a default read it from here.
const (
	DefaultSourceSchema      = "covsync_source"
	DefaultListen            = "127.0.0.1:9464"
	DefaultLogLevel          = "info"
	DefaultRequestsPerSecond = 10
	DefaultTimeout           = 30 * time.Second
	DefaultWorkersPerTarget  = 64
	DefaultOnManualEdit      = "overwrite"
	DefaultMaxRows           = 500
	DefaultMaxConns          = 8
	DefaultMaxBodyBytes      = 50 << 20
	DefaultRequestTimeout    = 60 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultKeyRequestsPerSec = 5
	DefaultKeyBurst          = 50
	DefaultSyncDelay         = 5 * time.Second
	DefaultPageTitle         = "Test coverage: {{.Project.Name}}"
	DefaultReleaseTitle      = "Test coverage: {{.Project.Name}} {{.Release.Name}}"
)

// OwnSchema is covsync's own schema: the ledger, the cycle history and River's job tables.
const OwnSchema = "covsync"

var (
	identRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	targetNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	jiraKeyRE    = regexp.MustCompile(`^[A-Z][A-Z0-9_]+$`)
	digitsRE     = regexp.MustCompile(`^[0-9]+$`)
)

var adoFieldKeys = []string{"coverage_percent", "coverage_summary", "test_status", "last_run_url"}

// validator fills defaults, resolves secrets and reports every problem of a decoded config.
type validator struct {
	c   *collector
	cfg *Config
	dir string // the config file's directory: relative paths start there
	env func(string) (string, bool)
	raw map[string]string // unexpanded text of scalars that held ${VAR}
}

func (v *validator) run() {
	v.database()
	v.http()
	v.log()
	v.schedules()
	v.templates()
	v.workers()
	v.ingest()
	v.projects(v.jira(), v.ado(), v.confluence())
}

// jira checks the Jira sites and returns them by name (the first of a duplicated name).
func (v *validator) jira() map[string]*Jira {
	byName := map[string]*Jira{}
	for i := range v.cfg.Jira {
		t := &v.cfg.Jira[i]
		key := fmt.Sprintf("jira[%d]", i)
		v.conn(key, &t.Conn, "jira", byName[t.Name] != nil, []string{"basic", "bearer"})
		v.url(key+".url", t.URL)
		if byName[t.Name] == nil {
			byName[t.Name] = t
		}
	}
	return byName
}

// ado checks the Azure DevOps organizations and returns their names.
func (v *validator) ado() map[string]bool {
	names := map[string]bool{}
	for i := range v.cfg.ADO {
		t := &v.cfg.ADO[i]
		key := fmt.Sprintf("ado[%d]", i)
		if t.Auth.Type == "" {
			t.Auth.Type = "pat"
		}
		v.conn(key, &t.Conn, "ado", names[t.Name], []string{"pat"})
		v.url(key+".organization_url", t.OrganizationURL)
		v.adoExtension(key+".extension", t.Extension)
		for _, k := range slices.Sorted(maps.Keys(t.Fields)) {
			fk := key + ".fields." + k
			if !slices.Contains(adoFieldKeys, k) {
				v.c.add(fk, "unknown field %q: one of %s", k, strings.Join(adoFieldKeys, ", "))
			} else if !IsFieldRefName(t.Fields[k]) {
				v.c.add(fk, "%q is not a work-item field reference name (such as Custom.TestCoverage)", t.Fields[k])
			}
		}
		names[t.Name] = true
	}
	return names
}

// confluence checks the Confluence sites and returns their names.
func (v *validator) confluence() map[string]bool {
	names := map[string]bool{}
	for i := range v.cfg.Confluence {
		t := &v.cfg.Confluence[i]
		key := fmt.Sprintf("confluence[%d]", i)
		v.conn(key, &t.Conn, "confluence", names[t.Name], []string{"basic", "bearer"})
		if v.url(key+".url", t.URL) {
			if u, _ := url.Parse(t.URL); strings.HasSuffix(u.Hostname(), ".atlassian.net") && strings.TrimSuffix(u.Path, "/") != "/wiki" {
				v.c.add(key+".url", "Confluence Cloud lives under /wiki: write https://%s/wiki", u.Host)
			}
		}
		switch t.OnManualEdit {
		case "":
			t.OnManualEdit = DefaultOnManualEdit
		case "overwrite", "skip":
		default:
			v.c.add(key+".on_manual_edit", "%q is not one of overwrite, skip", t.OnManualEdit)
		}
		v.positiveInt(key+".max_rows", &t.MaxRows, DefaultMaxRows)
		names[t.Name] = true
	}
	return names
}

func (v *validator) database() {
	d := &v.cfg.Database
	if d.SourceSchema == "" {
		d.SourceSchema = DefaultSourceSchema
	} else if !identRE.MatchString(d.SourceSchema) {
		v.c.add("database.source_schema", "%q is not a schema name (letters, digits and _, starting with a letter or _)", d.SourceSchema)
	} else if d.SourceSchema == OwnSchema {
		v.c.add("database.source_schema", "%q is covsync's own schema; the source data needs another", OwnSchema)
	}
	if d.MigrateSource == nil {
		t := true
		d.MigrateSource = &t
	}
	mc := int(d.MaxConns)
	v.positiveInt("database.max_conns", &mc, DefaultMaxConns)
	d.MaxConns = int32(mc)

	// A url whose ${VAR} is unset was written and already reported: it is not also "missing".
	hasURL := !d.URL.IsZero() || v.c.blocked["database.url"]
	hasFile := d.URLFile != ""
	switch {
	case hasURL && hasFile:
		v.c.add("database.url_file", "set url or url_file, not both")
		return
	case !hasURL && !hasFile:
		v.c.add("database.url", "missing: set url (e.g. url: ${COVSYNC_DATABASE_URL}) or url_file")
		return
	case hasFile:
		d.URLFile = v.path(d.URLFile)
		s, err := readSecretFile(d.URLFile)
		if err != nil {
			v.c.add("database.url_file", "%v", err)
			return
		}
		d.URL = NewSecret(s)
	default:
		raw, ok := v.raw["database.url"]
		if !ok {
			raw = d.URL.Reveal()
		}
		if literalPassword(raw) {
			v.c.add("database.url", "holds a literal password: put the whole URL in the environment (url: ${COVSYNC_DATABASE_URL}) or the password in password_file")
			return
		}
	}
	if v.c.blocked["database.url"] {
		return
	}
	key := "database.url"
	if hasFile {
		key = "database.url_file"
	}
	if d.PasswordFile != "" {
		d.PasswordFile = v.path(d.PasswordFile)
		pw, err := readSecretFile(d.PasswordFile)
		if err != nil {
			v.c.add("database.password_file", "%v", err)
			return
		}
		dsn, err := withPassword(d.URL.Reveal(), pw)
		if err != nil {
			v.c.add("database.password_file", "%v", err)
			return
		}
		d.URL = NewSecret(dsn)
	}
	if _, err := pgconn.ParseConfig(d.URL.Reveal()); err != nil {
		v.c.add(key, "not a valid PostgreSQL connection string: %s", pgReason(err, d.URL.Reveal()))
	}
}

func (v *validator) http() {
	h := &v.cfg.HTTP
	if h.Listen == "" {
		h.Listen = DefaultListen
	}
	host, port, err := net.SplitHostPort(h.Listen)
	if err != nil {
		v.c.add("http.listen", "%q is not host:port (such as 127.0.0.1:9464)", h.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.c.add("http.listen", "port %q is not a number from 0 to 65535", port)
	} else if strings.ContainsAny(host, " /") {
		v.c.add("http.listen", "%q is not a host name or IP address", host)
	}
	for i, k := range h.ResyncAPIKeySHA256 {
		key := fmt.Sprintf("http.resync_api_key_sha256[%d]", i)
		if b, err := hex.DecodeString(k); err != nil || len(b) != 32 {
			// Never echo it: someone may have pasted the key itself rather than its hash.
			v.c.add(key, "not a SHA-256 hash: expected 64 hex characters, got %d characters (store the hash of the key: printf %%s KEY | sha256sum)", len(k))
			continue
		}
		h.ResyncAPIKeySHA256[i] = strings.ToLower(k)
	}
	v.httpTLS(host, err == nil)
	if h.MaxBodyBytes == 0 && !v.c.present("http.max_body_bytes") {
		h.MaxBodyBytes = DefaultMaxBodyBytes
	} else if h.MaxBodyBytes < 1 {
		v.c.add("http.max_body_bytes", "must be 1 or more, got %d", h.MaxBodyBytes)
	}
	v.positiveDuration("http.request_timeout", &h.RequestTimeout, DefaultRequestTimeout)
	v.positiveDuration("http.idle_timeout", &h.IdleTimeout, DefaultIdleTimeout)
	if h.KeyRequestsPerSecond == 0 && !v.c.present("http.key_requests_per_second") {
		h.KeyRequestsPerSecond = DefaultKeyRequestsPerSec
	} else if !(h.KeyRequestsPerSecond > 0) || math.IsInf(h.KeyRequestsPerSecond, 0) {
		v.c.add("http.key_requests_per_second", "must be a number greater than 0, got %v", h.KeyRequestsPerSecond)
	}
	v.positiveInt("http.key_burst", &h.KeyBurst, DefaultKeyBurst)
}

// httpTLS checks the certificate pair and refuses plain HTTP on an address other hosts can reach, unless
// the config says a TLS-terminating proxy is in front (API keys would cross the network in clear text).
func (v *validator) httpTLS(host string, hostOK bool) {
	h := &v.cfg.HTTP
	if h.TLS.Enabled() {
		h.TLS.CertFile, h.TLS.KeyFile = v.path(h.TLS.CertFile), v.path(h.TLS.KeyFile)
		switch {
		case h.TLS.CertFile == "":
			v.c.add("http.tls.cert_file", "missing: key_file is set, so is the certificate (PEM)")
		case h.TLS.KeyFile == "":
			v.c.add("http.tls.key_file", "missing: cert_file is set, so is its private key (PEM)")
		default:
			if _, err := readSecretFile(h.TLS.KeyFile); err != nil {
				v.c.add("http.tls.key_file", "%v", err)
			} else if _, err := tls.LoadX509KeyPair(h.TLS.CertFile, h.TLS.KeyFile); err != nil {
				v.c.add("http.tls.cert_file", "cannot load the certificate and key: %v", unwrapPathErr(err))
			}
		}
		if h.PlaintextBehindProxy {
			v.c.add("http.plaintext_behind_proxy", "true together with http.tls: choose one")
		}
		return
	}
	if hostOK && !IsLoopbackHost(host) && !h.PlaintextBehindProxy {
		v.c.add("http.listen", "%q is not a loopback address: set http.tls.cert_file and key_file, or "+
			"http.plaintext_behind_proxy: true when a TLS-terminating proxy is in front", h.Listen)
	}
}

func (v *validator) ingest() {
	v.positiveDuration("ingest.sync_delay", &v.cfg.Ingest.SyncDelay, DefaultSyncDelay)
}

// positiveDuration defaults an unset *d to def and reports a written value of 0 or less.
func (v *validator) positiveDuration(key string, d *time.Duration, def time.Duration) {
	if *d == 0 && !v.c.present(key) {
		*d = def
		return
	}
	if *d <= 0 {
		v.c.add(key, "must be greater than 0, got %s", *d)
	}
}

func (v *validator) log() {
	l := &v.cfg.Log
	l.Level = strings.ToLower(l.Level)
	switch l.Level {
	case "":
		l.Level = DefaultLogLevel
	case "trace", "debug", "info", "warn", "warning", "error":
	default:
		v.c.add("log.level", "%q is not one of debug, info, warn, error (or trace)", l.Level)
	}
	l.Format = strings.ToLower(l.Format)
	switch l.Format {
	case "", "json", "text":
	default:
		v.c.add("log.format", "%q is not one of json, text (leave it out for text on a terminal, json otherwise)", l.Format)
	}
}

func (v *validator) schedules() {
	s := v.cfg.Schedules
	for _, e := range []struct{ key, spec string }{
		{"schedules.jira", s.Jira}, {"schedules.linked_runs", s.LinkedRuns},
		{"schedules.ado", s.ADO}, {"schedules.confluence", s.Confluence},
		{"schedules.reconcile", s.ReconcileSpec()},
	} {
		if e.spec == "" {
			continue
		}
		if _, err := cron.ParseStandard(e.spec); err != nil {
			v.c.add(e.key, "%q is not a cron spec (5 fields such as \"*/15 * * * *\", or @every 10m, @hourly): %v", e.spec, err)
		}
	}
}

func (v *validator) templates() {
	t := &v.cfg.Templates
	if t.Dir == "" {
		return
	}
	t.Dir = v.path(t.Dir)
	fi, err := os.Stat(t.Dir)
	switch {
	case err != nil:
		v.c.add("templates.dir", "directory %s does not exist", t.Dir)
	case !fi.IsDir():
		v.c.add("templates.dir", "%s is not a directory", t.Dir)
	}
}

func (v *validator) workers() {
	v.positiveInt("workers.per_target", &v.cfg.Workers.PerTarget, DefaultWorkersPerTarget)
}

// conn checks what every target entry has: name, rate, timeout, CA file and credentials.
func (v *validator) conn(key string, c *Conn, kind string, dup bool, authTypes []string) {
	switch {
	case c.Name == "":
		v.c.add(key+".name", "missing: every %s entry needs a name that projects refer to", kind)
	case !targetNameRE.MatchString(c.Name):
		v.c.add(key+".name", "%q: use letters, digits, '.', '_' and '-'", c.Name)
	case dup:
		v.c.add(key+".name", "duplicate %s name %q: names must be unique", kind, c.Name)
	}
	if c.RequestsPerSecond == 0 && !v.c.present(key+".requests_per_second") {
		c.RequestsPerSecond = DefaultRequestsPerSecond
	} else if !(c.RequestsPerSecond > 0) || math.IsInf(c.RequestsPerSecond, 0) {
		v.c.add(key+".requests_per_second", "must be a number greater than 0, got %v", c.RequestsPerSecond)
	}
	if c.Timeout == 0 && !v.c.present(key+".timeout") {
		c.Timeout = DefaultTimeout
	} else if c.Timeout <= 0 {
		v.c.add(key+".timeout", "must be greater than 0, got %s", c.Timeout)
	}
	if c.CAFile != "" {
		c.CAFile = v.path(c.CAFile)
		if b, err := readCAFile(c.CAFile); err != nil {
			v.c.add(key+".ca_file", "%v", err)
		} else if !x509.NewCertPool().AppendCertsFromPEM(b) {
			v.c.add(key+".ca_file", "%s holds no PEM certificate", c.CAFile)
		}
	}
	v.auth(key+".auth", &c.Auth, authTypes)
}

func (v *validator) auth(key string, a *Auth, types []string) {
	a.Type = strings.ToLower(a.Type)
	switch {
	case a.Type == "":
		v.c.add(key+".type", "missing: one of %s", strings.Join(types, ", "))
	case !slices.Contains(types, a.Type):
		v.c.add(key+".type", "unknown auth type %q: this target takes %s", a.Type, strings.Join(types, " or "))
	case a.Type == "basic" && a.Email == "":
		v.c.add(key+".email", "missing: basic auth needs the account's email (or use type: bearer with a personal access token)")
	case a.Type == "basic" && !strings.Contains(a.Email, "@"):
		v.c.add(key+".email", "%q is not an email address", a.Email)
	}
	switch {
	case a.TokenEnv != "" && a.TokenFile != "":
		v.c.add(key+".token_file", "set token_env or token_file, not both")
	case a.TokenEnv != "":
		if !validVarName(a.TokenEnv) {
			// Quote it only when it is a name written as a reference ("$JIRA_TOKEN"): anything else may be the
			// token itself, pasted.
			if ref := strings.Trim(a.TokenEnv, "${}"); ref != a.TokenEnv && shownVarName(ref) == ref {
				v.c.add(key+".token_env", "%q is not an environment variable name", a.TokenEnv)
			} else {
				v.c.add(key+".token_env", "is not an environment variable name (letters, digits and _, not starting with a digit); its value is not shown, as it may be the token itself: "+tokenHint)
			}
			return
		}
		val, ok := v.env(a.TokenEnv)
		switch {
		case !ok:
			v.c.add(key+".token_env", "environment variable %s is not set", shownVarName(a.TokenEnv))
		case strings.TrimSpace(val) == "":
			v.c.add(key+".token_env", "environment variable %s is empty", shownVarName(a.TokenEnv))
		default:
			a.Token = NewSecret(strings.TrimSpace(val))
		}
	case a.TokenFile != "":
		a.TokenFile = v.path(a.TokenFile)
		s, err := readSecretFile(a.TokenFile)
		if err != nil {
			v.c.add(key+".token_file", "%v", err)
			return
		}
		a.Token = NewSecret(s)
	default:
		v.c.add(key, "missing credentials: set token_env: VAR (an environment variable) or token_file: PATH (a file of mode 0600)")
	}
}

// url checks a target's base URL: https, or http for a loopback host (a local simulator or proxy).
func (v *validator) url(key, raw string) bool {
	if raw == "" {
		v.c.add(key, "missing")
		return false
	}
	u, err := url.Parse(raw)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		v.c.add(key, "not a URL: %v", err)
		return false
	}
	switch {
	case u.User != nil:
		v.c.add(key, "must not hold credentials: give them in auth (token_env or token_file)")
	case u.Scheme == "https":
	case u.Scheme == "http" && IsLoopbackHost(u.Hostname()):
	case u.Scheme == "http":
		v.c.add(key, "http:// is allowed only for loopback hosts (localhost, 127.0.0.1, ::1): use https://%s%s", u.Host, u.Path)
	default:
		v.c.add(key, "%q is not an https:// URL", raw)
	}
	switch {
	case u.Hostname() == "" && (u.Scheme == "http" || u.Scheme == "https"):
		v.c.add(key, "%q has no host", raw)
	case u.RawQuery != "" || u.Fragment != "":
		v.c.add(key, "%q must not have a query or fragment: give the base URL", raw)
	default:
		return u.User == nil && (u.Scheme == "https" || u.Scheme == "http" && IsLoopbackHost(u.Hostname()))
	}
	return false
}

func (v *validator) adoExtension(key string, e ADOExtension) {
	for _, f := range []struct{ k, v string }{{"publisher", e.Publisher}, {"id", e.ID}, {"collection", e.Collection}} {
		if f.v == "" {
			v.c.add(key+"."+f.k, "missing: the extension's %s (extension data lives in publisher/id/collection)", f.k)
		}
	}
}

func (v *validator) projects(jira map[string]*Jira, ado, conf map[string]bool) {
	ids := map[string]bool{}
	// Two projects writing the same Jira project, ADO project or Confluence page would overwrite each
	// other every cycle (they share ledger names, and the Jira property keeps one project's runs), so a
	// destination may be mapped once. A destination is its site's canonical URL and the project there, not
	// the entry's name: two entries naming one site are one destination (an ADO project named by name in
	// one mapping and by id in another is caught when the connector resolves it).
	owners := map[string]mappingOwner{}
	claim := func(key, dest, what string, i int) {
		if prev, ok := owners[dest]; ok {
			v.c.add(key, "%s is also mapped by projects[%d] (id %q, line %d) to project %q: each destination may be mapped by one project only",
				what, prev.index, prev.id, v.c.lineOf(prev.key), v.cfg.Projects[i].ID)
			return
		}
		owners[dest] = mappingOwner{index: i, id: v.cfg.Projects[i].ID, key: key}
	}
	for i := range v.cfg.Projects {
		p := &v.cfg.Projects[i]
		key := fmt.Sprintf("projects[%d]", i)
		switch {
		case p.ID == "":
			v.c.add(key+".id", "missing: the source project's id or slug")
		case strings.ContainsAny(p.ID, " \t\n"):
			v.c.add(key+".id", "%q: an id has no spaces", p.ID)
		case ids[p.ID]:
			v.c.add(key+".id", "duplicate project id %q: map each project once, with all its targets", p.ID)
		}
		ids[p.ID] = true
		if m := p.Jira; m != nil {
			k := key + ".jira"
			t := v.target(k, "jira", m.Target, jira[m.Target] != nil, slices.Sorted(maps.Keys(jira)))
			if !jiraKeyRE.MatchString(m.ProjectKey) {
				v.c.add(k+".project_key", "%q is not a Jira project key (upper-case letters and digits, such as SHOP)", m.ProjectKey)
			}
			if m.Fields == nil {
				on := true
				m.Fields = &on
			}
			switch {
			case !*m.Fields && !m.LinkedRuns:
				v.c.add(k, "maps nothing: fields is false and linked_runs is false")
			case t && *m.Fields && !m.LinkedRuns && jira[m.Target].Fields == (JiraFields{}):
				v.c.add(k, "maps nothing: jira target %q names no fields and linked_runs is false", m.Target)
			}
			if t && m.ProjectKey != "" {
				claim(k+".project_key", "jira\x00"+v.destinationSite("jira", m.Target)+"\x00"+m.ProjectKey,
					fmt.Sprintf("jira target %q project %s", m.Target, m.ProjectKey), i)
			}
		}
		if m := p.ADO; m != nil {
			k := key + ".ado"
			t := v.target(k, "ado", m.Target, ado[m.Target], slices.Sorted(maps.Keys(ado)))
			if m.Project == "" {
				v.c.add(k+".project", "missing: the Azure DevOps project name")
			} else if t {
				// Azure DevOps project names are case-insensitive: "Shop" and "shop" are one project.
				claim(k+".project", "ado\x00"+v.destinationSite("ado", m.Target)+"\x00"+strings.ToLower(m.Project),
					fmt.Sprintf("ado target %q project %q", m.Target, m.Project), i)
			}
			if m.MatchField != "" && !IsFieldRefName(m.MatchField) {
				v.c.add(k+".match_field", "%q is not a work-item field reference name (such as Custom.JiraKey)", m.MatchField)
			}
		}
		if m := p.Confluence; m != nil {
			k := key + ".confluence"
			t := v.target(k, "confluence", m.Target, conf[m.Target], slices.Sorted(maps.Keys(conf)))
			if m.Space == "" || strings.ContainsAny(m.Space, " \t") {
				v.c.add(k+".space", "%q is not a space key (such as QA)", m.Space)
			}
			if m.ParentPageID != "" && !digitsRE.MatchString(m.ParentPageID) {
				v.c.add(k+".parent_page_id", "%q is not a page id (digits, as in .../pages/98765)", m.ParentPageID)
			}
			if m.Title == "" {
				m.Title = DefaultPageTitle
			}
			v.title(k+".title", m.Title)
			if t && m.Space != "" && !strings.Contains(m.Title, "{{") {
				// A static title is the same page for every project that uses it in that space. A
				// templated one (the default names {{.Project.Name}}) differs by project as a rule: two
				// that render alike are caught when pushing, by the page's covsync.sync mark.
				tk := k + ".title"
				if !v.c.present(tk) {
					tk = k + ".space"
				}
				claim(tk, "confluence\x00"+v.destinationSite("confluence", m.Target)+"\x00"+m.Space+"\x00"+m.Title,
					fmt.Sprintf("confluence target %q space %s title %q", m.Target, m.Space, m.Title), i)
			}
			if m.ReleaseTitle == "" {
				m.ReleaseTitle = DefaultReleaseTitle
			}
			v.title(k+".release_title", m.ReleaseTitle)
		}
	}
}

// mappingOwner is the project that first mapped a destination (projects[index], at key).
type mappingOwner struct {
	index int
	id    string
	key   string
}

// target checks that a mapping names a defined target of its kind.
func (v *validator) target(key, kind, name string, defined bool, known []string) bool {
	switch {
	case name == "":
		v.c.add(key+".target", "missing: the name of a %s entry", kind)
	case !defined && len(known) == 0:
		v.c.add(key+".target", "%s target %q is not defined: there is no %s: section", kind, name, kind)
	case !defined:
		v.c.add(key+".target", "%s target %q is not defined (defined: %s)", kind, name, strings.Join(known, ", "))
	}
	return name != "" && defined
}

func (v *validator) title(key, text string) {
	if _, err := template.New("title").Option("missingkey=error").Parse(text); err != nil {
		v.c.add(key, "not a valid template: %s", strings.TrimPrefix(err.Error(), "template: title:"))
	}
}

// positiveInt defaults an unset *n to def and reports a written value below 1.
func (v *validator) positiveInt(key string, n *int, def int) {
	if *n == 0 && !v.c.present(key) {
		*n = def
		return
	}
	if *n < 1 {
		v.c.add(key, "must be 1 or more, got %d", *n)
	}
}

// path makes a relative path relative to the config file's directory.
func (v *validator) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.dir, p)
}

// maxCAFile bounds a CA bundle (a full system bundle is about 200 KB).
const maxCAFile = 4 << 20

// readCAFile reads a PEM bundle, refusing what is not a regular file of sane size (a device would never
// end).
func readCAFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return nil, fmt.Errorf("cannot read %s: %w", path, unwrapPathErr(err))
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file", path)
	case fi.Size() > maxCAFile:
		return nil, fmt.Errorf("%s is larger than %d bytes: not a CA bundle", path, maxCAFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, unwrapPathErr(err))
	}
	return b, nil
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
