package schedule

import (
	"fmt"
	"slices"
	"strings"

	"github.com/robfig/cron/v3"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/sync/push"
)

// Entry is one scheduled (project, kind) cycle.
type Entry struct {
	Project string
	Kind    string
	Spec    string // the cron spec as written in the config
	// Reconcile makes the entry's cycles reconcile cycles (schedules.reconcile).
	Reconcile bool
	sched     cron.Schedule
}

// ID is the periodic job's identifier in River: "<project>/<kind>", "<project>/<kind>/reconcile".
func (e Entry) ID() string {
	if e.Reconcile {
		return e.Project + "/" + e.Kind + "/reconcile"
	}
	return e.Project + "/" + e.Kind
}

// cronParser accepts what the config's schedules may hold (docs/architecture.md, Contracts): five fields,
// or descriptors such as @every 10m and @hourly.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSpec parses one cron spec; key names the config key in the error ("schedules.jira").
func ParseSpec(key, spec string) (cron.Schedule, error) {
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: cron spec %q: %w", key, spec, err)
	}
	return s, nil
}

// NewEntry parses spec and returns the entry for (project, kind).
func NewEntry(project, kind, spec string) (Entry, error) {
	s, err := ParseSpec("schedules."+configKey(kind), spec)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Project: project, Kind: kind, Spec: spec, sched: s}, nil
}

// Entries lists the scheduled cycles of c: one per (project, kind) that the project maps and whose schedule is
// not empty, and one reconcile entry per (project, kind) when schedules.reconcile is not empty, in config
// order.
func Entries(c *config.Config) ([]Entry, error) {
	specs := map[string]string{
		push.TargetJira:       c.Schedules.Jira,
		push.TargetLinkedRuns: c.Schedules.LinkedRuns,
		push.TargetADO:        c.Schedules.ADO,
		push.TargetConfluence: c.Schedules.Confluence,
	}
	var out []Entry
	for _, p := range c.Projects {
		for _, k := range ProjectKinds(c, p) {
			if specs[k] == "" {
				continue
			}
			e, err := NewEntry(p.ID, k, specs[k])
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		if spec := c.Schedules.ReconcileSpec(); spec != "" {
			s, err := ParseSpec("schedules.reconcile", spec)
			if err != nil {
				return nil, err
			}
			for _, k := range ProjectKinds(c, p) {
				out = append(out, Entry{Project: p.ID, Kind: k, Spec: spec, Reconcile: true, sched: s})
			}
		}
	}
	return out, nil
}

// ProjectKinds returns the target kinds project p of c maps, in the order of Kinds. Jira fields count only
// when the project keeps them on and its Jira site names at least one field.
func ProjectKinds(c *config.Config, p config.Project) []string {
	var out []string
	if p.Jira != nil && (p.Jira.Fields == nil || *p.Jira.Fields) && jiraHasFields(c, p.Jira.Target) {
		out = append(out, push.TargetJira)
	}
	if p.Jira != nil && p.Jira.LinkedRuns {
		out = append(out, push.TargetLinkedRuns)
	}
	if p.ADO != nil {
		out = append(out, push.TargetADO)
	}
	if p.Confluence != nil {
		out = append(out, push.TargetConfluence)
	}
	return out
}

func jiraHasFields(c *config.Config, site string) bool {
	for _, j := range c.Jira {
		if j.Name == site {
			return j.Fields != (config.JiraFields{})
		}
	}
	return false
}

// configKey is the schedules key of a kind ("linked-runs" is written linked_runs in YAML).
func configKey(kind string) string {
	if kind == push.TargetLinkedRuns {
		return "linked_runs"
	}
	return kind
}

// Requests expands a resync's scope into one Request per (project, kind): every configured project when
// projects is empty, every kind the project maps when kinds is empty. A project that is not configured, or a
// kind that is not a kind, is an error naming it; a kind a project does not map is left out for that project.
func Requests(c *config.Config, projects, kinds []string, force bool, trigger string) ([]Request, error) {
	return RequestsOf(c, projects, kinds, Request{Force: force, Trigger: trigger})
}

// RequestsOf is Requests with every request a copy of like (its Force, Reconcile and Trigger) for each
// (project, kind) of the scope.
func RequestsOf(c *config.Config, projects, kinds []string, like Request) ([]Request, error) {
	for _, k := range kinds {
		if !slices.Contains(push.TargetKinds(), k) {
			return nil, fmt.Errorf("target kind %q: not one of %s", k, strings.Join(push.TargetKinds(), ", "))
		}
	}
	byID := map[string]config.Project{}
	for _, p := range c.Projects {
		byID[p.ID] = p
	}
	var scope []config.Project
	if len(projects) == 0 {
		scope = c.Projects
	}
	for _, id := range projects {
		p, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("project %q: not configured", id)
		}
		scope = append(scope, p)
	}
	var out []Request
	for _, p := range scope {
		for _, k := range ProjectKinds(c, p) {
			if len(kinds) == 0 || slices.Contains(kinds, k) {
				r := like
				r.Project, r.Kind = p.ID, k
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// Mapped reports whether project maps kind in c (a job for a project or kind removed from the config since it
// was enqueued is not run).
func Mapped(c *config.Config, project, kind string) bool {
	for _, p := range c.Projects {
		if p.ID == project {
			return slices.Contains(ProjectKinds(c, p), kind)
		}
	}
	return false
}
