package push

import (
	"fmt"
	"strings"
)

// Diff is one way what a target holds for an item differs from what covsync would write: one field of an
// issue, one key of a document, the page itself. Held and Desired are short renderings for people
// ("95", "(empty)", "(missing)"), never secrets: they are what the target shows anyone who can read the item.
type Diff struct {
	Field   string `json:"field"`
	Held    string `json:"held"`
	Desired string `json:"desired"`
}

// String is "field: held → desired".
func (d Diff) String() string { return fmt.Sprintf("%s: %s → %s", d.Field, d.Held, d.Desired) }

// Drift maps an item key to how the target's copy differs from the desired one. An item absent from the
// map is held as desired.
type Drift map[string][]Diff

// Describe renders diffs on one line, for logs and dry-run listings.
func Describe(diffs []Diff) string {
	parts := make([]string, len(diffs))
	for i, d := range diffs {
		parts[i] = d.String()
	}
	return strings.Join(parts, "; ")
}

// Missing and Empty are the renderings of an item the target does not hold and of a cleared value.
const (
	Missing = "(missing)"
	Empty   = "(empty)"
)

// Show renders a value for a Diff: Empty for "", the text cut to 160 characters otherwise (a one-line
// summary fits whole).
func Show(s string) string {
	if s == "" {
		return Empty
	}
	if r := []rune(s); len(r) > 160 {
		return string(r[:159]) + "…"
	}
	return s
}
