package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/covsync/covsync/internal/authtest"
)

// TestCredentialGoesOnlyToTheConfiguredOrigin: a redirect to another origin (another port of the same host,
// which Go's own rule lets through) gets no Authorization, whether the credential is attached by Authorize or
// set on the request by a vendor client; the configured origin gets it on every hop.
func TestCredentialGoesOnlyToTheConfiguredOrigin(t *testing.T) {
	other := authtest.NewRecorder(t, http.StatusOK)
	away := authtest.Redirector(t, other.URL)
	// The configured origin redirects to itself once ("/hop" → "/landed") and records where it lands.
	var landed []string
	var mu sync.Mutex
	homeSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/hop") {
			http.Redirect(w, r, "/landed", http.StatusFound)
			return
		}
		mu.Lock()
		landed = append(landed, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	defer homeSrv.Close()

	hc, err := New(Options{Name: "t", RequestsPerSecond: 1000, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := BasicCredential(away.URL, "bot@acme.example", "tok-secret")
	if err != nil {
		t.Fatal(err)
	}
	c := Authorize(hc, cred)

	// Attached by Authorize, redirected to another port: stripped.
	resp, err := c.Get(away.URL + "/rest/api/2/myself")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Set by the caller (as azure-devops-go-api does), redirected to another port: stripped too.
	req, _ := http.NewRequest(http.MethodGet, away.URL+"/x", nil)
	req.Header.Set("Authorization", "Basic c2VsZi1zZXQ=")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	other.NoCredentialSeen(t)
	if n := len(other.Seen()); n != 2 {
		t.Fatalf("the other origin got %d requests, want 2 (the redirects were not followed)", n)
	}

	// The configured origin keeps the credential across its own redirects.
	cred2, err := BasicCredential(homeSrv.URL, "bot@acme.example", "tok-secret")
	if err != nil {
		t.Fatal(err)
	}
	resp, err = Authorize(hc, cred2).Get(homeSrv.URL + "/hop")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(landed) != 1 || !strings.HasPrefix(landed[0], "Basic ") {
		t.Fatalf("configured origin got Authorization %q, want the basic credential", landed)
	}
}

// TestCredentialOriginIsSchemeHostAndPort: a downgrade to http, another port and another host are other
// origins; default ports and letter case are not.
func TestCredentialOriginIsSchemeHostAndPort(t *testing.T) {
	cred, err := BearerCredential("https://Jira.Acme.example/jira", "t")
	if err != nil {
		t.Fatal(err)
	}
	for u, want := range map[string]bool{
		"https://jira.acme.example/rest":        true,
		"https://JIRA.acme.example:443/x":       true,
		"https://jira.acme.example./x":          true,
		"http://jira.acme.example/rest":         false, // downgrade
		"http://jira.acme.example:443/rest":     false,
		"https://jira.acme.example:8443/rest":   false,
		"https://sso.acme.example/login":        false,
		"https://jira.acme.example.evil.test/x": false,
	} {
		r, _ := http.NewRequest(http.MethodGet, u, nil)
		if got := cred.Allows(r.URL); got != want {
			t.Errorf("Allows(%s) = %v, want %v", u, got, want)
		}
	}
	if _, err := NewCredential("ftp://x", "t"); err == nil {
		t.Error("an ftp URL was accepted as an origin")
	}
}
