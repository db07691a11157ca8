// Package authtest serves what the credential tests of every connector need: a server that records the
// Authorization header of each request it gets, and a site that answers every request with a redirect.
package authtest

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Recorder is a server on 127.0.0.1 that remembers the Authorization header of every request and answers
// status with an empty JSON object.
type Recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

// NewRecorder starts a Recorder, closed when t ends.
func NewRecorder(t testing.TB, status int) *Recorder {
	r := &Recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen = append(r.seen, req.Header.Get("Authorization"))
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(r.Close)
	return r
}

// Seen returns the Authorization headers received, "" for a request without one.
func (r *Recorder) Seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// NoCredentialSeen fails t unless the recorder got requests and none carried Authorization.
func (r *Recorder) NoCredentialSeen(t testing.TB) {
	t.Helper()
	seen := r.Seen()
	if len(seen) == 0 {
		t.Fatal("the redirect was not followed: the test proves nothing")
	}
	for i, a := range seen {
		if a != "" {
			t.Errorf("request %d to %s, another origin, carried Authorization %q", i, r.URL, a)
		}
	}
}

// Redirect returns a handler that answers every request with 302 to target + the request's path and query.
func Redirect(target string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.RequestURI(), http.StatusFound)
	})
}

// Redirector starts a site that redirects every request to target, closed when t ends.
func Redirector(t testing.TB, target string) *httptest.Server {
	s := httptest.NewServer(Redirect(target))
	t.Cleanup(s.Close)
	return s
}
