package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxConfigSize bounds what Load reads: a config is a few kilobytes; anything far larger is a mistake.
const maxConfigSize = 1 << 20

// Load reads, expands, decodes, defaults and validates the file at path. A config that cannot be used comes
// back as a *Problems listing every problem with its file, line and key. Relative file paths in the config
// (token_file, password_file, url_file, ca_file, templates.dir) are taken relative to the config file's
// directory, and Load stores them resolved.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if len(b) > maxConfigSize {
		return nil, &Problems{File: path, List: []Problem{{Msg: fmt.Sprintf("larger than %d bytes: not a covsync config", maxConfigSize)}}}
	}
	return LoadBytes(path, b)
}

// LoadBytes is Load for a config already in memory; path names it in problems and anchors relative paths.
// ${VAR} references are expanded from the process environment.
func LoadBytes(path string, b []byte) (*Config, error) {
	return load(path, b, os.LookupEnv)
}

func load(path string, b []byte, env func(string) (string, bool)) (*Config, error) {
	c := newCollector()
	var cfg Config
	cfg.Path = path
	raw := map[string]string{}

	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		// An empty file: the checks below name what is missing.
	case err != nil:
		// A syntax error stops everything: nothing after it can be trusted. yaml.v3 already says "line N".
		return nil, &Problems{File: path, List: []Problem{syntaxProblem(err)}}
	default:
		var extra yaml.Node
		if err := dec.Decode(&extra); err == nil {
			c.block("", extra.Line, "a config is one YAML document; found another (a second ---)")
		} else if !errors.Is(err, io.EOF) {
			return nil, &Problems{File: path, List: []Problem{syntaxProblem(err)}}
		}
		root := &doc
		if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
			root = root.Content[0]
		}
		w := &walker{c: c, env: env, visited: map[visit]bool{}, expanded: map[*yaml.Node]bool{}, raw: raw, badLines: map[int]bool{}}
		w.walk(root, reflect.TypeOf(cfg), "")
		if err := root.Decode(&cfg); err != nil {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				return nil, &Problems{File: path, List: []Problem{syntaxProblem(err)}}
			}
			// The walker has named these by key; report only those on a line it did not.
			seen := w.badLines
			for _, p := range c.list {
				seen[p.Line] = true
			}
			for _, e := range te.Errors {
				pr := syntaxProblem(errors.New(e))
				if !seen[pr.Line] {
					c.list = append(c.list, Problem{Line: pr.Line, Msg: strings.TrimPrefix(pr.Msg, "not valid YAML: ")})
				}
			}
		}
		cfg.Path = path
	}

	v := &validator{c: c, cfg: &cfg, dir: filepath.Dir(path), env: env, raw: raw}
	v.run()
	if err := c.result(path, cfg.Secrets()); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// syntaxProblem turns a yaml.v3 parse error ("yaml: line 7: mapping values are not allowed in this
// context") into a Problem on that line.
func syntaxProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		msg = strings.TrimSpace(msg[strings.IndexByte(msg, ':')+1:])
	}
	return Problem{Line: line, Msg: "not valid YAML: " + msg}
}
