package report

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RunStatus is a run's status from its summary: failed if any test failed, else passed if any passed, else
// skipped.
func RunStatus(failed, passed int) string {
	switch {
	case failed > 0:
		return StatusFailed
	case passed > 0:
		return StatusPassed
	default:
		return StatusSkipped
	}
}

// StoryStatus is a story's status from the counts of its newest linked run: failed if a linked test failed,
// else passed if one passed, else skipped if any was counted, else no tests (docs/architecture.md,
// Contracts).
func StoryStatus(c TestCounts) string {
	switch {
	case c.Failed > 0:
		return StatusFailed
	case c.Passed > 0:
		return StatusPassed
	case c.Skipped > 0:
		return StatusSkipped
	default:
		return StatusNoTests
	}
}

var keyRE = regexp.MustCompile(`^(.*?)([0-9]+)$`)

// SortStories orders stories by key as people read them: by prefix, then by number (SHOP-2 before SHOP-10),
// then bytewise, so the order is total and independent of any database collation. Each key is split once:
// a regexp per comparison dominated the read of 5,000 stories.
func SortStories(stories []Story) {
	type sortKey struct {
		prefix string
		num    uint64
		hasNum bool
	}
	keys := make(map[string]sortKey, len(stories))
	for _, s := range stories {
		k := sortKey{prefix: s.Key}
		if m := keyRE.FindStringSubmatch(s.Key); m != nil {
			if n, err := strconv.ParseUint(m[2], 10, 64); err == nil {
				k = sortKey{prefix: m[1], num: n, hasNum: true}
			}
		}
		keys[s.Key] = k
	}
	slices.SortFunc(stories, func(a, b Story) int {
		ka, kb := keys[a.Key], keys[b.Key]
		if ka.hasNum && kb.hasNum {
			if c := strings.Compare(ka.prefix, kb.prefix); c != 0 {
				return c
			}
			if c := cmp.Compare(ka.num, kb.num); c != 0 {
				return c
			}
		}
		return strings.Compare(a.Key, b.Key)
	})
}

// SortReleases puts each release's runs newest first (by start, then by id, the later id first) and the
// releases newest first by their newest run, then by name; releases without runs come last, by name.
func SortReleases(releases []Release) {
	newest := make(map[string]time.Time, len(releases))
	for i := range releases {
		slices.SortStableFunc(releases[i].Runs, func(a, b Run) int {
			if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
				return c
			}
			return compareIDs(b.ID, a.ID)
		})
		if len(releases[i].Runs) > 0 {
			newest[releases[i].Name] = releases[i].Runs[0].StartedAt
		}
	}
	slices.SortStableFunc(releases, func(a, b Release) int {
		na, aHas := newest[a.Name]
		nb, bHas := newest[b.Name]
		switch {
		case aHas != bHas:
			if aHas {
				return -1
			}
			return 1
		case aHas:
			if c := nb.Compare(na); c != 0 {
				return c
			}
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// compareIDs compares two run ids: numerically when both are decimal numbers (the source database's ids),
// else bytewise.
func compareIDs(a, b string) int {
	if isDigits(a) && isDigits(b) {
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if c := cmp.Compare(len(a), len(b)); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
