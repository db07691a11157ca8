package ado

import (
	"context"
	"fmt"
	"net/http"
)

// ProbeProject checks, read-only, that the project can be read with the PAT (the session resolves it:
// GET _apis/projects/{project}, https://learn.microsoft.com/en-us/rest/api/azure/devops/core/projects/get)
// and that the configured work-item fields fit the project's process (fieldTypes).
func (t *Target) ProbeProject(ctx context.Context) error {
	s, err := t.session(ctx)
	if err != nil {
		return t.probeError(err)
	}
	// session() has read the project (resolveProject: GET _apis/projects/{project}); the fields remain.
	if _, err := t.fieldTypes(ctx, s); err != nil {
		return t.probeError(err)
	}
	return nil
}

// ProbeCollection checks, read-only, that the extension is installed and its collection can be read. A
// collection that does not exist yet is fine: the first document written creates it.
func (t *Target) ProbeCollection(ctx context.Context) error {
	s, err := t.session(ctx)
	if err != nil {
		return t.probeError(err)
	}
	err = t.paced(ctx, func() error { return s.rest(ctx, http.MethodGet, s.docsURL, s.dataVersion, nil, nil) })
	if st, key := statusOf(err); st == http.StatusNotFound && key == "DocumentCollectionDoesNotExistException" {
		return nil
	}
	if err != nil {
		e := t.o.Extension
		return t.probeError(fmt.Errorf("%s: extension %s.%s collection %s: %w", t.Name(), e.Publisher, e.ID, e.Collection, err))
	}
	return nil
}

func (t *Target) probeError(err error) error {
	if isAuth(err) {
		return t.authError(err)
	}
	return err
}
