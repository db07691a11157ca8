package httpx

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Credential is the Authorization header a connector sends and the origins (scheme, host and port) it may be
// sent to. Every connector attaches its credential through Authorize and never sets the header itself, so
// the rule "a credential goes only to the configured origin" lives here, once (docs/reliability.md,
// "Security").
//
// Go's own redirect rule is weaker: it keeps Authorization on a redirect to the same host name on another
// port and on a downgrade from https to http, and it never sees a header that a transport adds below the
// client that follows redirects (go-jira's BasicAuthTransport and PATAuthTransport do exactly that).
type Credential struct {
	header string

	mu      sync.RWMutex
	origins map[string]bool
}

// NewCredential allows header ("Basic …", "Bearer …") for the origin of baseURL only.
func NewCredential(baseURL, header string) (*Credential, error) {
	o, err := OriginOf(baseURL)
	if err != nil {
		return nil, err
	}
	return &Credential{header: header, origins: map[string]bool{o: true}}, nil
}

// BasicCredential is NewCredential with HTTP basic authentication of user and password.
func BasicCredential(baseURL, user, password string) (*Credential, error) {
	return NewCredential(baseURL, "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
}

// BearerCredential is NewCredential with a bearer token.
func BearerCredential(baseURL, token string) (*Credential, error) {
	return NewCredential(baseURL, "Bearer "+token)
}

// Trust allows the credential for the origin of rawURL too. Only a location that the configured origin itself
// named over an authenticated answer earns it (Azure DevOps' resource areas, which live on other hosts of the
// same service); a redirect never does.
func (c *Credential) Trust(rawURL string) error {
	o, err := OriginOf(rawURL)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.origins[o] = true
	c.mu.Unlock()
	return nil
}

// Allows reports whether the credential may be sent to u.
func (c *Credential) Allows(u *url.URL) bool {
	o, err := origin(u)
	if err != nil {
		return false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.origins[o]
}

// OriginOf is the canonical origin of rawURL: lower-case scheme and host, the port always written
// ("https://acme.atlassian.net:443"). Two URLs name the same site exactly when their origins are equal.
func OriginOf(rawURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return "", err
	}
	return origin(u)
}

func origin(u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "" || (scheme != "http" && scheme != "https") {
		return "", fmt.Errorf("%q is not an http or https URL with a host", u.Redacted())
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if scheme == "http" {
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}

// Authorize returns a copy of c whose every request, each redirect hop included, carries the credential when
// its URL's origin is one the credential allows, and no Authorization header at all otherwise (whoever set
// it). The copy follows redirects as c does; the check sits below the redirect loop, so it sees every hop.
func Authorize(c *http.Client, cred *Credential) *http.Client {
	if c == nil {
		c = &http.Client{}
	}
	out := *c
	next := out.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out.Transport = &credentialTransport{next: next, cred: cred}
	return &out
}

type credentialTransport struct {
	next http.RoundTripper
	cred *Credential
}

func (t *credentialTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	allowed := t.cred.Allows(req.URL)
	has := req.Header.Get("Authorization") != ""
	if !allowed && !has {
		return t.next.RoundTrip(req)
	}
	// A RoundTripper must not modify the caller's request: clone before touching its headers.
	r := req.Clone(req.Context())
	if allowed {
		r.Header.Set("Authorization", t.cred.header)
	} else {
		r.Header.Del("Authorization")
	}
	return t.next.RoundTrip(r)
}
