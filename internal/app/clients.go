package app

import "sync"

// clients is the one registry of per-site connections of a deps: each configured site or organization,
// keyed by (kind, name) such as ("ado", "acme-ado"), gets exactly one client, however many projects are
// mapped to it. A client carries the site's token bucket and its 429 slow-down, so sharing it is what makes
// requests_per_second hold for the site as a whole rather than per project. A new deps (SIGHUP) starts a
// new registry, which re-reads credentials.
type clients struct {
	mu sync.Mutex
	m  map[clientKey]any
}

// clientKey names one configured site: the config section (kind) and its entry's name.
type clientKey struct{ kind, name string }

func newClients() *clients { return &clients{m: map[clientKey]any{}} }

// clientFor returns the client of (kind, name) in c, building it with build on first use. A nil registry
// (deps built by hand in a test) builds a client per call. Building runs under the registry's lock, so two
// projects asking at once still get one client.
func clientFor[T any](c *clients, kind, name string, build func() (T, error)) (T, error) {
	if c == nil {
		return build()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := clientKey{kind, name}
	if v, ok := c.m[k]; ok {
		return v.(T), nil
	}
	v, err := build()
	if err != nil {
		return v, err
	}
	c.m[k] = v
	return v, nil
}

// count returns how many clients of kind the registry holds (for tests and logs).
func (c *clients) count(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k := range c.m {
		if k.kind == kind {
			n++
		}
	}
	return n
}
