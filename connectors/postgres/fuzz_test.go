package postgres

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// The seed corpora under testdata/fuzz/ are the real CTRF reports of testdata/ctrf (module root) and this package's own reports and
// coverage file.

// FuzzParseCTRF checks that any input is either refused with an *InputError or read into values that can
// be stored as they are: statuses from the enum, non-negative counts and durations, no NUL characters, no
// ANSI escapes in messages, tickets that are ticket keys.
func FuzzParseCTRF(f *testing.F) {
	f.Add([]byte(validCTRF))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := ParseCTRF(data)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.Msg == "" {
				t.Fatalf("refusal %v (%T) is not an *InputError with a message", err, err)
			}
			return
		}
		s := rep.Summary
		for _, n := range []int{s.Tests, s.Passed, s.Failed, s.Skipped, s.Pending, s.Other} {
			if n < 0 || n > math.MaxInt32 {
				t.Fatalf("summary %+v: a count out of range", s)
			}
		}
		if rep.Tool == "" || rep.Start.IsZero() || rep.Start.Year() > 9999 || hasNUL(rep.Tool, rep.ReportID) {
			t.Fatalf("tool %q start %v report id %q", rep.Tool, rep.Start, rep.ReportID)
		}
		if rep.RunName() == "" {
			t.Fatal("a run without a name")
		}
		for i, x := range rep.Tests {
			if !slices.Contains(ctrfStatuses, x.Status) || x.DurationMS < 0 || math.IsNaN(x.DurationMS) ||
				x.Retries < 0 || x.Name == "" || hasNUL(x.Name, x.Suite, x.File, x.Message) || hasNUL(x.Tags...) {
				t.Fatalf("tests[%d] = %+v", i, x)
			}
			if strings.Contains(x.Message, "\x1b[") {
				t.Fatalf("tests[%d].message %q keeps an ANSI escape", i, x.Message)
			}
			for _, k := range x.Tickets {
				if !wholeTicketRE.MatchString(k) {
					t.Fatalf("tests[%d]: ticket %q is not a ticket key", i, k)
				}
			}
		}
	})
}

// FuzzParseCoverage checks that any input is refused with an *InputError or read into figures the
// story_coverage table accepts.
func FuzzParseCoverage(f *testing.F) {
	f.Add([]byte(`{"project":"shop","measuredAt":"2026-11-20T09:00:00Z","stories":[{"ticket":"SHOP-1","coveredMethods":1,"totalMethods":2}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCoverage(data)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.Msg == "" {
				t.Fatalf("refusal %v (%T) is not an *InputError with a message", err, err)
			}
			return
		}
		if c.Project == "" || c.MeasuredAt.IsZero() || hasNUL(c.Project) {
			t.Fatalf("project %q measured %v", c.Project, c.MeasuredAt)
		}
		seen := map[string]bool{}
		for i, s := range c.Stories {
			if s.CoveredMethods < 0 || s.CoveredMethods > s.TotalMethods || s.TotalMethods > math.MaxInt32 ||
				!wholeTicketRE.MatchString(s.Ticket) || seen[s.Ticket] {
				t.Fatalf("stories[%d] = %+v", i, s)
			}
			seen[s.Ticket] = true
		}
	})
}

func hasNUL(ss ...string) bool {
	for _, s := range ss {
		if strings.ContainsRune(s, 0) {
			return true
		}
	}
	return false
}
