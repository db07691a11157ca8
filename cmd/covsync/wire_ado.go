package main

import (
	"context"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/sync/engine"
)

// adoTargets builds the ADO targets of project p. Not built yet: see the ADO connector issue.
func adoTargets(ctx context.Context, d deps, p config.Project) ([]engine.Target, error) {
	return nil, nil
}

// adoProbes lists read-only checks of the configured ADO targets.
func adoProbes(d deps) []probe { return nil }
