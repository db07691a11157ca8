// Package fieldtext holds the rules the connectors apply to the text they send: field lengths counted the way
// Jira, Confluence (Java) and Azure DevOps (.NET) count them, in UTF-16 code units, and cut with "…".
package fieldtext

import (
	"strings"
	"unicode/utf16"
)

// TruncateUTF16 returns s, made valid UTF-8, cut to at most n UTF-16 code units; a cut string ends with
// "…" and is cut on a rune boundary. Jira, Confluence (Java) and Azure DevOps (.NET) count a field's
// "characters" as UTF-16 code units (java.lang.String.length, System.String.Length), so a character
// outside the Basic Multilingual Plane (an emoji in a run name) counts twice: counting runes would let a
// value through that the server refuses with a 400.
func TruncateUTF16(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if UTF16Len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	units := 0
	for i, r := range s {
		w := utf16.RuneLen(r)
		if units+w > n-1 { // keep one unit for "…" (U+2026 is in the BMP)
			return s[:i] + "…"
		}
		units += w
	}
	return s
}

// UTF16Len is the length of s in UTF-16 code units: what Java's String.length and .NET's String.Length
// report. Invalid UTF-8 bytes count as U+FFFD, one unit each.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
