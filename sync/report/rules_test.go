package report

import (
	"slices"
	"testing"
	"time"
)

func TestRunStatus(t *testing.T) {
	for _, tt := range []struct {
		failed, passed int
		want           string
	}{
		{1, 5, StatusFailed},
		{1, 0, StatusFailed},
		{0, 3, StatusPassed},
		{0, 0, StatusSkipped}, // a run of skipped (or no) tests
	} {
		if got := RunStatus(tt.failed, tt.passed); got != tt.want {
			t.Errorf("RunStatus(failed %d, passed %d) = %q, want %q", tt.failed, tt.passed, got, tt.want)
		}
	}
}

func TestStoryStatus(t *testing.T) {
	for _, tt := range []struct {
		c    TestCounts
		want string
	}{
		{TestCounts{Passed: 4, Failed: 1, Skipped: 2}, StatusFailed},
		{TestCounts{Failed: 1}, StatusFailed},
		{TestCounts{Passed: 2, Skipped: 9}, StatusPassed},
		{TestCounts{Skipped: 1}, StatusSkipped},
		{TestCounts{}, StatusNoTests},
	} {
		if got := StoryStatus(tt.c); got != tt.want {
			t.Errorf("StoryStatus(%+v) = %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestSortStories(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []string
		want []string
	}{
		{"numbers as numbers", []string{"SHOP-10", "SHOP-2", "SHOP-1"}, []string{"SHOP-1", "SHOP-2", "SHOP-10"}},
		{"prefix first", []string{"WEB-1", "SHOP-3", "AB#12", "AB#101"}, []string{"AB#12", "AB#101", "SHOP-3", "WEB-1"}},
		{"keys without a number bytewise", []string{"zeta", "SHOP-2", "alpha"}, []string{"SHOP-2", "alpha", "zeta"}},
		{"leading zeros: equal numbers fall back to bytes", []string{"X-1", "X-01", "X-001"}, []string{"X-001", "X-01", "X-1"}},
		{"a number beyond uint64 bytewise", []string{"X-99999999999999999999", "X-2"}, []string{"X-2", "X-99999999999999999999"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stories := make([]Story, len(tt.in))
			for i, k := range tt.in {
				stories[i] = Story{Key: k}
			}
			SortStories(stories)
			var got []string
			for _, s := range stories {
				got = append(got, s.Key)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSortReleases(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2025, 3, 1, h, 0, 0, 0, time.UTC) }
	run := func(id string, h int) Run { return Run{ID: id, StartedAt: at(h)} }
	for _, tt := range []struct {
		name     string
		in       []Release
		want     []string // release names
		wantRuns map[string][]string
	}{
		{
			name: "newest run first, then name; empty releases last by name",
			in: []Release{
				{Name: "empty-b"},
				{Name: "1.0", Runs: []Run{run("1", 1), run("3", 5)}},
				{Name: "2.0", Runs: []Run{run("2", 3)}},
				{Name: "empty-a", Runs: []Run{}},
				{Name: "1.1", Runs: []Run{run("4", 5)}},
			},
			want:     []string{"1.0", "1.1", "2.0", "empty-a", "empty-b"},
			wantRuns: map[string][]string{"1.0": {"3", "1"}},
		},
		{
			name:     "runs started together: the later id first, as a number",
			in:       []Release{{Name: "r", Runs: []Run{run("9", 2), run("10", 2), run("8", 1), run("11", 3)}}},
			want:     []string{"r"},
			wantRuns: map[string][]string{"r": {"11", "10", "9", "8"}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			SortReleases(tt.in)
			var got []string
			for _, r := range tt.in {
				got = append(got, r.Name)
				if want, ok := tt.wantRuns[r.Name]; ok {
					var ids []string
					for _, x := range r.Runs {
						ids = append(ids, x.ID)
					}
					if !slices.Equal(ids, want) {
						t.Errorf("runs of %s: %v, want %v", r.Name, ids, want)
					}
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("releases %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompareIDs(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"9", "10", -1}, {"10", "9", 1}, {"42", "42", 0}, {"b", "a", 1}, {"9", "a", -1},
	} {
		if got := compareIDs(tt.a, tt.b); got != tt.want {
			t.Errorf("compareIDs(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
