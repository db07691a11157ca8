package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	tokenHint    = "a token never goes in the config file: use token_env: VAR (an environment variable) or token_file: PATH (a file of mode 0600)"
	passwordHint = "a password never goes in the config file: use database.password_file, or put the whole URL in the environment (url: ${COVSYNC_DATABASE_URL})"
	tlsHint      = "TLS verification is always on: give the server's CA with ca_file instead"
)

// keyHints answer keys people try that covsync refuses on purpose: secrets in the file, TLS switched off.
var keyHints = map[string]string{
	"token": tokenHint, "pat": tokenHint, "api_token": tokenHint, "password": passwordHint,
	"insecure": tlsHint, "insecure_skip_verify": tlsHint, "skip_tls_verify": tlsHint, "tls_skip_verify": tlsHint,
}

var (
	secretType   = reflect.TypeOf(Secret{})
	durationType = reflect.TypeOf(time.Duration(0))
)

// walker checks a YAML node tree against the Config type before it is decoded: it names every unknown key
// and every value of the wrong shape with its line and key path, expands ${VAR} references in scalars, and
// records the line of every key for later problems.
type walker struct {
	c        *collector
	env      func(string) (string, bool)
	visited  map[visit]bool
	expanded map[*yaml.Node]bool
	raw      map[string]string // key path → scalar text before expansion (only what validation needs)
	// badLines are the lines of values the walker found of the wrong shape: yaml.v3 will name them again.
	badLines map[int]bool
}

type visit struct {
	n *yaml.Node
	t reflect.Type
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode {
		// Each anchor is checked once per type: this bounds the work of a file built from nested aliases.
		if n.Alias == nil || w.visited[visit{n.Alias, t}] {
			return
		}
		w.visited[visit{n.Alias, t}] = true
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode {
		w.expand(n, path)
		if isNull(n) {
			return
		}
	}
	want, wantName := shape(t)
	if n.Kind != want {
		w.badLines[n.Line] = true
		w.c.block(path, w.lineOf(path, n), "expected %s, got a %s", wantName, kindName(n))
		return
	}
	switch {
	case want == yaml.ScalarNode:
		if t.Kind() != reflect.String && t != secretType {
			// Decode the one value now, so a bad number or duration is named by its key.
			if err := n.Decode(reflect.New(t).Interface()); err != nil {
				w.badLines[n.Line] = true
				w.c.block(path, n.Line, "expected %s, got %q", wantName, n.Value)
			}
		}
	case t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		w.mapping(n, path, func(key *yaml.Node, val *yaml.Node) {
			f, ok := fields[key.Value]
			if !ok {
				w.unknown(key, path, fields)
				return
			}
			p := join(path, key.Value)
			w.c.lines[p] = key.Line
			w.walk(val, f, p)
		})
	case t.Kind() == reflect.Slice:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.c.lines[p] = item.Line
			if item.Kind == yaml.ScalarNode && isNull(item) && t.Elem().Kind() == reflect.Struct {
				// yaml.v3 would drop it silently; it is most likely a mis-indented entry.
				w.c.block(p, item.Line, "an empty entry: check the indentation of the lines below it")
				continue
			}
			w.walk(item, t.Elem(), p)
		}
	case t.Kind() == reflect.Map:
		w.mapping(n, path, func(key *yaml.Node, val *yaml.Node) {
			p := join(path, key.Value)
			w.c.lines[p] = key.Line
			w.walk(val, t.Elem(), p)
		})
	}
}

// shape is the YAML node kind a value of type t is written as, and how a message describes it.
func shape(t reflect.Type) (yaml.Kind, string) {
	switch {
	case t == secretType || t == durationType:
		return yaml.ScalarNode, describe(t)
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		return yaml.MappingNode, "a mapping of keys"
	case t.Kind() == reflect.Slice:
		return yaml.SequenceNode, "a list"
	}
	return yaml.ScalarNode, describe(t)
}

// lineOf is the line of path's key, or of node n when the key is not in the file (the document itself).
func (w *walker) lineOf(path string, n *yaml.Node) int {
	if l := w.c.lineOf(path); l > 0 {
		return l
	}
	return n.Line
}

// mapping calls f for each key and value of n, following YAML merge keys (<<: *anchor).
func (w *walker) mapping(n *yaml.Node, path string, f func(key, val *yaml.Node)) {
	w.dropDuplicateKeys(n, path)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.Kind == yaml.ScalarNode && key.Value == "<<" && key.Tag == "!!merge" {
			for _, m := range mergeSources(val) {
				if !w.visited[visit{m, nil}] {
					w.visited[visit{m, nil}] = true
					w.mapping(m, path, f)
				}
			}
			continue
		}
		if key.Kind != yaml.ScalarNode {
			w.c.block(path, key.Line, "a key must be plain text, got a %s", kindName(key))
			continue
		}
		f(key, val)
	}
}

// dropDuplicateKeys reports each key written twice in one mapping and keeps only its first value, so the
// rest of the file is still decoded and checked (yaml.v3 would refuse the whole mapping).
func (w *walker) dropDuplicateKeys(n *yaml.Node, path string) {
	first := map[string]int{}
	kept := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		if key.Kind == yaml.ScalarNode && key.Tag != "!!merge" {
			if line, dup := first[key.Value]; dup {
				w.c.block(join(path, key.Value), key.Line, "mapping key %q already defined at line %d", key.Value, line)
				continue
			}
			first[key.Value] = key.Line
		}
		kept = append(kept, n.Content[i], n.Content[i+1])
	}
	n.Content = kept
}

func mergeSources(val *yaml.Node) []*yaml.Node {
	deref := func(n *yaml.Node) *yaml.Node {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			return n.Alias
		}
		return n
	}
	val = deref(val)
	switch val.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{val}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, it := range val.Content {
			if it = deref(it); it.Kind == yaml.MappingNode {
				out = append(out, it)
			}
		}
		return out
	}
	return nil
}

func (w *walker) unknown(key *yaml.Node, path string, fields map[string]reflect.Type) {
	p := join(path, key.Value)
	if hint, ok := keyHints[strings.ToLower(key.Value)]; ok {
		if hint == passwordHint && !strings.HasPrefix(path, "database") {
			hint = tokenHint
		}
		w.c.block(p, key.Line, "not allowed: %s", hint)
		return
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	if s := closest(key.Value, names); s != "" {
		w.c.block(p, key.Line, "unknown key %q (did you mean %q?)", key.Value, s)
		return
	}
	w.c.block(p, key.Line, "unknown key %q (known here: %s)", key.Value, strings.Join(names, ", "))
}

// expand replaces ${VAR} and ${VAR:-default} in a scalar with values from the environment. Only that form
// is expanded ($VAR is left alone, so a "$" in a value needs no escaping); "$${" stands for a literal "${".
func (w *walker) expand(n *yaml.Node, path string) {
	if w.expanded[n] {
		return
	}
	w.expanded[n] = true
	if !strings.Contains(n.Value, "${") {
		return
	}
	if w.raw != nil {
		w.raw[path] = n.Value
	}
	v, probs := expandVars(n.Value, w.env)
	for _, p := range probs {
		w.c.block(path, n.Line, "%s", p)
	}
	if v == n.Value {
		return
	}
	n.Value = v
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		// A plain scalar is typed by its expanded text: `requests_per_second: ${RPS}` is a number.
		n.Tag = ""
	}
}

func expandVars(s string, env func(string) (string, bool)) (string, []string) {
	var b strings.Builder
	var probs []string
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			probs = append(probs, fmt.Sprintf("unterminated %q: write ${NAME}", s[i:]))
			b.WriteString(s[i:])
			break
		}
		ref := s[i+2 : i+end]
		i += end + 1
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validVarName(name) {
			probs = append(probs, fmt.Sprintf("%q is not a variable reference: write ${NAME} or ${NAME:-default}", "${"+ref+"}"))
			continue
		}
		v, ok := env(name)
		switch {
		case hasDef && v == "":
			v = def
		case !ok:
			probs = append(probs, fmt.Sprintf("environment variable %s is not set (write ${%s:-default} to give a default)", name, name))
		}
		b.WriteString(v)
	}
	return b.String(), probs
}

func isNull(n *yaml.Node) bool {
	if n.Tag == "!!null" {
		return true
	}
	if n.Tag != "" || n.Style != 0 {
		return false
	}
	switch n.Value {
	case "", "~", "null", "Null", "NULL":
		return true
	}
	return false
}

// shownVarName is s when it has the shape of a conventional variable name (upper case, digits and _, at most
// 64 characters, as every example uses), and a placeholder otherwise: a token pasted where a variable name
// belongs can be a valid name too (Atlassian and Azure DevOps tokens are letters and digits), and an error
// message must not print it.
func shownVarName(s string) string {
	if len(s) <= 64 && validVarName(s) && strings.ToUpper(s) == s {
		return s
	}
	return "(name not shown: it does not look like a variable name; is it the token itself?)"
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}

// yamlFields maps the YAML keys of struct type t to their types, flattening ",inline" fields.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if opts == "inline" {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func describe(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 30s or 2m"
	case t == secretType:
		return "a text value"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a text value"
	}
	return t.String()
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return fmt.Sprintf("value (%q)", n.Value)
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// closest returns the candidate within edit distance 2 of s (the nearest), or "".
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
