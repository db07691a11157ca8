package postgres

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/covsync/covsync/sync/report"
)

// Limits on what ingest stores (README "Limits"). A report beyond MaxReportBytes, a name beyond its limit, a
// name that is empty once cleaned, and a time outside [earliestTime, ingest time + maxAhead] are refused
// with their JSON path; a message beyond MaxMessageBytes is kept, truncated with a marker.
const (
	// MaxReportBytes bounds a CTRF report read by `covsync ingest ctrf` (1,000,000 tests take about 92 MB).
	MaxReportBytes = 256 << 20
	// MaxMessageBytes bounds a test's message: a longer one is cut at a UTF-8 boundary and ends in a marker.
	MaxMessageBytes = 64 << 10
	// MaxNameBytes bounds a test's name, suite and file.
	MaxNameBytes = 1024
	// MaxLabelBytes bounds the short names: a release, the run's name and build, branch, commit,
	// environment, tool, reportId and each tag. Releases and runs are keys of ledger items and entries of
	// the linked-test-runs property, which must always be able to hold them.
	MaxLabelBytes = 255
	// maxAhead is how far past the ingest time a report's times may lie (clock skew between CI and us).
	maxAhead = 24 * time.Hour
)

// earliestTime is the earliest time a report may give: no CI run covsync sees predates it, and a start in
// seconds read as milliseconds (or any other unit slip) lands before it.
var earliestTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// inWindow refuses t, read from path, when it is outside [earliestTime, now + maxAhead].
func inWindow(path string, t, now time.Time) *InputError {
	if t.Before(earliestTime) || t.After(now.Add(maxAhead)) {
		return inputErr(path, "%s is outside the accepted window: from %s to one day after the ingest time (%s)",
			t.UTC().Format(time.RFC3339), earliestTime.Format("2006-01-02"), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// CheckRunURL says whether s can be stored as a run's URL: an absolute http or https URL with a host and no
// control characters. Anything else (javascript:, data:, a relative reference) must never reach a target.
func CheckRunURL(s string) error {
	if !report.IsWebURL(s) {
		return fmt.Errorf("%q: want an http(s) URL", s)
	}
	return nil
}

// cleanName is a name as covsync stores it: ANSI sequences and other control characters removed (tabs and
// line breaks become spaces), surrounding white space trimmed. Terminal escapes in a name would otherwise be
// replayed by every terminal that prints it.
func cleanName(s string) string {
	s = ansiRE.ReplaceAllString(s, "")
	if strings.ContainsFunc(s, unicode.IsControl) {
		s = strings.Map(func(r rune) rune {
			switch {
			case r == '\t' || r == '\n' || r == '\r':
				return ' '
			case unicode.IsControl(r):
				return -1
			}
			return r
		}, s)
	}
	return strings.TrimSpace(s)
}

// cleanMessage is a message as covsync stores it: ANSI sequences and control characters other than tabs and
// line breaks removed, and cut to MaxMessageBytes with a marker saying how long it was.
func cleanMessage(s string) string {
	s = ansiRE.ReplaceAllString(s, "")
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }) {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
				return -1
			}
			return r
		}, s)
	}
	if len(s) <= MaxMessageBytes {
		return s
	}
	marker := fmt.Sprintf("… [truncated by covsync: %d bytes in all]", len(s))
	cut := MaxMessageBytes - len(marker)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + marker
}

// checkName refuses a cleaned name that is longer than limit bytes.
func checkName(path, name string, limit int) *InputError {
	if len(name) > limit {
		return inputErr(path, "is %d bytes long, at most %d", len(name), limit)
	}
	return nil
}

// CleanRelease is a release name given on the command line as covsync stores it, or an *InputError at
// --release: trimmed, not empty, valid UTF-8, no control characters, at most MaxLabelBytes.
func CleanRelease(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case !utf8.ValidString(name):
		return "", inputErr("--release", "%q is not valid UTF-8", name)
	case name == "":
		return "", inputErr("--release", "empty")
	case strings.ContainsFunc(name, unicode.IsControl):
		return "", inputErr("--release", "%q holds a control character", name)
	}
	if err := checkName("--release", name, MaxLabelBytes); err != nil {
		return "", err
	}
	return name, nil
}

// limitedReader is r that fails with an *InputError once more than max bytes are read.
type limitedReader struct {
	r      io.Reader
	max, n int64
}

// LimitReport reads r but refuses, with an *InputError, a report longer than max bytes.
func LimitReport(r io.Reader, max int64) io.Reader { return &limitedReader{r: r, max: max} }

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n > l.max {
		return 0, &InputError{Msg: fmt.Sprintf("larger than %d bytes (MaxReportBytes)", l.max)}
	}
	if rest := l.max + 1 - l.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	k, err := l.r.Read(p)
	l.n += int64(k)
	if l.n > l.max {
		return k, &InputError{Msg: fmt.Sprintf("larger than %d bytes (MaxReportBytes)", l.max)}
	}
	return k, err
}
