package engine_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/covsync/covsync/sync/engine"
)

func TestSummaryJSONHasDesignFieldsAndRoundTrips(t *testing.T) {
	s := engine.Summary{Target: "jira:acme/SHOP", Kind: "jira", Project: "shop", Planned: 3, Pushed: 1, Unchanged: 1,
		Failed: 1, Pruned: 2, Errors: []engine.ItemError{{Item: "SHOP-7", Error: "400", Kind: "permanent"}},
		Duration: 1500 * time.Millisecond}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"target":"jira:acme/SHOP"`, `"planned":3`, `"pushed":1`, `"unchanged":1`, `"failed":1`,
		`"pruned":2`, `"errors":[{"item":"SHOP-7","error":"400","kind":"permanent"}]`, `"durationSeconds":1.5`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	var back engine.Summary
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("round trip = %+v, want %+v", back, s)
	}
	if b, _ := json.Marshal(engine.Summary{}); !strings.Contains(string(b), `"errors":[]`) || strings.Contains(string(b), "wouldPush") {
		t.Errorf("a cycle without errors encodes as %s, want errors [] and no wouldPush", b)
	}
	if b, _ := json.Marshal(engine.Summary{DryRun: true}); !strings.Contains(string(b), `"wouldPush":[]`) {
		t.Errorf("a dry run with nothing to push encodes as %s, want wouldPush []", b)
	}
}
