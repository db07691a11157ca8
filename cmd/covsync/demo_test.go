package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoRunsTheWholeLoopAndWritesWhatTheTargetsHold runs `covsync demo` as a user would and checks its
// outputs: every target of the four kinds reports 0 failed, every Confluence page parses as XML once the
// ac:/ri: namespaces are declared, the linked-runs property is within Jira's 32 KB and links both releases,
// every story got its fields, and every work item its covsync document.
func TestDemoRunsTheWholeLoopAndWritesWhatTheTargetsHold(t *testing.T) {
	out := filepath.Join(t.TempDir(), "covsync-demo")
	began := time.Now()
	code, stdout, stderr := execute(t, "demo", "--out", out)
	if code != exitOK {
		t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	t.Logf("demo took %v:\n%s", time.Since(began), stdout)

	// The summary table: one row per target, each with 0 failed.
	rows := 0
	for _, line := range strings.Split(stdout, "\n") {
		f := strings.Fields(line)
		if len(f) != 6 || !strings.Contains(f[0], ":") {
			continue
		}
		rows++
		if f[4] != "0" {
			t.Errorf("target %s: %s failed", f[0], f[4])
		}
		if f[1] == "0" {
			t.Errorf("target %s planned nothing", f[0])
		}
	}
	if rows != 4 {
		t.Errorf("summary has %d target rows, want one per target:\n%s", rows, stdout)
	}

	prop, err := os.ReadFile(filepath.Join(out, "jira", "SHOP-linked-test-runs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var value struct {
		Version  int `json:"version"`
		Releases map[string]struct {
			Name string            `json:"name"`
			Runs []json.RawMessage `json:"runs"`
		} `json:"releases"`
	}
	if err := json.Unmarshal(prop, &value); err != nil {
		t.Fatalf("property: %v", err)
	}
	compact, _ := json.Marshal(json.RawMessage(prop))
	if len(compact) > 32768 {
		t.Errorf("property is %d bytes, over Jira's 32,768", len(compact))
	}
	if value.Version != 1 || len(value.Releases) != 2 {
		t.Errorf("property links %d releases (version %d), want 2:\n%s", len(value.Releases), value.Version, prop)
	}

	var fields map[string]map[string]any
	b, err := os.ReadFile(filepath.Join(out, "jira", "issue-fields.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= demoStories; i++ {
		k := fmt.Sprintf("SHOP-%d", i)
		if len(fields[k]) < 4 {
			t.Errorf("%s has fields %v, want coverage, summary, status and last run", k, fields[k])
		}
	}

	pages, _ := filepath.Glob(filepath.Join(out, "confluence", "*.xhtml"))
	if len(pages) != 3 {
		t.Errorf("%d Confluence pages written, want the project's and one per release (3)", len(pages))
	}
	for _, p := range pages {
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		doc := `<root xmlns:ac="http://atlassian.com/content" xmlns:ri="http://atlassian.com/resource/identifier">` + string(body) + `</root>`
		dec := xml.NewDecoder(strings.NewReader(doc))
		dec.Entity = xml.HTMLEntity
		for {
			if _, err := dec.Token(); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("%s does not parse as XML: %v", filepath.Base(p), err)
				}
				break
			}
		}
	}

	for i := 0; i < demoStories; i++ {
		id := fmt.Sprint(demoFirstWorkItem + i)
		b, err := os.ReadFile(filepath.Join(out, "ado", id+".json"))
		if err != nil {
			t.Errorf("work item %s: %v", id, err)
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil || doc["source"] != "covsync" || doc["id"] != id || doc["coveragePercent"] == nil {
			t.Errorf("work item %s document: %s (%v)", id, b, err)
		}
	}
}
