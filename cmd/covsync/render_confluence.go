package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/confluence"
	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/app"
	"github.com/covsync/covsync/sync/push"
)

// newRenderCmd is `covsync render`: what covsync would publish, rendered locally, without writing anywhere.
func newRenderCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Render what covsync would publish, without publishing it",
	}
	cmd.AddCommand(newRenderConfluenceCmd())
	return cmd
}

func newRenderConfluenceCmd() *cobra.Command {
	var projectID, out string
	cmd := &cobra.Command{
		Use:   "confluence --config FILE --project ID [--out FILE]",
		Short: "Render a project's Confluence page(s) in storage format, as the next sync would publish them",
		Long: `Reads the project's data, renders its Confluence page (and its release pages when release_pages is set)
exactly as the confluence target would, and writes the storage-format XHTML to --out or stdout. Nothing is
sent to Confluence. With release pages, each release page goes to its own file beside --out
(page.html → page.release-2.4.0.html); on stdout the pages follow each other, each after a comment naming it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if projectID == "" {
				return usageErr("render confluence: --project is required")
			}
			c, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			var proj *config.Project
			for i := range c.Projects {
				if c.Projects[i].ID == projectID {
					proj = &c.Projects[i]
				}
			}
			if proj == nil {
				return usageErr("render confluence: project %q is not in %s", projectID, c.Path)
			}
			if proj.Confluence == nil {
				return usageErr("render confluence: project %q has no confluence mapping in %s", projectID, c.Path)
			}
			t, err := app.ConfluenceTarget(c, newLogger(c), appVersion(), *proj)
			if err != nil {
				return err
			}
			pool, err := app.OpenPool(cmd.Context(), c)
			if err != nil {
				return err
			}
			defer pool.Close()
			rep, err := postgres.NewReader(pool, c.Database.SourceSchema).ReadProject(cmd.Context(), projectID)
			if err != nil {
				return push.Unreachable(fmt.Errorf("render confluence: project %q: %w", projectID, err))
			}
			pages, err := t.Pages(rep)
			if err != nil {
				return push.Config(err)
			}
			if out == "" {
				return writePages(cmd.OutOrStdout(), pages)
			}
			for i, pg := range pages {
				path := out
				if i > 0 {
					_, rel, _ := strings.Cut(pg.Key, "/release:")
					ext := filepath.Ext(out)
					path = strings.TrimSuffix(out, ext) + ".release-" + safeFileName(rel) + ext
				}
				if err := os.WriteFile(path, pg.Body, 0o644); err != nil {
					return push.Config(fmt.Errorf("render confluence: --out: %w", err))
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%q, %d bytes)\n", path, pg.Title, len(pg.Body))
			}
			return nil
		},
	}
	addConfigFlag(cmd)
	cmd.Flags().StringVar(&projectID, "project", "", "the project id (projects[].id)")
	cmd.Flags().StringVar(&out, "out", "", "write the page to this file instead of stdout")
	return cmd
}

// writePages writes the pages one after the other, each after an XML comment naming it (a comment keeps the
// whole output parseable the same way a page is).
func writePages(w io.Writer, pages []confluence.RenderedPage) error {
	for _, pg := range pages {
		title := strings.ReplaceAll(pg.Title, "--", "- -") // "--" may not appear inside an XML comment
		if _, err := fmt.Fprintf(w, "<!-- covsync page %q -->\n%s", title, pg.Body); err != nil {
			return err
		}
	}
	return nil
}

func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ':' {
			return '_'
		}
		return r
	}, s)
}
