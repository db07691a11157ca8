package ado_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/covsync/covsync/connectors/ado"
	"github.com/covsync/covsync/connectors/ado/adosim"
)

// TestADOCredentialNeverFollowsARedirectToAnotherOrigin: the organization URL answers 302 to another port of
// the same host. The Go client sets Authorization on its own requests and Go keeps it on a redirect to the
// same host name; covsync strips it for any origin but the organization's and the areas it names.
func TestADOCredentialNeverFollowsARedirectToAnotherOrigin(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"no"}`))
	}))
	defer other.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	defer front.Close()
	tg := f.target(t, func(o *ado.Options) { o.OrganizationURL = front.URL + "/acme" })
	if err := tg.ProbeProject(context.Background()); err == nil {
		t.Fatal("ProbeProject passed against an organization that only redirects")
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
}
