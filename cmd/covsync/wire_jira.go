package main

import (
	"context"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/sync/engine"
)

// jiraTargets builds the Jira targets of project p. Not built yet: see the Jira connector issue.
func jiraTargets(ctx context.Context, d deps, p config.Project) ([]engine.Target, error) {
	return nil, nil
}

// jiraProbes lists read-only checks of the configured Jira targets.
func jiraProbes(d deps) []probe { return nil }
