package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// recorder answers 200 and remembers the Authorization header of every request it gets.
type recorder struct {
	mu   sync.Mutex
	auth []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.auth...)
}

// redirectTo answers every request with 302 to target + the request's path.
func redirectTo(target string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.Path, http.StatusFound)
	})
}

// TestCredentialGoesOnlyToTheConfiguredOrigin: a redirect to another origin (another port of the same host,
// which Go's own rule lets through) gets no Authorization, whether the credential is attached by Authorize or
// set on the request by a vendor client; the configured origin gets it on every hop.
func TestCredentialGoesOnlyToTheConfiguredOrigin(t *testing.T) {
	other := &recorder{}
	otherSrv := httptest.NewServer(other)
	defer otherSrv.Close()
	away := httptest.NewServer(redirectTo(otherSrv.URL))
	defer away.Close()

	home := &recorder{}
	homeSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/hop") {
			http.Redirect(w, r, "/landed", http.StatusFound)
			return
		}
		home.ServeHTTP(w, r)
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
	for i, a := range other.got() {
		if a != "" {
			t.Errorf("request %d to another origin carried Authorization %q", i, a)
		}
	}
	if n := len(other.got()); n != 2 {
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
	if g := home.got(); len(g) != 1 || !strings.HasPrefix(g[0], "Basic ") {
		t.Fatalf("configured origin got Authorization %q, want the basic credential", g)
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
