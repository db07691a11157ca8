package jira

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// authSeen records the Authorization header of every request a server gets.
type authSeen struct {
	mu   sync.Mutex
	seen []string
}

func (a *authSeen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.seen = append(a.seen, r.Header.Get("Authorization"))
	a.mu.Unlock()
	http.Error(w, `{"errorMessages":["not here"]}`, http.StatusNotFound)
}

// TestJiraCredentialNeverFollowsARedirectToAnotherOrigin: the site's URL answers 302 to another origin (an
// SSO proxy in front of a Data Center does this): another port of 127.0.0.1, and a downgrade from https to
// http. The other origin must get the request without the credential (go-jira's BasicAuthTransport added it
// below the redirect loop, to every hop).
func TestJiraCredentialNeverFollowsARedirectToAnotherOrigin(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"another port", false}, {"https to http", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1)
			other := &authSeen{}
			otherSrv := httptest.NewServer(other)
			defer otherSrv.Close()
			redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, otherSrv.URL+r.URL.RequestURI(), http.StatusFound)
			})
			var front *httptest.Server
			if tc.tls {
				front = httptest.NewTLSServer(redirect)
				ca := filepath.Join(t.TempDir(), "ca.pem")
				if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw}), 0o600); err != nil {
					t.Fatal(err)
				}
				e.cfg.CAFile = ca
			} else {
				front = httptest.NewServer(redirect)
			}
			defer front.Close()
			e.cfg.URL = front.URL
			for _, auth := range []string{"basic", "bearer"} {
				e.cfg.Auth.Type = auth
				if err := e.site(t).Check(context.Background(), []string{"SHOP"}); err == nil {
					t.Fatalf("%s: Check passed against a site that only redirects", auth)
				}
			}
			other.mu.Lock()
			defer other.mu.Unlock()
			if len(other.seen) == 0 {
				t.Fatal("the redirect was not followed: the test proves nothing")
			}
			for i, a := range other.seen {
				if a != "" {
					t.Errorf("request %d to %s carried Authorization %q", i, otherSrv.URL, a)
				}
			}
		})
	}
}

// TestJiraCredentialStillReachesTheConfiguredSite: the same site gets the credential (basic and bearer).
func TestJiraCredentialStillReachesTheConfiguredSite(t *testing.T) {
	e := newEnv(t, 1)
	if err := e.site(t).Check(context.Background(), []string{"SHOP"}); err != nil {
		t.Fatalf("Check against the simulator: %v", err)
	}
}
