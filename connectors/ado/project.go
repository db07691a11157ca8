package ado

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/covsync/covsync/sync/push"
)

// projectRef is an Azure DevOps project as the organization knows it: its id (the destination's identity) and
// its name (what a work item's System.TeamProject holds).
type projectRef struct{ id, name string }

// projects is the part of the organization's Cache that resolves configured projects (a name, in any case, or
// an id) and remembers which covsync project writes each one.
type projects struct {
	mu     sync.Mutex
	refs   map[string]projectRef // org + "\x00" + configured project, lowercased → resolved
	owners map[string]string     // org + "\x00" + project id → the covsync project writing it
}

// resolveProject reads the configured project once per organization cache (GET _apis/projects/{nameOrId},
// https://learn.microsoft.com/en-us/rest/api/azure/devops/core/projects/get: it takes a name or an id and
// answers both), then claims its id for the covsync project the target writes for (Options.Owner). Two covsync
// projects naming one Azure DevOps project differently (a name and its id, or two spellings) would overwrite
// each other's documents: the second is a configuration error, whichever name it used.
func (t *Target) resolveProject(ctx context.Context, s *session) (projectRef, error) {
	c := &t.cache.projectRefs
	key := strings.ToLower(s.orgURL) + "\x00" + strings.ToLower(t.o.Project)
	c.mu.Lock()
	ref, ok := c.refs[key]
	c.mu.Unlock()
	if !ok {
		u := strings.TrimRight(s.orgURL, "/") + "/_apis/projects/" + url.PathEscape(t.o.Project)
		var p struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		if err := t.paced(ctx, func() error { return s.rest(ctx, http.MethodGet, u, "7.1", nil, &p) }); err != nil {
			return projectRef{}, fmt.Errorf("%s: project %s: %w", t.Name(), t.o.Project, err)
		}
		if p.ID == "" || p.Name == "" {
			return projectRef{}, fmt.Errorf("%s: project %s: the answer names no id and name", t.Name(), t.o.Project)
		}
		ref = projectRef{id: strings.ToLower(p.ID), name: p.Name}
		c.mu.Lock()
		if c.refs == nil {
			c.refs = map[string]projectRef{}
		}
		c.refs[key] = ref
		c.mu.Unlock()
	}
	if t.o.Owner != "" {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.owners == nil {
			c.owners = map[string]string{}
		}
		okey := strings.ToLower(s.orgURL) + "\x00" + ref.id
		if prev, taken := c.owners[okey]; taken && prev != t.o.Owner {
			return projectRef{}, push.Fatal(fmt.Errorf("%s: Azure DevOps project %q (id %s) is also mapped by project %q: each destination may be mapped by one project only (compare the names and ids in projects[].ado.project)",
				t.Name(), ref.name, ref.id, prev))
		}
		c.owners[okey] = t.o.Owner
	}
	return ref, nil
}
