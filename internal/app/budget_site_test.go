package app

import (
	"testing"

	"github.com/covsync/covsync/sync/push"
)

// The site counts every request it gets, whichever config entry sent it: two entries for one site share one
// budget, and two sites never do.
func TestOneSiteUnderTwoNamesDrawsFromOneBudget(t *testing.T) {
	for _, c := range []struct {
		name       string
		kind, a, b string
		same       bool
	}{
		{"one Jira written two ways", push.TargetJira, "https://Acme.atlassian.net/", "https://acme.atlassian.net:443", true},
		{"one ADO organization in two cases", push.TargetADO, "https://dev.azure.com/Acme", "https://dev.azure.com/acme/", true},
		{"two Jira sites", push.TargetJira, "https://acme.atlassian.net", "https://other.atlassian.net", false},
		{"Jira and Confluence on one host", push.TargetJira, "https://acme.atlassian.net", "https://acme.atlassian.net/wiki", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := budgetSite(c.kind, c.a), budgetSite(c.kind, c.b)
			if (a == b) != c.same {
				t.Errorf("budget of %s is %q, of %s %q: same = %v, want %v", c.a, a, c.b, b, a == b, c.same)
			}
		})
	}
}
