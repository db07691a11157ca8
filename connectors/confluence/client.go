package confluence

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/sync/push"
)

// Auth is how the client authenticates: basic (Cloud: email + API token) or bearer (Data Center PAT).
type Auth struct {
	Type  string // "basic" or "bearer"
	Email string
	Token config.Secret
}

// client speaks the v1 content API. It takes a plain *http.Client so the caller decides retries, pacing and
// TLS (covsync passes connectors/httpx's client); it adds only the base path and JSON (the
// credential comes from httpx.Authorize, wrapped around that client).
type client struct {
	http      *http.Client
	api       string // <url>/rest/api
	userAgent string
}

// maxResponseBytes bounds what is read of one response: a page body is at most MaxBodyBytes, plus its JSON.
const maxResponseBytes = 4 * MaxBodyBytes

// apiError is a non-2xx answer. Its text names the request and carries Confluence's message, never a header.
type apiError struct {
	Method, Path string
	Status       int
	Message      string
	RetryAfter   string
}

func (e *apiError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.RetryAfter != "" {
		msg += " (Retry-After: " + e.RetryAfter + ")"
	}
	return fmt.Sprintf("%s %s: %d: %s", e.Method, e.Path, e.Status, msg)
}

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// do sends one request; in (if not nil) is sent as JSON and out (if not nil) is filled from a 2xx answer.
func (c *client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	u := c.api + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encoding request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	// The credential is attached by httpx.Authorize (target.go), for the configured origin only.
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return push.Retryable(fmt.Errorf("%s %s: reading response: %w", method, path, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &apiError{Method: method, Path: path, Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &e) == nil {
			ae.Message = e.Message
		}
		return classify(ae)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			// An HTML sign-in page or a proxy's answer is not data.
			return push.Permanent(fmt.Errorf("%s %s: answer is not the expected JSON (%s): %w", method, path, resp.Header.Get("Content-Type"), err))
		}
	}
	return nil
}

// classify gives an API error the kind the engine acts on: auth failures stop the target, rate limits and
// server errors that outlived the client's retries are retried next cycle, the rest fail this item.
func classify(ae *apiError) error {
	switch {
	case ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden:
		return push.Fatal(fmt.Errorf("%w (check the confluence target's auth: email, token, permissions on the space)", ae))
	case ae.Status == http.StatusTooManyRequests || ae.Status >= 500:
		return push.Retryable(ae)
	case ae.Status == http.StatusConflict:
		return push.Retryable(ae) // Push re-reads and retries a bounded number of times first
	case ae.Status == http.StatusBadRequest && strings.Contains(ae.Message, "cannot be converted to new editor format"):
		// Confluence Cloud refuses this page's body as such: sending it again will not help, and the other
		// pages are not concerned.
		return push.Permanent(fmt.Errorf("%w (Confluence cannot convert this page's body to its editor; the page is left as it was)", ae))
	}
	return push.Permanent(ae)
}

// transportError classifies a request that got no answer. A host that does not resolve or refuses the
// connection makes the whole target unusable; anything else (a timeout, a reset) is transient.
func transportError(method, path string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	// *url.Error repeats the URL; ours never holds credentials (they travel in the Authorization header).
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if errors.As(err, &dnsErr) || (errors.As(err, &opErr) && opErr.Op == "dial" && !opErr.Timeout()) {
		return push.Fatal(fmt.Errorf("%s %s: unreachable: %w", method, path, err))
	}
	return push.Retryable(fmt.Errorf("%s %s: %w", method, path, err))
}

// content is the part of the v1 Content object covsync reads.
type content struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Version struct {
		Number  int    `json:"number"`
		Message string `json:"message"`
		By      struct {
			AccountID   string `json:"accountId"`
			DisplayName string `json:"displayName"`
			Username    string `json:"username"` // Data Center
		} `json:"by"`
	} `json:"version"`
	Metadata struct {
		Labels struct {
			Results []struct {
				Name string `json:"name"`
			} `json:"results"`
		} `json:"labels"`
	} `json:"metadata"`
	Links struct {
		WebUI string `json:"webui"`
	} `json:"_links"`
}

func (c *content) editor() string {
	by := c.Version.By
	for _, s := range []string{by.DisplayName, by.Username, by.AccountID} {
		if s != "" {
			return s
		}
	}
	return "someone"
}

func (c *content) hasLabel(name string) bool {
	for _, l := range c.Metadata.Labels.Results {
		if strings.EqualFold(l.Name, name) {
			return true
		}
	}
	return false
}

// findPage looks a page up by space and title (exact match); nil when there is none.
// GET /content?spaceKey=&title=&type=page&expand=version,metadata.labels
func (c *client) findPage(ctx context.Context, space, title string) (*content, error) {
	var res struct {
		Results []content `json:"results"`
	}
	q := url.Values{"spaceKey": {space}, "title": {title}, "type": {"page"}, "expand": {"version,metadata.labels"}}
	if err := c.do(ctx, http.MethodGet, "/content", q, nil, &res); err != nil {
		return nil, err
	}
	for i := range res.Results {
		if res.Results[i].Title == title {
			return &res.Results[i], nil
		}
	}
	return nil, nil
}

// syncMark is the value of the covsync.sync content property.
type syncMark struct {
	Hash    string `json:"hash"`
	Version int    `json:"version"`
	// Project is the project id that owns the page. Marks written before it existed have none; they are
	// read as the reading project's (there was no way to tell), and its next write records it.
	Project string `json:"project,omitempty"`
}

type markProperty struct {
	Value   syncMark `json:"value"`
	Version struct {
		Number int `json:"number"`
	} `json:"version"`
}

// getMark reads covsync's property of page id; nil when the page has none. It is read by key, not by
// expansion: expand takes dot paths, so metadata.properties.covsync.sync would ask for "covsync".
func (c *client) getMark(ctx context.Context, id string) (*markProperty, error) {
	var p markProperty
	err := c.do(ctx, http.MethodGet, "/content/"+id+"/property/"+PropertyKey, nil, nil, &p)
	if statusOf(err) == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// putMark writes covsync's property of page id at property version next (1 creates it).
func (c *client) putMark(ctx context.Context, id string, m syncMark, next int) error {
	in := map[string]any{"key": PropertyKey, "value": m, "version": map[string]any{"number": next, "minorEdit": true}}
	return c.do(ctx, http.MethodPut, "/content/"+id+"/property/"+PropertyKey, nil, in, nil)
}

func storage(body []byte) map[string]any {
	return map[string]any{"storage": map[string]any{"value": string(body), "representation": "storage"}}
}

func labelsIn(names []string) []map[string]string {
	out := make([]map[string]string, 0, len(names))
	for _, n := range names {
		out = append(out, map[string]string{"prefix": "global", "name": n})
	}
	return out
}

// createPage creates the page under parentID with its labels and covsync's property in one request
// ("Content properties can also be added when creating a new piece of content by including them in the
// metadata.properties of the request"), so a page covsync created is never without its mark.
func (c *client) createPage(ctx context.Context, space, parentID, title string, body []byte, labels []string, mark syncMark) (*content, error) {
	in := map[string]any{
		"type": "page", "title": title, "space": map[string]any{"key": space}, "body": storage(body),
		"metadata": map[string]any{
			"labels":     labelsIn(labels),
			"properties": map[string]any{PropertyKey: map[string]any{"key": PropertyKey, "value": mark}},
		},
	}
	if parentID != "" {
		in["ancestors"] = []map[string]any{{"id": parentID}}
	}
	var out content
	// Replaying this POST is safe: a title is unique in a space, so a create that did land answers 400 on
	// the replay, and Push then finds the page with covsync's mark.
	if err := c.do(httpx.AllowRetry(ctx), http.MethodPost, "/content", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// updatePage writes a new version of page id; version must be the current version + 1, or Confluence
// answers 409. The ancestors are left out so a page a person moved stays where they put it.
func (c *client) updatePage(ctx context.Context, id, title string, body []byte, version int, message string) (*content, error) {
	in := map[string]any{
		"id": id, "type": "page", "title": title, "body": storage(body),
		"version": map[string]any{"number": version, "message": message},
	}
	var out content
	if err := c.do(ctx, http.MethodPut, "/content/"+id, nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// addLabels adds labels to page id (existing labels are kept).
func (c *client) addLabels(ctx context.Context, id string, names []string) error {
	// Adding labels "does not modify the existing labels": a replay is harmless.
	return c.do(httpx.AllowRetry(ctx), http.MethodPost, "/content/"+id+"/label", nil, labelsIn(names), nil)
}

// check reads the space and the parent page (read-only) and verifies the parent is in the space.
func (c *client) check(ctx context.Context, space, parentID string) error {
	if err := c.do(ctx, http.MethodGet, "/space/"+url.PathEscape(space), nil, nil, nil); err != nil {
		return fmt.Errorf("space %s: %w", space, err)
	}
	if parentID == "" {
		return nil
	}
	var parent struct {
		Space struct {
			Key string `json:"key"`
		} `json:"space"`
	}
	if err := c.do(ctx, http.MethodGet, "/content/"+url.PathEscape(parentID), url.Values{"expand": {"space"}}, nil, &parent); err != nil {
		return fmt.Errorf("parent page %s: %w", parentID, err)
	}
	if parent.Space.Key != space {
		return fmt.Errorf("parent page %s is in space %s, not %s", parentID, parent.Space.Key, space)
	}
	return nil
}
