package confluence_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/covsync/covsync/connectors/confluence"
	"github.com/covsync/covsync/connectors/confluence/confluencesim"
)

// TestConfluenceCredentialNeverFollowsARedirectToAnotherOrigin: the site answers 302 to another port of the
// same host; Go's own rule keeps Authorization there (it compares host names only), covsync's must not.
func TestConfluenceCredentialNeverFollowsARedirectToAnotherOrigin(t *testing.T) {
	e := newEnv(t, confluencesim.Options{})
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		http.NotFound(w, r)
	}))
	defer other.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	defer front.Close()
	for _, typ := range []string{"basic", "bearer"} {
		tg := e.target(t, func(o *confluence.Options) { o.URL = front.URL + "/wiki"; o.Auth.Type = typ })
		if err := tg.Check(context.Background()); err == nil {
			t.Fatalf("%s: Check passed against a site that only redirects", typ)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("the redirect was not followed: the test proves nothing")
	}
	for i, a := range seen {
		if a != "" {
			t.Errorf("request %d to another origin carried Authorization %q", i, a)
		}
	}
	// The configured site still gets it.
	if err := e.target(t).Check(context.Background()); err != nil {
		t.Fatalf("Check against the simulator: %v", err)
	}
}
