package report

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// IsWebURL says whether s is an absolute http or https URL with a host and no white space or control
// characters: the only URLs from data (a report's buildUrl, a run URL) that may reach a target. Ingest refuses
// the others; every target also drops them when it renders, for rows stored before that check or by others.
func IsWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		!strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) })
}

// WebURL is s when IsWebURL, else "".
func WebURL(s string) string {
	if IsWebURL(s) {
		return s
	}
	return ""
}

// Truncate is s cut to at most n bytes at a rune boundary, ending in "…" when cut: for names a target must be
// able to hold whatever their length in the source.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
