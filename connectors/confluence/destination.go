package confluence

import "github.com/covsync/covsync/config"

// Destination is the site's canonical URL, the space and the project whose pages the target writes, whatever
// the site's configured name (engine.Destined; the ledger keys its rows by it).
func (t *Target) Destination() string {
	return "confluence:" + config.CanonicalSite(t.o.URL, false) + "/" + t.o.Space + "/" + t.o.ProjectID
}
