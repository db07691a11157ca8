package confluence_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/covsync/covsync/connectors/confluence"
	"github.com/covsync/covsync/connectors/confluence/confluencesim"
	"github.com/covsync/covsync/internal/authtest"
)

// TestConfluenceCredentialNeverFollowsARedirectToAnotherOrigin: the site answers 302 to another port of the
// same host; Go's own rule keeps Authorization there (it compares host names only), covsync's must not.
func TestConfluenceCredentialNeverFollowsARedirectToAnotherOrigin(t *testing.T) {
	e := newEnv(t, confluencesim.Options{})
	other := authtest.NewRecorder(t, http.StatusNotFound)
	front := authtest.Redirector(t, other.URL)
	for _, typ := range []string{"basic", "bearer"} {
		tg := e.target(t, func(o *confluence.Options) { o.URL = front.URL + "/wiki"; o.Auth.Type = typ })
		if err := tg.Check(context.Background()); err == nil {
			t.Fatalf("%s: Check passed against a site that only redirects", typ)
		}
	}
	other.NoCredentialSeen(t)
	// The configured site still gets it.
	if err := e.target(t).Check(context.Background()); err != nil {
		t.Fatalf("Check against the simulator: %v", err)
	}
}
