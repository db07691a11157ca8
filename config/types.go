package config

import "time"

// Config is the whole covsync configuration file (docs/architecture.md, Contracts). Every key is optional
// unless Validate says otherwise; Load fills the defaults.
type Config struct {
	Database   Database     `yaml:"database"`
	HTTP       HTTP         `yaml:"http"`
	Log        Log          `yaml:"log"`
	Schedules  Schedules    `yaml:"schedules"`
	Templates  Templates    `yaml:"templates"`
	Workers    Workers      `yaml:"workers"`
	Ingest     Ingest       `yaml:"ingest"`
	Jira       []Jira       `yaml:"jira"`
	ADO        []ADO        `yaml:"ado"`
	Confluence []Confluence `yaml:"confluence"`
	Projects   []Project    `yaml:"projects"`

	// Path is the file the config was loaded from (not a YAML key).
	Path string `yaml:"-"`
}

// Database is where covsync reads its source data and keeps its own state.
type Database struct {
	// URL is a libpq/pgx connection string. Its password is a secret: it is redacted from every log line.
	URL Secret `yaml:"url"`
	// URLFile reads the URL from a file (mode 0600 or stricter) instead.
	URLFile string `yaml:"url_file"`
	// PasswordFile reads the password from a file (mode 0600 or stricter) and puts it into the URL, so the
	// URL itself can sit in the config file or the environment without it.
	PasswordFile string `yaml:"password_file"`
	SourceSchema string `yaml:"source_schema"` // default covsync_source
	// MigrateSource false leaves the source schema alone in `covsync migrate` (a deployment that maps its own
	// tables with views of the same shape). Default true.
	MigrateSource *bool `yaml:"migrate_source"`
	AutoMigrate   bool  `yaml:"auto_migrate"`
	MaxConns      int32 `yaml:"max_conns"` // default 8
}

// HTTP is the daemon's own endpoint.
type HTTP struct {
	Listen             string   `yaml:"listen"` // default 127.0.0.1:9464
	ResyncAPIKeySHA256 []string `yaml:"resync_api_key_sha256"`
	// TLS serves the endpoint over HTTPS; the pair is read again on SIGHUP (certificate rotation).
	TLS HTTPTLS `yaml:"tls"`
	// PlaintextBehindProxy allows plain HTTP on a non-loopback address, for a TLS-terminating proxy in front.
	PlaintextBehindProxy bool `yaml:"plaintext_behind_proxy"`
	// MaxBodyBytes bounds a posted report, counted after decompression too (default 50 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// RequestTimeout bounds reading one request, headers and body, and handling it (default 60s).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// IdleTimeout closes a keep-alive connection idle this long (default 60s).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// KeyRequestsPerSecond and KeyBurst rate-limit the ingest requests of each API key (default 5 and 50);
	// past them a request gets 429 with Retry-After.
	KeyRequestsPerSecond float64 `yaml:"key_requests_per_second"`
	KeyBurst             int     `yaml:"key_burst"`
}

// HTTPTLS is the endpoint's certificate and private key (PEM files).
type HTTPTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether a certificate is configured.
func (t HTTPTLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Ingest configures reports posted to the endpoint.
type Ingest struct {
	// SyncDelay is how long after the first report of a burst its project's target cycles run (default 5s).
	SyncDelay time.Duration `yaml:"sync_delay"`
}

// Log configures logrus.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // json or text; default text on a terminal, json otherwise
}

// Schedules are robfig/cron specs per target kind; an empty spec disables scheduled cycles of that kind.
type Schedules struct {
	Jira       string `yaml:"jira"`
	LinkedRuns string `yaml:"linked_runs"`
	ADO        string `yaml:"ado"`
	Confluence string `yaml:"confluence"`
	// Reconcile runs reconcile cycles of every (project, target): read back what each target holds and push
	// what drifted. Unset means DefaultReconcile; an empty string turns reconcile cycles off.
	Reconcile *string `yaml:"reconcile"`
}

// DefaultReconcile is schedules.reconcile when the config does not set it.
const DefaultReconcile = "@daily"

// ReconcileSpec is the reconcile schedule in effect: the configured spec, or DefaultReconcile when unset.
func (s Schedules) ReconcileSpec() string {
	if s.Reconcile == nil {
		return DefaultReconcile
	}
	return *s.Reconcile
}

// Templates points at a directory whose files override the embedded defaults of the same relative path
// (jira/summary.tmpl, confluence/page.html.tmpl).
type Templates struct {
	Dir string `yaml:"dir"`
}

// Workers bounds concurrency.
type Workers struct {
	// PerTarget bounds the requests in flight to one site or organization and the concurrent pushes of one
	// target cycle (default 64). Within it, the HTTP client sizes the in-flight limit to the latency the site
	// shows (connectors/httpx).
	PerTarget int `yaml:"per_target"`
	// Queues is how many cycles of each target kind (jira, linked-runs, ado, confluence) one replica runs at
	// once (default 1 per kind). Each kind is a River queue of its own, so a slow Confluence cannot hold up
	// Jira cycles.
	Queues map[string]int `yaml:"queues"`
	// CycleTimeout cancels a (project, target) cycle that runs longer (default 30m).
	CycleTimeout time.Duration `yaml:"cycle_timeout"`
	// ShutdownTimeout is how long SIGTERM lets running cycles finish before cancelling them (default 30s).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Auth is how covsync authenticates to one target. The secret comes from TokenEnv or TokenFile, never from
// the config file's own text.
type Auth struct {
	Type      string `yaml:"type"` // jira/confluence: basic | bearer; ado: pat
	Email     string `yaml:"email"`
	TokenEnv  string `yaml:"token_env"`
	TokenFile string `yaml:"token_file"`
	// Token is resolved by Load from TokenEnv or TokenFile.
	Token Secret `yaml:"-"`
}

// Conn holds what every target entry has besides its own keys.
type Conn struct {
	Name              string        `yaml:"name"`
	Auth              Auth          `yaml:"auth"`
	CAFile            string        `yaml:"ca_file"`
	RequestsPerSecond float64       `yaml:"requests_per_second"` // default 10
	Timeout           time.Duration `yaml:"timeout"`             // per request; default 30s
}

// Jira is one Jira site.
type Jira struct {
	Conn   `yaml:",inline"`
	URL    string     `yaml:"url"`
	Fields JiraFields `yaml:"fields"`
	// NotifyUsers lets Jira notify watchers of covsync's edits. False (the default) sends notifyUsers=false,
	// which Jira Cloud accepts only from an account with the Administer Projects permission (403 otherwise).
	NotifyUsers bool `yaml:"notify_users"`
}

// JiraFields names the custom fields covsync writes, by name or by customfield_NNNNN id. Each is optional.
type JiraFields struct {
	CoveragePercent string `yaml:"coverage_percent"`
	CoverageSummary string `yaml:"coverage_summary"`
	TestStatus      string `yaml:"test_status"`
	LastRunURL      string `yaml:"last_run_url"`
}

// ADO is one Azure DevOps organization (or Server collection).
type ADO struct {
	Conn            `yaml:",inline"`
	OrganizationURL string            `yaml:"organization_url"`
	Extension       ADOExtension      `yaml:"extension"`
	Fields          map[string]string `yaml:"fields"` // coverage_percent|coverage_summary|test_status|last_run_url → reference name
}

// ADOExtension names the installed extension whose data collection holds covsync's documents.
type ADOExtension struct {
	Publisher  string `yaml:"publisher"`
	ID         string `yaml:"id"`
	Collection string `yaml:"collection"`
}

// Confluence is one Confluence site (Cloud: https://x.atlassian.net/wiki; Data Center: the context path).
type Confluence struct {
	Conn         `yaml:",inline"`
	URL          string `yaml:"url"`
	OnManualEdit string `yaml:"on_manual_edit"` // overwrite (default) | skip
	// MaxRows caps the story table; the rest is summarised as "… and N more" (default 500).
	MaxRows int `yaml:"max_rows"`
}

// Project maps one source project to its targets.
type Project struct {
	ID         string             `yaml:"id"`
	Jira       *ProjectJira       `yaml:"jira"`
	ADO        *ProjectADO        `yaml:"ado"`
	Confluence *ProjectConfluence `yaml:"confluence"`
}

// ProjectJira maps a project to a Jira project.
type ProjectJira struct {
	Target     string `yaml:"target"`
	ProjectKey string `yaml:"project_key"`
	LinkedRuns bool   `yaml:"linked_runs"`
	// Fields is off when false: only the linked-runs property is maintained. Default true.
	Fields *bool `yaml:"fields"`
}

// ProjectADO maps a project to an Azure DevOps project.
type ProjectADO struct {
	Target  string `yaml:"target"`
	Project string `yaml:"project"`
	// MatchField finds a story's work item by a field holding the ticket key (WIQL), e.g. Custom.JiraKey.
	// Empty: the ticket key is the work item id ("AB#123" or "123").
	MatchField string `yaml:"match_field"`
}

// ProjectConfluence maps a project to pages in a Confluence space.
type ProjectConfluence struct {
	Target       string `yaml:"target"`
	Space        string `yaml:"space"`
	ParentPageID string `yaml:"parent_page_id"`
	Title        string `yaml:"title"` // text/template over {{.Project}}; default "Test coverage: {{.Project.Name}}"
	// ReleasePages adds one page per release, titled by ReleaseTitle.
	ReleasePages bool   `yaml:"release_pages"`
	ReleaseTitle string `yaml:"release_title"` // default "Test coverage: {{.Project.Name}} {{.Release.Name}}"
}
