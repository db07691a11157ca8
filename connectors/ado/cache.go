package ado

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/covsync/covsync/sync/report"
)

// DefaultRefreshEvery is how old a project's cached key → work item mapping may get before Plan queries
// every key again (Options.RefreshEvery).
const DefaultRefreshEvery = time.Hour

// Cache keeps, between cycles, what planning learned from one organization: its resource areas and, per
// project and mapping rule, which ticket key maps to which work item. Targets are rebuilt every cycle; the
// cache outlives them (one per organization, in the daemon's client registry), so an unchanged cycle maps
// its stories without asking ADO at all (docs/benchmarks.md). A mapping changes only when work items do:
// keys not in the cache are queried as they appear, the whole project is queried again once the mapping is
// RefreshEvery old (a key moved to another work item is noticed then), and a push that finds its work item
// gone drops the key at once. It is safe for concurrent use.
type Cache struct {
	mu       sync.Mutex
	areas    map[string]areaURLs          // organization URL → where its areas live
	versions map[string]map[string]string // base URL → location id → api-version to send
	fields   map[string]map[string]string // organization URL + project + fields config → reference name → type
	projects map[string]*mapped           // project + rule → mapping

	projectRefs projects // configured project → id and name; id → the covsync project writing it
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{areas: map[string]areaURLs{}, versions: map[string]map[string]string{}, fields: map[string]map[string]string{}, projects: map[string]*mapped{}}
}

// areaURLs are the base URLs of the areas covsync calls (GetResourceAreas).
type areaURLs struct{ wit, ext string }

// mapped is one project's cached mapping.
type mapped struct {
	mu  sync.Mutex     // held by a Plan for the whole mapping, so two cycles do not query twice
	ids map[string]int // ticket key, lowercased → work item id; only work items read and found
	at  time.Time      // when every key was last queried; zero: never
}

func (c *Cache) areasOf(org string) (areaURLs, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.areas[org]
	return a, ok
}

func (c *Cache) setAreas(org string, a areaURLs) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.areas[org] = a
}

func (c *Cache) versionsOf(base string) (map[string]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.versions[base]
	return v, ok
}

func (c *Cache) setVersions(base string, v map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.versions[base] = v
}

func (c *Cache) fieldTypesOf(org, key string) (map[string]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.fields[org+"\x00"+key]
	return v, ok
}

func (c *Cache) setFieldTypes(org, key string, v map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fields[org+"\x00"+key] = v
}

// dropFieldTypes forgets what was checked of the organization's fields: a write found one gone.
func (c *Cache) dropFieldTypes(org string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.fields {
		if strings.HasPrefix(k, org+"\x00") {
			delete(c.fields, k)
		}
	}
}

func (c *Cache) project(key string) *mapped {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.projects[key]
	if !ok {
		m = &mapped{ids: map[string]int{}}
		c.projects[key] = m
	}
	return m
}

// cacheKey names the target's mapping in the cache: the project and the rule (the match field, or none).
func (t *Target) cacheKey() string {
	return strings.ToLower(t.o.Project) + "\x00" + t.o.MatchField
}

// forget drops key from the cached mapping: its work item is gone (or moved), so the next Plan queries it.
func (t *Target) forget(key string) {
	m := t.cache.project(t.cacheKey())
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.ids, strings.ToLower(key))
}

// mapCached maps p's stories as mapStories does, asking ADO only about keys the cache does not hold (all of
// them once the cache is RefreshEvery old). Candidates from the cache carry no snapshot: Push verifies their
// work item exists before it writes (verifier).
func (t *Target) mapCached(ctx context.Context, s *session, p *report.Project) ([]candidate, map[int]*snapshot, Mapping, error) {
	e := t.cache.project(t.cacheKey())
	e.mu.Lock()
	defer e.mu.Unlock()
	now := t.now()
	if e.at.IsZero() || now.Sub(e.at) >= t.refreshEvery {
		cands, snaps, m, err := t.mapStories(ctx, s, p)
		if err != nil {
			return nil, nil, m, err
		}
		e.ids, e.at = map[string]int{}, now
		for _, c := range cands {
			if snaps[c.id] != nil {
				e.ids[strings.ToLower(c.story.Key)] = c.id
			}
		}
		return cands, snaps, m, nil
	}
	sub := *p
	sub.Stories = nil
	used := map[int]string{}
	for _, st := range p.Stories {
		if id, ok := e.ids[strings.ToLower(st.Key)]; ok && used[id] == "" {
			used[id] = st.Key
			continue
		}
		sub.Stories = append(sub.Stories, st)
	}
	// With every key cached, sub has no stories and mapStories sends nothing (it still names the rule).
	fresh, snaps, m, err := t.mapStories(ctx, s, &sub)
	if err != nil {
		return nil, nil, m, err
	}
	byKey := make(map[string]candidate, len(fresh))
	for _, c := range fresh {
		byKey[c.story.Key] = c
	}
	var cands []candidate
	for _, st := range p.Stories {
		if id, ok := e.ids[strings.ToLower(st.Key)]; ok && used[id] == st.Key {
			cands = append(cands, candidate{story: st, id: id, cached: true})
			continue
		}
		c, ok := byKey[st.Key]
		if !ok {
			continue // a miss, already in m
		}
		if prev := used[c.id]; prev != "" {
			m.Misses = append(m.Misses, Miss{st.Key, fmt.Sprintf("work item %d is already mapped from %s", c.id, prev)})
			continue
		}
		used[c.id] = st.Key
		cands = append(cands, c)
		if snaps[c.id] != nil {
			e.ids[strings.ToLower(st.Key)] = c.id
		}
	}
	m.Mapped = len(cands)
	return cands, snaps, m, nil
}

// verifier checks, for one cycle, that the work items of cached candidates still exist when they are
// pushed (an unchanged item is not pushed, so costs nothing). Like the listing, a cycle's first listAfter
// pushes read their work item one by one; past that the cycle reads all its cached work items once, in
// batches of 200, so a full resync from the cache costs a few reads, not one per item.
type verifier struct {
	ids    []int
	pushes atomic.Int64
	once   sync.Once
	snaps  map[int]*snapshot
	err    error
}

// snapshot returns work item id as read now, or nil when it does not exist in the project.
func (v *verifier) snapshot(ctx context.Context, t *Target, s *session, id int) (*snapshot, error) {
	if v.pushes.Add(1) > listAfter {
		v.once.Do(func() { v.snaps, v.err = t.readWorkItems(ctx, s, v.ids) })
		if v.err == nil {
			return v.snaps[id], nil
		}
	}
	got, err := t.readWorkItems(ctx, s, []int{id})
	if err != nil {
		return nil, err
	}
	return got[id], nil
}
