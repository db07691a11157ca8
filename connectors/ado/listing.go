package ado

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// listAfter is how many document pushes a cycle makes one read at a time before it lists the whole
// collection instead. A few changed stories keep the plain read-merge-write (one GET each); a resync of many
// reads the collection once (GET …/Collections/{c}/Documents, the ExtensionManagement getDocumentsByName
// call, https://learn.microsoft.com/en-us/javascript/api/azure-devops-extension-api/extensionmanagementrestclient)
// and writes each document with the __etag the listing gave, so a full resync costs one request per item,
// not two (docs/benchmarks.md). A stale __etag still conflicts and falls back to reading that document.
const listAfter = 20

// listRetryAfter is how long a listing that failed is the answer of every push that wants it: a collection
// that cannot be listed (an outage surviving the client's retries) costs one listing per this much time,
// not one per push; a failure that was only a moment's is tried again after it.
const listRetryAfter = 10 * time.Second

// listing is one cycle's lazily read copy of the collection, shared by that cycle's payloads.
type listing struct {
	pushes atomic.Int64
	primed atomic.Bool // docs came from a reconcile's read-back: used from the first push on

	mu      sync.Mutex                // held while the collection is read, so one push reads it and the others wait
	docs    map[string]map[string]any // id → document; nil until read
	failed  error                     // the last listing's failure, kept until retryAt
	retryAt time.Time
}

// prime makes docs, read moments ago by a reconcile, the listing every push of the cycle starts from.
func (l *listing) prime(docs map[string]map[string]any) {
	l.mu.Lock()
	if l.docs == nil {
		l.docs = docs
	}
	l.mu.Unlock()
	l.primed.Store(true)
}

// stored returns the document id as the listing has it and whether it exists there; ok is false while
// the cycle is still under listAfter pushes (unless a reconcile primed it). A listing that could not be
// read is an error for the pushes that want it, never a silent fallback to one read per document (which
// doubles a resync's requests); it is kept for listRetryAfter, not for the rest of the cycle, and never when
// it was only the asking push's context that ended.
func (l *listing) stored(ctx context.Context, t *Target, s *session, id string) (doc map[string]any, found, ok bool, err error) {
	if l == nil || (l.pushes.Add(1) <= listAfter && !l.primed.Load()) {
		return nil, false, false, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.docs == nil {
		if l.failed != nil && t.now().Before(l.retryAt) {
			return nil, false, false, l.failed
		}
		docs, err := t.listDocuments(ctx, s)
		if err != nil {
			if ctx.Err() == nil {
				l.failed, l.retryAt = err, t.now().Add(listRetryAfter)
			}
			return nil, false, false, err
		}
		l.docs = docs
	}
	d, found := l.docs[id]
	return d, found, true, nil
}

// listDocuments reads every document of the collection. The service answers either {"count": N, "value":
// [...]} or a bare JSON array: the vendor's clients type the answer as an array of documents
// (ExtensionManagementRestClient.getDocumentsByName returns Promise<any[]>,
// https://learn.microsoft.com/en-us/javascript/api/azure-devops-extension-api/extensionmanagementrestclient),
// and no Microsoft page documents the wire shape, so both are read.
func (t *Target) listDocuments(ctx context.Context, s *session) (map[string]map[string]any, error) {
	var raw json.RawMessage
	err := t.paced(ctx, func() error { return s.rest(ctx, http.MethodGet, s.docsURL, s.dataVersion, nil, &raw) })
	if st, _ := statusOf(err); err != nil && st == http.StatusNotFound {
		return map[string]map[string]any{}, nil // no collection yet: every document is new
	}
	if err != nil {
		return nil, fmt.Errorf("listing the collection: %w", err)
	}
	var docs []map[string]any
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] == '[' {
		err = json.Unmarshal(trimmed, &docs)
	} else {
		var wrapped struct {
			Value []map[string]any `json:"value"`
		}
		err = json.Unmarshal(trimmed, &wrapped)
		docs = wrapped.Value
	}
	if err != nil {
		return nil, fmt.Errorf("listing the collection: neither a document array nor {\"value\": [...]}: %w", err)
	}
	out := make(map[string]map[string]any, len(docs))
	for _, d := range docs {
		if id, ok := d["id"].(string); ok {
			out[id] = d
		}
	}
	return out, nil
}
