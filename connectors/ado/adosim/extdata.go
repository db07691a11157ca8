package adosim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// extension is an installed extension and its data: collections of documents per scope.
type extension struct {
	denied          bool // the account may not use the extension (DenyExtension)
	publisher, name string
	collections     map[string]map[string]map[string]any // scope key + collection (lower) → id → document
}

// InstallExtension seeds an installed extension (publisher and extension name as in the marketplace id
// "publisher.extension").
func (s *Sim) InstallExtension(publisher, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.extensions[lower(publisher+"/"+name)] = &extension{publisher: publisher, name: name, collections: map[string]map[string]map[string]any{}}
}

// DenyExtension makes the extension's data routes refuse the account as one that may not use the extension.
func (s *Sim) DenyExtension(publisher, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.extensions[lower(publisher+"/"+name)].denied = true
}

// Document returns a copy of a document of the Default/Current scope, or false when it does not exist.
func (s *Sim) Document(publisher, ext, collection, id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.extensions[lower(publisher+"/"+ext)]
	if e == nil {
		return nil, false
	}
	d, ok := e.collections[collKey("Default", "Current", collection)][id]
	if !ok {
		return nil, false
	}
	return clone(d), true
}

// Documents returns the number of documents in a Default/Current collection.
func (s *Sim) Documents(publisher, ext, collection string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.extensions[lower(publisher+"/"+ext)]
	if e == nil {
		return 0
	}
	return len(e.collections[collKey("Default", "Current", collection)])
}

// PutDocument seeds (or overwrites) a document as another writer would, bumping its __etag.
func (s *Sim) PutDocument(publisher, ext, collection string, doc map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.extensions[lower(publisher+"/"+ext)]
	if e == nil {
		panic("adosim: PutDocument: extension not installed: " + publisher + "." + ext)
	}
	s.store(e, collKey("Default", "Current", collection), clone(doc))
}

// WriteAfterNextRead makes another writer change a document right after the next time it is read, so that
// the reader's write carries a stale __etag: fields are set on the stored document and its __etag bumped.
func (s *Sim) WriteAfterNextRead(publisher, ext, collection, id string, fields map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := docKey(publisher, ext, collection, id)
	s.concurrent[k] = append(s.concurrent[k], clone(fields))
}

func docKey(publisher, ext, collection, id string) string {
	return lower(publisher + "/" + ext + "/" + collection + "/" + id)
}

func collKey(scopeType, scopeValue, collection string) string {
	return lower(scopeType + "/" + scopeValue + "/" + collection)
}

// serveExtensionData answers the extension data routes
// (_apis/ExtensionManagement/InstalledExtensions/{publisher}/{extension}/Data/Scopes/{scopeType}/{scopeValue}/
// Collections/{collection}/Documents[/{id}]): GET one or all, POST creates, PUT sets (creates or replaces),
// PATCH updates, DELETE deletes. Status codes follow the service's exception map (DocumentDoesNotExist and
// DocumentCollectionDoesNotExist → 404, DocumentExists and InvalidDocumentVersion → 400, as Server 2022
// answers; the hosted service answers a stale __etag with 409). __etag is the document's version: a write
// must carry the stored one, or -1 to overwrite whatever is there
// (https://learn.microsoft.com/en-us/azure/devops/extend/develop/data-storage).
func (s *Sim) serveExtensionData(w http.ResponseWriter, r *http.Request, rest []string, body []byte) {
	// rest: InstalledExtensions pub ext Data Scopes type value Collections coll Documents [id]
	if len(rest) < 10 || len(rest) > 11 || !strings.EqualFold(rest[0], "InstalledExtensions") ||
		!strings.EqualFold(rest[3], "Data") || !strings.EqualFold(rest[4], "Scopes") ||
		!strings.EqualFold(rest[7], "Collections") || !strings.EqualFold(rest[9], "Documents") {
		writeError(w, http.StatusNotFound, "RouteNotFound", "no route for "+r.URL.Path)
		return
	}
	if v := apiVersion(r); !strings.Contains(v, "-preview") {
		// The data routes are preview-only (7.1-preview.1): a released api-version is refused.
		writeError(w, http.StatusBadRequest, "VssInvalidPreviewVersionException",
			fmt.Sprintf("The requested version \"%s\" of the resource is under preview. The -preview flag must be supplied in the api-version for such requests. For example: \"%s-preview\"", v, v))
		return
	}
	unescape := func(s string) string { u, _ := url.PathUnescape(s); return u }
	pub, extName, coll := unescape(rest[1]), unescape(rest[2]), unescape(rest[8])
	ck := collKey(unescape(rest[5]), unescape(rest[6]), coll)
	id := ""
	if len(rest) == 11 {
		id = unescape(rest[10])
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.extensions[lower(pub+"/"+extName)]
	if e != nil && e.denied {
		// An account that may not use the extension: 401 with typeKey ExtensionInvalidAuthorization, though
		// the PAT itself is fine. No Microsoft page or public report found quotes this answer; the typeKey is
		// the one named in the project's field reports, the message the simulator's own.
		writeError(w, http.StatusUnauthorized, "ExtensionInvalidAuthorization",
			fmt.Sprintf("The user is not authorized to use the data of extension %s.%s.", pub, extName))
		return
	}
	if e == nil {
		writeError(w, http.StatusNotFound, "InstalledExtensionNotFoundException",
			fmt.Sprintf("The extension %s.%s is not installed in this organization.", pub, extName))
		return
	}
	docs := e.collections[ck]
	switch r.Method {
	case http.MethodGet:
		if docs == nil {
			writeError(w, http.StatusNotFound, "DocumentCollectionDoesNotExistException",
				fmt.Sprintf("The collection %s does not exist.", coll))
			return
		}
		if id == "" {
			ids := make([]string, 0, len(docs))
			for k := range docs {
				ids = append(ids, k)
			}
			sort.Strings(ids)
			all := make([]any, 0, len(ids))
			for _, k := range ids {
				all = append(all, docs[k])
			}
			if s.opts.BareListing {
				// The listing as a bare JSON array: the vendor's clients type getDocumentsByName's answer as
				// an array of documents (ExtensionManagementRestClient, Promise<any[]>:
				// https://learn.microsoft.com/en-us/javascript/api/azure-devops-extension-api/extensionmanagementrestclient).
				// No Microsoft page documents the wire shape of either form.
				writeJSON(w, http.StatusOK, all)
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"count": len(all), "value": all})
			return
		}
		d, ok := docs[id]
		if !ok {
			writeError(w, http.StatusNotFound, "DocumentDoesNotExistException", fmt.Sprintf("The document %s does not exist.", id))
			return
		}
		writeJSON(w, http.StatusOK, d)
		s.afterRead(e, ck, docKey(pub, extName, coll, id), id)
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		s.writeDocument(w, r, e, ck, body)
	case http.MethodDelete:
		if _, ok := docs[id]; !ok || id == "" {
			writeError(w, http.StatusNotFound, "DocumentDoesNotExistException", fmt.Sprintf("The document %s does not exist.", id))
			return
		}
		delete(docs, id)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" not served")
	}
}

// afterRead plays the concurrent writer registered with WriteAfterNextRead. Called with s.mu held.
func (s *Sim) afterRead(e *extension, ck, key, id string) {
	q := s.concurrent[key]
	if len(q) == 0 {
		return
	}
	s.concurrent[key] = q[1:]
	d := clone(e.collections[ck][id])
	for k, v := range q[0] {
		d[k] = v
	}
	s.store(e, ck, d)
}

func (s *Sim) writeDocument(w http.ResponseWriter, r *http.Request, e *extension, ck string, body []byte) {
	if len(body) > s.opts.MaxDocumentBytes {
		writeError(w, http.StatusBadRequest, "DocumentTooLargeException",
			fmt.Sprintf("The document is %d bytes; documents may not exceed %d bytes.", len(body), s.opts.MaxDocumentBytes))
		return
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil || doc == nil {
		writeError(w, http.StatusBadRequest, "ArgumentException", "The document must be a JSON object.")
		return
	}
	id, _ := doc["id"].(string)
	if id == "" && r.Method == http.MethodPost {
		id = fmt.Sprintf("%08x-0000-4000-8000-000000000000", len(e.collections[ck])+1)
		doc["id"] = id
	}
	if id == "" {
		writeError(w, http.StatusBadRequest, "ArgumentException", "The document needs an id.")
		return
	}
	stored, exists := e.collections[ck][id]
	sent, hasEtag := doc["__etag"].(float64)
	switch r.Method {
	case http.MethodPost:
		if exists {
			writeError(w, http.StatusBadRequest, "DocumentExistsException", fmt.Sprintf("The document %s already exists.", id))
			return
		}
	case http.MethodPatch:
		if !exists {
			writeError(w, http.StatusNotFound, "DocumentDoesNotExistException", fmt.Sprintf("The document %s does not exist.", id))
			return
		}
		fallthrough
	case http.MethodPut:
		if exists && (!hasEtag || (sent != -1 && sent != stored["__etag"].(float64))) {
			status := http.StatusConflict
			if s.onPrem() {
				status = http.StatusBadRequest
			}
			writeError(w, status, "InvalidDocumentVersionException",
				fmt.Sprintf("The document %s has been modified: the __etag sent (%v) is not the current one (%v).", id, doc["__etag"], stored["__etag"]))
			return
		}
	}
	writeJSON(w, map[bool]int{true: http.StatusCreated, false: http.StatusOK}[r.Method == http.MethodPost], s.store(e, ck, doc))
}

// DeleteDocument removes a document of the Default/Current scope as another writer would (out of band).
func (s *Sim) DeleteDocument(publisher, ext, collection, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.extensions[lower(publisher+"/"+ext)]; e != nil {
		delete(e.collections[collKey("Default", "Current", collection)], id)
	}
}

// store saves doc under its id with the next __etag and returns a copy of what was stored. Called with s.mu
// held.
func (s *Sim) store(e *extension, ck string, doc map[string]any) map[string]any {
	if e.collections[ck] == nil {
		e.collections[ck] = map[string]map[string]any{}
	}
	id, _ := doc["id"].(string)
	etag := float64(1)
	if old, ok := e.collections[ck][id]; ok {
		etag = old["__etag"].(float64) + 1
	}
	doc["__etag"] = etag
	e.collections[ck][id] = doc
	return clone(doc)
}

func clone(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
