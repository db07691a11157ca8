package adosim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// maxWiqlLength is the service's limit on a query's text: "The WIQL query length exceeds the limit of 32K
// characters" (https://learn.microsoft.com/en-us/rest/api/azure/devops/wit/wiql/query-by-wiql).
const maxWiqlLength = 32 * 1024

// cond is one comparison of a flat WIQL query: [ref] = value, or [ref] IN (values…).
type cond struct {
	ref    string
	values []string // compared case-insensitively, as WIQL compares strings
}

var (
	wiqlShape = regexp.MustCompile(`(?is)^\s*SELECT\s+(.+?)\s+FROM\s+WorkItems\s+WHERE\s+(.+?)(\s+ORDER\s+BY\s+.+)?\s*$`)
	condShape = regexp.MustCompile(`(?is)^\s*\[([A-Za-z0-9_.]+)\]\s*(=|IN)\s*(.+?)\s*$`)
)

// serveWiql answers POST [{project}/]_apis/wit/wiql with {"query": "…"}: a flat query whose WHERE clause is
// comparisons joined by AND (`[Field] = 'v'`, `[Field] = 12`, `[Field] = @project`, `[Field] IN ('a', 'b')`).
// The answer lists work item references only, as the service does; fields are read with a second call
// (https://learn.microsoft.com/en-us/rest/api/azure/devops/wit/wiql/query-by-wiql).
func (s *Sim) serveWiql(w http.ResponseWriter, r *http.Request, proj *project, body []byte) {
	var in struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(body, &in); err != nil || strings.TrimSpace(in.Query) == "" {
		writeError(w, http.StatusBadRequest, "ArgumentNullException", "The query is empty.")
		return
	}
	if len(in.Query) > maxWiqlLength {
		writeError(w, http.StatusBadRequest, "WiqlQueryTooLongException", "VS402336: The WIQL query length exceeds the limit of 32K characters.")
		return
	}
	conds, err := parseWiql(in.Query, proj)
	if err != nil {
		writeError(w, http.StatusBadRequest, "WorkItemTrackingQueryInvalidSyntaxException", "TF51006: The query statement is not valid: "+err.Error())
		return
	}
	s.mu.Lock()
	for _, c := range conds {
		if !s.fieldExists(c.ref) {
			s.mu.Unlock()
			// The service refuses a query naming a field the organization's process does not define, with
			// TF51005 (https://learn.microsoft.com/en-us/azure/devops/boards/queries/wiql-syntax). The
			// simulator's fields are the System ones and those some work item holds.
			writeError(w, http.StatusBadRequest, "WorkItemTrackingQueryInvalidSyntaxException",
				"TF51005: The query references a field that does not exist. The error is caused by «"+c.ref+"».")
			return
		}
	}
	var ids []int
	for id, wi := range s.workItems {
		if proj != nil && !strings.EqualFold(wi.Project, proj.Name) {
			continue
		}
		if matches(wi, conds) {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	sort.Ints(ids)
	refs := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		refs = append(refs, map[string]any{"id": id, "url": fmt.Sprintf("%s/_apis/wit/workItems/%d", baseURL(r), id)})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"queryType": "flat", "queryResultType": "workItem", "asOf": s.now().UTC().Format("2006-01-02T15:04:05.999Z"),
		"columns":   []map[string]string{{"referenceName": "System.Id", "name": "ID"}},
		"workItems": refs,
	})
}

func parseWiql(q string, proj *project) ([]cond, error) {
	m := wiqlShape.FindStringSubmatch(q)
	if m == nil {
		return nil, errors.New("expected SELECT … FROM WorkItems WHERE …")
	}
	var out []cond
	for _, part := range splitAnd(m[2]) {
		part = strings.TrimSpace(part)
		cm := condShape.FindStringSubmatch(part)
		if cm == nil {
			return nil, fmt.Errorf("unsupported condition %q", part)
		}
		c := cond{ref: cm[1]}
		rhs := strings.TrimSpace(cm[3])
		if strings.EqualFold(cm[2], "IN") {
			if !strings.HasPrefix(rhs, "(") || !strings.HasSuffix(rhs, ")") {
				return nil, fmt.Errorf("IN needs a parenthesised list in %q", part)
			}
			vals, err := literals(rhs[1 : len(rhs)-1])
			if err != nil {
				return nil, err
			}
			c.values = vals
		} else {
			v, err := literal(rhs, proj)
			if err != nil {
				return nil, err
			}
			c.values = []string{v}
		}
		out = append(out, c)
	}
	return out, nil
}

// splitAnd splits a WHERE clause at the ANDs outside string literals.
func splitAnd(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			quoted = !quoted // a doubled quote toggles twice: still inside
		case !quoted && i+5 <= len(s) && isSpace(s[i]) && strings.EqualFold(s[i+1:i+4], "AND") && isSpace(s[i+4]):
			out = append(out, s[start:i])
			start = i + 5
			i += 4
		}
	}
	return append(out, s[start:])
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// literals splits a comma-separated list of quoted strings (a doubled quote inside one is a quote) or numbers.
func literals(s string) ([]string, error) {
	var out []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == ',' || c == '\t' || c == '\n':
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j++
						continue
					}
					break
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, errors.New("unterminated string literal")
			}
			out = append(out, b.String())
			i = j + 1
		default:
			j := i
			for j < len(s) && s[j] != ',' {
				j++
			}
			n := strings.TrimSpace(s[i:j])
			if _, err := strconv.ParseFloat(n, 64); err != nil {
				return nil, fmt.Errorf("not a literal: %q", n)
			}
			out = append(out, n)
			i = j
		}
	}
	return out, nil
}

func literal(s string, proj *project) (string, error) {
	if strings.EqualFold(s, "@project") {
		if proj == nil {
			return "", errors.New("@project needs a project in the route")
		}
		return proj.Name, nil
	}
	vals, err := literals(s)
	if err != nil {
		return "", err
	}
	if len(vals) != 1 {
		return "", fmt.Errorf("expected one value, got %q", s)
	}
	return vals[0], nil
}

// fieldExists reports whether ref is a field of the organization: a System field, or one a work item holds.
// The caller holds s.mu.
func (s *Sim) fieldExists(ref string) bool {
	if len(ref) > len("System.") && strings.EqualFold(ref[:len("System.")], "System.") {
		return true
	}
	for _, wi := range s.workItems {
		for k := range wi.Fields {
			if strings.EqualFold(k, ref) {
				return true
			}
		}
	}
	return false
}

func matches(wi *workItem, conds []cond) bool {
	for _, c := range conds {
		v, ok := wi.Fields[c.ref]
		if !ok {
			for k, fv := range wi.Fields {
				if strings.EqualFold(k, c.ref) {
					v, ok = fv, true
				}
			}
		}
		if !ok {
			return false
		}
		sv := fmt.Sprint(v)
		hit := false
		for _, want := range c.values {
			if strings.EqualFold(sv, want) {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	return true
}
