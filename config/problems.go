package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/covsync/covsync/internal/redact"
)

// Problem is one thing wrong with a config file.
type Problem struct {
	Line int    // 1-based; 0 when no line applies (an empty file)
	Key  string // the key path, e.g. "jira[0].auth.token_env"; empty for the file as a whole
	Msg  string
}

// Problems is the error Load returns for a config that cannot be used. It lists every problem found, not
// only the first, sorted by line.
type Problems struct {
	File string
	List []Problem
}

// Lines returns one "file:line: key: message" line per problem.
func (p *Problems) Lines() []string {
	out := make([]string, 0, len(p.List))
	for _, pr := range p.List {
		var b strings.Builder
		b.WriteString(p.File)
		if pr.Line > 0 {
			fmt.Fprintf(&b, ":%d", pr.Line)
		}
		b.WriteString(": ")
		if pr.Key != "" {
			b.WriteString(pr.Key)
			b.WriteString(": ")
		}
		b.WriteString(pr.Msg)
		out = append(out, b.String())
	}
	return out
}

func (p *Problems) Error() string {
	n := "1 problem"
	if len(p.List) != 1 {
		n = fmt.Sprintf("%d problems", len(p.List))
	}
	return fmt.Sprintf("config %s: %s:\n  %s", p.File, n, strings.Join(p.Lines(), "\n  "))
}

// collector gathers problems while a config is checked. A key that already has a problem (a bad type, an
// unset variable) is "blocked": later checks of the same key stay quiet, so one mistake is reported once.
type collector struct {
	lines   map[string]int // key path → line of the key
	list    []Problem
	blocked map[string]bool
}

func newCollector() *collector {
	return &collector{lines: map[string]int{}, blocked: map[string]bool{}}
}

// add records a problem of key. Its line is the key's own, or the nearest enclosing key's when the key is
// absent from the file (a missing required key is reported where its parent is).
func (c *collector) add(key, format string, args ...any) {
	if c.blocked[key] {
		return
	}
	c.list = append(c.list, Problem{Line: c.lineOf(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// block records a problem and silences further ones for key.
func (c *collector) block(key string, line int, format string, args ...any) {
	if c.blocked[key] {
		return
	}
	if line == 0 {
		line = c.lineOf(key)
	}
	c.list = append(c.list, Problem{Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
	c.blocked[key] = true
}

// present reports whether key was written in the file.
func (c *collector) present(key string) bool {
	_, ok := c.lines[key]
	return ok
}

func (c *collector) lineOf(key string) int {
	for key != "" {
		if l, ok := c.lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			return 0
		}
		key = key[:i]
	}
	return 0
}

// result returns the problems as an error (nil when there are none), with every secret value masked: a
// message may quote a value, and a value expanded from the environment may be a secret.
func (c *collector) result(file string, secrets []string) error {
	if len(c.list) == 0 {
		return nil
	}
	sort.SliceStable(c.list, func(i, j int) bool { return c.list[i].Line < c.list[j].Line })
	// internal/redact knows every spelling of a secret (URL-, JSON-escaped, base64) and credential shapes.
	red := redact.New(secrets...)
	for i := range c.list {
		c.list[i].Msg = red.Redact(c.list[i].Msg)
	}
	return &Problems{File: file, List: c.list}
}
