package ado

import (
	"strings"

	"github.com/covsync/covsync/config"
)

// Destination is the organization's canonical URL and the project as configured (case-insensitive, as Azure
// DevOps names are), whatever the entry's name (engine.Destined; the ledger keys its rows by it).
func (t *Target) Destination() string {
	return "ado:" + config.CanonicalSite(t.o.OrganizationURL, true) + "/" + strings.ToLower(t.o.Project)
}
