// Package config loads and validates covsync's YAML configuration: strict keys, ${ENV} expansion, secrets
// only from the environment or from files, defaults, and a report of every problem at once.
package config

import (
	"bytes"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Load reads, expands, decodes, defaults and validates the file at path.
//
// PRELIMINARY: strict decoding and ${VAR} expansion only; validation, secrets and defaults are being built
// (issue: foundation, config).
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = []byte(os.ExpandEnv(string(b)))
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Path = path
	if c.Database.SourceSchema == "" {
		c.Database.SourceSchema = "covsync_source"
	}
	return &c, nil
}
