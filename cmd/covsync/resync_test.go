package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/internal/pgtest"
	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/engine/enginetest"
	"github.com/covsync/covsync/sync/ledger/ledgertest"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
	"github.com/covsync/covsync/sync/schedule"
)

const testConfig = `database:
  url: ${COVSYNC_TEST_RESYNC_DB}
log: {level: warn}
jira:
  - name: acme
    url: http://127.0.0.1:9
    auth: {type: bearer, token_env: COVSYNC_TEST_JIRA_TOKEN}
    fields: {coverage_percent: Test Coverage}
projects:
  - id: shop
    jira: {target: acme, project_key: SHOP}
  - id: web
    jira: {target: acme, project_key: WEB}
`

// world is a database with covsync's tables, a config that maps two projects to Jira, and in-memory Jira
// targets that the commands build instead of real ones (the real connectors have their own tests).
type world struct {
	pool    *pgxpool.Pool
	cfgPath string
	stories map[string]int // project → number of stories in its report
	// realReader makes the commands read reports from the source schema (postgres.Reader) instead of
	// inventing them.
	realReader bool
	// reader, when set, reads the reports instead of w.
	reader app.ReportReader

	mu      sync.Mutex
	targets map[string]*enginetest.Target
}

func newWorld(t *testing.T) *world {
	t.Helper()
	url := pgtest.URL(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ledgertest.Migrate(t, pool, true)
	// resync runs its cycles as the daemon's River jobs.
	if _, err := schedule.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COVSYNC_TEST_RESYNC_DB", url)
	t.Setenv("COVSYNC_TEST_JIRA_TOKEN", "t0ken-not-used")
	p := filepath.Join(t.TempDir(), "covsync.yaml")
	if err := os.WriteFile(p, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return &world{pool: pool, cfgPath: p, stories: map[string]int{"shop": 5, "web": 3}, targets: map[string]*enginetest.Target{}}
}

// target returns the in-memory target of a project mapping, the same one on every call.
func (w *world) target(name string) *enginetest.Target {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.targets[name] == nil {
		w.targets[name] = enginetest.NewTarget(name, push.TargetJira)
	}
	return w.targets[name]
}

// env builds the world's in-memory targets, and reads reports from w (or from the source schema).
func (w *world) env() app.Options {
	env := app.Options{
		Targets: func(_ context.Context, p config.Project, kinds map[string]bool) ([]engine.Target, error) {
			if p.Jira == nil || (len(kinds) > 0 && !kinds[push.TargetJira]) {
				return nil, nil
			}
			return []engine.Target{w.target("jira:" + p.Jira.Target + "/" + p.Jira.ProjectKey)}, nil
		},
		Reader: func(*pgxpool.Pool, string) app.ReportReader { return w },
	}
	if w.realReader {
		env.Reader = nil // the source schema's reader
	}
	if w.reader != nil {
		env.Reader = func(*pgxpool.Pool, string) app.ReportReader { return w.reader }
	}
	return env
}

// ReadProject gives each project a report of its own (story keys SHOP-1…).
func (w *world) ReadProject(_ context.Context, id string) (*report.Project, error) {
	p := enginetest.Project(w.stories[id])
	p.ID, p.Name = id, strings.ToUpper(id)
	return p, nil
}

// run runs covsync with args and returns its stdout and exit code.
func (w *world) run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := &cobra.Command{Use: "covsync", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newResyncCmdWith(w.env()), newStatusCmd())
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append(args, "--config", w.cfgPath))
	err := root.ExecuteContext(context.Background())
	code := exitCode(err)
	if err != nil {
		if code != exitItemFailed || !isSilent(err) {
			t.Logf("covsync %s: %v", strings.Join(args, " "), err)
		}
	}
	return out.String(), code
}

func (w *world) counts(t *testing.T) (ledgerRows, cycleRows int) {
	t.Helper()
	ctx := context.Background()
	if err := w.pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM covsync.ledger), (SELECT count(*) FROM covsync.cycles)").
		Scan(&ledgerRows, &cycleRows); err != nil {
		t.Fatal(err)
	}
	return ledgerRows, cycleRows
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
	return v
}

type jsonTargets struct {
	Targets []struct {
		Target    string `json:"target"`
		Planned   int    `json:"planned"`
		Pushed    int    `json:"pushed"`
		Unchanged int    `json:"unchanged"`
		Failed    int    `json:"failed"`
		Pruned    int    `json:"pruned"`
		Errors    []struct {
			Item  string `json:"item"`
			Error string `json:"error"`
		} `json:"errors"`
		WouldPush []struct {
			Key, Summary, Reason string
		} `json:"wouldPush"`
	} `json:"targets"`
}

func TestResyncDryRunListsWhatItWouldPushAndWritesNothing(t *testing.T) {
	w := newWorld(t)
	out, code := w.run(t, "resync", "--dry-run", "--output", "json", "--project", "shop")
	if code != exitOK {
		t.Fatalf("exit %d, want 0\n%s", code, out)
	}
	res := decode[jsonTargets](t, out)
	if len(res.Targets) != 1 || res.Targets[0].Target != "jira:acme/SHOP" || res.Targets[0].Planned != 5 ||
		len(res.Targets[0].WouldPush) != 5 || res.Targets[0].Pushed != 0 {
		t.Fatalf("dry run output = %+v, want jira:acme/SHOP with 5 planned, 5 would push", res)
	}
	if c := res.Targets[0].WouldPush[0]; c.Key != "SHOP-1" || c.Reason != "new" || !strings.HasPrefix(c.Summary, "coverage ") {
		t.Errorf("first would-push entry = %+v, want SHOP-1, new, its summary", c)
	}
	if l, c := w.counts(t); l != 0 || c != 0 {
		t.Errorf("dry run wrote %d ledger rows and %d cycle rows, want none", l, c)
	}
	if got := w.target("jira:acme/SHOP").TakePushes(); len(got) != 0 {
		t.Errorf("dry run pushed %v", got)
	}

	text, code := w.run(t, "resync", "--dry-run", "--project", "shop")
	for _, want := range []string{"WOULD PUSH", "jira:acme/SHOP would push 5:", "SHOP-3", "Dry run: nothing was pushed or recorded."} {
		if !strings.Contains(text, want) || code != exitOK {
			t.Errorf("text dry run (exit %d) lacks %q:\n%s", code, want, text)
		}
	}
}

func TestResyncPushesThenFindsNothingChanged(t *testing.T) {
	w := newWorld(t)
	out, code := w.run(t, "resync", "--output", "json")
	res := decode[jsonTargets](t, out)
	if code != exitOK || len(res.Targets) != 2 || res.Targets[0].Pushed != 5 || res.Targets[1].Pushed != 3 {
		t.Fatalf("first resync (exit %d) = %+v, want every project's stories pushed", code, res)
	}
	out, code = w.run(t, "resync", "--output", "json", "--target", "jira")
	res = decode[jsonTargets](t, out)
	if code != exitOK || res.Targets[0].Pushed != 0 || res.Targets[0].Unchanged != 5 || res.Targets[1].Unchanged != 3 {
		t.Fatalf("second resync (exit %d) = %+v, want nothing pushed", code, res)
	}
	out, code = w.run(t, "resync", "--output", "json", "--project", "web", "--force")
	if res = decode[jsonTargets](t, out); code != exitOK || len(res.Targets) != 1 || res.Targets[0].Pushed != 3 {
		t.Fatalf("forced resync of web (exit %d) = %+v, want its 3 stories pushed", code, res)
	}

	out, code = w.run(t, "status", "--output", "json")
	var st statusResult
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != exitOK {
		t.Fatalf("status (exit %d): %v\n%s", code, err, out)
	}
	if len(st.Targets) != 2 || st.Targets[1].Last.Target != "jira:acme/WEB" || st.Targets[1].Last.Pushed != 3 ||
		st.Targets[1].Last.Trigger != "resync" || st.Targets[1].LastOK == nil || len(st.Failing) != 0 {
		t.Errorf("status = %+v, want both targets, WEB's forced cycle last", st)
	}
}

func TestResyncExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		before func(t *testing.T, w *world)
		code   int
		out    string // in stdout
	}{
		{name: "an unknown project is a usage error", args: []string{"--project", "nope"}, code: exitUsage},
		{name: "an unknown target kind is a usage error", args: []string{"--target", "github"}, code: exitUsage},
		{name: "an unknown output format is a usage error", args: []string{"--output", "yaml"}, code: exitUsage},
		{
			name: "one failing item exits 1 and names it",
			before: func(t *testing.T, w *world) {
				w.target("jira:acme/SHOP").Before = enginetest.On(map[string]*enginetest.Verdict{
					"SHOP-2": {Err: push.Permanentf("jira: issue SHOP-2: 400 field %q is not on the edit screen", "Test Coverage")},
				})
			},
			code: exitItemFailed, out: `SHOP-2: jira: issue SHOP-2: 400 field "Test Coverage" is not on the edit screen`,
		},
		{
			name: "an unusable target exits 3",
			before: func(t *testing.T, w *world) {
				w.target("jira:acme/WEB").Before = func(context.Context, push.Item) *enginetest.Verdict {
					return &enginetest.Verdict{Err: push.Fatalf("jira: 401 Unauthorized")}
				}
			},
			code: exitDependency, out: "jira:acme/WEB: cycle failed: jira:acme/WEB: jira: 401 Unauthorized",
		},
		{
			name: "a target whose configuration does not fit exits 2",
			before: func(t *testing.T, w *world) {
				w.target("jira:acme/WEB").Before = func(context.Context, push.Item) *enginetest.Verdict {
					return &enginetest.Verdict{Err: push.Configf("jira acme: fields.coverage_percent: no field named %q on the site", "Test Coverage")}
				}
			},
			code: exitUsage, out: `jira:acme/WEB: cycle failed: jira:acme/WEB: jira acme: fields.coverage_percent: no field named "Test Coverage"`,
		},
		{
			name: "a configuration error beside an unusable target exits 3",
			before: func(t *testing.T, w *world) {
				w.target("jira:acme/WEB").Before = func(context.Context, push.Item) *enginetest.Verdict {
					return &enginetest.Verdict{Err: push.Configf("jira acme: no such field")}
				}
				w.target("jira:acme/SHOP").Before = func(context.Context, push.Item) *enginetest.Verdict {
					return &enginetest.Verdict{Err: push.Fatalf("jira: 401 Unauthorized")}
				}
			},
			code: exitDependency,
		},
		{
			name: "an unreachable database exits 3",
			before: func(t *testing.T, w *world) {
				t.Setenv("COVSYNC_TEST_RESYNC_DB", "postgres://covsync@127.0.0.1:1/none?connect_timeout=2")
			},
			code: exitDependency,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if tc.before != nil {
				tc.before(t, w)
			}
			out, code := w.run(t, append([]string{"resync"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out)
			}
			if !strings.Contains(out, tc.out) {
				t.Errorf("output lacks %q:\n%s", tc.out, out)
			}
		})
	}
}

func TestStatusShowsLastCyclesAndFailingItems(t *testing.T) {
	w := newWorld(t)
	w.target("jira:acme/SHOP").Before = enginetest.On(map[string]*enginetest.Verdict{
		"SHOP-4": {Err: push.Retryable(errors.New("jira: issue SHOP-4: 503 after 4 attempts"))},
	})
	if _, code := w.run(t, "resync"); code != exitItemFailed {
		t.Fatalf("resync exit %d, want 1", code)
	}
	out, code := w.run(t, "status")
	if code != exitOK {
		t.Fatalf("status exit %d", code)
	}
	lines := strings.Split(out, "\n")
	want := [][]string{
		{"TARGET", "PROJECT", "LAST CYCLE", "TRIGGER", "RESULT", "PLANNED", "PUSHED", "UNCHANGED", "FAILED"},
		{"jira:acme/SHOP", "shop", "resync", "items failed", "5", "4", "0", "1"},
		{"jira:acme/WEB", "web", "resync", "ok", "3", "3", "0", "0"},
	}
	for i, fields := range want {
		for _, f := range fields {
			if i >= len(lines) || !strings.Contains(lines[i], f) {
				t.Errorf("status line %d lacks %q:\n%s", i, f, out)
			}
		}
	}
	if !strings.Contains(out, "Items failing now (1):") || !regexpMatch(`jira:acme/SHOP\s+SHOP-4\s+1\s+\S+\s+never\s+jira: issue SHOP-4: 503 after 4 attempts`, out) {
		t.Errorf("status lacks the failing item:\n%s", out)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// TestResyncPlansFromTheIngestedReport runs resync on data ingested by `covsync ingest` and read by the real
// report reader: the items are the report's stories, and a new coverage file that changes one story makes
// the next resync push exactly that story.
func TestResyncPlansFromTheIngestedReport(t *testing.T) {
	w := newWorld(t)
	w.realReader = true
	ingestShopData(t, w.cfgPath)

	report := decode[struct {
		Stories []struct{ Key string } `json:"stories"`
	}](t, mustRun(t, "report", "--config", w.cfgPath, "--project", "shop", "--output", "json"))
	var want []string
	for _, s := range report.Stories {
		want = append(want, s.Key)
	}

	out, code := w.run(t, "resync", "--project", "shop", "--dry-run", "--output", "json")
	res := decode[jsonTargets](t, out)
	if code != exitOK || len(res.Targets) != 1 {
		t.Fatalf("dry run (exit %d): %s", code, out)
	}
	var got []string
	for _, c := range res.Targets[0].WouldPush {
		got = append(got, c.Key)
	}
	if len(want) == 0 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("dry run would push %v, want the report's stories %v", got, want)
	}

	if _, code := w.run(t, "resync", "--project", "shop"); code != exitOK {
		t.Fatalf("resync exit %d", code)
	}
	tg := w.target("jira:acme/SHOP")
	if pushed := tg.TakePushes(); len(pushed) != len(want) {
		t.Fatalf("resync pushed %v, want %d stories", pushed, len(want))
	}

	cov := filepath.Join(t.TempDir(), "coverage.json")
	if err := os.WriteFile(cov, []byte(`{"project": "shop", "measuredAt": "2026-11-21T09:00:00Z",
		"stories": [{"ticket": "SHOP-2", "coveredMethods": 2, "totalMethods": 3}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "ingest", "coverage", "--config", w.cfgPath, cov)
	out, code = w.run(t, "resync", "--project", "shop", "--output", "json")
	if pushed := tg.TakePushes(); code != exitOK || strings.Join(pushed, ",") != "SHOP-2" {
		t.Fatalf("after SHOP-2's coverage changed, resync (exit %d) pushed %v, want [SHOP-2]\n%s", code, pushed, out)
	}
}

func TestResyncOfAProjectWithoutDataIsAUsageError(t *testing.T) {
	w := newWorld(t)
	w.realReader = true
	mustRun(t, "migrate", "--config", w.cfgPath)
	out, code := w.run(t, "resync", "--project", "web", "--output", "json")
	if code != exitUsage || !strings.Contains(out, "the source schema has no such project") {
		t.Errorf("exit %d, want 2 naming the missing data:\n%s", code, out)
	}
}

func TestAnEchoedTokenNeverReachesResyncOutputOrTheLedger(t *testing.T) {
	const tok = "t0ken-echoed-by-a-proxy"
	for _, output := range []string{"text", "json"} {
		t.Run(output, func(t *testing.T) {
			w := newWorld(t)
			t.Setenv("COVSYNC_TEST_JIRA_TOKEN", tok)
			// A proxy in front of the site echoes the request, credentials and all, into its error page.
			w.target("jira:acme/SHOP").Before = enginetest.On(map[string]*enginetest.Verdict{
				"SHOP-2": {Err: push.Permanentf("jira: issue SHOP-2: 400: <html><pre>GET /x\nCookie: sso=%s</pre></html>", tok)},
			})
			w.target("jira:acme/WEB").Before = func(context.Context, push.Item) *enginetest.Verdict {
				return &enginetest.Verdict{Err: push.Fatalf("jira: 401: <html>token %s refused</html>", tok)}
			}
			out, code := w.run(t, "resync", "--output", output)
			if code != exitDependency || !strings.Contains(out, "SHOP-2") || !strings.Contains(out, "refused") {
				t.Fatalf("exit %d, want 3 with both failures listed:\n%s", code, out)
			}
			if strings.Contains(out, tok) {
				t.Errorf("resync printed the token:\n%s", out)
			}
			var stored string
			if err := w.pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(last_error, ' '), '') ||
				(SELECT coalesce(string_agg(error, ' '), '') FROM covsync.cycles) FROM covsync.ledger`).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stored, "SHOP-2") || !strings.Contains(stored, "refused") {
				t.Fatalf("the ledger lacks the failures: %q", stored)
			}
			if strings.Contains(stored, tok) {
				t.Errorf("the ledger stores the token: %q", stored)
			}
		})
	}
}

// cycleDeadlineReader records the deadline of the context each report read gets.
type cycleDeadlineReader struct {
	w         *world
	mu        sync.Mutex
	deadlines []time.Time
}

func (r *cycleDeadlineReader) ReadProject(ctx context.Context, id string) (*report.Project, error) {
	d, _ := ctx.Deadline()
	r.mu.Lock()
	r.deadlines = append(r.deadlines, d)
	r.mu.Unlock()
	return r.w.ReadProject(ctx, id)
}

func TestResyncCyclesHaveTheConfiguredCycleTimeout(t *testing.T) {
	w := newWorld(t)
	// The daemons' leader rescues a job still running cycle_timeout + 5 min after it started; a resync that
	// let its cycles run River's default 30 min would be rescued mid-push and the next tick would push the
	// same items beside it.
	if err := os.WriteFile(w.cfgPath, []byte(testConfig+"workers: {cycle_timeout: 1m}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &cycleDeadlineReader{w: w}
	w.reader = r
	began := time.Now()
	if out, code := w.run(t, "resync", "--project", "shop"); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if len(r.deadlines) != 1 {
		t.Fatalf("%d report reads, want 1", len(r.deadlines))
	}
	// The read's own bound is dbReadTimeout (2 min); the cycle's 1 min must be the tighter one.
	if d := r.deadlines[0]; d.IsZero() || d.After(began.Add(time.Minute+30*time.Second)) {
		t.Errorf("the cycle ran with deadline %v after its start; cycle_timeout is 1m", d.Sub(began))
	}
}

// deadlineReader records whether the report read had a deadline.
type deadlineReader struct {
	reportReader app.ReportReader
	deadline     time.Duration
}

func (d *deadlineReader) ReadProject(ctx context.Context, id string) (*report.Project, error) {
	if dl, ok := ctx.Deadline(); ok {
		d.deadline = time.Until(dl)
	}
	return d.reportReader.ReadProject(ctx, id)
}

func TestTheReportReadOfACycleHasADeadline(t *testing.T) {
	w := newWorld(t)
	rd := &deadlineReader{reportReader: w}
	w.reader = rd
	if _, code := w.run(t, "resync", "--project", "shop"); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if rd.deadline <= 0 || rd.deadline > app.DBReadTimeout {
		t.Errorf("the report read had deadline %v from now, want one within %v", rd.deadline, app.DBReadTimeout)
	}
}
