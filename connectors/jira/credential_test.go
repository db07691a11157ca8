package jira

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/covsync/covsync/internal/authtest"
)

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
			other := authtest.NewRecorder(t, http.StatusNotFound)
			redirect := authtest.Redirect(other.URL)
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
			other.NoCredentialSeen(t)
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
