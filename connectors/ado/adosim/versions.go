package adosim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Server versions the simulator can be (Options.Server) and the highest REST api-version each serves. The
// ceilings are Microsoft's table (https://learn.microsoft.com/en-us/azure/devops/integrate/concepts/rest-api-versioning#supported-versions:
// Azure DevOps Server 2022.1 → 7.1, 2022 → 7.0, 2020 → 6.0, 2019 → 5.0) and what the servers answer above
// them (MicrosoftDocs/azure-devops-docs#13083: 2022 says "The latest REST API version this server supports
// is 7.0"). Services ("") serves 7.1 here, the newest the Go client v7 asks for.
var ceilings = map[string]string{"": "7.1", "2019": "5.0", "2020": "6.0", "2022": "7.0", "2022.1": "7.1"}

// ServerVersions lists the on-premises versions Options.Server accepts.
var ServerVersions = []string{"2019", "2020", "2022", "2022.1"}

// ceiling is the simulator's highest api-version.
func (s *Sim) ceiling() string { return ceilings[s.opts.Server] }

// onPrem reports whether the simulator is an Azure DevOps Server (no resource areas elsewhere, 400 for a
// stale __etag).
func (s *Sim) onPrem() bool { return s.opts.Server != "" }

// version is a "major.minor" api-version.
type version struct{ major, minor int }

func parseVersion(v string) (version, bool) {
	num, _, _ := strings.Cut(v, "-")
	a, b, ok := strings.Cut(num, ".")
	if !ok {
		b = "0"
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	return version{x, y}, err1 == nil && err2 == nil
}

func (v version) less(w version) bool {
	return v.major < w.major || (v.major == w.major && v.minor < w.minor)
}

// minVersion returns the lower of two "major.minor" versions ("0.0" stays "0.0": not released).
func minVersion(a, b string) string {
	va, _ := parseVersion(a)
	vb, _ := parseVersion(b)
	if vb.less(va) {
		return b
	}
	return a
}

// versionOutOfRange answers 400 VssVersionOutOfRangeException when r asks for an api-version above the
// server's ceiling, with the message servers give (reported verbatim in
// cribeiro84/azure-devops-pull-request-hub#118, microsoft/azure-devops-extension-sample#161,
// MicrosoftDocs/azure-devops-docs#13083).
func (s *Sim) versionOutOfRange(w http.ResponseWriter, r *http.Request) bool {
	asked, ok := parseVersion(apiVersion(r))
	top, _ := parseVersion(s.ceiling())
	if !ok || !top.less(asked) {
		return false
	}
	num, _, _ := strings.Cut(apiVersion(r), "-")
	writeError(w, http.StatusBadRequest, "VssVersionOutOfRangeException",
		fmt.Sprintf("The requested REST API version of %s is out of range for this server. The latest REST API version this server supports is %s.", num, s.ceiling()))
	return true
}
