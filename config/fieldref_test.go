package config

import "testing"

func TestIsFieldRefName(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"Custom.TestCoverage", true},
		{"System.Title", true},
		{"A_Datum.Common.BusinessPriority", true},
		{"Microsoft.VSTS.Common.Priority", true},
		{"_Custom.TestCoverage", false}, // cannot start with an underscore
		{"1Custom.X", false},            // nor with a digit
		{"Custom", false},               // needs a period
		{"Custom.", false},              // not at the end
		{".Custom", false},              // nor at the start
		{"Test Status", false},
		{"", false},
	} {
		if got := IsFieldRefName(tt.in); got != tt.want {
			t.Errorf("IsFieldRefName(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
