package ado

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
)

// listAfter is how many document pushes a cycle makes one read at a time before it lists the whole
// collection instead. A few changed stories keep the plain read-merge-write (one GET each); a resync of many
// reads the collection once (GET …/Collections/{c}/Documents, the ExtensionManagement getDocumentsByName
// call, https://learn.microsoft.com/en-us/javascript/api/azure-devops-extension-api/extensionmanagementrestclient)
// and writes each document with the __etag the listing gave, so a full resync costs one request per item,
// not two (docs/benchmarks.md). A stale __etag still conflicts and falls back to reading that document.
const listAfter = 20

// listing is one cycle's lazily read copy of the collection, shared by that cycle's payloads.
type listing struct {
	pushes atomic.Int64
	once   sync.Once
	docs   map[string]map[string]any // id → document; nil when the listing failed (pushes read one by one)
	primed atomic.Bool               // docs came from a reconcile's read-back: used from the first push on
}

// prime makes docs, read moments ago by a reconcile, the listing every push of the cycle starts from.
func (l *listing) prime(docs map[string]map[string]any) {
	l.once.Do(func() { l.docs = docs })
	l.primed.Store(true)
}

// stored returns the document id as the listing has it and whether it exists there; ok is false while
// the cycle is still under listAfter pushes or when the listing could not be read.
func (l *listing) stored(ctx context.Context, t *Target, s *session, id string) (doc map[string]any, found, ok bool) {
	if l == nil || (l.pushes.Add(1) <= listAfter && !l.primed.Load()) {
		return nil, false, false
	}
	l.once.Do(func() { l.docs = t.listDocuments(ctx, s) })
	if l.docs == nil {
		return nil, false, false
	}
	d, found := l.docs[id]
	return d, found, true
}

// listDocuments reads every document of the collection; nil when that fails for any reason (the pushes
// then read their documents one by one, as without a listing).
func (t *Target) listDocuments(ctx context.Context, s *session) map[string]map[string]any {
	var got struct {
		Value []map[string]any `json:"value"`
	}
	err := t.paced(ctx, func() error { return s.rest(ctx, http.MethodGet, s.docsURL, dataAPIVersion, nil, &got) })
	if st, _ := statusOf(err); err != nil && st == http.StatusNotFound {
		return map[string]map[string]any{} // no collection yet: every document is new
	}
	if err != nil {
		t.log.WithField("target", t.Name()).WithError(err).Debug("listing the collection failed; reading documents one by one")
		return nil
	}
	out := make(map[string]map[string]any, len(got.Value))
	for _, d := range got.Value {
		if id, ok := d["id"].(string); ok {
			out[id] = d
		}
	}
	return out
}
