package confluence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/httpx"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

const (
	// PropertyKey is the content property that marks covsync's pages: {"hash", "version", "project"}.
	PropertyKey = "covsync.sync"
	// Label is put on every page covsync creates, with the project id.
	Label = "covsync"
	// OnManualEditOverwrite and OnManualEditSkip are the on_manual_edit choices.
	OnManualEditOverwrite = "overwrite"
	OnManualEditSkip      = "skip"
	// conflictAttempts bounds the re-read-and-retry loop on 409 (a concurrent edit).
	conflictAttempts = 4
	// versionMarker starts the version message of every version covsync writes; it lets covsync recognise
	// its own last write when the property update after it was lost (and not mistake it for a person's).
	versionMarker = "covsync "
)

// Options configures one Confluence target: one project mapped to one space at one site.
type Options struct {
	// Site is the config's confluence[].name; it names the target ("confluence:<site>/<SPACE>/<project>").
	Site string
	// URL is the site's base URL as configured: https://acme.atlassian.net/wiki (Cloud) or the Data Center
	// context path. The API is at URL + "/rest/api".
	URL string
	// HTTP sends the requests (retries, pacing, TLS are its business). Required.
	HTTP      *http.Client
	Auth      Auth
	UserAgent string

	ProjectID string
	Space     string
	// ParentPageID is the page the pages are created under; empty creates them at the space's root.
	ParentPageID string
	// Title and ReleaseTitle are text/templates over TitleData (defaults DefaultTitle, DefaultReleaseTitle).
	Title        string
	ReleaseTitle string
	ReleasePages bool
	// OnManualEdit is overwrite (default) or skip.
	OnManualEdit string
	MaxRows      int
	// JiraBaseURL links story keys to Jira when the project has a Jira mapping; empty: no links.
	JiraBaseURL string
	// PageTemplate is the page template source (templates/confluence/page.html.tmpl or an override).
	PageTemplate []byte
	Log          logrus.FieldLogger
}

// Target publishes a project's pages. It implements the engine's Target interface.
type Target struct {
	o    Options
	c    *client
	tmpl *template.Template
	log  logrus.FieldLogger
}

// New checks o and returns the target.
func New(o Options) (*Target, error) {
	var problems []string
	if o.HTTP == nil {
		problems = append(problems, "no HTTP client")
	}
	if o.URL == "" {
		problems = append(problems, "url is empty")
	}
	if o.Space == "" {
		problems = append(problems, "space is empty")
	}
	if o.ProjectID == "" {
		problems = append(problems, "project id is empty")
	}
	switch o.OnManualEdit {
	case "":
		o.OnManualEdit = OnManualEditOverwrite
	case OnManualEditOverwrite, OnManualEditSkip:
	default:
		problems = append(problems, fmt.Sprintf("on_manual_edit %q: want overwrite or skip", o.OnManualEdit))
	}
	if o.Auth.Type != "" && o.Auth.Type != "basic" && o.Auth.Type != "bearer" {
		problems = append(problems, fmt.Sprintf("auth.type %q: want basic or bearer", o.Auth.Type))
	}
	if o.Title == "" {
		o.Title = config.DefaultPageTitle
	}
	if o.ReleaseTitle == "" {
		o.ReleaseTitle = config.DefaultReleaseTitle
	}
	tmpl, err := ParseTemplate(o.PageTemplate)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("confluence target %s for project %q: %s", o.Site, o.ProjectID, strings.Join(problems, "; "))
	}
	if o.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		o.Log = l
	}
	var cred *httpx.Credential
	if o.Auth.Type == "bearer" {
		cred, err = httpx.BearerCredential(o.URL, o.Auth.Token.Reveal())
	} else {
		cred, err = httpx.BasicCredential(o.URL, o.Auth.Email, o.Auth.Token.Reveal())
	}
	if err != nil {
		return nil, fmt.Errorf("confluence target %s for project %q: url: %w", o.Site, o.ProjectID, err)
	}
	t := &Target{
		o:    o,
		c:    &client{http: httpx.Authorize(o.HTTP, cred), api: strings.TrimRight(o.URL, "/") + "/rest/api", userAgent: o.UserAgent},
		tmpl: tmpl,
	}
	t.log = o.Log.WithField("target", t.Name())
	return t, nil
}

// Name is "confluence:<site>/<SPACE>/<project id>".
func (t *Target) Name() string {
	return fmt.Sprintf("confluence:%s/%s/%s", t.o.Site, t.o.Space, t.o.ProjectID)
}

// Kind is "confluence".
func (t *Target) Kind() string { return push.TargetConfluence }

// Check verifies, read-only, that the space and the parent page exist and that covsync's credentials may read
// them (`covsync check`).
func (t *Target) Check(ctx context.Context) error {
	if err := t.c.check(ctx, t.o.Space, t.o.ParentPageID); err != nil {
		return fmt.Errorf("confluence %s: %w", t.o.Site, err)
	}
	return nil
}

// pagePayload is what Push writes for one item.
type pagePayload struct {
	Title  string
	Body   []byte
	Labels []string
	// BodyHash is the hex SHA-256 of Body: the hash in covsync.sync.
	BodyHash string
}

// Plan renders the project page (and the release pages when release_pages is set). It reads nothing from
// Confluence: every decision that needs the page is taken in Push, against what the page is then.
func (t *Target) Plan(ctx context.Context, p *report.Project) ([]push.Item, error) {
	pages, err := t.Pages(p)
	if err != nil {
		return nil, err
	}
	items := make([]push.Item, 0, len(pages))
	titles := map[string]string{}
	for _, pg := range pages {
		if other, dup := titles[pg.Title]; dup {
			return nil, push.Configf("confluence: pages %s and %s of project %q both render the title %q: make the title templates tell them apart", other, pg.Key, p.ID, pg.Title)
		}
		titles[pg.Title] = pg.Key
		sum := sha256.Sum256(pg.Body)
		pl := &pagePayload{Title: pg.Title, Body: pg.Body, Labels: t.labels(), BodyHash: hex.EncodeToString(sum[:])}
		// The item hash covers the title too: a new title is a new page to publish.
		h, err := push.HashJSON(struct{ Title, Body string }{pg.Title, pl.BodyHash})
		if err != nil {
			return nil, err
		}
		items = append(items, push.Item{Key: pg.Key, Hash: h, Payload: pl, Summary: fmt.Sprintf("page %q (%d bytes)", pg.Title, len(pg.Body))})
	}
	return items, nil
}

// RenderedPage is one page as Plan would publish it.
type RenderedPage struct {
	Key   string // ledger key: "page:<project>" or "page:<project>/release:<name>"
	Title string
	Body  []byte
}

// Pages renders every page of project p without touching Confluence (Plan uses it; so does
// `covsync render confluence`).
func (t *Target) Pages(p *report.Project) ([]RenderedPage, error) {
	in := PageInput{Project: p, ReleasePages: t.o.ReleasePages, JiraBaseURL: t.o.JiraBaseURL, MaxRows: t.o.MaxRows}
	title, err := Title(t.o.Title, TitleData{Project: p})
	if err != nil {
		return nil, push.Configf("confluence: project %q: %w", p.ID, err)
	}
	body, err := Render(t.tmpl, in)
	if err != nil {
		return nil, err
	}
	out := []RenderedPage{{Key: "page:" + p.ID, Title: title, Body: body}}
	if !t.o.ReleasePages {
		return out, nil
	}
	for i := range p.Releases {
		rel := &p.Releases[i]
		title, err := Title(t.o.ReleaseTitle, TitleData{Project: p, Release: rel})
		if err != nil {
			return nil, push.Configf("confluence: project %q release %q: %w", p.ID, rel.Name, err)
		}
		in.Release = rel
		body, err := Render(t.tmpl, in)
		if err != nil {
			return nil, err
		}
		out = append(out, RenderedPage{Key: "page:" + p.ID + "/release:" + rel.Name, Title: title, Body: body})
	}
	return out, nil
}

// labels are covsync's label and the project id, made valid label names (lower case, no spaces or
// punctuation Confluence refuses).
func (t *Target) labels() []string {
	id := strings.Map(func(r rune) rune {
		if strings.ContainsRune(" \t\n:;,.?&[]()#^*@!<>", r) {
			return '-'
		}
		return r
	}, strings.ToLower(t.o.ProjectID))
	if id == Label {
		return []string{Label}
	}
	return []string{Label, id}
}

// Push makes Confluence hold the page. A 409 (someone saved the page, or its property, between covsync's
// read and write) re-reads the page and decides again, a bounded number of times.
func (t *Target) Push(ctx context.Context, it push.Item) (push.Result, error) {
	pl, ok := it.Payload.(*pagePayload)
	if !ok {
		return push.Result{}, push.Permanentf("confluence: item %s: payload %T is not a page", it.Key, it.Payload)
	}
	var err error
	for attempt := 1; attempt <= conflictAttempts; attempt++ {
		var res push.Result
		res, err = t.syncPage(ctx, pl)
		if statusOf(err) != http.StatusConflict {
			return res, err
		}
		t.log.WithFields(logrus.Fields{"page": pl.Title, "attempt": attempt}).Info("confluence: page changed while covsync wrote it; reading it again")
	}
	return push.Result{}, push.Retryable(fmt.Errorf("confluence: page %q in space %s: still conflicting after %d attempts: %w", pl.Title, t.o.Space, conflictAttempts, err))
}

// pageErr names the page in err and keeps its kind.
func (t *Target) pageErr(title string, err error) error {
	return push.WithKindOf(err, fmt.Errorf("confluence: page %q in space %s: %w", title, t.o.Space, err))
}

func (t *Target) syncPage(ctx context.Context, pl *pagePayload) (push.Result, error) {
	pg, err := t.c.findPage(ctx, t.o.Space, pl.Title)
	if err != nil {
		return push.Result{}, t.pageErr(pl.Title, err)
	}
	if pg == nil {
		return t.create(ctx, pl)
	}
	mark, err := t.c.getMark(ctx, pg.ID)
	if err != nil {
		return push.Result{}, t.pageErr(pl.Title, err)
	}
	if mark == nil {
		return push.Result{}, push.Permanentf("confluence: page %q (id %s) in space %s exists but was not created by covsync (it has no %s property): "+
			"covsync never takes over a page; rename or move that page, or give this project another title in projects[].confluence.title",
			pl.Title, pg.ID, t.o.Space, PropertyKey)
	}
	if owner := mark.Value.Project; owner != "" && owner != t.o.ProjectID {
		// Two projects whose titles render alike would otherwise overwrite each other's page every cycle.
		return push.Result{}, push.Permanentf("confluence: page %q (id %s) in space %s belongs to project %q (its %s property says so), not to project %q: "+
			"covsync never writes another project's page; give one of them another title in projects[].confluence.title",
			pl.Title, pg.ID, t.o.Space, owner, PropertyKey, t.o.ProjectID)
	}
	note := ""
	if pg.Version.Number > mark.Value.Version {
		last, mine := strings.CutPrefix(pg.Version.Message, versionMarker)
		switch {
		case mine && last == pl.BodyHash:
			// covsync wrote this version but its property update was lost: mend the mark, write nothing else.
			if err := t.c.putMark(ctx, pg.ID, t.mark(pl.BodyHash, pg.Version.Number), mark.Version.Number+1); err != nil {
				return push.Result{}, t.pageErr(pl.Title, err)
			}
			return push.Result{NoChange: true, Note: fmt.Sprintf("page %q already current at version %d; %s mended", pl.Title, pg.Version.Number, PropertyKey)}, nil
		case mine:
			// covsync's own newer write with older data: an ordinary update.
		default:
			edit := fmt.Sprintf("page %q (id %s) was edited by %s at version %d after covsync wrote version %d",
				pl.Title, pg.ID, pg.editor(), pg.Version.Number, mark.Value.Version)
			if t.o.OnManualEdit == OnManualEditSkip {
				t.log.WithFields(logrus.Fields{"page": pl.Title, "id": pg.ID, "version": pg.Version.Number, "by": pg.editor()}).
					Warn("confluence: page edited by a person; left as is (on_manual_edit: skip)")
				return push.Result{Skipped: true, Note: edit + ": left as is (on_manual_edit: skip); " +
					"on_manual_edit: overwrite publishes over it (the person's text stays in the page history)"}, nil
			}
			t.log.WithFields(logrus.Fields{"page": pl.Title, "id": pg.ID, "version": pg.Version.Number, "by": pg.editor()}).
				Warn("confluence: page edited by a person; overwriting it (on_manual_edit: overwrite)")
			note = edit + ": overwritten (on_manual_edit: overwrite)"
		}
	} else if mark.Value.Hash == pl.BodyHash {
		// The page holds what covsync would write (the ledger may have been lost): nothing to send.
		return push.Result{NoChange: true}, nil
	}

	up, err := t.c.updatePage(ctx, pg.ID, pl.Title, pl.Body, pg.Version.Number+1, versionMarker+pl.BodyHash)
	if err != nil {
		return push.Result{}, t.pageErr(pl.Title, err)
	}
	if err := t.writeMark(ctx, up.ID, t.mark(pl.BodyHash, up.Version.Number), mark.Version.Number); err != nil {
		return push.Result{}, t.pageErr(pl.Title, err)
	}
	if err := t.ensureLabels(ctx, pg, pl); err != nil {
		return push.Result{}, t.pageErr(pl.Title, err)
	}
	t.log.WithFields(logrus.Fields{"page": pl.Title, "id": pg.ID, "version": up.Version.Number}).Info("confluence: page updated")
	return push.Result{Note: note}, nil
}

// mark is covsync's property value for a page at version of this project's body with hash.
func (t *Target) mark(hash string, version int) syncMark {
	return syncMark{Hash: hash, Version: version, Project: t.o.ProjectID}
}

// writeMark updates covsync's property after a page write. The page write succeeded, so covsync's value is
// the right one whatever another client put there: on 409 it re-reads the property's version and writes again.
func (t *Target) writeMark(ctx context.Context, id string, m syncMark, current int) error {
	var err error
	for attempt := 0; attempt < conflictAttempts; attempt++ {
		err = t.c.putMark(ctx, id, m, current+1)
		if statusOf(err) != http.StatusConflict {
			return err
		}
		p, rerr := t.c.getMark(ctx, id)
		if rerr != nil {
			return rerr
		}
		current = 0
		if p != nil {
			current = p.Version.Number
		}
	}
	return err
}

func (t *Target) ensureLabels(ctx context.Context, pg *content, pl *pagePayload) error {
	var missing []string
	for _, l := range pl.Labels {
		if !pg.hasLabel(l) {
			missing = append(missing, l)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return t.c.addLabels(ctx, pg.ID, missing)
}

func (t *Target) create(ctx context.Context, pl *pagePayload) (push.Result, error) {
	pg, err := t.c.createPage(ctx, t.o.Space, t.o.ParentPageID, pl.Title, pl.Body, pl.Labels, t.mark(pl.BodyHash, 1))
	if statusOf(err) == http.StatusBadRequest && strings.Contains(err.Error(), "already exists") {
		// The title is taken although the lookup did not see it: another writer won a race (then it holds
		// covsync's mark and the next attempt updates it), or the page is one covsync may not see (restricted,
		// archived, in the trash). Either way never a second page.
		if again, ferr := t.c.findPage(ctx, t.o.Space, pl.Title); ferr == nil && again != nil {
			return push.Result{}, push.Retryable(&apiError{Method: http.MethodPost, Path: "/content", Status: http.StatusConflict, Message: "page created concurrently"})
		}
		return push.Result{}, push.Permanentf("confluence: page %q in space %s: Confluence says a page with this title already exists, but covsync cannot see it "+
			"(restricted, archived, in the trash, or titled in another letter case?): restore or rename that page, or give this project another title in projects[].confluence.title: %w",
			pl.Title, t.o.Space, err)
	}
	if err != nil {
		return push.Result{}, t.pageErr(pl.Title, err)
	}
	if err := t.ensureLabels(ctx, pg, pl); err != nil {
		return push.Result{}, t.pageErr(pl.Title, err)
	}
	t.log.WithFields(logrus.Fields{"page": pl.Title, "id": pg.ID, "parent": t.o.ParentPageID}).Info("confluence: page created")
	return push.Result{Note: fmt.Sprintf("created page %q (id %s)", pl.Title, pg.ID)}, nil
}
