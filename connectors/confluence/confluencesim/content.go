package confluencesim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /space/{key}", s.getSpace)
	m.HandleFunc("GET /content", s.searchContent)
	m.HandleFunc("POST /content", s.createContent)
	m.HandleFunc("GET /content/{id}", s.getContent)
	m.HandleFunc("PUT /content/{id}", s.updateContent)
	m.HandleFunc("GET /content/{id}/property", s.listProperties)
	m.HandleFunc("POST /content/{id}/property", s.createProperty)
	m.HandleFunc("GET /content/{id}/property/{key}", s.getProperty)
	m.HandleFunc("POST /content/{id}/property/{key}", s.createProperty)
	m.HandleFunc("PUT /content/{id}/property/{key}", s.updateProperty)
	m.HandleFunc("GET /content/{id}/label", s.getLabels)
	m.HandleFunc("POST /content/{id}/label", s.addLabels)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "No resource at "+r.Method+" "+r.URL.Path)
	})
}

type ctxKey struct{}

type reqInfo struct {
	user user
	body []byte
}

func readAll(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	return io.ReadAll(r.Body)
}

func withUser(ctx context.Context, u user) context.Context {
	return context.WithValue(ctx, ctxKey{}, &reqInfo{user: u})
}

func withBody(r *http.Request, body []byte) *http.Request {
	if ri, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
		ri.body = body
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return r
}

func info(r *http.Request) *reqInfo {
	ri, _ := r.Context().Value(ctxKey{}).(*reqInfo)
	if ri == nil {
		return &reqInfo{}
	}
	return ri
}

// decode reads the JSON request body into v, answering 400 when it is not JSON of that shape.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.Unmarshal(info(r).body, v); err != nil {
		writeError(w, http.StatusBadRequest, "Could not parse request body: "+err.Error())
		return false
	}
	return true
}

func (s *Server) getSpace(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.spaces[r.PathValue("key")]
	if !ok {
		writeError(w, http.StatusNotFound, "No space found with key : "+r.PathValue("key"))
		return
	}
	out := map[string]any{"id": len(sp.key), "key": sp.key, "name": sp.name, "type": "global", "status": "current"}
	if sp.homeID != "" {
		out["homepage"] = map[string]any{"id": sp.homeID, "type": "page"}
	}
	writeJSON(w, http.StatusOK, out)
}

// expansions parses ?expand=a,b.c into a set of dot paths.
func expansions(r *http.Request) map[string]bool {
	out := map[string]bool{}
	for _, e := range strings.Split(r.URL.Query().Get("expand"), ",") {
		if e = strings.TrimSpace(e); e != "" {
			out[e] = true
		}
	}
	return out
}

// contentJSON renders a page as the v1 Content object with the requested expansions. Unexpanded parts are
// listed under _expandable, as the API does.
// https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-content/#api-wiki-rest-api-content-id-get
func (s *Server) contentJSON(p *page, exp map[string]bool, base string) map[string]any {
	out := map[string]any{
		"id": p.id, "type": "page", "status": "current", "title": p.title,
		"_links": map[string]any{
			"webui": fmt.Sprintf("/spaces/%s/pages/%s", p.spaceKey, p.id),
			"self":  base + "/content/" + p.id,
		},
	}
	expandable := map[string]any{}
	if exp["space"] {
		out["space"] = map[string]any{"key": p.spaceKey, "name": s.spaces[p.spaceKey].name, "type": "global"}
	} else {
		expandable["space"] = "/rest/api/space/" + p.spaceKey
	}
	if exp["version"] {
		out["version"] = map[string]any{
			"number": p.version, "message": p.message, "minorEdit": false,
			"when": p.when.UTC().Format("2006-01-02T15:04:05.000Z"),
			"by":   map[string]any{"type": "known", "accountId": p.by.accountID, "displayName": p.by.displayName},
		}
	} else {
		expandable["version"] = ""
	}
	if exp["ancestors"] {
		var as []any
		for _, a := range p.ancestors {
			t := ""
			if ap, ok := s.pages[a]; ok {
				t = ap.title
			}
			as = append(as, map[string]any{"id": a, "type": "page", "title": t})
		}
		if as == nil {
			as = []any{}
		}
		out["ancestors"] = as
	} else {
		expandable["ancestors"] = ""
	}
	if exp["body.storage"] {
		out["body"] = map[string]any{"storage": map[string]any{"value": p.body, "representation": "storage"}}
	} else {
		expandable["body"] = ""
	}
	meta := map[string]any{}
	if exp["metadata.labels"] {
		meta["labels"] = labelList(p)
	}
	// Expansion takes dot paths, so metadata.properties.covsync.sync asks for a property named "covsync":
	// only the first segment after metadata.properties is the key.
	props := map[string]any{}
	for e := range exp {
		if rest, ok := strings.CutPrefix(e, "metadata.properties."); ok {
			key, _, _ := strings.Cut(rest, ".")
			if pr, ok := p.properties[key]; ok {
				props[key] = propertyJSON(p, pr)
			}
		}
	}
	if len(props) > 0 {
		meta["properties"] = props
	}
	if len(meta) > 0 {
		out["metadata"] = meta
	} else {
		expandable["metadata"] = ""
	}
	out["_expandable"] = expandable
	return out
}

func baseURL(r *http.Request) string {
	return "http://" + r.Host + "/wiki/rest/api"
}

func (s *Server) getContent(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pageOr404(w, r); p != nil {
		writeJSON(w, http.StatusOK, s.contentJSON(p, expansions(r), baseURL(r)))
	}
}

// searchContent is GET /content?spaceKey=&title=&type=page: title matches exactly, results are paginated
// with start and limit (default 25).
func (s *Server) searchContent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if t := q.Get("type"); t != "" && t != "page" {
		writeJSON(w, http.StatusOK, map[string]any{"results": []any{}, "start": 0, "limit": 25, "size": 0})
		return
	}
	start, _ := strconv.Atoi(q.Get("start"))
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 25
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, p := range s.pages {
		if p.restricted {
			continue
		}
		if sk := q.Get("spaceKey"); sk != "" && p.spaceKey != sk {
			continue
		}
		if t := q.Get("title"); t != "" && p.title != t {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	exp := expansions(r)
	results := []any{}
	for i := start; i < len(ids) && len(results) < limit; i++ {
		results = append(results, s.contentJSON(s.pages[ids[i]], exp, baseURL(r)))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"results": results, "start": start, "limit": limit, "size": len(results),
		"_links": map[string]any{"base": "http://" + r.Host + "/wiki", "context": "/wiki"},
	})
}

type contentIn struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	Space *struct {
		Key string `json:"key"`
	} `json:"space"`
	Ancestors []struct {
		ID string `json:"id"`
	} `json:"ancestors"`
	Body *struct {
		Storage *struct {
			Value          string `json:"value"`
			Representation string `json:"representation"`
		} `json:"storage"`
	} `json:"body"`
	Version *struct {
		Number  int    `json:"number"`
		Message string `json:"message"`
	} `json:"version"`
	Metadata *struct {
		Labels     []labelIn                  `json:"labels"`
		Properties map[string]json.RawMessage `json:"properties"`
	} `json:"metadata"`
}

// storageBody validates the storage representation of a request body: Confluence parses it as XHTML and
// refuses the whole page on the first error ("Error parsing xhtml: ...", seen in
// https://github.com/kovetskiy/mark/issues/111).
func storageBody(in contentIn) (string, string) {
	if in.Body == nil || in.Body.Storage == nil {
		return "", ""
	}
	if rep := in.Body.Storage.Representation; rep != "storage" {
		return "", fmt.Sprintf("Unsupported body representation %q: this simulator accepts storage.", rep)
	}
	if err := ParseStorage(in.Body.Storage.Value); err != nil {
		return "", err.Error()
	}
	return in.Body.Storage.Value, ""
}

// duplicateTitle is Confluence's answer to a second page with the same title in a space.
func duplicateTitle(title, spaceKey string) string {
	return fmt.Sprintf("A page with this title already exists: A page already exists with the title %s in the space with key %s", title, spaceKey)
}

func (s *Server) titleTaken(spaceKey, title, exceptID string) bool {
	for _, p := range s.pages {
		if p.spaceKey == spaceKey && p.title == title && p.id != exceptID {
			return true
		}
	}
	return false
}

// createContent is POST /content. Labels and properties may come with the page in metadata ("Content
// properties can also be added when creating a new piece of content by including them in the
// metadata.properties of the request"; "Labels can also be added when creating content").
func (s *Server) createContent(w http.ResponseWriter, r *http.Request) {
	var in contentIn
	if !decode(w, r, &in) {
		return
	}
	if in.Type != "page" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Unsupported content type %q: this simulator creates pages.", in.Type))
		return
	}
	if strings.TrimSpace(in.Title) == "" {
		writeError(w, http.StatusBadRequest, "Title is required.")
		return
	}
	// Confluence is Java: the 255 characters are String.length(), UTF-16 code units (an emoji counts two).
	if len(utf16.Encode([]rune(in.Title))) > 255 {
		writeError(w, http.StatusBadRequest, "Title cannot be longer than 255 characters.")
		return
	}
	if in.Space == nil || in.Space.Key == "" {
		writeError(w, http.StatusBadRequest, "Space key is required.")
		return
	}
	body, msg := storageBody(in)
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unconvertible[in.Title] {
		writeError(w, http.StatusBadRequest, ConversionRefusal)
		return
	}
	if _, ok := s.spaces[in.Space.Key]; !ok {
		writeError(w, http.StatusNotFound, "No space with key : "+in.Space.Key)
		return
	}
	var ancestors []string
	if len(in.Ancestors) > 0 {
		parent, ok := s.pages[in.Ancestors[len(in.Ancestors)-1].ID]
		if !ok || parent.spaceKey != in.Space.Key {
			writeError(w, http.StatusBadRequest, "Can't find parent page with id "+in.Ancestors[len(in.Ancestors)-1].ID+" in space "+in.Space.Key)
			return
		}
		ancestors = append(slices.Clone(parent.ancestors), parent.id)
	}
	if s.titleTaken(in.Space.Key, in.Title, "") {
		writeError(w, http.StatusBadRequest, duplicateTitle(in.Title, in.Space.Key))
		return
	}
	u := info(r).user
	p := s.newPage(in.Space.Key, in.Title, body, ancestors, u)
	if in.Metadata != nil {
		for _, l := range in.Metadata.Labels {
			addLabel(p, l.Name)
		}
		for k, raw := range in.Metadata.Properties {
			var pv struct {
				Value json.RawMessage `json:"value"`
			}
			if json.Unmarshal(raw, &pv) != nil || pv.Value == nil {
				pv.Value = raw
			}
			s.newProperty(p, k, pv.Value)
		}
	}
	writeJSON(w, http.StatusOK, s.contentJSON(p, map[string]bool{"version": true, "ancestors": true, "space": true, "body.storage": true, "metadata.labels": true}, baseURL(r)))
}

func (s *Server) newPage(spaceKey, title, body string, ancestors []string, u user) *page {
	s.nextID++
	p := &page{
		id: strconv.Itoa(s.nextID), title: title, spaceKey: spaceKey, ancestors: ancestors, body: body,
		version: 1, by: u, when: s.now(), properties: map[string]*property{},
	}
	s.pages[p.id] = p
	return p
}

// updateContent is PUT /content/{id}: version.number must be the current version + 1, otherwise 409
// ("Version must be incremented on update"). Ancestors move the page when given; absent, it stays.
func (s *Server) updateContent(w http.ResponseWriter, r *http.Request) {
	var in contentIn
	if !decode(w, r, &in) {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pageOr404(w, r)
	if p == nil {
		return
	}
	if e, ok := s.editsPending[id]; ok {
		// Someone saved the page after the client read it: the client's version is now stale.
		delete(s.editsPending, id)
		s.applyEdit(p, e)
	}
	// ContentUpdate requires version, title and type.
	// https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-content/#api-wiki-rest-api-content-id-put
	if in.Version == nil || in.Title == "" || in.Type == "" {
		writeError(w, http.StatusBadRequest, "An update needs version, title and type.")
		return
	}
	if in.Version.Number != p.version+1 {
		writeError(w, http.StatusConflict, fmt.Sprintf("Version must be incremented on update. Current version is: %d", p.version))
		return
	}
	body, msg := storageBody(in)
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	if s.unconvertible[in.Title] {
		writeError(w, http.StatusBadRequest, ConversionRefusal)
		return
	}
	title := in.Title
	if s.titleTaken(p.spaceKey, title, p.id) {
		writeError(w, http.StatusBadRequest, duplicateTitle(title, p.spaceKey))
		return
	}
	p.history = append(p.history, p.body)
	p.title = title
	if in.Body != nil {
		p.body = body
	}
	p.version++
	p.by = info(r).user
	p.when = s.now()
	p.message = in.Version.Message
	writeJSON(w, http.StatusOK, s.contentJSON(p, map[string]bool{"version": true, "ancestors": true, "space": true, "body.storage": true}, baseURL(r)))
}

func (s *Server) applyEdit(p *page, e Edit) {
	p.history = append(p.history, p.body)
	if e.Body != "" {
		p.body = e.Body
	}
	if e.Title != "" {
		p.title = e.Title
	}
	p.version++
	p.by = user{accountID: e.By, displayName: e.By}
	p.when = s.now()
	p.message = ""
}
