package confluencesim

import (
	"encoding/json"
	"html"
	"slices"
)

// AddSpace creates a space with a home page and returns the home page's id.
func (s *Server) AddSpace(key, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := &space{key: key, name: name}
	s.spaces[key] = sp
	home := s.newPage(key, name+" Home", "<p>Welcome to "+html.EscapeString(name)+".</p>", nil, user{accountID: "admin", displayName: "admin"})
	sp.homeID = home.id
	return home.id
}

// AddPage creates a page as a person (by) under parentID ("" for the space root) and returns its id. It is
// how tests seed a parent page or a foreign page with a title covsync wants. The body is stored as given.
func (s *Server) AddPage(spaceKey, parentID, title, body, by string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var anc []string
	if parent, ok := s.pages[parentID]; ok {
		anc = append(slices.Clone(parent.ancestors), parent.id)
	}
	return s.newPage(spaceKey, title, body, anc, user{accountID: by, displayName: by}).id
}

// AddRestrictedPage creates a page the API user cannot see (view-restricted to someone else): searches do not
// find it, yet its title is taken in the space, so creating another page with it answers 400.
func (s *Server) AddRestrictedPage(spaceKey, parentID, title, body, by string) string {
	id := s.AddPage(spaceKey, parentID, title, body, by)
	s.mu.Lock()
	s.pages[id].restricted = true
	s.mu.Unlock()
	return id
}

// EditPage makes a person save a new version of page id now (a manual edit).
func (s *Server) EditPage(id string, e Edit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pages[id]; ok {
		s.applyEdit(p, e)
	}
}

// Page is a snapshot of a stored page, for assertions.
type Page struct {
	ID, Title, SpaceKey string
	Ancestors           []string // root first, parent last
	Body                string
	Version             int
	By                  string // account id of the last version's author
	Message             string // the last version's message
	Labels              []string
	Properties          map[string]Property
}

// Property is a snapshot of a content property.
type Property struct {
	Value   json.RawMessage
	Version int
}

func (s *Server) snapshot(p *page) Page {
	out := Page{
		ID: p.id, Title: p.title, SpaceKey: p.spaceKey, Ancestors: slices.Clone(p.ancestors), Body: p.body,
		Version: p.version, By: p.by.accountID, Message: p.message, Labels: slices.Clone(p.labels),
		Properties: map[string]Property{},
	}
	for k, pr := range p.properties {
		out.Properties[k] = Property{Value: slices.Clone(pr.value), Version: pr.version}
	}
	return out
}

// Page returns the page with id.
func (s *Server) Page(id string) (Page, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pages[id]
	if !ok {
		return Page{}, false
	}
	return s.snapshot(p), true
}

// PagesTitled returns every page of spaceKey titled title (at most one, unless something went wrong).
func (s *Server) PagesTitled(spaceKey, title string) []Page {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Page
	for _, p := range s.pages {
		if p.spaceKey == spaceKey && p.title == title {
			out = append(out, s.snapshot(p))
		}
	}
	return out
}

// Children returns the pages whose parent is id, by id.
func (s *Server) Children(id string) []Page {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Page
	for _, p := range s.pages {
		if len(p.ancestors) > 0 && p.ancestors[len(p.ancestors)-1] == id {
			out = append(out, s.snapshot(p))
		}
	}
	slices.SortFunc(out, func(a, b Page) int { return cmpID(a.ID, b.ID) })
	return out
}

func cmpID(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// DeletePage removes page id as a person would by deleting it and purging it from the space's trash: it
// is gone from searches and its title is free again. (A page only moved to the trash still holds its title
// on Data Center; covsync's create then says so, see the target's create.)
func (s *Server) DeletePage(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pages, id)
}
