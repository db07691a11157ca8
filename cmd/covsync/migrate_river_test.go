package main

import (
	"strings"
	"testing"
)

func TestMigrateAppliesRiversJobQueueOnceAndThenSaysItIsUpToDate(t *testing.T) {
	cfg := sourceConfig(t)
	first := mustRun(t, "migrate", "--config", cfg)
	if !strings.Contains(first, "job queue (River) (covsync): applied migrations 1 to ") {
		t.Errorf("first migrate printed %q", first)
	}
	second := mustRun(t, "migrate", "--config", cfg)
	if !strings.Contains(second, "job queue (River) (covsync): up to date at version ") {
		t.Errorf("second migrate printed %q", second)
	}
}
