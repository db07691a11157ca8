package ado_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/covsync/covsync/connectors/ado"
	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/internal/authtest"
)

// TestADOCredentialNeverFollowsARedirectToAnotherOrigin: the organization URL answers 302 to another port of
// the same host. The Go client sets Authorization on its own requests and Go keeps it on a redirect to the
// same host name; covsync strips it for any origin but the organization's and the areas it names.
func TestADOCredentialNeverFollowsARedirectToAnotherOrigin(t *testing.T) {
	f := newFixture(t, adosim.Options{})
	other := authtest.NewRecorder(t, http.StatusUnauthorized)
	front := authtest.Redirector(t, other.URL)
	tg := f.target(t, func(o *ado.Options) { o.OrganizationURL = front.URL + "/acme" })
	if err := tg.ProbeProject(context.Background()); err == nil {
		t.Fatal("ProbeProject passed against an organization that only redirects")
	}
	other.NoCredentialSeen(t)
}
