package jira

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/covsync/covsync/connectors/fieldtext"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// Roles: what covsync writes, named by their config key under jira[].fields.
const (
	roleCoveragePercent = "coverage_percent"
	roleCoverageSummary = "coverage_summary"
	roleTestStatus      = "test_status"
	roleLastRunURL      = "last_run_url"
)

// fieldKind is how a value must be shaped for a field, decided by the field's schema.
type fieldKind int

const (
	kindNumber   fieldKind = iota + 1 // schema type number → a JSON number
	kindText                          // single-line text (textfield, or any other string field): ≤ 255 characters
	kindTextArea                      // multi-line text: the whole rendering
	kindURL                           // url custom field: an absolute URL
	kindOption                        // single select: {"value": …}
)

func (k fieldKind) String() string {
	return map[fieldKind]string{kindNumber: "number", kindText: "text", kindTextArea: "text area", kindURL: "url", kindOption: "select"}[k]
}

// MaxTextChars is Jira's limit for a single-line text field, in UTF-16 code units (Jira counts Java
// String length); longer values are cut on a rune boundary.
const MaxTextChars = 255

// maxTextAreaChars is Jira's limit for a multi-line text field, in UTF-16 code units.
const maxTextAreaChars = 32767

// field is a configured role resolved to a Jira field.
type field struct {
	Role string    `json:"role"`
	ID   string    `json:"id"`
	Name string    `json:"name"`
	Kind fieldKind `json:"kind"`
}

// accepts lists, per role, the field kinds covsync can write it to.
var accepts = map[string][]fieldKind{
	roleCoveragePercent: {kindNumber, kindText, kindTextArea, kindOption},
	roleCoverageSummary: {kindText, kindTextArea},
	roleTestStatus:      {kindOption, kindText, kindTextArea},
	roleLastRunURL:      {kindURL, kindText, kindTextArea},
}

// resolveFields maps each configured field (a name or a customfield_NNNNN id) to a field of the site with
// one GET /rest/api/2/field. A name matching no field or several is an error naming it, as is a field whose
// schema covsync cannot write.
func (s *Site) resolveFields(ctx context.Context) ([]field, error) {
	want := []struct{ role, ref string }{
		{roleCoveragePercent, s.cfg.Fields.CoveragePercent},
		{roleCoverageSummary, s.cfg.Fields.CoverageSummary},
		{roleTestStatus, s.cfg.Fields.TestStatus},
		{roleLastRunURL, s.cfg.Fields.LastRunURL},
	}
	var all []gojira.Field
	if _, err := s.call(ctx, "GET", "rest/api/2/field", nil, &all, "GET field", "Browse Projects"); err != nil {
		return nil, err
	}
	var out []field
	for _, w := range want {
		if w.ref == "" {
			continue
		}
		f, err := pickField(all, w.ref)
		if err != nil {
			return nil, push.Configf("jira %s: fields.%s: %w", s.cfg.Name, w.role, err)
		}
		kind, err := kindOf(f.Schema)
		if err != nil {
			return nil, push.Configf("jira %s: fields.%s: field %q (%s): %w", s.cfg.Name, w.role, f.Name, f.ID, err)
		}
		ok := false
		for _, k := range accepts[w.role] {
			ok = ok || k == kind
		}
		if !ok {
			return nil, push.Configf("jira %s: fields.%s: field %q (%s) is a %s field; covsync writes %s only to a field of kind %v",
				s.cfg.Name, w.role, f.Name, f.ID, kind, w.role, accepts[w.role])
		}
		out = append(out, field{Role: w.role, ID: f.ID, Name: f.Name, Kind: kind})
	}
	return out, nil
}

// pickField finds ref by id first, then by exact name, then by case-insensitive name; it must be unique.
func pickField(all []gojira.Field, ref string) (gojira.Field, error) {
	for _, f := range all {
		if f.ID == ref {
			return f, nil
		}
	}
	for _, exact := range []bool{true, false} {
		var hits []gojira.Field
		for _, f := range all {
			if (exact && f.Name == ref) || (!exact && strings.EqualFold(f.Name, ref)) {
				hits = append(hits, f)
			}
		}
		switch len(hits) {
		case 0:
			continue
		case 1:
			return hits[0], nil
		default:
			ids := make([]string, len(hits))
			for i, h := range hits {
				ids[i] = h.ID
			}
			return gojira.Field{}, fmt.Errorf("%q matches %d fields (%s): configure the id instead", ref, len(hits), strings.Join(ids, ", "))
		}
	}
	return gojira.Field{}, fmt.Errorf("no field named %q on the site", ref)
}

// kindOf reads a field schema (GET /rest/api/2/field: schema.type and schema.custom).
func kindOf(s gojira.FieldSchema) (fieldKind, error) {
	custom := s.Custom
	if i := strings.LastIndex(custom, ":"); i >= 0 {
		custom = custom[i+1:]
	}
	switch s.Type {
	case "number":
		return kindNumber, nil
	case "option":
		return kindOption, nil
	case "string":
		switch custom {
		case "textarea":
			return kindTextArea, nil
		case "url":
			return kindURL, nil
		}
		return kindText, nil
	}
	desc := s.Type
	if s.Items != "" {
		desc += " of " + s.Items
	}
	if s.Custom != "" {
		desc += ", " + s.Custom
	}
	return 0, fmt.Errorf("unsupported field type %q", desc)
}

// values are what a story gives each role, before shaping.
type values struct {
	percent *float64
	summary string
	status  string
	runURL  string
}

// shape builds the JSON value of one field; nil clears the field.
func (f field) shape(v values) any {
	switch f.Role {
	case roleCoveragePercent:
		if v.percent == nil {
			return nil
		}
		if f.Kind == kindNumber {
			return *v.percent
		}
		return f.text(strconv.FormatFloat(*v.percent, 'f', 1, 64))
	case roleCoverageSummary:
		return f.text(v.summary)
	case roleTestStatus:
		return f.text(v.status)
	case roleLastRunURL:
		if f.Kind == kindURL && !report.IsWebURL(v.runURL) {
			return nil // Jira refuses a relative or empty URL; clearing is the honest value
		}
		return f.text(v.runURL)
	}
	return nil
}

// text shapes a string for a text, text area or select field; an empty string clears the field.
func (f field) text(s string) any {
	if s == "" {
		return nil
	}
	switch f.Kind {
	case kindOption:
		return map[string]any{"value": s}
	case kindTextArea:
		return fieldtext.TruncateUTF16(s, maxTextAreaChars)
	case kindURL:
		return s
	}
	return fieldtext.TruncateUTF16(s, MaxTextChars)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
