// Package templates embeds covsync's default templates (Jira text fields, Confluence pages) and lets a
// directory override any of them by relative path.
package templates

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed jira confluence
var defaults embed.FS

// Set reads templates: a file under Dir (when set) wins over the embedded default of the same path.
type Set struct {
	// Dir is the override directory (config templates.dir); empty uses only the defaults.
	Dir string
}

// Read returns the template at name ("jira/summary.tmpl", "confluence/page.html.tmpl").
func (s Set) Read(name string) ([]byte, error) {
	if s.Dir != "" {
		b, err := os.ReadFile(filepath.Join(s.Dir, filepath.FromSlash(name)))
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
	}
	b, err := defaults.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("template %s: no override in %q and no embedded default", name, s.Dir)
	}
	return b, nil
}

// Default returns the embedded default, ignoring any override.
func Default(name string) ([]byte, error) { return defaults.ReadFile(name) }
