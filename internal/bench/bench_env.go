package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/connectors/confluence/confluencesim"
	"github.com/covsync/covsync/connectors/jira/jirasim"
	"github.com/covsync/covsync/internal/benchload"
	"github.com/covsync/covsync/internal/daemon"
	"github.com/covsync/covsync/internal/pgserver"
	"github.com/covsync/covsync/sync/push"
)

// benchEnv is everything `covsync bench` runs against: a throwaway PostgreSQL holding the workload, the
// three simulators on loopback listeners, and a config file naming them (written as a user would, so the
// cycles load it through config.Load like `covsync resync` does).
type benchEnv struct {
	dir        string
	pg         *pgserver.Server
	pool       *pgxpool.Pool
	workload   benchload.Workload
	jira       *jirasim.Sim
	confluence *confluencesim.Server
	ado        *adosim.Sim
	// jiraFieldIDs maps benchJiraFields' names to the simulator's field ids; adoIDs maps a story key to its
	// work item id. The reliability tests read target state through them.
	jiraFieldIDs map[string]string
	adoIDs       map[string]int
	databaseURL  string
	configPath   string
	stops        []func()
	simStops     []func() // the current simulators' listeners
}

// Credentials of the simulated sites. They are throwaway values, but the bench treats them as the secrets
// they stand for: they go to token files of mode 0600, never into the config's text.
const (
	benchEmail                                               = "bench-bot@bench.example"
	benchADOPublisher, benchADOExtension, benchADOCollection = "bench", "story-coverage", "coverage"
	benchSpace                                               = "QA"
	benchMatchField                                          = "Custom.JiraKey"
)

// benchJiraFields are the custom fields the Jira target writes, by the names the config gives them.
var benchJiraFields = []struct{ name, kind string }{
	{"Test Coverage", jirasim.KindNumber},
	{"Test Coverage Summary", jirasim.KindTextField},
	{"Test Status", jirasim.KindTextField},
	{"Last Test Run", jirasim.KindURL},
}

// startBenchEnv starts PostgreSQL, generates the workload and starts the simulators with latency and a rate
// limit of rate requests per second each. The caller calls close.
func startBenchEnv(ctx context.Context, f Options, logf func(string, ...any)) (_ *benchEnv, err error) {
	e := &benchEnv{workload: benchload.Workload{Project: "bench", Prefix: "BENCH", Sizes: f.Sizes}}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.dir, err = os.MkdirTemp("", "covsync-bench-"); err != nil {
		return nil, err
	}
	e.stops = append(e.stops, func() { os.RemoveAll(e.dir) })

	t0 := time.Now()
	e.databaseURL = f.DatabaseURL
	if e.databaseURL == "" {
		if e.pg, err = pgserver.Start(ctx, pgserver.Options{}); err != nil {
			return nil, push.Unreachable(fmt.Errorf("bench: start PostgreSQL: %w", err))
		}
		e.stops = append(e.stops, func() { _ = e.pg.Stop() })
		e.databaseURL = e.pg.URL("postgres")
	}
	if e.pool, err = pgxpool.New(ctx, e.databaseURL); err != nil {
		return nil, push.Unreachable(fmt.Errorf("bench: connect: %w", err))
	}
	e.stops = append(e.stops, e.pool.Close)
	if err := migrateAll(ctx, e.pool); err != nil {
		return nil, err
	}
	logf("PostgreSQL up and migrated in %s; generating %d stories, %d releases, %d runs, %d results",
		time.Since(t0).Round(time.Millisecond), f.Sizes.Stories, f.Sizes.Releases, f.Sizes.Runs, f.Sizes.Results)
	t0 = time.Now()
	if err := benchload.Generate(ctx, e.pool, config.DefaultSourceSchema, e.workload); err != nil {
		return nil, push.Unreachable(err)
	}
	logf("workload generated in %s", time.Since(t0).Round(time.Millisecond))

	if err := e.startSims(f); err != nil {
		return nil, err
	}
	return e, nil
}

// startSims starts fresh simulators (seeded, nothing synced yet) and writes the config naming them. The
// naive baseline gets fresh ones too, so it writes into the same empty state the full resync found.
func (e *benchEnv) startSims(f Options) error {
	e.stopSims() // and let the previous ones' state go: the peak RSS is covsync's, plus one set of simulators
	jiraURL, err := e.startJira(f)
	if err != nil {
		return err
	}
	wikiURL, home, err := e.startConfluence(f)
	if err != nil {
		return err
	}
	orgURL, err := e.startADO(f)
	if err != nil {
		return err
	}
	e.configPath, err = e.writeConfig(f, jiraURL, wikiURL, home, orgURL)
	return err
}

// migrateAll applies covsync's migrations and River's, as `covsync migrate` does: resync runs its cycles
// as River jobs.
func migrateAll(ctx context.Context, pool *pgxpool.Pool) error {
	if err := daemon.Migrate(ctx, pool, &config.Config{}); err != nil {
		return push.Unreachable(fmt.Errorf("bench: migrate: %w", err))
	}
	return nil
}

func (e *benchEnv) startJira(f Options) (string, error) {
	e.jira = jirasim.New(jirasim.Options{Email: benchEmail, Token: "bench-jira-token", RequestsPerSecond: f.simRate()})
	e.jira.SetLatency(f.Latency)
	e.jiraFieldIDs = map[string]string{}
	for _, fl := range benchJiraFields {
		e.jiraFieldIDs[fl.name] = e.jira.AddField(fl.name, fl.kind)
	}
	e.jira.AddProject(e.workload.Prefix, "Bench")
	e.jira.AddIssues(e.workload.Prefix, e.workload.Stories)
	for i := 1; i <= e.workload.Releases; i++ {
		e.jira.AddVersion(e.workload.Prefix, e.workload.ReleaseName(i))
	}
	srv := e.jira.Start()
	e.simStops = append(e.simStops, srv.Close)
	return srv.URL, nil
}

func (e *benchEnv) startConfluence(f Options) (url, home string, err error) {
	e.confluence = confluencesim.New(confluencesim.Options{Email: benchEmail, Token: "bench-wiki-token",
		RequestsPerSecond: f.simRate(), AccountID: "bench-bot", DisplayName: "Bench Bot"})
	e.confluence.SetLatency(f.Latency)
	home = e.confluence.AddSpace(benchSpace, "Quality")
	url, stop, err := confluencesim.Serve(e.confluence)
	if err != nil {
		return "", "", push.Unreachable(fmt.Errorf("bench: confluence simulator: %w", err))
	}
	e.simStops = append(e.simStops, stop)
	return url, home, nil
}

func (e *benchEnv) startADO(f Options) (string, error) {
	e.ado = adosim.New(adosim.Options{Organization: "bench", PAT: "bench-ado-pat",
		// One second's worth of burst, as the Jira and Confluence simulators default to. adosim's own default
		// (1) flags every request with X-RateLimit-Remaining: 0, which the connector rightly answers with a
		// 250 ms pause; Azure DevOps itself budgets over a five-minute window.
		RatePerSecond: f.simRate(), RateBurst: max(1, int(f.simRate()))})
	e.ado.SetLatency(f.Latency)
	e.ado.AddProject("Bench")
	e.ado.AddCovsyncFields()
	e.ado.InstallExtension(benchADOPublisher, benchADOExtension)
	// Stories are Jira keys; the ADO mapping finds each one's work item by a field holding the key.
	e.adoIDs = make(map[string]int, e.workload.Stories)
	for i := 1; i <= e.workload.Stories; i++ {
		e.adoIDs[e.workload.Key(i)] = e.ado.AddWorkItem("Bench", map[string]any{benchMatchField: e.workload.Key(i)})
	}
	srv, stop, err := adosim.Serve(e.ado)
	if err != nil {
		return "", push.Unreachable(fmt.Errorf("bench: ado simulator: %w", err))
	}
	e.simStops = append(e.simStops, stop)
	return srv.OrgURL, nil
}

// writeConfig writes the config file and the token files (0600) the cycles load.
func (e *benchEnv) writeConfig(f Options, jiraURL, wikiURL, home, orgURL string) (string, error) {
	for name, tok := range map[string]string{"jira_token": "bench-jira-token", "wiki_token": "bench-wiki-token", "ado_pat": "bench-ado-pat"} {
		if err := os.WriteFile(filepath.Join(e.dir, name), []byte(tok), 0o600); err != nil {
			return "", err
		}
	}
	var fields strings.Builder
	keys := []string{"coverage_percent", "coverage_summary", "test_status", "last_run_url"}
	for i, fl := range benchJiraFields {
		fmt.Fprintf(&fields, "      %s: %s\n", keys[i], fl.name)
	}
	cfg := fmt.Sprintf(`database:
  url: %q
log: {level: %s, format: text}
workers: {per_target: %d}
jira:
  - name: bench-jira
    url: %s
    auth: {type: basic, email: %s, token_file: jira_token}
    requests_per_second: %g
    timeout: %s
    fields:
%sado:
  - name: bench-ado
    organization_url: %s
    auth: {type: pat, token_file: ado_pat}
    requests_per_second: %g
    timeout: %s
    extension: {publisher: %s, id: %s, collection: %s}
confluence:
  - name: bench-wiki
    url: %s
    auth: {type: basic, email: %s, token_file: wiki_token}
    requests_per_second: %g
    timeout: %s
projects:
  - id: %s
    jira: {target: bench-jira, project_key: %s, linked_runs: true}
    ado: {target: bench-ado, project: Bench, match_field: %s}
    confluence: {target: bench-wiki, space: %s, parent_page_id: %q}
`, e.databaseURL, f.LogLevel, f.Workers,
		jiraURL, benchEmail, f.Rate, f.Timeout, fields.String(),
		orgURL, f.Rate, f.Timeout, benchADOPublisher, benchADOExtension, benchADOCollection,
		wikiURL, benchEmail, f.Rate, f.Timeout,
		e.workload.Project, e.workload.Prefix, benchMatchField, benchSpace, home)
	p := filepath.Join(e.dir, "covsync.yaml")
	return p, os.WriteFile(p, []byte(cfg), 0o600)
}

func (e *benchEnv) stopSims() {
	for _, stop := range e.simStops {
		stop()
	}
	e.simStops = nil
}

func (e *benchEnv) close() {
	e.stopSims()
	for i := len(e.stops) - 1; i >= 0; i-- {
		e.stops[i]()
	}
	e.stops = nil
}

// traffic is what one simulator saw of one target kind since its last reset.
type traffic struct {
	requests, tooMany, writes int
}

// resetTraffic forgets every simulator's recorded requests.
func (e *benchEnv) resetTraffic() {
	e.jira.ResetRequests()
	e.confluence.ResetRequests()
	e.ado.ResetRequests()
}

// traffic counts the requests of kind's simulator. Jira's two kinds share a site: the bench runs one kind
// at a time, so the site's traffic is that kind's.
func (e *benchEnv) traffic(kind string) traffic {
	var t traffic
	switch kind {
	case push.TargetJira, push.TargetLinkedRuns:
		for _, r := range e.jira.Requests() {
			t.requests++
			if r.Status == http.StatusTooManyRequests {
				t.tooMany++
			}
			// A search is a POST that only reads (a reconcile's read-back).
			search := strings.HasPrefix(r.Path, "/rest/api/2/search")
			if acked(r.Status) && !search && (r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodDelete) {
				t.writes++
			}
		}
	case push.TargetConfluence:
		for _, r := range e.confluence.Requests() {
			t.requests++
			if r.Status == http.StatusTooManyRequests {
				t.tooMany++
			}
			if acked(r.Status) && r.IsWrite() {
				t.writes++
			}
		}
	case push.TargetADO:
		for _, r := range e.ado.Requests() {
			if r.Method == http.MethodOptions {
				continue // the client's connection handshake, not a call the rate limit counts
			}
			t.requests++
			if r.Status == http.StatusTooManyRequests {
				t.tooMany++
			}
			if acked(r.Status) && (r.IsDocumentWrite() || r.IsWorkItemWrite()) {
				t.writes++
			}
		}
	}
	return t
}

// acked says whether a status acknowledged the request: only acknowledged writes count against the floor.
func acked(status int) bool { return status >= 200 && status < 300 }

// ErrFailed (push.KindPermanent) makes `covsync bench` exit 1 when items failed: figures with failures are
// no figures.
var ErrFailed = push.Permanent(errors.New("bench: items failed"))
