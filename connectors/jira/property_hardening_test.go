package jira

import (
	"strings"
	"testing"
)

// One run with a 40 KB name and a javascript: URL: its entry is capped and its URL dropped, so the other
// runs stay in the property instead of being pruned to make room for it.
func TestAHugeRunNameDoesNotPruneEveryRunAndBadURLsAreDropped(t *testing.T) {
	e := newEnv(t, 0)
	target := e.site(t).PropertyTarget("SHOP")
	p := releaseProject(10)
	p.Releases[0].Runs[0].Name = strings.Repeat("n", 40<<10)
	p.Releases[0].Runs[1].URL = "javascript:alert(1)//"
	res := pushProperty(t, target, p)
	v, raw := readProp(t, e)
	if res.Pruned != 0 || len(v.Releases[e.v240].Runs) != 10 {
		t.Fatalf("pruned %d, kept %d of 10 runs", res.Pruned, len(v.Releases[e.v240].Runs))
	}
	if strings.Contains(string(raw), "javascript:") {
		t.Error("a javascript: URL reached the property")
	}
	name := v.Releases[e.v240].Runs[0].(map[string]any)["name"].(string)
	if len(name) > maxEntryName || !strings.HasSuffix(name, "…") {
		t.Errorf("entry name of %d bytes", len(name))
	}
}
