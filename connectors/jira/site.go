package jira

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"text/template"
	"time"
	"unicode/utf8"

	gojira "github.com/andygrunwald/go-jira"
	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/templates"
)

// PropertyKey is the project property covsync maintains.
const PropertyKey = "jira-test-manager.linked-test-runs"

// Options are what every site shares, in the shape every connector's constructor takes: the HTTP client,
// the log, the User-Agent, and the templates.
type Options struct {
	// HTTP is the site's paced, retrying client (httpx), shared by its targets; nil builds one from the
	// site's config (httpx.ForConn).
	HTTP      *http.Client
	Log       logrus.FieldLogger
	UserAgent string        // "covsync/<version>"
	Templates templates.Set // jira/summary.tmpl, overridable
}

// Site is one configured Jira site. Build one per site and share it (internal/app keeps one per site in its
// client registry): every target of a site then shares its HTTP client (one token bucket) and its
// per-project property locks.
type Site struct {
	cfg     config.Jira
	client  *gojira.Client
	log     logrus.FieldLogger
	summary *template.Template

	mu         sync.Mutex
	locks      map[string]*sync.Mutex // project key → property read-merge-write lock
	deployment string                 // serverInfo's deploymentType once known (reconcile.go)
}

// NewSite builds the client of one site: httpx underneath, go-jira's basic (email + API token) or PAT
// transport on top.
func NewSite(cfg config.Jira, o Options) (*Site, error) {
	if o.Log == nil {
		o.Log = logrus.New()
	}
	token := cfg.Auth.Token.Reveal()
	hc := o.HTTP
	if hc == nil {
		ho := httpx.ForConn("jira", cfg.Conn)
		ho.UserAgent = o.UserAgent
		var err error
		if hc, err = httpx.New(ho); err != nil {
			return nil, fmt.Errorf("jira %s: %w", cfg.Name, err)
		}
	}
	// The credential is attached by httpx.Authorize, which sends it to the configured origin only; go-jira's
	// BasicAuthTransport and PATAuthTransport add it below the redirect loop, to whatever host a redirect names.
	var cred *httpx.Credential
	var err error
	switch strings.ToLower(cfg.Auth.Type) {
	case "", "basic":
		if cfg.Auth.Email == "" {
			return nil, fmt.Errorf("jira %s: auth.email is required for basic auth", cfg.Name)
		}
		cred, err = httpx.BasicCredential(cfg.URL, cfg.Auth.Email, token)
	case "bearer", "pat":
		cred, err = httpx.BearerCredential(cfg.URL, token)
	default:
		return nil, fmt.Errorf("jira %s: auth.type %q: want basic or bearer", cfg.Name, cfg.Auth.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("jira %s: url: %w", cfg.Name, err)
	}
	client, err := gojira.NewClient(httpx.Authorize(hc, cred), cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("jira %s: url %q: %w", cfg.Name, cfg.URL, err)
	}
	src, err := o.Templates.Read("jira/summary.tmpl")
	if err != nil {
		return nil, fmt.Errorf("jira %s: %w", cfg.Name, err)
	}
	tmpl, err := parseSummary(string(src))
	if err != nil {
		return nil, fmt.Errorf("jira %s: template jira/summary.tmpl: %w", cfg.Name, err)
	}
	return &Site{cfg: cfg, client: client, log: o.Log, summary: tmpl, locks: map[string]*sync.Mutex{}}, nil
}

// Name is the site's configured name.
func (s *Site) Name() string { return s.cfg.Name }

func (s *Site) projectLock(key string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.locks[key]
	if l == nil {
		l = &sync.Mutex{}
		s.locks[key] = l
	}
	return l
}

// credential names the credential in an error without its value.
func (s *Site) credential() string {
	from := "auth.token_env " + s.cfg.Auth.TokenEnv
	if s.cfg.Auth.TokenFile != "" {
		from = "auth.token_file " + s.cfg.Auth.TokenFile
	}
	if strings.EqualFold(s.cfg.Auth.Type, "bearer") || strings.EqualFold(s.cfg.Auth.Type, "pat") {
		return "the personal access token (" + from + ")"
	}
	return fmt.Sprintf("the API token of %s (%s)", s.cfg.Auth.Email, from)
}

// call sends one request built with go-jira and decodes a 2xx JSON answer into out. Any failure is
// classified for the engine; what names the request in the message ("PUT issue SHOP-7"), permission is the
// Jira permission a 403 means is missing.
func (s *Site) call(ctx context.Context, method, path string, body, out any, what, permission string) (*gojira.Response, error) {
	var req *http.Request
	var err error
	if raw, ok := body.(json.RawMessage); ok {
		// Sent byte for byte: go-jira's encoder would HTML-escape "&" into \u0026 and grow a value that was
		// measured against Jira's size cap.
		req, err = s.client.NewRawRequestWithContext(ctx, method, path, bytes.NewReader(raw))
	} else {
		req, err = s.client.NewRequestWithContext(ctx, method, path, body)
	}
	if err != nil {
		return nil, fmt.Errorf("jira %s: %s: %w", s.cfg.Name, what, err)
	}
	resp, err := s.client.Do(req, out)
	if err == nil {
		// go-jira closes the body only when it decodes one; an unread body would hold the connection and
		// the attempt's timeout until it fires.
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, nil
	}
	return resp, s.classify(ctx, resp, err, what, permission)
}

// classify turns a failed call into a push error kind with Jira's own message.
func (s *Site) classify(ctx context.Context, resp *gojira.Response, err error, what, permission string) error {
	if resp == nil {
		if ctx.Err() != nil {
			// Cancelled or out of time: not the item's fault; left unclassified, it is retried next cycle.
			return fmt.Errorf("jira %s: %s: %w", s.cfg.Name, what, ctx.Err())
		}
		if unreachable(err) {
			return push.Fatalf("jira %s: %s: %s unreachable: %w", s.cfg.Name, what, s.cfg.URL, err)
		}
		return push.Retryable(fmt.Errorf("jira %s: %s: %w", s.cfg.Name, what, err))
	}
	status := resp.StatusCode
	text, je := jiraMessageText(resp, err)
	msg := capText(text, maxMessage)
	switch {
	case status == http.StatusUnauthorized:
		return push.Fatalf("jira %s: %s: 401 Unauthorized: Jira refused %s; check that it is current", s.cfg.Name, what, s.credential())
	case status == http.StatusForbidden:
		return push.Fatalf("jira %s: %s: 403 Forbidden: %s lacks the %s permission: %s", s.cfg.Name, what, s.user(), permission, msg)
	case status == http.StatusTooManyRequests || status >= 500:
		return push.Retryable(fmt.Errorf("jira %s: %s: %d after retries: %s", s.cfg.Name, what, status, msg))
	default:
		r := &refusal{Status: status, msg: fmt.Sprintf("jira %s: %s: %d: %s", s.cfg.Name, what, status, msg)}
		if je != nil {
			r.Messages, r.Fields = je.ErrorMessages, je.Errors
		}
		return push.Permanent(r)
	}
}

// refusal is a 4xx answer other than 401 and 403 with Jira's error collection kept apart, so a target can
// tell a per-field refusal ("cannot be set") from a bad value.
type refusal struct {
	Status   int
	Messages []string
	Fields   map[string]string // field id → Jira's message
	msg      string
}

func (r *refusal) Error() string { return r.msg }

func (s *Site) user() string {
	if s.cfg.Auth.Email != "" {
		return s.cfg.Auth.Email
	}
	return "the token's user"
}

// unreachable reports errors that no retry of this cycle will fix: DNS, refused connections, certificates.
func unreachable(err error) bool {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var certErr *x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &dnsErr) || errors.As(err, &certErr) || errors.As(err, &hostErr) {
		return true
	}
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	return strings.Contains(err.Error(), "certificate")
}

// maxMessage bounds the text of a Jira answer quoted in an error: go-jira pastes a non-JSON body whole (a
// proxy's HTML sign-in page runs to tens of KB), and the error goes to the log, the ledger and the terminal.
const maxMessage = 1024

// capText cuts s to at most n bytes on a rune boundary, saying how much was left out.
func capText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ") // an HTML page's line breaks and indentation say nothing
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
}

// jiraMessageText reads the answer's body (once: it consumes it) into one line and, when it is Jira's error
// collection, returns that too.
func jiraMessageText(resp *gojira.Response, err error) (string, *gojira.Error) {
	jerr := gojira.NewJiraError(resp, err)
	var je *gojira.Error
	if !errors.As(jerr, &je) {
		return strings.TrimSpace(jerr.Error()), nil
	}
	parts := append([]string(nil), je.ErrorMessages...)
	for _, k := range sortedKeys(je.Errors) {
		parts = append(parts, k+": "+je.Errors[k])
	}
	if len(parts) == 0 {
		return http.StatusText(resp.StatusCode), je
	}
	return strings.Join(parts, "; "), je
}

// Check probes the site read-only for `covsync check`: the credential (GET /myself), the configured fields
// (GET /field) and each project (GET /project/{key}).
func (s *Site) Check(ctx context.Context, projectKeys []string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var me gojira.User
	if _, err := s.call(ctx, "GET", "rest/api/2/myself", nil, &me, "GET myself", "Browse users"); err != nil {
		return err
	}
	if _, err := s.resolveFields(ctx); err != nil {
		return err
	}
	for _, k := range projectKeys {
		var p gojira.Project
		if _, err := s.call(ctx, "GET", "rest/api/2/project/"+k, nil, &p, "GET project "+k, "Browse Projects"); err != nil {
			return err
		}
		if err := s.checkPermissions(ctx, k); err != nil {
			return err
		}
	}
	return nil
}
