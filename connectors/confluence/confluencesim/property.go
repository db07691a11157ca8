package confluencesim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// MaxPropertyValueBytes is the largest content property value accepted: "Content properties have the following
// limitations: ... the value can be up to 32 KB" (https://developer.atlassian.com/cloud/confluence/content-properties/).
const MaxPropertyValueBytes = 32 << 10

func propertyJSON(p *page, pr *property) map[string]any {
	return map[string]any{
		"id": pr.id, "key": pr.key, "value": pr.value,
		"version": map[string]any{"number": pr.version, "minorEdit": false},
		"content": map[string]any{"id": p.id, "type": "page", "title": p.title},
	}
}

// pageOr404 finds the page of the path's {id} with s.mu held.
func (s *Server) pageOr404(w http.ResponseWriter, r *http.Request) *page {
	// A restricted page is answered as missing, as Confluence does for content the user may not view.
	p, ok := s.pages[r.PathValue("id")]
	if !ok || p.restricted {
		writeError(w, http.StatusNotFound, "No content found with id: ContentId{id="+r.PathValue("id")+"}")
		return nil
	}
	return p
}

func (s *Server) listProperties(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pageOr404(w, r)
	if p == nil {
		return
	}
	keys := make([]string, 0, len(p.properties))
	for k := range p.properties {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	results := []any{}
	for _, k := range keys {
		results = append(results, propertyJSON(p, p.properties[k]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results, "start": 0, "limit": 10, "size": len(results)})
}

// getProperty is GET /content/{id}/property/{key}: 404 when the page has no such property. This is how
// covsync reads its own property; expanding it would need a key without dots.
func (s *Server) getProperty(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pageOr404(w, r)
	if p == nil {
		return
	}
	pr, ok := p.properties[r.PathValue("key")]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Cannot find content property with key %q on content %s", r.PathValue("key"), p.id))
		return
	}
	writeJSON(w, http.StatusOK, propertyJSON(p, pr))
}

type propertyIn struct {
	Key     string          `json:"key"`
	Value   json.RawMessage `json:"value"`
	Version *struct {
		Number int `json:"number"`
	} `json:"version"`
}

// propertyWrite decodes and checks a property write and finds its page, calling fn with s.mu held. The key
// comes from the path when it has one, else from the body.
func (s *Server) propertyWrite(w http.ResponseWriter, r *http.Request, needVersion bool, fn func(p *page, in propertyIn)) {
	var in propertyIn
	if !decode(w, r, &in) {
		return
	}
	if k := r.PathValue("key"); k != "" {
		in.Key = k
	}
	switch {
	case in.Key == "":
		writeError(w, http.StatusBadRequest, "Property key is required.")
		return
	case needVersion && in.Version == nil:
		writeError(w, http.StatusBadRequest, "Property version is required.")
		return
	case len(in.Value) == 0:
		writeError(w, http.StatusBadRequest, "Property value is required.")
		return
	case len(in.Value) > MaxPropertyValueBytes:
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("Property value is %d bytes; the limit is %d.", len(in.Value), MaxPropertyValueBytes))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pageOr404(w, r); p != nil {
		fn(p, in)
	}
}

func (s *Server) newProperty(p *page, key string, value json.RawMessage) *property {
	s.nextID++
	pr := &property{id: strconv.Itoa(s.nextID), key: key, value: value, version: 1}
	p.properties[key] = pr
	return pr
}

// raced consumes one injected property conflict of page p, with s.mu held.
func (s *Server) raced(p *page) bool {
	if s.propertyRaces[p.id] > 0 {
		s.propertyRaces[p.id]--
		return true
	}
	return false
}

// createProperty is POST /content/{id}/property (key in the body) and POST /content/{id}/property/{key}.
// A key that exists already is a conflict.
func (s *Server) createProperty(w http.ResponseWriter, r *http.Request) {
	s.propertyWrite(w, r, false, func(p *page, in propertyIn) {
		if _, ok := p.properties[in.Key]; ok || s.raced(p) {
			writeError(w, http.StatusConflict, fmt.Sprintf("Cannot add a property with key %q: it already exists on content %s", in.Key, p.id))
			return
		}
		writeJSON(w, http.StatusOK, propertyJSON(p, s.newProperty(p, in.Key, in.Value)))
	})
}

// updateProperty is PUT /content/{id}/property/{key}: version.number must be the current version + 1 ("Set
// this to the current version number incremented by one"), else 409; a missing key with version 1 creates it.
func (s *Server) updateProperty(w http.ResponseWriter, r *http.Request) {
	s.propertyWrite(w, r, true, func(p *page, in propertyIn) {
		pr, ok := p.properties[in.Key]
		switch {
		case s.raced(p):
			writeError(w, http.StatusConflict, "Version must be incremented on update (injected race).")
		case !ok && in.Version.Number == 1:
			writeJSON(w, http.StatusOK, propertyJSON(p, s.newProperty(p, in.Key, in.Value)))
		case !ok:
			writeError(w, http.StatusNotFound, fmt.Sprintf("Cannot find content property with key %q on content %s", in.Key, p.id))
		case in.Version.Number != pr.version+1:
			writeError(w, http.StatusConflict, fmt.Sprintf("Version must be incremented on update. Current version is: %d", pr.version))
		default:
			pr.value, pr.version = in.Value, pr.version+1
			writeJSON(w, http.StatusOK, propertyJSON(p, pr))
		}
	})
}

type labelIn struct {
	Prefix string `json:"prefix"`
	Name   string `json:"name"`
}

func labelList(p *page) map[string]any {
	results := []any{}
	for i, l := range p.labels {
		results = append(results, map[string]any{"prefix": "global", "name": l, "id": strconv.Itoa(i + 1), "label": l})
	}
	return map[string]any{"results": results, "start": 0, "limit": 200, "size": len(results)}
}

func addLabel(p *page, name string) {
	name = strings.ToLower(name) // Confluence stores label names in lower case
	if !slices.Contains(p.labels, name) {
		p.labels = append(p.labels, name)
	}
}

func (s *Server) getLabels(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pageOr404(w, r); p != nil {
		writeJSON(w, http.StatusOK, labelList(p))
	}
}

// addLabels is POST /content/{id}/label with one LabelCreate or an array of them ("Adds labels to a piece of
// content. Does not modify the existing labels."); it answers the page's labels.
func (s *Server) addLabels(w http.ResponseWriter, r *http.Request) {
	var many []labelIn
	if err := json.Unmarshal(info(r).body, &many); err != nil {
		var one labelIn
		if !decode(w, r, &one) {
			return
		}
		many = []labelIn{one}
	}
	for _, l := range many {
		if l.Name == "" || strings.ContainsAny(l.Name, " \t\n:;,.?&[]()#^*@!<>") {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Label %q contains characters that are not allowed.", l.Name))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pageOr404(w, r)
	if p == nil {
		return
	}
	for _, l := range many {
		addLabel(p, l.Name)
	}
	writeJSON(w, http.StatusOK, labelList(p))
}
