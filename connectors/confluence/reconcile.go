package confluence

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/covsync/covsync/sync/push"
)

// Drift reads each planned page back, as Push does: the page by title in the space (with its version) and
// covsync's covsync.sync property (GET /content/{id}/property/covsync.sync). A page is drifted when it is
// gone (a person deleted it: Push creates it again), when its property's hash is not the body covsync would
// render, when its property no longer matches the page's version, or when a person saved a version after
// covsync's (unless on_manual_edit is skip: then the person's edit is what the configuration keeps). A page
// covsync does not own is drift too, so Push reports why it will not write it.
func (t *Target) Drift(ctx context.Context, items []push.Item) (push.Drift, error) {
	out := push.Drift{}
	for _, it := range items {
		pl, ok := it.Payload.(*pagePayload)
		if !ok {
			return nil, fmt.Errorf("confluence: item %s: payload %T is not a page", it.Key, it.Payload)
		}
		pg, err := t.c.findPage(ctx, t.o.Space, pl.Title)
		if err != nil {
			return nil, t.pageErr(pl.Title, err)
		}
		if pg == nil {
			out[it.Key] = []push.Diff{{Field: "page", Held: push.Missing, Desired: fmt.Sprintf("%q in space %s", pl.Title, t.o.Space)}}
			continue
		}
		mark, err := t.c.getMark(ctx, pg.ID)
		if err != nil {
			return nil, t.pageErr(pl.Title, err)
		}
		if d := t.pageDiffs(pg, mark, pl); len(d) > 0 {
			out[it.Key] = d
		}
	}
	return out, nil
}

func (t *Target) pageDiffs(pg *content, mark *markProperty, pl *pagePayload) []push.Diff {
	short := func(h string) string { return h[:min(12, len(h))] }
	switch {
	case mark == nil:
		return []push.Diff{{Field: PropertyKey, Held: push.Missing, Desired: "covsync's mark (the page is not covsync's: not written)"}}
	case mark.Value.Project != "" && mark.Value.Project != t.o.ProjectID:
		return []push.Diff{{Field: PropertyKey + ".project", Held: mark.Value.Project, Desired: t.o.ProjectID + " (another project's page: not written)"}}
	case pg.Version.Number > mark.Value.Version:
		last, mine := strings.CutPrefix(pg.Version.Message, versionMarker)
		switch {
		case mine && last == pl.BodyHash:
			return []push.Diff{{Field: PropertyKey + ".version", Held: strconv.Itoa(mark.Value.Version), Desired: strconv.Itoa(pg.Version.Number)}}
		case mine:
			return []push.Diff{{Field: "body", Held: "sha256 " + short(last), Desired: "sha256 " + short(pl.BodyHash)}}
		case t.o.OnManualEdit == OnManualEditSkip:
			return nil
		}
		return []push.Diff{{Field: "body", Held: fmt.Sprintf("edited by %s at version %d", pg.editor(), pg.Version.Number),
			Desired: fmt.Sprintf("covsync's (sha256 %s)", short(pl.BodyHash))}}
	case mark.Value.Hash != pl.BodyHash:
		return []push.Diff{{Field: "body", Held: "sha256 " + short(mark.Value.Hash), Desired: "sha256 " + short(pl.BodyHash)}}
	}
	return nil
}
